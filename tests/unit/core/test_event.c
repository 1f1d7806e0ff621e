/* Unit tests: event rows (COPY text encoding), the syslog severity scale, addresses, ids,
 * and the LogRecord -> event conversion, plus the logs decode rules of the core. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_event.h"
#include "sr_ingest_decode.h"

#define S(x) ((char *)(uintptr_t)(x))

/* Splits one COPY text line into its fields (in place); returns the count. */
static int split(char *line, char **cols, int max) {
    int n = 0;
    char *p = line;
    cols[n++] = p;
    for (; *p && *p != '\n'; p++) {
        if (*p == '\t' && n < max) {
            *p = '\0';
            cols[n++] = p + 1;
        }
    }
    *p = '\0';
    return n;
}

static void test_severity(void **state) {
    (void)state;
    static const int want[8] = {5, 5, 5, 4, 3, 2, 1, 1};
    static const char *const words[8] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    for (int i = 0; i < 8; i++) {
        const char *t = NULL;
        assert_int_equal(sr_event_syslog_severity(i, &t), want[i]);
        assert_string_equal(t, words[i]);
    }
    const char *t = NULL;
    assert_int_equal(sr_event_syslog_severity(-1, &t), SR_SEV_UNKNOWN);
    assert_string_equal(t, "");
    assert_int_equal(sr_event_syslog_severity(8, NULL), SR_SEV_UNKNOWN);
}

static void test_inet(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(sr_event_inet("192.0.2.1", out, sizeof(out)), 0);
    assert_string_equal(out, "192.0.2.1");
    assert_int_equal(sr_event_inet("2001:DB8:0:0::1", out, sizeof(out)), 0);
    assert_string_equal(out, "2001:db8::1");
    assert_int_equal(sr_event_inet("::ffff:192.0.2.1", out, sizeof(out)), 0);
    static const char *const bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "host.example", "fe80::1%eth0",
                                      "1.2.3.4/24", " 1.2.3.4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sr_event_inet(bad[i], out, sizeof(out)), -EINVAL);
    assert_true(sr_event_inet_is_local("127.0.0.1"));
    assert_true(sr_event_inet_is_local("::1"));
    assert_true(sr_event_inet_is_local("::"));
    assert_true(sr_event_inet_is_local("fe80::1"));
    assert_true(sr_event_inet_is_local("::ffff:127.0.0.1"));
    assert_true(sr_event_inet_is_local("224.0.0.1"));
    assert_false(sr_event_inet_is_local("10.0.0.1"));
    assert_false(sr_event_inet_is_local("2001:db8::1"));
}

static void test_encode_row(void **state) {
    (void)state;
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_evbuf out;
    sr_evbuf_init(&out, 1 << 20);
    static const char *const tags[] = {"a \"b\"", "c\\d"};
    sr_event ev = {
        .time_us = INT64_C(1685022245478445),
        .host = "web\t1",
        .agent_id = NULL,
        .source_type = "falco_alert",
        .severity = 4,
        .severity_text = "Error",
        .program = "",
        .pid = 42,
        .user_name = "root",
        .src_ip = "2001:db8::1",
        .outcome = NULL,
        .action = NULL,
        .rule = "Write below /etc",
        .message = "line one\nline two \\ back",
        .fields = "{\"a\":\"x\\ny\"}",
        .fields_len = strlen("{\"a\":\"x\\ny\"}"),
        .tags = tags,
        .n_tags = 2,
        .search_text = "opened /etc/shadow from 10.1.2.3",
        .search_len = strlen("opened /etc/shadow from 10.1.2.3"),
    };
    sr_event_id("test", "k", 1, ev.id);
    assert_int_equal(sr_event_encode(&out, &ev, &s), 0);
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_null(memchr(out.data, '\n', out.len - 1)); /* one line */
    char *line = strdup(out.data);
    char *c[32];
    assert_int_equal(split(line, c, 32), 18);
    assert_string_equal(c[0], "2023-05-25 13:44:05.478445+00");
    assert_int_equal(strlen(c[1]), 36);
    assert_int_equal(c[1][14], '8'); /* version 8 */
    assert_string_equal(c[2], "web\\t1");
    assert_string_equal(c[3], "\\N");
    assert_string_equal(c[4], "falco_alert");
    assert_string_equal(c[5], "4");
    assert_string_equal(c[6], "Error");
    assert_string_equal(c[7], "\\N"); /* empty program */
    assert_string_equal(c[8], "42");
    assert_string_equal(c[9], "root");
    assert_string_equal(c[10], "2001:db8::1");
    assert_string_equal(c[11], "\\N");
    assert_string_equal(c[12], "\\N");
    assert_string_equal(c[13], "Write below /etc");
    assert_string_equal(c[14], "line one\\nline two \\\\ back");
    assert_string_equal(c[15], "{\"a\":\"x\\\\ny\"}");
    assert_string_equal(c[16], "{\"a \\\\\"b\\\\\"\",\"c\\\\\\\\d\"}");
    /* the tokenizer keeps the path and the address whole */
    assert_non_null(strstr(c[17], "'/etc/shadow'"));
    assert_non_null(strstr(c[17], "'10.1.2.3'"));
    free(line);

    /* the pid column is NULL for 0; a second row appends */
    ev.pid = 0;
    size_t first = out.len;
    assert_int_equal(sr_event_encode(&out, &ev, &s), 0);
    line = strdup(out.data + first);
    assert_int_equal(split(line, c, 32), 18);
    assert_string_equal(c[8], "\\N");
    free(line);

    /* a full buffer leaves it as it was */
    sr_evbuf small;
    sr_evbuf_init(&small, 64);
    assert_int_equal(sr_event_encode(&small, &ev, &s), -ENOBUFS);
    assert_int_equal(small.len, 0);
    sr_evbuf_done(&small);
    sr_evbuf_done(&out);
    sr_event_scratch_done(&s);
}

static void test_time_format(void **state) {
    (void)state;
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_evbuf out;
    sr_evbuf_init(&out, 1 << 16);
    static const struct {
        int64_t us;
        const char *text;
    } cases[] = {
        {INT64_C(946684800000000), "2000-01-01 00:00:00.000000+00"},
        {INT64_C(951782400000001), "2000-02-29 00:00:00.000001+00"},
        {INT64_C(4102444799999999), "2099-12-31 23:59:59.999999+00"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sr_event ev = {.time_us = cases[i].us, .message = "m", .source_type = "syslog"};
        sr_evbuf_reset(&out);
        assert_int_equal(sr_event_encode(&out, &ev, &s), 0);
        assert_int_equal(strncmp(out.data, cases[i].text, strlen(cases[i].text)), 0);
    }
    sr_evbuf_done(&out);
    sr_event_scratch_done(&s);
}

typedef struct {
    Serviceradar__Agent__V1__LogRecord rec;
    Serviceradar__Agent__V1__LogRecord__FieldsEntry fe[2];
    Serviceradar__Agent__V1__LogRecord__FieldsEntry *fp[2];
} logrec;

static void logrec_init(logrec *l) {
    serviceradar__agent__v1__log_record__init(&l->rec);
    for (int i = 0; i < 2; i++) {
        serviceradar__agent__v1__log_record__fields_entry__init(&l->fe[i]);
        l->fp[i] = &l->fe[i];
    }
    l->fe[0].key = S("sudo.command");
    l->fe[0].value = S("/usr/bin/systemctl restart nginx");
    l->fe[1].key = S("tty");
    l->fe[1].value = S("pts/0");
    l->rec.time_unix_ms = 1717236000123;
    l->rec.source = S("auth");
    l->rec.path = S("/var/log/auth.log");
    l->rec.raw = S("Jun  1 10:00:00 bastion sshd[811]: Failed password for invalid user admin from 198.51.100.7 "
                   "port 52144 ssh2");
    l->rec.hostname = S("");
    l->rec.program = S("sshd");
    l->rec.pid = 811;
    l->rec.syslog_severity = 6;
    l->rec.facility = 10;
    l->rec.message = S("Failed password for invalid user admin from 198.51.100.7 port 52144 ssh2");
    l->rec.user = S("admin");
    l->rec.src_ip = S("198.51.100.7");
    l->rec.src_port = 52144;
    l->rec.outcome = S("failure");
    l->rec.action = S("ssh_login");
    l->rec.n_fields = 2;
    l->rec.fields = l->fp;
}

static void test_from_log(void **state) {
    (void)state;
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    logrec l;
    logrec_init(&l);
    sr_event ev;
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 9, 3, 0, &s, &ev), 0);
    assert_int_equal(ev.time_us, INT64_C(1717236000123000));
    assert_string_equal(ev.host, "bastion"); /* the batch's, the record has none */
    assert_string_equal(ev.agent_id, "agent-1");
    assert_string_equal(ev.source_type, "auth");
    assert_int_equal(ev.severity, SR_SEV_LOW); /* info, raised: a failed authentication */
    assert_string_equal(ev.severity_text, "info");
    assert_string_equal(ev.program, "sshd");
    assert_int_equal(ev.pid, 811);
    assert_string_equal(ev.user_name, "admin");
    assert_string_equal(ev.src_ip, "198.51.100.7");
    assert_string_equal(ev.outcome, "failure");
    assert_string_equal(ev.action, "ssh_login");
    assert_string_equal(ev.message, l.rec.message);
    json_error_t jerr;
    json_t *f = json_loadb(ev.fields, ev.fields_len, 0, &jerr);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "sudo.command")), "/usr/bin/systemctl restart nginx");
    assert_string_equal(json_string_value(json_object_get(f, "tty")), "pts/0");
    assert_string_equal(json_string_value(json_object_get(f, "log.path")), "/var/log/auth.log");
    assert_string_equal(json_string_value(json_object_get(f, "log.raw")), l.rec.raw);
    assert_string_equal(json_string_value(json_object_get(f, "src_port")), "52144");
    assert_string_equal(json_string_value(json_object_get(f, "facility")), "10");
    assert_null(json_object_get(f, "src_ip"));
    json_decref(f);
    assert_non_null(strstr(ev.search_text, "198.51.100.7"));
    assert_non_null(strstr(ev.search_text, "/usr/bin/systemctl restart nginx"));
    assert_non_null(strstr(ev.search_text, "bastion"));
    uint8_t id0[16];
    memcpy(id0, ev.id, 16);

    /* the id depends on agent, epoch, seq and index, nothing else */
    assert_int_equal(sr_event_from_log(&l.rec, "other", "agent-1", 9, 3, 0, &s, &ev), 0);
    assert_memory_equal(id0, ev.id, 16);
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 9, 3, 1, &s, &ev), 0);
    assert_memory_not_equal(id0, ev.id, 16);
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-2", 9, 3, 0, &s, &ev), 0);
    assert_memory_not_equal(id0, ev.id, 16);
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 10, 3, 0, &s, &ev), 0);
    assert_memory_not_equal(id0, ev.id, 16);

    /* an invalid address is NULL and kept as a field; unknown severity; success stays as is;
     * the record's hostname wins; a record without message uses raw and no log.raw */
    l.rec.src_ip = S("not-an-ip");
    l.rec.syslog_severity = -1;
    l.rec.facility = -1;
    l.rec.src_port = 0;
    l.rec.outcome = S("success");
    l.rec.hostname = S("bastion-2");
    l.rec.message = S("");
    l.rec.n_fields = 0;
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 9, 3, 0, &s, &ev), 0);
    assert_null(ev.src_ip);
    assert_int_equal(ev.severity, SR_SEV_UNKNOWN);
    assert_string_equal(ev.severity_text, "");
    assert_string_equal(ev.host, "bastion-2");
    assert_string_equal(ev.message, l.rec.raw);
    f = json_loadb(ev.fields, ev.fields_len, 0, &jerr);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "src_ip")), "not-an-ip");
    assert_null(json_object_get(f, "log.raw"));
    assert_null(json_object_get(f, "src_port"));
    assert_null(json_object_get(f, "facility"));
    json_decref(f);
    /* a failed authentication at err stays high */
    l.rec.outcome = S("failure");
    l.rec.syslog_severity = 3;
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 9, 3, 0, &s, &ev), 0);
    assert_int_equal(ev.severity, SR_SEV_HIGH);
    /* JSON escaping of control characters and quotes in field values */
    l.fe[0].value = S("a\"b\\c\x01");
    l.rec.n_fields = 1;
    assert_int_equal(sr_event_from_log(&l.rec, "bastion", "agent-1", 9, 3, 0, &s, &ev), 0);
    f = json_loadb(ev.fields, ev.fields_len, 0, &jerr);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "sudo.command")), "a\"b\\c\x01");
    json_decref(f);
    sr_event_scratch_done(&s);
}

static uint8_t *pack_logs(logrec *l, size_t n, const char *agent, uint64_t seq, size_t *len) {
    Serviceradar__Agent__V1__LogRecord **recs = calloc(n, sizeof(*recs));
    assert_non_null(recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = &l->rec;
    Serviceradar__Agent__V1__LogsBatch lb;
    serviceradar__agent__v1__logs_batch__init(&lb);
    lb.hostname = S("bastion");
    lb.n_records = n;
    lb.records = recs;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = S(agent);
    b.epoch = 5;
    b.seq = seq;
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    b.logs = &lb;
    *len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    free(recs);
    return buf;
}

static void test_decode_logs(void **state) {
    (void)state;
    sr_telemetry_decoder *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&d), 0);
    logrec l;
    logrec_init(&l);
    size_t len;
    uint8_t *buf = pack_logs(&l, 3, "agent-1", 7, &len);
    sr_ingest_logs u;
    char why[256] = "";
    int64_t now = 1717236000123 + 1000;
    assert_int_equal(sr_ingest_decode_logs(buf, len, "agent-1", now, d, &u, why, sizeof(why)), 0);
    assert_int_equal(u.n_records, 3);
    assert_int_equal(u.seq, 7);
    assert_int_equal(u.epoch, 5);
    assert_string_equal(u.hostname, "bastion");
    /* the metrics decoder refuses it, and the logs decoder refuses metrics */
    sr_ingest_upload m;
    assert_int_equal(sr_ingest_decode_upload(buf, len, "agent-1", now, d, &m, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "not metrics"));
    /* header and identity */
    assert_int_equal(sr_ingest_decode_logs(buf, len, NULL, now, d, &u, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "Sr-Agent-Id"));
    assert_int_equal(sr_ingest_decode_logs(buf, len, "agent-2", now, d, &u, why, sizeof(why)), -EBADMSG);
    /* record time out of range */
    assert_int_equal(sr_ingest_decode_logs(buf, len, "agent-1", now - 2 * 86400000, d, &u, why, sizeof(why)),
                     -EBADMSG);
    assert_non_null(strstr(why, "out of range"));
    free(buf);
    /* unknown source */
    l.rec.source = S("kernel");
    buf = pack_logs(&l, 1, "agent-1", 8, &len);
    assert_int_equal(sr_ingest_decode_logs(buf, len, "agent-1", now, d, &u, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "source"));
    free(buf);
    sr_telemetry_decoder_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severity),   cmocka_unit_test(test_inet),        cmocka_unit_test(test_encode_row),
        cmocka_unit_test(test_time_format), cmocka_unit_test(test_from_log),   cmocka_unit_test(test_decode_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
