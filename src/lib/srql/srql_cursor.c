/* Page cursors: opaque base64url text, bound to the query they were made for.
 *   keyset: "1|<query hash>|k|<rows before the page>|<time>|<id>"   (events sorted by time)
 *   offset: "1|<query hash>|o|<rows before the page>"
 * A keyset cursor counts the rows too, so that `| head N` ends its pages.
 * Decoding validates every part; a cursor of another query is refused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_base64.h"
#include "sr_parse.h"
#include "srql_internal.h"
#include "srql_values.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t srql_query_hash(const char *q, size_t len) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)q[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int b64_value(char c) {
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decodes into out (NUL-terminated); -EINVAL on any byte outside the alphabet or a bad length. */
static int b64_decode(const char *s, char *out, size_t outlen, size_t *ret_len) {
    size_t n = strlen(s);
    if (n % 4 == 1 || (n * 3) / 4 + 1 > outlen)
        return -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t k = 0;
        for (; k < 4 && i + k < n; k++) {
            int d = b64_value(s[i + k]);
            if (d < 0)
                return -EINVAL;
            v |= (uint32_t)d << (18 - 6 * k);
        }
        out[o++] = (char)(v >> 16);
        if (k > 2)
            out[o++] = (char)(v >> 8);
        if (k > 3)
            out[o++] = (char)v;
    }
    out[o] = '\0';
    *ret_len = o;
    return 0;
}

int srql_cursor_encode(uint64_t h, const srql_cursor *c, char *out, size_t outlen) {
    char raw[160];
    int n;
    if (c->kind == SRQL_CURSOR_KEYSET)
        n = snprintf(raw, sizeof(raw), "1|%016" PRIx64 "|k|%" PRId64 "|%s|%s", h, c->offset, c->time, c->id);
    else
        n = snprintf(raw, sizeof(raw), "1|%016" PRIx64 "|o|%" PRId64, h, c->offset);
    if (n < 0 || (size_t)n >= sizeof(raw))
        return -EINVAL;
    return sr_base64url_encode(raw, (size_t)n, false, out, outlen);
}

int srql_cursor_decode(const char *s, uint64_t h, srql_cursor *ret) {
    char raw[SRQL_CURSOR_MAX];
    size_t n;
    if (!s || strlen(s) > SRQL_CURSOR_MAX || b64_decode(s, raw, sizeof(raw), &n) < 0 || strlen(raw) != n)
        return -EINVAL;
    char want[24];
    (void)snprintf(want, sizeof(want), "1|%016" PRIx64 "|", h);
    if (strncmp(raw, want, strlen(want)) != 0)
        return -EINVAL;
    const char *p = raw + strlen(want);
    srql_cursor c = {0};
    if (strncmp(p, "k|", 2) == 0) {
        p += 2;
        const char *bar = strchr(p, '|');
        char num[24];
        size_t nn = bar ? (size_t)(bar - p) : 0;
        if (nn == 0 || nn >= sizeof(num) || strspn(p, "0123456789") != nn)
            return -EINVAL;
        memcpy(num, p, nn);
        num[nn] = '\0';
        if (sr_parse_i64(num, 1, SRQL_KEYSET_ROWS_MAX, &c.offset) < 0)
            return -EINVAL;
        p = bar + 1;
        bar = strchr(p, '|');
        int64_t t;
        if (!bar || (size_t)(bar - p) >= sizeof(c.time) || srql_time_parse(p, (size_t)(bar - p), &t) < 0 ||
            !srql_uuid_valid(bar + 1, strlen(bar + 1)))
            return -EINVAL;
        c.kind = SRQL_CURSOR_KEYSET;
        memcpy(c.time, p, (size_t)(bar - p));
        memcpy(c.id, bar + 1, strlen(bar + 1) + 1);
    } else if (strncmp(p, "o|", 2) == 0) {
        p += 2;
        if (!*p || strspn(p, "0123456789") != strlen(p) || sr_parse_i64(p, 1, SRQL_OFFSET_MAX, &c.offset) < 0)
            return -EINVAL;
        c.kind = SRQL_CURSOR_OFFSET;
    } else {
        return -EINVAL;
    }
    *ret = c;
    return 0;
}
