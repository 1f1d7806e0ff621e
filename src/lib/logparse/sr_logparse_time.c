/* Timestamps of syslog lines: RFC 3164 (no year: inferred), ISO-8601 / RFC 3339 (RFC 5424 and
 * rsyslog's high-precision format) and "YYYY Mmm dd hh:mm:ss" (syslog-ng with a year). */
#include "sr_logparse_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define DAY_MS INT64_C(86400000)
#define FUTURE_SLACK_MS (31 * DAY_MS)

int sr_logparse_tz_parse(const char *s, sr_logparse_tz *ret) {
    if (strcmp(s, "UTC") == 0 || strcmp(s, "utc") == 0 || strcmp(s, "Z") == 0) {
        *ret = (sr_logparse_tz){SR_LOGPARSE_TZ_UTC, 0};
        return 0;
    }
    if (strcmp(s, "local") == 0) {
        *ret = (sr_logparse_tz){SR_LOGPARSE_TZ_LOCAL, 0};
        return 0;
    }
    size_t n = strlen(s);
    if ((s[0] != '+' && s[0] != '-') || (n != 6 && n != 5))
        return -EINVAL;
    const char *d = s + 1;
    if (n == 6 && d[2] != ':')
        return -EINVAL;
    const char *m = n == 6 ? d + 3 : d + 2;
    for (int i = 0; i < 2; i++)
        if (d[i] < '0' || d[i] > '9' || m[i] < '0' || m[i] > '9')
            return -EINVAL;
    int hh = (d[0] - '0') * 10 + (d[1] - '0'), mm = (m[0] - '0') * 10 + (m[1] - '0');
    if (hh > 14 || mm > 59 || (hh == 14 && mm > 0))
        return -EINVAL;
    int32_t off = (int32_t)(hh * 3600 + mm * 60);
    *ret = (sr_logparse_tz){SR_LOGPARSE_TZ_OFFSET, s[0] == '-' ? -off : off};
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dm[m - 1];
}

typedef struct {
    int64_t year;
    unsigned mon, day, hour, min, sec, ms;
} civil;

static bool civil_valid(const civil *c) {
    return c->year >= 1970 && c->year <= 9999 && c->mon >= 1 && c->mon <= 12 && c->day >= 1 &&
           c->day <= days_in_month(c->year, c->mon) && c->hour <= 23 && c->min <= 59 && c->sec <= 60;
}

static int64_t civil_utc_ms(const civil *c) {
    unsigned sec = c->sec > 59 ? 59 : c->sec; /* a leap second counts as :59 */
    return ((days_from_civil(c->year, c->mon, c->day) * 24 + c->hour) * 60 + c->min) * INT64_C(60000) +
           sec * INT64_C(1000) + c->ms;
}

/* The instant of a wall-clock time in tz. */
static bool civil_in_tz(const civil *c, const sr_logparse_tz *tz, int64_t *ret_ms) {
    if (!civil_valid(c))
        return false;
    int64_t utc = civil_utc_ms(c);
    switch (tz->kind) {
    case SR_LOGPARSE_TZ_UTC:
        *ret_ms = utc;
        return true;
    case SR_LOGPARSE_TZ_OFFSET:
        *ret_ms = utc - (int64_t)tz->offset_s * 1000;
        return true;
    case SR_LOGPARSE_TZ_LOCAL: {
        struct tm tm = {.tm_year = (int)(c->year - 1900), .tm_mon = (int)c->mon - 1, .tm_mday = (int)c->day,
                        .tm_hour = (int)c->hour, .tm_min = (int)c->min, .tm_sec = c->sec > 59 ? 59 : (int)c->sec,
                        .tm_isdst = -1};
        time_t t = mktime(&tm);
        if (t == (time_t)-1)
            return false;
        *ret_ms = (int64_t)t * 1000 + c->ms;
        return true;
    }
    }
    return false;
}

/* The calendar year of instant ms as seen in tz. */
static int64_t year_in_tz(int64_t ms, const sr_logparse_tz *tz) {
    int64_t shifted = ms;
    if (tz->kind == SR_LOGPARSE_TZ_OFFSET)
        shifted += (int64_t)tz->offset_s * 1000;
    if (tz->kind == SR_LOGPARSE_TZ_LOCAL) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        if (localtime_r(&t, &tm))
            return (int64_t)tm.tm_year + 1900;
    }
    int64_t days = shifted >= 0 ? shifted / DAY_MS : -((-shifted + DAY_MS - 1) / DAY_MS);
    /* civil_from_days, year only */
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = (unsigned)(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return (int64_t)yoe + era * 400 + (m <= 2);
}

/* Reads exactly k digits at s[*i]. */
static bool digits(sr_logparse_sl s, size_t *i, size_t k, unsigned *ret) {
    if (s.n - *i < k)
        return false;
    unsigned v = 0;
    for (size_t j = 0; j < k; j++) {
        char c = s.p[*i + j];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += k;
    *ret = v;
    return true;
}

static bool expect(sr_logparse_sl s, size_t *i, char c) {
    if (*i >= s.n || s.p[*i] != c)
        return false;
    (*i)++;
    return true;
}

/* Optional ".fraction": milliseconds (extra digits ignored, at most 9). */
static void fraction(sr_logparse_sl s, size_t *i, unsigned *ms) {
    if (*i >= s.n || (s.p[*i] != '.' && s.p[*i] != ','))
        return;
    size_t j = *i + 1, k = 0;
    unsigned v = 0;
    while (j < s.n && s.p[j] >= '0' && s.p[j] <= '9' && k < 9) {
        if (k < 3)
            v = v * 10 + (unsigned)(s.p[j] - '0');
        j++;
        k++;
    }
    if (k == 0)
        return;
    while (k < 3) {
        v *= 10;
        k++;
    }
    *ms = v;
    *i = j;
}

static bool hms(sr_logparse_sl s, size_t *i, civil *c) {
    return digits(s, i, 2, &c->hour) && expect(s, i, ':') && digits(s, i, 2, &c->min) && expect(s, i, ':') &&
           digits(s, i, 2, &c->sec);
}

/* The token ends here: end of text or a space. */
static bool at_boundary(sr_logparse_sl s, size_t i) { return i == s.n || s.p[i] == ' '; }

static int month_of(sr_logparse_sl s, size_t i) {
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (s.n - i < 3)
        return 0;
    for (int m = 0; m < 12; m++)
        if (memcmp(s.p + i, names + 3 * m, 3) == 0)
            return m + 1;
    return 0;
}

/* "Mmm dd hh:mm:ss" or "Mmm  d hh:mm:ss" or "Mmm d hh:mm:ss", optional fraction. */
static size_t mmm_dd_time(sr_logparse_sl s, size_t i, civil *c) {
    int m = month_of(s, i);
    if (!m)
        return 0;
    i += 3;
    if (!expect(s, &i, ' '))
        return 0;
    if (i < s.n && s.p[i] == ' ')
        i++;
    if (i < s.n && s.p[i] >= '0' && s.p[i] <= '9' && i + 1 < s.n && s.p[i + 1] >= '0' && s.p[i + 1] <= '9') {
        if (!digits(s, &i, 2, &c->day))
            return 0;
    } else if (!digits(s, &i, 1, &c->day)) {
        return 0;
    }
    if (!expect(s, &i, ' ') || !hms(s, &i, c))
        return 0;
    fraction(s, &i, &c->ms);
    if (!at_boundary(s, i))
        return 0;
    c->mon = (unsigned)m;
    return i;
}

size_t sr_logparse_time_rfc3164(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t ref_ms, int64_t *ret_ms) {
    civil c = {0};
    size_t end = mmm_dd_time(s, 0, &c);
    if (!end)
        return 0;
    /* the year of the reference time; a date more than a month after it is from the year before
     * (a line of December read in January); Feb 29 goes back to the last leap year */
    int64_t y = year_in_tz(ref_ms, tz);
    for (int back = 0; back <= 8; back++) {
        c.year = y - back;
        int64_t t;
        if (!civil_in_tz(&c, tz, &t))
            continue;
        if (t > ref_ms + FUTURE_SLACK_MS)
            continue;
        *ret_ms = t;
        return end;
    }
    return 0;
}

size_t sr_logparse_time_year_first(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t *ret_ms) {
    civil c = {0};
    size_t i = 0;
    unsigned y;
    if (!digits(s, &i, 4, &y) || !expect(s, &i, ' '))
        return 0;
    size_t end = mmm_dd_time(s, i, &c);
    if (!end)
        return 0;
    c.year = y;
    return civil_in_tz(&c, tz, ret_ms) ? end : 0;
}

size_t sr_logparse_time_iso(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t *ret_ms) {
    civil c = {0};
    size_t i = 0;
    unsigned y;
    if (!digits(s, &i, 4, &y) || !expect(s, &i, '-') || !digits(s, &i, 2, &c.mon) || !expect(s, &i, '-') ||
        !digits(s, &i, 2, &c.day) || !expect(s, &i, 'T') || !hms(s, &i, &c))
        return 0;
    c.year = y;
    fraction(s, &i, &c.ms);
    if (!civil_valid(&c))
        return 0;
    if (i < s.n && (s.p[i] == 'Z' || s.p[i] == 'z')) {
        i++;
        if (!at_boundary(s, i))
            return 0;
        *ret_ms = civil_utc_ms(&c);
        return i;
    }
    if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) {
        int sign = s.p[i] == '-' ? -1 : 1;
        i++;
        unsigned hh, mm;
        if (!digits(s, &i, 2, &hh))
            return 0;
        if (i < s.n && s.p[i] == ':')
            i++;
        if (!digits(s, &i, 2, &mm) || hh > 14 || mm > 59 || !at_boundary(s, i))
            return 0;
        *ret_ms = civil_utc_ms(&c) - sign * (int64_t)(hh * 3600 + mm * 60) * 1000;
        return i;
    }
    if (!at_boundary(s, i))
        return 0;
    return civil_in_tz(&c, tz, ret_ms) ? i : 0;
}
