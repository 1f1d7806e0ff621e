/* Text slices and record building for sr_logparse. */
#include "sr_logparse_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

sr_logparse_sl sr_logparse_sl_make(const char *p, size_t n) { return (sr_logparse_sl){p, n}; }

bool sr_logparse_sl_starts(sr_logparse_sl s, const char *prefix) {
    size_t k = strlen(prefix);
    return s.n >= k && memcmp(s.p, prefix, k) == 0;
}

bool sr_logparse_sl_ends(sr_logparse_sl s, const char *suffix) {
    size_t k = strlen(suffix);
    return s.n >= k && memcmp(s.p + s.n - k, suffix, k) == 0;
}

bool sr_logparse_sl_eq(sr_logparse_sl s, const char *str) { return s.n == strlen(str) && memcmp(s.p, str, s.n) == 0; }

long sr_logparse_sl_find(sr_logparse_sl s, size_t from, const char *needle) {
    size_t k = strlen(needle);
    if (from > s.n || k > s.n - from)
        return -1;
    const char *hit = memmem(s.p + from, s.n - from, needle, k);
    return hit ? (long)(hit - s.p) : -1;
}

long sr_logparse_sl_rfind(sr_logparse_sl s, const char *needle) {
    size_t k = strlen(needle);
    if (k > s.n)
        return -1;
    for (size_t i = s.n - k + 1; i-- > 0;)
        if (memcmp(s.p + i, needle, k) == 0)
            return (long)i;
    return -1;
}

sr_logparse_sl sr_logparse_sl_sub(sr_logparse_sl s, size_t from, size_t to) {
    if (to > s.n)
        to = s.n;
    if (from > to)
        from = to;
    return (sr_logparse_sl){s.p + from, to - from};
}

sr_logparse_sl sr_logparse_sl_after(sr_logparse_sl s, size_t from) { return sr_logparse_sl_sub(s, from, s.n); }

sr_logparse_sl sr_logparse_sl_trim(sr_logparse_sl s) {
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

bool sr_logparse_sl_uint(sr_logparse_sl s, uint32_t max, uint32_t *ret) {
    if (s.n == 0 || s.n > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s.p[i] - '0');
    }
    if (v > max)
        return false;
    *ret = v;
    return true;
}

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence (s is valid UTF-8). */
static size_t utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

const char *sr_logparse_rec_copy(sr_logparse_record *rec, sr_logparse_sl s, size_t max) {
    size_t n = utf8_cut(s.p, s.n, max > 0 ? max - 1 : 0);
    if (n == 0)
        return "";
    if (sizeof(rec->store_) - rec->store_used_ < n + 1)
        return "";
    char *dst = rec->store_ + rec->store_used_;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
    rec->store_used_ += n + 1;
    return dst;
}

void sr_logparse_rec_field(sr_logparse_record *rec, const char *key, sr_logparse_sl value) {
    const char *v = sr_logparse_rec_copy(rec, value, SR_LOGPARSE_VALUE_MAX);
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (strcmp(rec->fields[i].key, key) == 0) {
            rec->fields[i].value = v;
            return;
        }
    }
    if (rec->n_fields < SR_LOGPARSE_FIELDS_MAX)
        rec->fields[rec->n_fields++] = (sr_logparse_field){key, v};
}

void sr_logparse_rec_field_str(sr_logparse_record *rec, const char *key, const char *value) {
    sr_logparse_rec_field(rec, key, sr_logparse_sl_make(value, strlen(value)));
}

void sr_logparse_rec_user(sr_logparse_record *rec, sr_logparse_sl user) {
    rec->user = sr_logparse_rec_copy(rec, user, SR_LOGPARSE_WORD_MAX);
}

static bool parse_ip(sr_logparse_sl s, char *out, size_t outlen) {
    char buf[INET6_ADDRSTRLEN + 8];
    if (s.n >= 2 && s.p[0] == '[' && s.p[s.n - 1] == ']')
        s = sr_logparse_sl_sub(s, 1, s.n - 1);
    if (s.n == 0 || s.n >= sizeof(buf))
        return false;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1)
        return inet_ntop(AF_INET, &a4, out, (socklen_t)outlen) != NULL;
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, &a6.s6_addr[12], 4);
        return inet_ntop(AF_INET, &a4, out, (socklen_t)outlen) != NULL;
    }
    return inet_ntop(AF_INET6, &a6, out, (socklen_t)outlen) != NULL;
}

static bool hostname_ok(sr_logparse_sl s) {
    if (s.n == 0 || s.n > 253 || s.p[0] == '-' || s.p[0] == '.')
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_'))
            return false;
    }
    return true;
}

bool sr_logparse_host_ok(sr_logparse_sl s) {
    char ip[INET6_ADDRSTRLEN];
    return parse_ip(s, ip, sizeof(ip)) || hostname_ok(s);
}

bool sr_logparse_rec_src(sr_logparse_record *rec, sr_logparse_sl host) {
    char ip[INET6_ADDRSTRLEN];
    if (parse_ip(host, ip, sizeof(ip))) {
        rec->src_ip = sr_logparse_rec_copy(rec, sr_logparse_sl_make(ip, strlen(ip)), SR_LOGPARSE_IP_MAX);
        return true;
    }
    if (hostname_ok(host)) {
        sr_logparse_rec_field(rec, "src_host", host);
        return true;
    }
    return false;
}

const char *sr_logparse_field_get(const sr_logparse_record *rec, const char *key) {
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].key, key) == 0)
            return rec->fields[i].value;
    return NULL;
}
