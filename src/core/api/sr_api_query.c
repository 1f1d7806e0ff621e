#include "sr_api_query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sr_err.h"
#include "sr_parse.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (capacity outcap including the NUL). '+' becomes a space
 * when plus_space. -EINVAL: bad escape or a NUL byte; -E2BIG: does not fit. */
static int pct_decode(const char *s, size_t n, int plus_space, char *out, size_t outcap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3)
                return -EINVAL;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return -EINVAL;
        if (o + 1 >= outcap)
            return -E2BIG;
        out[o++] = c;
    }
    if (outcap == 0)
        return -E2BIG;
    out[o] = '\0';
    return 0;
}

static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

int sr_api_agent_id_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        if (!ok || n >= SR_API_AGENT_ID_MAX)
            return 0;
        if (c == '.' && n > 0 && s[n - 1] == '.')
            return 0;
    }
    return n > 0 && s[0] != '.' && s[n - 1] != '.';
}

int sr_api_command_type_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') || n >= 32)
            return 0;
    return n > 0;
}

int sr_api_metric_name_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_') ||
            n >= SR_API_NAME_MAX)
            return 0;
    return n > 0;
}

int sr_api_vuln_id_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
              s[n] == '-' || s[n] == '_' || s[n] == '.' || s[n] == ':') ||
            n >= SR_API_VULN_ID_MAX)
            return 0;
    return n > 0;
}

static int command_id_valid(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
              s[n] == '-') ||
            n >= SR_API_COMMAND_ID_MAX)
            return 0;
    return n > 0;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

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

static unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits at s; -1 when any is not a digit. */
static int digits(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

#define SR_API_TIME_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

int sr_api_time_parse(const char *s, int64_t *ret_ms) {
    if (!s || !*s)
        return -EINVAL;
    size_t len = strnlen(s, SR_API_TIME_ARG_MAX + 1);
    if (len > SR_API_TIME_ARG_MAX)
        return -EINVAL;
    if (strspn(s, "0123456789") == len) {
        if (len > 15)
            return -ERANGE;
        int64_t v;
        int r = sr_parse_i64(s, 0, SR_API_TIME_MAX_MS, &v);
        if (r < 0)
            return r;
        *ret_ms = v;
        return 0;
    }
    /* YYYY-MM-DDTHH:MM:SS */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -EINVAL;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -EINVAL;
    if ((unsigned)d > days_in_month(y, (unsigned)mo))
        return -EINVAL;
    if (sec == 60) /* leap second: the last instant of the minute */
        sec = 59;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        size_t nd = strspn(p, "0123456789");
        if (nd == 0 || nd > 9)
            return -EINVAL;
        for (size_t i = 0; i < 3; i++)
            frac_ms = frac_ms * 10 + (i < nd ? p[i] - '0' : 0);
        p += nd;
    }
    int64_t off_s;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off_s = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    } else {
        return -EINVAL;
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t t = ((days * 86400 + h * 3600 + mi * 60 + sec) - off_s) * 1000 + frac_ms;
    if (t < 0 || t > SR_API_TIME_MAX_MS)
        return -ERANGE;
    *ret_ms = t;
    return 0;
}

int sr_api_time_format(int64_t ms, char *buf, size_t len) {
    if (!buf || len < 32)
        return -EINVAL;
    if (ms < 0 || ms > SR_API_TIME_MAX_MS)
        return -ERANGE;
    int64_t secs = ms / 1000, msr = ms % 1000;
    int64_t days = secs / 86400, rem = secs % 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600), mi = (int)(rem % 3600 / 60), s = (int)(rem % 60);
    if (msr)
        (void)snprintf(buf, len, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, m, d, h, mi, s, (int)msr);
    else
        (void)snprintf(buf, len, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, h, mi, s);
    return 0;
}

/* ---- request target ---- */

typedef struct {
    const char *key;
    size_t off_val, cap, off_has;
} query_key;

static const query_key query_keys[] = {
    {"name", offsetof(sr_api_target, name), SR_API_NAME_MAX + 1, offsetof(sr_api_target, has_name)},
    {"dim", offsetof(sr_api_target, dim), SR_API_DIM_MAX + 1, offsetof(sr_api_target, has_dim)},
    {"from", offsetof(sr_api_target, from), SR_API_TIME_ARG_MAX + 1, offsetof(sr_api_target, has_from)},
    {"to", offsetof(sr_api_target, to), SR_API_TIME_ARG_MAX + 1, offsetof(sr_api_target, has_to)},
    {"step", offsetof(sr_api_target, step), SR_API_STEP_ARG_MAX + 1, offsetof(sr_api_target, has_step)},
    {"status", offsetof(sr_api_target, status), SR_API_STATUS_MAX + 1, offsetof(sr_api_target, has_status)},
    {"severity", offsetof(sr_api_target, severity), SR_API_SEVERITY_ARG_MAX + 1,
     offsetof(sr_api_target, has_severity)},
    {"target", offsetof(sr_api_target, target), SR_API_SCAN_TARGET_MAX + 1, offsetof(sr_api_target, has_target)},
    {"limit", offsetof(sr_api_target, limit), SR_API_LIMIT_ARG_MAX + 1, offsetof(sr_api_target, has_limit)},
    {"cursor", offsetof(sr_api_target, cursor), SR_API_CURSOR_MAX + 1, offsetof(sr_api_target, has_cursor)},
};

static int parse_query(const char *q, size_t qlen, sr_api_target *t, char *err, size_t errlen) {
    size_t count = 0;
    size_t i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&')
            end++;
        if (end > i) {
            if (++count > SR_API_QUERY_PARAMS_MAX) {
                sr_errf(err, errlen, "too many query parameters (at most %d)", SR_API_QUERY_PARAMS_MAX);
                return -EINVAL;
            }
            const char *eq = memchr(q + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
            char key[16];
            int r = pct_decode(q + i, klen, 1, key, sizeof(key));
            if (r == -EINVAL) {
                sr_errf(err, errlen, "invalid percent-encoding in query string");
                return -EINVAL;
            }
            if (r == 0) {
                for (size_t k = 0; k < sizeof(query_keys) / sizeof(query_keys[0]); k++) {
                    const query_key *qk = &query_keys[k];
                    if (strcmp(key, qk->key) != 0)
                        continue;
                    int *has = (int *)(void *)((char *)t + qk->off_has);
                    char *val = (char *)t + qk->off_val;
                    if (*has) {
                        sr_errf(err, errlen, "duplicate parameter: %s", qk->key);
                        return -EINVAL;
                    }
                    const char *v = eq ? eq + 1 : q + end;
                    r = pct_decode(v, (size_t)(q + end - v), 1, val, qk->cap);
                    if (r == -E2BIG) {
                        sr_errf(err, errlen, "parameter %s too long (at most %zu bytes)", qk->key, qk->cap - 1);
                        return -EINVAL;
                    }
                    if (r < 0) {
                        sr_errf(err, errlen, "invalid percent-encoding in parameter %s", qk->key);
                        return -EINVAL;
                    }
                    *has = 1;
                }
            }
            /* keys too long for the buffer are not ours: ignored */
        }
        i = end + 1;
    }
    return 0;
}

/* Splits the raw path (without the leading '/') into at most max segments; returns the
 * count, or max + 1 when there are more. */
typedef struct {
    const char *p;
    size_t n;
} seg;

static size_t split_segments(const char *path, size_t len, seg *out, size_t max) {
    size_t count = 0, i = 1; /* path[0] == '/' */
    for (;;) {
        size_t end = i;
        while (end < len && path[end] != '/')
            end++;
        if (count == max)
            return max + 1;
        out[count].p = path + i;
        out[count].n = end - i;
        count++;
        if (end >= len)
            return count;
        i = end + 1;
    }
}

static int seg_is(const seg *s, const char *lit) {
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}

/* is_agent: 1 agent_id, 0 command_id, 2 vulnerability id. */
static int decode_id(const seg *s, int is_agent, sr_api_target *t, char *err, size_t errlen) {
    int r = pct_decode(s->p, s->n, 0, t->id, sizeof(t->id));
    int ok = r == 0 && (is_agent == 1   ? sr_api_agent_id_valid(t->id)
                        : is_agent == 2 ? sr_api_vuln_id_valid(t->id)
                                        : command_id_valid(t->id));
    if (!ok) {
        t->id[0] = '\0';
        if (is_agent == 1)
            sr_errf(err, errlen, "invalid agent_id (expected [A-Za-z0-9._-]{1,64})");
        else if (is_agent == 2)
            sr_errf(err, errlen, "invalid vulnerability id (expected [A-Za-z0-9._:-]{1,64})");
        else
            sr_errf(err, errlen, "invalid command_id (expected [A-Za-z0-9-]{1,64})");
        return -EINVAL;
    }
    return 0;
}

static int route_api(const seg *sg, size_t n, sr_api_target *t, char *err, size_t errlen) {
    t->route = SR_ROUTE_API_UNKNOWN;
    if (n < 3 || !seg_is(&sg[1], "v1"))
        return 0;
    if (n == 3) {
        if (seg_is(&sg[2], "openapi.json"))
            t->route = SR_ROUTE_OPENAPI;
        else if (seg_is(&sg[2], "hosts"))
            t->route = SR_ROUTE_HOSTS;
        else if (seg_is(&sg[2], "enroll"))
            t->route = SR_ROUTE_ENROLL;
        else if (seg_is(&sg[2], "jobs"))
            t->route = SR_ROUTE_JOBS;
        else if (seg_is(&sg[2], "findings"))
            t->route = SR_ROUTE_FINDINGS;
        return 0;
    }
    if (n == 4 && seg_is(&sg[2], "findings")) {
        if (seg_is(&sg[3], "summary"))
            t->route = SR_ROUTE_FINDINGS_SUMMARY;
        return 0;
    }
    sr_api_route want = SR_ROUTE_API_UNKNOWN;
    int agent = 1;
    if (n == 4 && seg_is(&sg[2], "hosts"))
        want = SR_ROUTE_HOST;
    else if (n == 4 && seg_is(&sg[2], "commands")) {
        want = SR_ROUTE_COMMAND;
        agent = 0;
    } else if (n == 5 && seg_is(&sg[2], "hosts") && seg_is(&sg[4], "metrics"))
        want = SR_ROUTE_HOST_METRICS;
    else if (n == 5 && seg_is(&sg[2], "hosts") && seg_is(&sg[4], "metric-names"))
        want = SR_ROUTE_HOST_METRIC_NAMES;
    else if (n == 5 && seg_is(&sg[2], "agents") && seg_is(&sg[4], "commands"))
        want = SR_ROUTE_AGENT_COMMANDS;
    else if (n == 5 && seg_is(&sg[2], "hosts") && seg_is(&sg[4], "findings"))
        want = SR_ROUTE_HOST_FINDINGS;
    else if (n == 5 && seg_is(&sg[2], "hosts") && seg_is(&sg[4], "packages"))
        want = SR_ROUTE_HOST_PACKAGES;
    else if (n == 5 && seg_is(&sg[2], "hosts") && seg_is(&sg[4], "sbom"))
        want = SR_ROUTE_HOST_SBOM;
    else if (n == 4 && seg_is(&sg[2], "vulnerabilities")) {
        want = SR_ROUTE_VULNERABILITY;
        agent = 2;
    }
    if (want == SR_ROUTE_API_UNKNOWN || sg[3].n == 0)
        return 0;
    int r = decode_id(&sg[3], agent, t, err, errlen);
    if (r < 0)
        return r;
    t->route = want;
    return 0;
}

int sr_api_target_parse(const char *uri, sr_api_target *ret, char *err, size_t errlen) {
    if (!uri || !ret) {
        sr_errf(err, errlen, "missing request target");
        return -EINVAL;
    }
    size_t len = strnlen(uri, SR_API_URI_MAX + 1);
    if (len > SR_API_URI_MAX) {
        sr_errf(err, errlen, "request target too long (at most %d bytes)", SR_API_URI_MAX);
        return -EINVAL;
    }
    if (len == 0 || uri[0] != '/') {
        sr_errf(err, errlen, "request target must be an absolute path");
        return -EINVAL;
    }
    memset(ret, 0, sizeof(*ret));
    const char *qm = memchr(uri, '?', len);
    size_t plen = qm ? (size_t)(qm - uri) : len;

    int r = pct_decode(uri, plen, 0, ret->path, sizeof(ret->path));
    if (r < 0) {
        sr_errf(err, errlen, "invalid path encoding");
        return -EINVAL;
    }
    if (qm) {
        r = parse_query(qm + 1, len - plen - 1, ret, err, errlen);
        if (r < 0)
            return r;
    }

    seg sg[6];
    size_t n = split_segments(uri, plen, sg, 5);
    if (n >= 1 && seg_is(&sg[0], "api"))
        return route_api(sg, n, ret, err, errlen);
    if (n == 1 && seg_is(&sg[0], "healthz")) {
        ret->route = SR_ROUTE_HEALTHZ;
        return 0;
    }
    if (n == 1 && seg_is(&sg[0], "readyz")) {
        ret->route = SR_ROUTE_READYZ;
        return 0;
    }
    if (n == 1 && seg_is(&sg[0], "metrics")) {
        ret->route = SR_ROUTE_METRICS;
        return 0;
    }
    /* static file: no "." or ".." segment after decoding (%2e%2e, %2f..%2f) */
    const char *p = ret->path;
    while (*p) {
        while (*p == '/')
            p++;
        size_t sl = strcspn(p, "/");
        if ((sl == 1 && p[0] == '.') || (sl == 2 && p[0] == '.' && p[1] == '.')) {
            sr_errf(err, errlen, "invalid path");
            return -EINVAL;
        }
        p += sl;
    }
    ret->route = SR_ROUTE_STATIC;
    return 0;
}

/* ---- metrics query ---- */

static int64_t nice_step_s(int64_t range_ms) {
    static const int64_t nice[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                                   86400};
    int64_t raw = (range_ms + SR_API_TARGET_POINTS * 1000LL - 1) / (SR_API_TARGET_POINTS * 1000LL);
    for (size_t i = 0; i < sizeof(nice) / sizeof(nice[0]); i++)
        if (nice[i] >= raw)
            return nice[i];
    return (raw + 86399) / 86400 * 86400;
}

int sr_api_metrics_query_resolve(const sr_api_target *t, int64_t now_ms, sr_api_metrics_query *ret, char *err,
                                 size_t errlen) {
    if (!t->has_name) {
        sr_errf(err, errlen, "missing parameter: name");
        return -EINVAL;
    }
    if (!sr_api_metric_name_valid(t->name)) {
        sr_errf(err, errlen, "invalid parameter name (expected [a-z0-9._]{1,128})");
        return -EINVAL;
    }
    if (t->has_dim && !utf8_valid(t->dim)) {
        sr_errf(err, errlen, "invalid parameter dim (not UTF-8)");
        return -EINVAL;
    }
    int64_t to = now_ms, from;
    if (t->has_to && sr_api_time_parse(t->to, &to) < 0) {
        sr_errf(err, errlen, "invalid parameter to (expected RFC 3339 or Unix milliseconds)");
        return -EINVAL;
    }
    if (t->has_from) {
        if (sr_api_time_parse(t->from, &from) < 0) {
            sr_errf(err, errlen, "invalid parameter from (expected RFC 3339 or Unix milliseconds)");
            return -EINVAL;
        }
    } else {
        from = to > SR_API_DEFAULT_RANGE_MS ? to - SR_API_DEFAULT_RANGE_MS : 0;
    }
    if (from >= to) {
        sr_errf(err, errlen, "from must be before to");
        return -EINVAL;
    }
    int64_t range = to - from;
    if (range > SR_API_MAX_RANGE_MS) {
        sr_errf(err, errlen, "time range too long (at most 400 days)");
        return -EINVAL;
    }
    int64_t step_s;
    if (t->has_step) {
        int64_t step_ms;
        if (sr_parse_duration_ms(t->step, &step_ms) < 0) {
            sr_errf(err, errlen, "invalid parameter step (expected a duration such as 15s, 1m, 1h)");
            return -EINVAL;
        }
        if (step_ms < 1000) {
            sr_errf(err, errlen, "step must be at least 1s");
            return -EINVAL;
        }
        if (step_ms % 1000) {
            sr_errf(err, errlen, "step must be a whole number of seconds");
            return -EINVAL;
        }
        if (step_ms > SR_API_MAX_RANGE_MS) {
            sr_errf(err, errlen, "step too long (at most 400 days)");
            return -EINVAL;
        }
        step_s = step_ms / 1000;
        int64_t buckets = (range + step_s * 1000 - 1) / (step_s * 1000);
        if (buckets > SR_API_MAX_BUCKETS) {
            sr_errf(err, errlen, "too many buckets (%lld, at most %d): raise step or shorten the range",
                    (long long)buckets, SR_API_MAX_BUCKETS);
            return -EINVAL;
        }
    } else {
        step_s = nice_step_s(range);
    }
    ret->from_ms = from;
    ret->to_ms = to;
    ret->step_s = step_s;
    return 0;
}

sr_api_resolution sr_api_metrics_resolution(const sr_api_metrics_query *q, int has_raw_from, int64_t raw_from_ms) {
    if (!has_raw_from || q->from_ms >= raw_from_ms)
        return SR_API_RES_RAW;
    if (q->to_ms <= raw_from_ms)
        return SR_API_RES_ROLLUP;
    return SR_API_RES_MIXED;
}

const char *sr_api_resolution_name(sr_api_resolution r) {
    switch (r) {
    case SR_API_RES_RAW:
        break;
    case SR_API_RES_ROLLUP:
        return "rollup_1h";
    case SR_API_RES_MIXED:
        return "mixed";
    }
    return "raw";
}
