#include "sr_event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_search.h"

#define TSV_MAX (4u * 1024 * 1024) /* largest search vector literal of one event */
#define SCRATCH_MAX (1u * 1024 * 1024)
#define SR_EVENT_NS_MAX 272 /* "log:" + an agent id of at most 255 bytes */

/* ---- buffer ---- */

void sr_evbuf_init(sr_evbuf *b, size_t max) {
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void sr_evbuf_reset(sr_evbuf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sr_evbuf_done(sr_evbuf *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Makes room for more bytes plus a NUL. */
static int reserve(sr_evbuf *b, size_t more) {
    if (more >= b->max || b->len >= b->max - more)
        return -ENOBUFS;
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sr_evbuf_put(sr_evbuf *b, const char *s, size_t len) {
    int r = reserve(b, len);
    if (r < 0)
        return r;
    if (len > 0)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int sr_evbuf_puts(sr_evbuf *b, const char *s) { return sr_evbuf_put(b, s, strlen(s)); }

/* ---- JSON ---- */

/* Appends s as the contents of a JSON string (without quotes). */
static int json_escape(sr_evbuf *b, const char *s, size_t len) {
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        int r = sr_evbuf_put(b, s + run, i - run);
        if (r < 0)
            return r;
        char esc[8];
        int n;
        switch (c) {
        case '"':
            n = snprintf(esc, sizeof(esc), "\\\"");
            break;
        case '\\':
            n = snprintf(esc, sizeof(esc), "\\\\");
            break;
        case '\n':
            n = snprintf(esc, sizeof(esc), "\\n");
            break;
        case '\t':
            n = snprintf(esc, sizeof(esc), "\\t");
            break;
        case '\r':
            n = snprintf(esc, sizeof(esc), "\\r");
            break;
        default:
            n = snprintf(esc, sizeof(esc), "\\u%04x", c);
            break;
        }
        r = sr_evbuf_put(b, esc, (size_t)n);
        if (r < 0)
            return r;
        run = i + 1;
    }
    return sr_evbuf_put(b, s + run, len - run);
}

int sr_evbuf_json_begin(sr_evbuf *b) {
    sr_evbuf_reset(b);
    return sr_evbuf_put(b, "{", 1);
}

static int json_key(sr_evbuf *b, const char *key) {
    int r = 0;
    if (b->len > 1)
        r = sr_evbuf_put(b, ",", 1);
    if (r == 0)
        r = sr_evbuf_put(b, "\"", 1);
    if (r == 0)
        r = json_escape(b, key, strlen(key));
    if (r == 0)
        r = sr_evbuf_put(b, "\":", 2);
    return r;
}

int sr_evbuf_json_str(sr_evbuf *b, const char *key, const char *val, size_t vlen) {
    size_t mark = b->len;
    int r = json_key(b, key);
    if (r == 0)
        r = sr_evbuf_put(b, "\"", 1);
    if (r == 0)
        r = json_escape(b, val ? val : "", val ? vlen : 0);
    if (r == 0)
        r = sr_evbuf_put(b, "\"", 1);
    if (r < 0) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return r;
}

int sr_evbuf_json_raw(sr_evbuf *b, const char *key, const char *json, size_t jlen) {
    size_t mark = b->len;
    int r = json_key(b, key);
    if (r == 0)
        r = sr_evbuf_put(b, json, jlen);
    if (r < 0) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return r;
}

int sr_evbuf_json_end(sr_evbuf *b) { return sr_evbuf_put(b, "}", 1); }

/* ---- COPY text format ---- */

/* Bytes that COPY text format escapes. */
static inline bool copy_special(unsigned char c) { return c == '\\' || c == '\t' || c == '\n' || c == '\r'; }

/* Appends s as one COPY text field: backslash, tab, newline and carriage return escaped. */
static int copy_text(sr_evbuf *b, const char *s, size_t len) {
    size_t i = 0;
    while (i < len && !copy_special((unsigned char)s[i]))
        i++;
    if (i == len)
        return sr_evbuf_put(b, s, len); /* the common case: nothing to escape */
    /* worst case every byte doubles */
    int r = reserve(b, 2 * len);
    if (r < 0)
        return r;
    char *o = b->data + b->len;
    memcpy(o, s, i);
    o += i;
    for (; i < len; i++) {
        char c = s[i];
        if (!copy_special((unsigned char)c)) {
            *o++ = c;
            continue;
        }
        *o++ = '\\';
        *o++ = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* A nullable text column: NULL and "" become \N. */
static int copy_opt(sr_evbuf *b, const char *s) {
    if (!s || !*s)
        return sr_evbuf_put(b, "\\N", 2);
    return copy_text(b, s, strlen(s));
}

static int copy_tab(sr_evbuf *b) { return sr_evbuf_put(b, "\t", 1); }

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, int64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* "YYYY-MM-DD HH:MM:SS.ffffff+00" (years 0..9999; event times are bounded long before that). */
static int copy_time(sr_evbuf *b, int64_t us) {
    int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return -EINVAL;
    char t[32];
    char *p = put_digits(t, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = ' ';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, frac, 6);
    memcpy(p, "+00", 3);
    p += 3;
    return sr_evbuf_put(b, t, (size_t)(p - t));
}

static int copy_uuid(sr_evbuf *b, const uint8_t id[16]) {
    static const char hex[] = "0123456789abcdef";
    char t[36];
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            t[n++] = '-';
        t[n++] = hex[id[i] >> 4];
        t[n++] = hex[id[i] & 15];
    }
    return sr_evbuf_put(b, t, n);
}

/* The tags as an array literal inside a COPY field: {"a","b"} with " and \ escaped for the
 * array parser, then the whole escaped for COPY. */
static int copy_tags(sr_evbuf *b, const char *const *tags, size_t n, sr_evbuf *tmp) {
    sr_evbuf_reset(tmp);
    int r = sr_evbuf_put(tmp, "{", 1);
    for (size_t i = 0; r == 0 && i < n; i++) {
        const char *t = tags[i] ? tags[i] : "";
        if (i > 0)
            r = sr_evbuf_put(tmp, ",", 1);
        if (r == 0)
            r = sr_evbuf_put(tmp, "\"", 1);
        for (const char *p = t; r == 0 && *p; p++) {
            if (*p == '"' || *p == '\\')
                r = sr_evbuf_put(tmp, "\\", 1);
            if (r == 0)
                r = sr_evbuf_put(tmp, p, 1);
        }
        if (r == 0)
            r = sr_evbuf_put(tmp, "\"", 1);
    }
    if (r == 0)
        r = sr_evbuf_put(tmp, "}", 1);
    if (r == 0)
        r = copy_text(b, tmp->data, tmp->len);
    return r;
}

static int make_tsvector(const sr_event *ev, sr_event_scratch *s) {
    size_t want = ev->search_len * 4 + 256;
    for (;;) {
        if (want > TSV_MAX)
            want = TSV_MAX;
        sr_evbuf_reset(&s->tsv);
        int r = reserve(&s->tsv, want);
        if (r < 0)
            return r;
        size_t len = 0;
        r = sr_search_tsvector(ev->search_text ? ev->search_text : "", ev->search_len, s->tsv.data, want, &len);
        if (r == 0) {
            s->tsv.len = len;
            return 0;
        }
        if (r != -ENOBUFS || want == TSV_MAX)
            return r;
        want *= 2;
    }
}

int sr_event_encode(sr_evbuf *out, const sr_event *ev, sr_event_scratch *s) {
    int r = make_tsvector(ev, s);
    if (r < 0)
        return r;
    size_t mark = out->len;
    char num[32];
    r = copy_time(out, ev->time_us);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_uuid(out, ev->id);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_text(out, ev->host ? ev->host : "", ev->host ? strlen(ev->host) : 0);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->agent_id);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_text(out, ev->source_type ? ev->source_type : "", ev->source_type ? strlen(ev->source_type) : 0);
    if (r == 0) {
        int n = snprintf(num, sizeof(num), "\t%d\t", ev->severity >= 0 && ev->severity <= 5 ? ev->severity : 0);
        r = sr_evbuf_put(out, num, (size_t)n);
    }
    if (r == 0)
        r = copy_text(out, ev->severity_text ? ev->severity_text : "",
                      ev->severity_text ? strlen(ev->severity_text) : 0);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->program);
    if (r == 0) {
        int n = ev->pid > 0 && ev->pid <= INT32_MAX ? snprintf(num, sizeof(num), "\t%" PRId64 "\t", ev->pid)
                                                     : snprintf(num, sizeof(num), "\t\\N\t");
        r = sr_evbuf_put(out, num, (size_t)n);
    }
    if (r == 0)
        r = copy_opt(out, ev->user_name);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->src_ip);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->outcome);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->action);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_opt(out, ev->rule);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_text(out, ev->message ? ev->message : "", ev->message ? strlen(ev->message) : 0);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = ev->fields ? copy_text(out, ev->fields, ev->fields_len) : sr_evbuf_put(out, "{}", 2);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_tags(out, ev->tags, ev->n_tags, &s->tags);
    if (r == 0)
        r = copy_tab(out);
    if (r == 0)
        r = copy_text(out, s->tsv.data, s->tsv.len);
    if (r == 0)
        r = sr_evbuf_put(out, "\n", 1);
    if (r < 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return r;
}

/* ---- mappings ---- */

int sr_event_syslog_severity(int sev, const char **ret_text) {
    static const char *const words[8] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    static const int level[8] = {SR_SEV_CRITICAL, SR_SEV_CRITICAL, SR_SEV_CRITICAL, SR_SEV_HIGH,
                                 SR_SEV_MEDIUM,   SR_SEV_LOW,      SR_SEV_INFO,     SR_SEV_INFO};
    if (sev < 0 || sev > 7) {
        if (ret_text)
            *ret_text = "";
        return SR_SEV_UNKNOWN;
    }
    if (ret_text)
        *ret_text = words[sev];
    return level[sev];
}

int sr_event_inet(const char *s, char *out, size_t outlen) {
    if (!s || !*s || strlen(s) >= 64 || outlen < INET6_ADDRSTRLEN)
        return -EINVAL;
    unsigned char addr[16];
    if (inet_pton(AF_INET, s, addr) == 1)
        return inet_ntop(AF_INET, addr, out, (socklen_t)outlen) ? 0 : -EINVAL;
    if (inet_pton(AF_INET6, s, addr) == 1)
        return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) ? 0 : -EINVAL;
    return -EINVAL;
}

bool sr_event_inet_is_local(const char *c) {
    unsigned char a[16];
    if (inet_pton(AF_INET, c, a) == 1)
        return a[0] == 127 || a[0] == 0 || (a[0] == 169 && a[1] == 254) || a[0] >= 224;
    if (inet_pton(AF_INET6, c, a) != 1)
        return true;
    static const unsigned char zero[16] = {0};
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
        return true;                                 /* :: and ::1 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)       /* fe80::/10 */
        return true;
    if (a[0] == 0xff)                                /* multicast */
        return true;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0)                  /* ::ffff:a.b.c.d: judge the IPv4 address */
        return a[12] == 127 || a[12] == 0 || (a[12] == 169 && a[13] == 254) || a[12] >= 224;
    return false;
}

/* Two independent 64-bit hashes (FNV-1a with different bases, each finished with a 64-bit
 * avalanche mix) make the 128 bits. */
static uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void sr_event_id(const char *ns, const void *key, size_t keylen, uint8_t out[16]) {
    uint64_t h1 = fnv(UINT64_C(0xcbf29ce484222325), ns, strlen(ns) + 1);
    uint64_t h2 = fnv(UINT64_C(0x84222325cbf29ce4), ns, strlen(ns) + 1);
    h1 = fmix64(fnv(h1, key, keylen) ^ keylen);
    h2 = fmix64(fnv(h2, key, keylen) + h1);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h1 >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x80); /* version 8 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10 */
}

/* ---- scratch ---- */

void sr_event_scratch_init(sr_event_scratch *s) {
    memset(s, 0, sizeof(*s));
    sr_evbuf_init(&s->fields, SCRATCH_MAX);
    sr_evbuf_init(&s->search, SCRATCH_MAX);
    sr_evbuf_init(&s->tsv, TSV_MAX + 1);
    sr_evbuf_init(&s->tags, SCRATCH_MAX);
}

void sr_event_scratch_done(sr_event_scratch *s) {
    sr_evbuf_done(&s->fields);
    sr_evbuf_done(&s->search);
    sr_evbuf_done(&s->tsv);
    sr_evbuf_done(&s->tags);
}

/* ---- log records ---- */

static int search_add(sr_evbuf *b, const char *s) {
    if (!s || !*s)
        return 0;
    int r = b->len > 0 ? sr_evbuf_put(b, "\n", 1) : 0;
    return r == 0 ? sr_evbuf_puts(b, s) : r;
}

static int put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return 8;
}

int sr_event_from_log(const Serviceradar__Agent__V1__LogRecord *rec, const char *batch_host, const char *agent_id,
                      uint64_t epoch, uint64_t seq, size_t index, sr_event_scratch *s, sr_event *ev) {
    memset(ev, 0, sizeof(*ev));
    const char *message = rec->message && rec->message[0] ? rec->message : (rec->raw ? rec->raw : "");
    ev->time_us = rec->time_unix_ms * 1000;
    ev->host = rec->hostname && rec->hostname[0] ? rec->hostname : (batch_host ? batch_host : "");
    ev->agent_id = agent_id;
    ev->source_type = rec->source ? rec->source : "";
    ev->severity = sr_event_syslog_severity(rec->syslog_severity, &ev->severity_text);
    if (rec->outcome && strcmp(rec->outcome, "failure") == 0 && strcmp(ev->source_type, "auth") == 0 &&
        ev->severity < SR_SEV_LOW)
        ev->severity = SR_SEV_LOW;
    ev->program = rec->program;
    ev->pid = rec->pid;
    ev->user_name = rec->user;
    ev->outcome = rec->outcome;
    ev->action = rec->action;
    ev->message = message;
    int ip_ok = rec->src_ip && rec->src_ip[0] && sr_event_inet(rec->src_ip, s->src_ip, sizeof(s->src_ip)) == 0;
    ev->src_ip = ip_ok ? s->src_ip : NULL;

    sr_evbuf *f = &s->fields;
    int r = sr_evbuf_json_begin(f);
    for (size_t i = 0; r == 0 && i < rec->n_fields; i++) {
        const Serviceradar__Agent__V1__LogRecord__FieldsEntry *e = rec->fields[i];
        if (e && e->key)
            r = sr_evbuf_json_str(f, e->key, e->value, e->value ? strlen(e->value) : 0);
    }
    if (r == 0 && rec->path && rec->path[0])
        r = sr_evbuf_json_str(f, "log.path", rec->path, strlen(rec->path));
    if (r == 0 && rec->raw && rec->raw[0] && strcmp(rec->raw, message) != 0)
        r = sr_evbuf_json_str(f, "log.raw", rec->raw, strlen(rec->raw));
    if (r == 0 && rec->src_ip && rec->src_ip[0] && !ip_ok)
        r = sr_evbuf_json_str(f, "src_ip", rec->src_ip, strlen(rec->src_ip));
    char num[16];
    if (r == 0 && rec->src_port > 0) {
        int n = snprintf(num, sizeof(num), "%u", (unsigned)rec->src_port);
        r = sr_evbuf_json_str(f, "src_port", num, (size_t)n);
    }
    if (r == 0 && rec->facility >= 0) {
        int n = snprintf(num, sizeof(num), "%d", (int)rec->facility);
        r = sr_evbuf_json_str(f, "facility", num, (size_t)n);
    }
    if (r == 0)
        r = sr_evbuf_json_end(f);
    if (r < 0)
        return r;
    ev->fields = f->data;
    ev->fields_len = f->len;

    sr_evbuf *t = &s->search;
    sr_evbuf_reset(t);
    r = search_add(t, message);
    if (r == 0)
        r = search_add(t, rec->program);
    if (r == 0)
        r = search_add(t, rec->user);
    if (r == 0)
        r = search_add(t, ev->src_ip ? ev->src_ip : rec->src_ip);
    if (r == 0)
        r = search_add(t, ev->host);
    if (r == 0)
        r = search_add(t, rec->action);
    for (size_t i = 0; r == 0 && i < rec->n_fields; i++)
        if (rec->fields[i])
            r = search_add(t, rec->fields[i]->value);
    if (r < 0)
        return r;
    ev->search_text = t->data;
    ev->search_len = t->len;

    unsigned char key[24];
    size_t alen = agent_id ? strlen(agent_id) : 0;
    size_t n = put_le64(key, epoch);
    n += put_le64(key + n, seq);
    n += put_le64(key + n, (uint64_t)index);
    /* the agent id goes into the namespace word, so no fixed-size key is needed for it */
    char ns[SR_EVENT_NS_MAX];
    snprintf(ns, sizeof(ns), "log:%.*s", (int)(alen < 255 ? alen : 255), agent_id ? agent_id : "");
    sr_event_id(ns, key, n, ev->id);
    return 0;
}
