/* Unit tests: Falco alert decoding over every real alert of the shared sample file
 * ($SR_FALCO_ALERTS, default testdata/falco/falco_alerts.jsonl; a missing file is a
 * failure), priorities, RFC 3339 times, field aliases, and malformed alerts. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sr_falco.h"

#define NOW_MS INT64_C(1800000000000) /* 2027-01-15: every sample alert lies before it */

static const char *alerts_path(void) {
    const char *p = getenv("SR_FALCO_ALERTS");
    return p && *p ? p : SR_FALCO_ALERTS_DEFAULT;
}

/* The decoded fields object of an alert. */
static json_t *fields_of(const sr_falco_alert *a) {
    json_error_t jerr;
    json_t *f = json_loadb(a->ev.fields, a->ev.fields_len, 0, &jerr);
    if (!f)
        fail_msg("fields are not JSON: %s: %.*s", jerr.text, (int)a->ev.fields_len, a->ev.fields);
    assert_true(json_is_object(f));
    return f;
}

static const char *str_of(json_t *o, const char *key) {
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac]Z" by the C library, as a reference for sr_falco_parse_time. */
static int64_t ref_time_us(const char *text) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(p);
    int64_t us = (int64_t)timegm(&tm) * 1000000;
    if (*p == '.') {
        int64_t frac = 0;
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6)
                frac = frac * 10 + (*p - '0');
        for (; n < 6; n++)
            frac *= 10;
        us += frac;
    }
    assert_int_equal(*p, 'Z');
    return us;
}

static void test_every_sample_alert(void **state) {
    (void)state;
    FILE *f = fopen(alerts_path(), "re");
    if (!f)
        fail_msg("cannot open the Falco sample alerts %s (set SR_FALCO_ALERTS): %s", alerts_path(), strerror(errno));
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_evbuf out;
    sr_evbuf_init(&out, 1u << 24);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0, with_ns = 0, with_image = 0, evt_agree = 0, clocked = 0, sevs[6] = {0};
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        count++;
        json_error_t jerr;
        json_t *src = json_loads(line, 0, &jerr);
        assert_non_null(src);
        json_t *of = json_object_get(src, "output_fields");

        sr_falco_alert a;
        char why[256] = "";
        int r = sr_falco_decode(line, (size_t)n, NOW_MS, &s, &a, why, sizeof(why));
        if (r != 0)
            fail_msg("alert %d does not decode: %s", count, why);
        /* priority, rule, message, host, source type */
        const char *prio = str_of(src, "priority");
        assert_string_equal(a.ev.severity_text, prio);
        assert_int_equal(a.ev.severity, sr_falco_priority(prio));
        assert_true(a.ev.severity >= SR_SEV_INFO && a.ev.severity <= SR_SEV_CRITICAL);
        sevs[a.ev.severity]++;
        assert_string_equal(a.ev.rule, str_of(src, "rule"));
        assert_string_equal(a.ev.message, str_of(src, "output"));
        assert_string_equal(a.ev.host, str_of(src, "hostname") ? str_of(src, "hostname") : "");
        assert_string_equal(a.ev.source_type, "falco_alert");
        assert_null(a.ev.agent_id);
        assert_int_equal(a.ev.n_tags, json_array_size(json_object_get(src, "tags")));
        /* the time is the alert's "time" (checked against strptime/timegm here), and agrees with
         * evt.time (ns) where the alert carries it (one sample was edited: its two times differ) */
        assert_int_equal(a.ev.time_us, ref_time_us(str_of(src, "time")));
        json_t *evt = of ? json_object_get(of, "evt.time") : NULL;
        if (json_is_integer(evt) && a.ev.time_us == json_integer_value(evt) / 1000)
            evt_agree++;
        /* fields: every output field as given, plus the aliases */
        json_t *fl = fields_of(&a);
        const char *key;
        json_t *v;
        json_object_foreach(of, key, v) {
            json_t *got = json_object_get(fl, key);
            if (!got || !json_equal(got, v))
                fail_msg("alert %d: output field %s not kept as given", count, key);
        }
        const char *ns = str_of(of, "k8s.ns.name");
        if (ns) {
            with_ns++;
            assert_string_equal(str_of(fl, "k8s.namespace"), ns);
            assert_string_equal(str_of(fl, "k8s.pod"), str_of(of, "k8s.pod.name"));
        } else if (str_of(of, "ka.target.namespace")) {
            assert_string_equal(str_of(fl, "k8s.namespace"), str_of(of, "ka.target.namespace"));
        } else {
            assert_null(json_object_get(fl, "k8s.namespace"));
        }
        const char *repo = str_of(of, "container.image.repository");
        if (repo && !json_object_get(of, "container.image")) {
            with_image++;
            const char *tag = str_of(of, "container.image.tag");
            char want[512];
            snprintf(want, sizeof(want), "%s%s%s", repo, tag ? ":" : "", tag ? tag : "");
            assert_string_equal(str_of(fl, "container.image"), want);
        }
        if (str_of(src, "source"))
            assert_string_equal(str_of(fl, "falco.source"), str_of(src, "source"));
        if (str_of(src, "hostname"))
            assert_string_equal(str_of(fl, "falco.hostname"), str_of(src, "hostname"));
        if (str_of(of, "user.name"))
            assert_string_equal(a.ev.user_name, str_of(of, "user.name"));
        if (str_of(of, "proc.name"))
            assert_string_equal(a.ev.program, str_of(of, "proc.name"));
        /* the search text leaves out the clock Falco puts in front of the output, keeps the rest */
        const char *output = str_of(src, "output");
        const char *colon = output ? strstr(output, ": ") : NULL;
        if (output && colon && colon - output >= 8 && output[2] == ':' && output[5] == ':') {
            clocked++;
            assert_null(strstr(a.ev.search_text, output));
            assert_non_null(strstr(a.ev.search_text, colon + 2));
        }
        /* the search text holds the file a rule names, whole */
        const char *fd = str_of(of, "fd.name");
        if (fd)
            assert_non_null(strstr(a.ev.search_text, fd));
        /* and it encodes as one COPY line */
        sr_falco_event_id(1700000000000000000, (uint64_t)count, a.ev.id);
        size_t before = out.len;
        assert_int_equal(sr_event_encode(&out, &a.ev, &s), 0);
        assert_true(out.len > before);
        assert_int_equal(out.data[out.len - 1], '\n');
        assert_null(memchr(out.data + before, '\n', out.len - before - 1));
        json_decref(fl);
        json_decref(src);
        sr_falco_alert_clear(&a);
    }
    free(line);
    fclose(f);
    print_message("%d alerts, %d with a k8s namespace, %d with a container image alias\n", count, with_ns,
                  with_image);
    assert_true(count >= 18);
    assert_true(clocked > 0);
    assert_true(with_ns > 0);
    assert_true(with_image > 0);
    assert_true(evt_agree >= 15);
    /* the sample covers every level */
    for (int i = SR_SEV_INFO; i <= SR_SEV_CRITICAL; i++)
        assert_true(sevs[i] > 0);
    sr_evbuf_done(&out);
    sr_event_scratch_done(&s);
}

static void test_priorities(void **state) {
    (void)state;
    assert_int_equal(sr_falco_priority("Emergency"), SR_SEV_CRITICAL);
    assert_int_equal(sr_falco_priority("ALERT"), SR_SEV_CRITICAL);
    assert_int_equal(sr_falco_priority("Critical"), SR_SEV_CRITICAL);
    assert_int_equal(sr_falco_priority("Error"), SR_SEV_HIGH);
    assert_int_equal(sr_falco_priority("warning"), SR_SEV_MEDIUM);
    assert_int_equal(sr_falco_priority("Notice"), SR_SEV_LOW);
    assert_int_equal(sr_falco_priority("Informational"), SR_SEV_INFO);
    assert_int_equal(sr_falco_priority("Info"), SR_SEV_INFO);
    assert_int_equal(sr_falco_priority("Debug"), SR_SEV_INFO);
    assert_int_equal(sr_falco_priority("Severe"), -EINVAL);
    assert_int_equal(sr_falco_priority(""), -EINVAL);
    assert_int_equal(sr_falco_priority(NULL), -EINVAL);
}

static void test_times(void **state) {
    (void)state;
    int64_t us = 0;
    assert_int_equal(sr_falco_parse_time("2023-05-25T13:44:05.478445995Z", &us), 0);
    assert_int_equal(us, INT64_C(1685022245478445));
    assert_int_equal(sr_falco_parse_time("2001-01-01T01:10:00Z", &us), 0);
    assert_int_equal(us, INT64_C(978311400000000));
    assert_int_equal(sr_falco_parse_time("2021-01-11T23:46:19.82302759Z", &us), 0);
    assert_int_equal(us, INT64_C(1610408779823027));
    assert_int_equal(sr_falco_parse_time("2024-02-29T00:00:00.5+02:00", &us), 0);
    assert_int_equal(us, INT64_C(1709157600500000));
    assert_int_equal(sr_falco_parse_time("2024-02-29t00:00:00-00:30", &us), 0);
    assert_int_equal(us, INT64_C(1709166600000000));
    static const char *const bad[] = {
        "",
        "2023-05-25",
        "2023-05-25T13:44:05",          /* no zone */
        "2023-02-29T00:00:00Z",         /* not a leap year */
        "2023-13-01T00:00:00Z",
        "2023-05-25T24:00:00Z",
        "2023-05-25T13:44:05.Z",
        "2023-05-25T13:44:05Zjunk",
        "2023-05-25T13:44:05+2:00",
        "20230525T134405Z",
        "2023-05-25T13:44:05.1234567890123456789Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sr_falco_parse_time(bad[i], &us) != -EINVAL)
            fail_msg("accepted bad time \"%s\"", bad[i]);
}

static int decode(const char *json, sr_falco_alert *a, char *why, size_t whylen, sr_event_scratch *s) {
    return sr_falco_decode(json, strlen(json), NOW_MS, s, a, why, whylen);
}

static void test_malformed(void **state) {
    (void)state;
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    static const struct {
        const char *json, *reason;
    } cases[] = {
        {"", "empty payload"},
        {"not json", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"priority\":\"Notice\",\"rule\":\"r\",\"time\":\"2024-01-01T00:00:00Z\"}", "missing output"},
        {"{\"output\":\"x\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\"}", "missing rule"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"time\":\"2024-01-01T00:00:00Z\"}", "missing priority"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Loud\",\"time\":\"2024-01-01T00:00:00Z\"}",
         "not a Falco priority"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\"}", "missing time"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"yesterday\"}", "not RFC 3339"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"1999-12-31T23:59:59Z\"}",
         "out of range"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2099-01-01T00:00:00Z\"}",
         "out of range"},
        {"{\"output\":1,\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\"}",
         "output is not a string"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\",\"tags\":\"a\"}",
         "tags is not an array"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\",\"tags\":[1]}",
         "tag 0"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\","
         "\"output_fields\":[]}",
         "output_fields is not an object"},
        {"{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\","
         "\"output_fields\":{\"\":1}}",
         "output_fields key"},
        {"{\"output\":\"x\",\"output\":\"y\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\"}",
         "not JSON"},
        {"{\"output\":\"a\\u0000b\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\"}",
         "not JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sr_falco_alert a;
        char why[256] = "";
        int r = decode(cases[i].json, &a, why, sizeof(why), &s);
        if (r != -EBADMSG || !strstr(why, cases[i].reason))
            fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, r, why, cases[i].reason);
        sr_falco_alert_clear(&a);
    }
    sr_event_scratch_done(&s);
}

static void test_mapping_details(void **state) {
    (void)state;
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_falco_alert a;
    char why[256] = "";
    /* a connection alert: remote address from fd.rip, pid, aliases not overriding given keys */
    const char *json = "{\"output\":\"Outbound connection to 203.0.113.9:443 by curl\",\"priority\":\"warning\","
                       "\"rule\":\"Unexpected outbound connection\",\"time\":\"2024-06-01T10:00:00.000000001Z\","
                       "\"hostname\":\"node-1\",\"source\":\"syscall\",\"tags\":[\"network\",\"mitre_exfil\"],"
                       "\"output_fields\":{\"fd.rip\":\"203.0.113.9\",\"fd.sip\":\"203.0.113.9\","
                       "\"fd.lip\":\"10.0.0.5\",\"proc.pid\":4242,\"proc.name\":\"curl\","
                       "\"proc.cmdline\":\"curl https://203.0.113.9/x.sh\",\"k8s.ns.name\":\"production\","
                       "\"k8s.pod.name\":\"web-7\",\"container.image\":\"nginx:1.25\","
                       "\"container.image.repository\":\"nginx\",\"user.name\":null}}";
    assert_int_equal(decode(json, &a, why, sizeof(why), &s), 0);
    assert_string_equal(a.ev.src_ip, "203.0.113.9");
    assert_int_equal(a.ev.pid, 4242);
    assert_string_equal(a.ev.program, "curl");
    assert_null(a.ev.user_name);
    assert_int_equal(a.ev.severity, SR_SEV_MEDIUM);
    assert_string_equal(a.ev.severity_text, "warning");
    assert_int_equal(a.ev.time_us, INT64_C(1717236000000000));
    json_t *fl = fields_of(&a);
    assert_string_equal(str_of(fl, "k8s.namespace"), "production");
    assert_string_equal(str_of(fl, "k8s.pod"), "web-7");
    assert_string_equal(str_of(fl, "container.image"), "nginx:1.25"); /* as given, not rebuilt */
    assert_true(json_is_null(json_object_get(fl, "user.name")));
    assert_true(json_is_integer(json_object_get(fl, "proc.pid")));
    assert_non_null(strstr(a.ev.search_text, "curl https://203.0.113.9/x.sh"));
    assert_non_null(strstr(a.ev.search_text, "mitre_exfil"));
    json_decref(fl);
    sr_falco_alert_clear(&a);

    /* loopback is never a source address; fd.sip equal to fd.lip is the local end */
    json = "{\"output\":\"o\",\"priority\":\"Notice\",\"rule\":\"r\",\"time\":\"2024-06-01T10:00:00Z\","
           "\"output_fields\":{\"fd.rip\":\"127.0.0.1\",\"fd.sip\":\"10.0.0.5\",\"fd.lip\":\"10.0.0.5\"}}";
    assert_int_equal(decode(json, &a, why, sizeof(why), &s), 0);
    assert_null(a.ev.src_ip);
    assert_string_equal(a.ev.host, "");
    sr_falco_alert_clear(&a);
    /* fd.sip of an outbound connection (no fd.rip) */
    json = "{\"output\":\"o\",\"priority\":\"Notice\",\"rule\":\"r\",\"time\":\"2024-06-01T10:00:00Z\","
           "\"output_fields\":{\"fd.sip\":\"2001:db8::0:1\",\"fd.lip\":\"10.0.0.5\"}}";
    assert_int_equal(decode(json, &a, why, sizeof(why), &s), 0);
    assert_string_equal(a.ev.src_ip, "2001:db8::1");
    sr_falco_alert_clear(&a);
    /* a k8s audit alert: the user from ka.user.name, the namespace from ka.target.namespace */
    json = "{\"output\":\"o\",\"priority\":\"Informational\",\"rule\":\"r\",\"time\":\"2024-06-01T10:00:00Z\","
           "\"output_fields\":{\"ka.user.name\":\"alice\",\"ka.target.namespace\":\"kube-system\"}}";
    assert_int_equal(decode(json, &a, why, sizeof(why), &s), 0);
    assert_string_equal(a.ev.user_name, "alice");
    fl = fields_of(&a);
    assert_string_equal(str_of(fl, "k8s.namespace"), "kube-system");
    json_decref(fl);
    sr_falco_alert_clear(&a);

    /* ids: deterministic, distinct per stream position, RFC 9562 version 8 */
    uint8_t id1[16], id2[16], id3[16];
    sr_falco_event_id(1, 7, id1);
    sr_falco_event_id(1, 7, id2);
    sr_falco_event_id(2, 7, id3);
    assert_memory_equal(id1, id2, 16);
    assert_memory_not_equal(id1, id3, 16);
    assert_int_equal(id1[6] >> 4, 8);
    assert_int_equal(id1[8] >> 6, 2);
    sr_event_scratch_done(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sample_alert), cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_times),              cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mapping_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
