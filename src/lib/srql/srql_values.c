/* Value checks of SRQL: RFC 3339 times, relative ranges, UUIDs, IP addresses and networks,
 * numbers. Each validates in C before anything reaches PostgreSQL. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sr_parse.h"
#include "srql_values.h"

static int digits(const char *s, size_t n, int *ret) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int srql_time_parse(const char *s, size_t len, int64_t *ret_s) {
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    int y, mo, d, h, mi, se, oh = 0, om = 0;
    if (len < 20 || len > 40)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    size_t i = 19;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return -1;
    }
    if (i >= len)
        return -1;
    int sign = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
               !digits(s + i + 4, 2, &om)) {
        sign = s[i] == '+' ? 1 : -1;
        /* PostgreSQL refuses offsets beyond 15:59 ("time zone displacement out of range") */
        if (oh > 15 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 60)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    t -= sign * (oh * 3600 + om * 60);
    *ret_s = t;
    return 0;
}

int srql_relative_parse(const char *s, size_t len, char *interval, size_t ilen, int64_t *ret_s) {
    if (len < 7 || strncmp(s, "last_", 5) != 0)
        return -1;
    char unit = s[len - 1];
    const char *word;
    int64_t mult;
    switch (unit) {
    case 's':
        word = "seconds";
        mult = 1;
        break;
    case 'm':
        word = "minutes";
        mult = 60;
        break;
    case 'h':
        word = "hours";
        mult = 3600;
        break;
    case 'd':
        word = "days";
        mult = 86400;
        break;
    case 'w':
        word = "weeks";
        mult = 7 * 86400;
        break;
    default:
        return -1;
    }
    char num[16];
    size_t n = len - 6;
    if (n == 0 || n >= sizeof(num) || s[5] == '0' || s[5] == '+' || s[5] == '-')
        return -1;
    memcpy(num, s + 5, n);
    num[n] = '\0';
    int64_t v;
    if (sr_parse_i64(num, 1, SRQL_RELATIVE_MAX_S, &v) < 0 || v * mult > SRQL_RELATIVE_MAX_S)
        return -1;
    if ((size_t)snprintf(interval, ilen, "%lld %s", (long long)v, word) >= ilen)
        return -1;
    *ret_s = v * mult;
    return 0;
}

bool srql_uuid_valid(const char *s, size_t len) {
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

int srql_ip_parse(const char *s, size_t len, bool *ret_net) {
    char buf[64];
    unsigned char bin[16];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    int family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, buf, bin) != 1)
        return -1;
    if (slash) {
        int64_t bits;
        const char *p = slash + 1;
        if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3 ||
            sr_parse_i64(p, 0, family == AF_INET ? 32 : 128, &bits) < 0)
            return -1;
    }
    *ret_net = slash != NULL;
    return 0;
}

bool srql_int_valid(const char *s, size_t len, int64_t min, int64_t max) {
    char buf[24];
    int64_t v;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strspn(buf + (buf[0] == '-'), "0123456789") != len - (buf[0] == '-') || len == (size_t)(buf[0] == '-'))
        return false;
    return sr_parse_i64(buf, min, max, &v) == 0;
}
