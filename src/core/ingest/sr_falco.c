#include "sr_falco.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_cleanup.h"

#define MIN_TIME_US INT64_C(946684800000000) /* 2000-01-01 */
#define MAX_FUTURE_US INT64_C(86400000000)

__attribute__((format(printf, 3, 4))) static int fail(char *reason, size_t reasonlen, const char *fmt, ...) {
    if (reason && reasonlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reasonlen, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

int sr_falco_priority(const char *p) {
    static const struct {
        const char *word;
        int sev;
    } map[] = {
        {"emergency", SR_SEV_CRITICAL}, {"alert", SR_SEV_CRITICAL}, {"critical", SR_SEV_CRITICAL},
        {"error", SR_SEV_HIGH},         {"warning", SR_SEV_MEDIUM}, {"notice", SR_SEV_LOW},
        {"informational", SR_SEV_INFO}, {"info", SR_SEV_INFO},      {"debug", SR_SEV_INFO},
    };
    for (size_t i = 0; p && i < SR_ARRAY_SIZE(map); i++)
        if (strcasecmp(p, map[i].word) == 0)
            return map[i].sev;
    return -EINVAL;
}

/* ---- RFC 3339 ---- */

static int digits(const char *s, int n, int *ret) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int sr_falco_parse_time(const char *s, int64_t *ret_us) {
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
        digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) < 0 ||
        s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':' || digits(s + 17, 2, &sec) < 0)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    if (sec == 60)
        sec = 59; /* a leap second is kept in the second before it */
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 6)
                frac_us = frac_us * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 18)
            return -EINVAL;
        for (int i = n; i < 6; i++)
            frac_us *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 || oh > 23 || om > 59)
            return -EINVAL;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *ret_us = secs * 1000000 + frac_us;
    return 0;
}

void sr_falco_event_id(int64_t stream_time_ns, uint64_t stream_seq, uint8_t out[16]) {
    unsigned char key[16];
    for (int i = 0; i < 8; i++) {
        key[i] = (unsigned char)((uint64_t)stream_time_ns >> (8 * i));
        key[8 + i] = (unsigned char)(stream_seq >> (8 * i));
    }
    sr_event_id("falco", key, sizeof(key), out);
}

/* ---- decoding ---- */

/* A string member: NULL when absent or JSON null; -EBADMSG when another type or too long. */
static int opt_string(json_t *o, const char *key, size_t max, const char **ret, char *reason, size_t reasonlen) {
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(reason, reasonlen, "%s is not a string", key);
    if (json_string_length(v) > max)
        return fail(reason, reasonlen, "%s is %zu bytes (limit %zu)", key, json_string_length(v), max);
    *ret = json_string_value(v);
    return 0;
}

/* A string value of output_fields, or NULL. */
static const char *field_str(json_t *of, const char *key) {
    json_t *v = of ? json_object_get(of, key) : NULL;
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static int search_add(sr_evbuf *b, const char *s) {
    if (!s || !*s)
        return 0;
    int r = b->len > 0 ? sr_evbuf_put(b, "\n", 1) : 0;
    return r == 0 ? sr_evbuf_puts(b, s) : r;
}

/* Falco starts each output with the wall-clock time ("13:44:05.478445000: "). The time has its own
 * column; indexed, it would add one unique lexeme per alert, so the search text skips it. */
static const char *skip_clock_prefix(const char *output) {
    const char *p = output;
    for (int group = 0; group < 3; group++) {
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return output;
        p += 2;
        if (group < 2) {
            if (*p != ':')
                return output;
            p++;
        }
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (p[0] != ':' || p[1] != ' ')
        return output;
    return p + 2;
}

/* The remote end of the alert's connection: fd.rip, else fd.sip when it is not the local
 * address (an outbound connection); never a loopback, unspecified, link-local or multicast
 * address. Canonical text into out. */
static const char *remote_ip(json_t *of, char *out, size_t outlen) {
    const char *rip = field_str(of, "fd.rip");
    if (rip && sr_event_inet(rip, out, outlen) == 0 && !sr_event_inet_is_local(out))
        return out;
    const char *sip = field_str(of, "fd.sip");
    const char *lip = field_str(of, "fd.lip");
    if (sip && (!lip || strcmp(sip, lip) != 0) && sr_event_inet(sip, out, outlen) == 0 &&
        !sr_event_inet_is_local(out))
        return out;
    return NULL;
}

/* Fills the fields object: output_fields as given, then the normalized aliases (only where the
 * alert does not carry that key itself) and falco.source / falco.hostname. */
static int build_fields(json_t *of, const char *source, const char *hostname, sr_evbuf *f, char *reason,
                        size_t reasonlen) {
    int r = sr_evbuf_json_begin(f);
    const char *key;
    json_t *v;
    if (of) {
        json_object_foreach(of, key, v) {
            if (r < 0)
                break;
            if (strlen(key) == 0 || strlen(key) > SR_FALCO_MAX_KEY_BYTES)
                return fail(reason, reasonlen, "output_fields key of %zu bytes (limit 1..%d)", strlen(key),
                            SR_FALCO_MAX_KEY_BYTES);
            if (json_is_string(v)) {
                r = sr_evbuf_json_str(f, key, json_string_value(v), json_string_length(v));
            } else {
                _cleanup_free_ char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                if (!text)
                    return -ENOMEM;
                r = sr_evbuf_json_raw(f, key, text, strlen(text));
            }
        }
    }
    const char *ns = field_str(of, "k8s.ns.name");
    if (!ns)
        ns = field_str(of, "ka.target.namespace");
    const char *pod = field_str(of, "k8s.pod.name");
    if (r == 0 && ns && !json_object_get(of, "k8s.namespace"))
        r = sr_evbuf_json_str(f, "k8s.namespace", ns, strlen(ns));
    if (r == 0 && pod && !json_object_get(of, "k8s.pod"))
        r = sr_evbuf_json_str(f, "k8s.pod", pod, strlen(pod));
    const char *repo = field_str(of, "container.image.repository");
    if (r == 0 && repo && !json_object_get(of, "container.image")) {
        const char *tag = field_str(of, "container.image.tag");
        char img[2 * 1024 + 2];
        int n = snprintf(img, sizeof(img), "%s%s%s", repo, tag ? ":" : "", tag ? tag : "");
        if (n > 0 && (size_t)n < sizeof(img))
            r = sr_evbuf_json_str(f, "container.image", img, (size_t)n);
    }
    if (r == 0 && source)
        r = sr_evbuf_json_str(f, "falco.source", source, strlen(source));
    if (r == 0 && hostname)
        r = sr_evbuf_json_str(f, "falco.hostname", hostname, strlen(hostname));
    if (r == 0)
        r = sr_evbuf_json_end(f);
    if (r < 0)
        return r == -ENOMEM ? r : fail(reason, reasonlen, "output_fields too large");
    return 0;
}

int sr_falco_decode(const char *data, size_t len, int64_t now_ms, sr_event_scratch *s, sr_falco_alert *a,
                    char *reason, size_t reasonlen) {
    memset(a, 0, sizeof(*a));
    if (!data || len == 0)
        return fail(reason, reasonlen, "empty payload");
    if (len > SR_FALCO_MAX_PAYLOAD)
        return fail(reason, reasonlen, "payload of %zu bytes over the %d byte limit", len, SR_FALCO_MAX_PAYLOAD);
    json_error_t jerr;
    a->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!a->root)
        return fail(reason, reasonlen, "not JSON: %.120s (line %d)", jerr.text, jerr.line);
    if (!json_is_object(a->root))
        return fail(reason, reasonlen, "not a JSON object");

    const char *output, *priority, *rule, *time_text, *hostname, *source;
    int r = opt_string(a->root, "output", SR_FALCO_MAX_PAYLOAD, &output, reason, reasonlen);
    if (r == 0)
        r = opt_string(a->root, "priority", SR_FALCO_MAX_WORD_BYTES, &priority, reason, reasonlen);
    if (r == 0)
        r = opt_string(a->root, "rule", SR_FALCO_MAX_WORD_BYTES, &rule, reason, reasonlen);
    if (r == 0)
        r = opt_string(a->root, "time", 64, &time_text, reason, reasonlen);
    if (r == 0)
        r = opt_string(a->root, "hostname", SR_FALCO_MAX_WORD_BYTES, &hostname, reason, reasonlen);
    if (r == 0)
        r = opt_string(a->root, "source", SR_FALCO_MAX_WORD_BYTES, &source, reason, reasonlen);
    if (r < 0)
        return r;
    if (!output || !*output)
        return fail(reason, reasonlen, "missing output");
    if (!rule || !*rule)
        return fail(reason, reasonlen, "missing rule");
    if (!priority)
        return fail(reason, reasonlen, "missing priority");
    int sev = sr_falco_priority(priority);
    if (sev < 0)
        return fail(reason, reasonlen, "priority \"%.32s\" is not a Falco priority", priority);
    if (!time_text)
        return fail(reason, reasonlen, "missing time");
    int64_t t_us;
    if (sr_falco_parse_time(time_text, &t_us) < 0)
        return fail(reason, reasonlen, "time \"%.64s\" is not RFC 3339", time_text);
    if (t_us < MIN_TIME_US || t_us > now_ms * 1000 + MAX_FUTURE_US)
        return fail(reason, reasonlen, "time \"%.64s\" out of range", time_text);

    json_t *tags = json_object_get(a->root, "tags");
    size_t n_tags = 0;
    if (tags && !json_is_null(tags)) {
        if (!json_is_array(tags))
            return fail(reason, reasonlen, "tags is not an array");
        if (json_array_size(tags) > SR_FALCO_MAX_TAGS)
            return fail(reason, reasonlen, "%zu tags (limit %d)", json_array_size(tags), SR_FALCO_MAX_TAGS);
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            if (!json_is_string(t) || json_string_length(t) > SR_FALCO_MAX_TAG_BYTES)
                return fail(reason, reasonlen, "tag %zu is not a string of at most %d bytes", i,
                            SR_FALCO_MAX_TAG_BYTES);
            a->tags[n_tags++] = json_string_value(t);
        }
    }
    json_t *of = json_object_get(a->root, "output_fields");
    if (of && json_is_null(of))
        of = NULL;
    if (of && !json_is_object(of))
        return fail(reason, reasonlen, "output_fields is not an object");
    if (of && json_object_size(of) > SR_FALCO_MAX_FIELDS)
        return fail(reason, reasonlen, "%zu output_fields (limit %d)", json_object_size(of), SR_FALCO_MAX_FIELDS);

    r = build_fields(of, source, hostname, &s->fields, reason, reasonlen);
    if (r < 0)
        return r;

    sr_event *ev = &a->ev;
    ev->time_us = t_us;
    ev->host = hostname ? hostname : "";
    ev->agent_id = NULL;
    ev->source_type = SR_FALCO_SOURCE_TYPE;
    ev->severity = sev;
    ev->severity_text = priority;
    ev->rule = rule;
    ev->message = output;
    ev->tags = a->tags;
    ev->n_tags = n_tags;
    ev->fields = s->fields.data;
    ev->fields_len = s->fields.len;
    ev->program = field_str(of, "proc.name");
    ev->user_name = field_str(of, "user.name");
    if (!ev->user_name)
        ev->user_name = field_str(of, "ka.user.name");
    json_t *pid = of ? json_object_get(of, "proc.pid") : NULL;
    if (json_is_integer(pid) && json_integer_value(pid) > 0 && json_integer_value(pid) <= INT32_MAX)
        ev->pid = json_integer_value(pid);
    ev->src_ip = remote_ip(of, s->src_ip, sizeof(s->src_ip));

    sr_evbuf *t = &s->search;
    sr_evbuf_reset(t);
    const char *image = field_str(of, "container.image");
    const char *words[] = {skip_clock_prefix(output),
                           rule,
                           ev->program,
                           ev->user_name,
                           ev->src_ip,
                           ev->host,
                           field_str(of, "proc.cmdline"),
                           field_str(of, "fd.name"),
                           image ? image : field_str(of, "container.image.repository"),
                           field_str(of, "k8s.ns.name"),
                           field_str(of, "k8s.pod.name")};
    for (size_t i = 0; r == 0 && i < SR_ARRAY_SIZE(words); i++)
        r = search_add(t, words[i]);
    for (size_t i = 0; r == 0 && i < n_tags; i++)
        r = search_add(t, a->tags[i]);
    if (r < 0)
        return r == -ENOMEM ? r : fail(reason, reasonlen, "alert too large to index");
    ev->search_text = t->data;
    ev->search_len = t->len;
    return 0;
}

void sr_falco_alert_clear(sr_falco_alert *a) {
    if (!a)
        return;
    json_decref(a->root);
    memset(a, 0, sizeof(*a));
}
