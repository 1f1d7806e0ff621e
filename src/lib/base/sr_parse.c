#include "sr_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret) {
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || end == s || *end)
        return -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}

int sr_parse_u64(const char *s, uint64_t *ret) {
    if (!s || !*s || *s == '-')
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || end == s || *end)
        return -EINVAL;
    *ret = v;
    return 0;
}

int sr_parse_double(const char *s, double *ret) {
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE)
        return -ERANGE;
    if (end == s || *end || !isfinite(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

int sr_parse_bool(const char *s, int *ret) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* Splits "123abc" into the number and its suffix; the number part must be non-empty. */
static int split_number(const char *s, uint64_t *num, const char **suffix) {
    size_t i = 0;
    uint64_t v = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
        i++;
    }
    if (i == 0)
        return -EINVAL;
    *num = v;
    *suffix = s + i;
    return 0;
}

static int mul_checked(uint64_t a, uint64_t b, uint64_t *ret) {
    if (b && a > UINT64_MAX / b)
        return -ERANGE;
    *ret = a * b;
    return 0;
}

int sr_parse_duration_ms(const char *s, int64_t *ret) {
    uint64_t v;
    const char *suf;
    int r = split_number(s, &v, &suf);
    if (r < 0)
        return r;
    uint64_t mult;
    if (!*suf || strcmp(suf, "s") == 0)
        mult = 1000;
    else if (strcmp(suf, "ms") == 0)
        mult = 1;
    else if (strcmp(suf, "m") == 0)
        mult = 60000;
    else if (strcmp(suf, "h") == 0)
        mult = 3600000;
    else if (strcmp(suf, "d") == 0)
        mult = 86400000;
    else
        return -EINVAL;
    uint64_t out;
    r = mul_checked(v, mult, &out);
    if (r < 0 || out > INT64_MAX)
        return -ERANGE;
    *ret = (int64_t)out;
    return 0;
}

int sr_parse_size(const char *s, uint64_t *ret) {
    uint64_t v;
    const char *suf;
    int r = split_number(s, &v, &suf);
    if (r < 0)
        return r;
    uint64_t mult;
    if (!*suf || strcasecmp(suf, "b") == 0)
        mult = 1;
    else if (strcasecmp(suf, "k") == 0 || strcasecmp(suf, "kb") == 0 || strcasecmp(suf, "kib") == 0)
        mult = 1024;
    else if (strcasecmp(suf, "m") == 0 || strcasecmp(suf, "mb") == 0 || strcasecmp(suf, "mib") == 0)
        mult = 1024 * 1024;
    else if (strcasecmp(suf, "g") == 0 || strcasecmp(suf, "gb") == 0 || strcasecmp(suf, "gib") == 0)
        mult = 1024ULL * 1024 * 1024;
    else
        return -EINVAL;
    return mul_checked(v, mult, ret);
}
