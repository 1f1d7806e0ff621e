#include "sr_procfs.h"

#include "sr_parse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    const char *p, *end;
} span;

/* Splits off the next line (without its '\n'). */
static bool next_line(span *buf, span *ret) {
    if (buf->p >= buf->end)
        return false;
    const char *nl = memchr(buf->p, '\n', (size_t)(buf->end - buf->p));
    const char *e = nl ? nl : buf->end;
    *ret = (span){buf->p, e};
    buf->p = nl ? nl + 1 : buf->end;
    return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits off the next whitespace-separated token. */
static bool next_token(span *line, span *ret) {
    while (line->p < line->end && is_space(*line->p))
        line->p++;
    if (line->p >= line->end)
        return false;
    const char *s = line->p;
    while (line->p < line->end && !is_space(*line->p))
        line->p++;
    *ret = (span){s, line->p};
    return true;
}

static size_t span_len(span s) { return (size_t)(s.end - s.p); }

static bool span_eq(span s, const char *lit) {
    size_t n = strlen(lit);
    return span_len(s) == n && memcmp(s.p, lit, n) == 0;
}

/* Decimal digits only, no sign, no overflow. */
static bool span_u64(span s, uint64_t *ret) {
    if (s.p >= s.end)
        return false;
    uint64_t v = 0;
    for (const char *c = s.p; c < s.end; c++) {
        if (*c < '0' || *c > '9')
            return false;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Copies a name token into a fixed buffer; false when empty, too long or holding odd bytes. */
static bool span_name(span s, char *out, size_t outlen) {
    size_t n = span_len(s);
    if (n == 0 || n >= outlen)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            return false;
    }
    memcpy(out, s.p, n);
    out[n] = '\0';
    return true;
}

int sr_procfs_parse_stat(const char *buf, size_t len, sr_cpu_sample *out, size_t cap, size_t *ret_n) {
    span b = {buf, buf + len}, line;
    size_t n = 0;
    bool have_total = false;
    while (next_line(&b, &line)) {
        span tok;
        if (!next_token(&line, &tok) || span_len(tok) < 3 || memcmp(tok.p, "cpu", 3) != 0)
            continue;
        int cpu = -1;
        if (span_len(tok) > 3) {
            uint64_t id;
            if (!span_u64((span){tok.p + 3, tok.end}, &id) || id > 1u << 20)
                continue;
            cpu = (int)id;
        }
        uint64_t f[8] = {0};
        size_t nf = 0;
        span num;
        bool bad = false;
        while (nf < 8 && next_token(&line, &num)) {
            if (!span_u64(num, &f[nf])) {
                bad = true;
                break;
            }
            nf++;
        }
        if (bad || nf < 4)
            continue;
        sr_cpu_sample s = {.cpu = cpu};
        for (size_t i = 0; i < 8; i++)
            s.total = sat_add(s.total, f[i]);
        s.idle = sat_add(f[3], f[4]);
        s.iowait = f[4];
        if (cpu < 0) {
            if (have_total || cap == 0)
                continue;
            have_total = true;
            /* the total goes first */
            if (n == cap)
                n--;
            memmove(&out[1], &out[0], n * sizeof(*out));
            out[0] = s;
            n++;
            continue;
        }
        if (n < cap)
            out[n++] = s;
    }
    if (!have_total)
        return -ENODATA;
    *ret_n = n;
    return 0;
}

int sr_procfs_parse_meminfo(const char *buf, size_t len, sr_meminfo *ret) {
    static const char *const keys[] = {"MemTotal:", "MemAvailable:", "MemFree:", "Buffers:",
                                       "Cached:",   "SwapTotal:",    "SwapFree:"};
    enum { TOTAL, AVAIL, FREE, BUFFERS, CACHED, SWAP_TOTAL, SWAP_FREE, NKEYS };
    uint64_t v[NKEYS] = {0};
    bool have[NKEYS] = {false};
    span b = {buf, buf + len}, line;
    while (next_line(&b, &line)) {
        span key, num, unit;
        if (!next_token(&line, &key) || !next_token(&line, &num))
            continue;
        size_t k = 0;
        while (k < NKEYS && !span_eq(key, keys[k]))
            k++;
        uint64_t x;
        if (k == NKEYS || have[k] || !span_u64(num, &x))
            continue;
        if (next_token(&line, &unit)) {
            if (!span_eq(unit, "kB"))
                continue;
            if (x > UINT64_MAX / 1024)
                continue;
            x *= 1024;
        }
        v[k] = x;
        have[k] = true;
    }
    if (!have[TOTAL])
        return -ENODATA;
    sr_meminfo m = {.total = v[TOTAL], .swap_total = v[SWAP_TOTAL], .swap_free = v[SWAP_FREE]};
    m.available = have[AVAIL] ? v[AVAIL] : sat_add(sat_add(v[FREE], v[BUFFERS]), v[CACHED]);
    if (m.available > m.total)
        m.available = m.total;
    if (m.swap_free > m.swap_total)
        m.swap_free = m.swap_total;
    *ret = m;
    return 0;
}

int sr_procfs_parse_loadavg(const char *buf, size_t len, double ret[3]) {
    span b = {buf, buf + len}, line;
    if (!next_line(&b, &line))
        return -EINVAL;
    double v[3];
    for (int i = 0; i < 3; i++) {
        span tok;
        char tmp[32];
        if (!next_token(&line, &tok) || span_len(tok) >= sizeof(tmp))
            return -EINVAL;
        for (const char *c = tok.p; c < tok.end; c++)
            if (!((*c >= '0' && *c <= '9') || *c == '.'))
                return -EINVAL;
        memcpy(tmp, tok.p, span_len(tok));
        tmp[span_len(tok)] = '\0';
        if (sr_parse_double(tmp, &v[i]) < 0 || !isfinite(v[i]))
            return -EINVAL;
    }
    memcpy(ret, v, sizeof(v));
    return 0;
}

int sr_procfs_parse_diskstats(const char *buf, size_t len, sr_disk_sample *out, size_t cap, size_t *ret_n) {
    span b = {buf, buf + len}, line;
    size_t n = 0;
    while (n < cap && next_line(&b, &line)) {
        span t[10];
        size_t nt = 0;
        while (nt < 10 && next_token(&line, &t[nt]))
            nt++;
        if (nt < 10)
            continue;
        sr_disk_sample d;
        uint64_t major, minor, skip;
        if (!span_u64(t[0], &major) || !span_u64(t[1], &minor) || !span_name(t[2], d.name, sizeof(d.name)))
            continue;
        if (!span_u64(t[3], &d.reads) || !span_u64(t[4], &skip) || !span_u64(t[5], &d.sectors_read) ||
            !span_u64(t[6], &skip) || !span_u64(t[7], &d.writes) || !span_u64(t[8], &skip) ||
            !span_u64(t[9], &d.sectors_written))
            continue;
        out[n++] = d;
    }
    *ret_n = n;
    return 0;
}

int sr_procfs_parse_netdev(const char *buf, size_t len, sr_net_sample *out, size_t cap, size_t *ret_n) {
    span b = {buf, buf + len}, line;
    size_t n = 0;
    while (n < cap && next_line(&b, &line)) {
        const char *colon = memchr(line.p, ':', span_len(line));
        if (!colon)
            continue;
        span name = {line.p, colon};
        while (name.p < name.end && is_space(*name.p))
            name.p++;
        while (name.end > name.p && is_space(name.end[-1]))
            name.end--;
        sr_net_sample s;
        if (!span_name(name, s.name, sizeof(s.name)))
            continue;
        span rest = {colon + 1, line.end}, tok;
        uint64_t f[16];
        size_t nf = 0;
        bool bad = false;
        while (nf < 16 && next_token(&rest, &tok)) {
            if (!span_u64(tok, &f[nf])) {
                bad = true;
                break;
            }
            nf++;
        }
        if (bad || nf < 12)
            continue;
        s.rx_bytes = f[0];
        s.rx_packets = f[1];
        s.rx_errors = f[2];
        s.rx_drops = f[3];
        s.tx_bytes = f[8];
        s.tx_packets = f[9];
        s.tx_errors = f[10];
        s.tx_drops = f[11];
        out[n++] = s;
    }
    *ret_n = n;
    return 0;
}

/* Decodes the \ooo escapes the kernel writes for space, tab, newline and backslash. */
static bool mount_field(span s, char *out, size_t outlen) {
    size_t o = 0;
    for (const char *c = s.p; c < s.end; c++) {
        if (o + 1 >= outlen)
            return false;
        char ch = *c;
        if (ch == '\\' && s.end - c >= 4 && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' &&
            c[3] >= '0' && c[3] <= '7') {
            ch = (char)(((c[1] - '0') << 6) | ((c[2] - '0') << 3) | (c[3] - '0'));
            c += 3;
        }
        if (ch == '\0')
            return false;
        out[o++] = ch;
    }
    if (o == 0)
        return false;
    out[o] = '\0';
    return true;
}

int sr_procfs_parse_mounts(const char *buf, size_t len, sr_procfs_mount_fn fn, void *userdata) {
    span b = {buf, buf + len}, line;
    char source[SR_PROCFS_PATH_MAX], target[SR_PROCFS_PATH_MAX], fstype[SR_PROCFS_NAME_MAX];
    while (next_line(&b, &line)) {
        span src, tgt, typ;
        if (!next_token(&line, &src) || !next_token(&line, &tgt) || !next_token(&line, &typ))
            continue;
        if (!mount_field(src, source, sizeof(source)) || !mount_field(tgt, target, sizeof(target)) ||
            !span_name(typ, fstype, sizeof(fstype)))
            continue;
        int r = fn(source, target, fstype, userdata);
        if (r != 0)
            return r;
    }
    return 0;
}
