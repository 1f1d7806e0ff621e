/* Full-text tokenizer and tsvector literal builder (see sr_search.h for the rules). */
#include "sr_search.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sr_utf8.h"

typedef struct {
    sr_search_token_fn fn;
    void *ud;
    uint32_t pos;    /* position of the current whole token */
    size_t emitted;  /* callbacks made so far */
    bool full;       /* SR_SEARCH_MAX_TOKENS reached */
} tok_state;

static bool is_delim(unsigned char c) {
    if (c <= 0x20 || c == 0x7f)
        return true;
    switch (c) {
    case '[': case ']': case '(': case ')': case '<': case '>': case '{': case '}':
    case ',': case ';': case '"': case '\'': case '`': case '=': case '|': case '!':
        return true;
    default:
        return false;
    }
}

/* Letters, digits and every byte of a multibyte UTF-8 sequence. */
static bool is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Length of s[0..len) cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static int emit(tok_state *st, const char *tok, size_t len, int whole) {
    if (st->full || len == 0)
        return 0;
    len = utf8_cut(tok, len, SR_SEARCH_TOKEN_MAX);
    if (len == 0 || !sr_utf8_valid(tok, len))
        return 0;
    if (st->emitted >= SR_SEARCH_MAX_TOKENS) {
        st->full = true;
        return 0;
    }
    st->emitted++;
    return st->fn(st->ud, tok, len, st->pos, whole);
}

/* Canonical text of an IP address in s[0..len) (already lower-case) into out, or 0 when s
 * is not one. */
static size_t ip_canon(const char *s, size_t len, char *out, size_t outlen) {
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (memchr(buf, ':', len) == NULL) {
        if (inet_pton(AF_INET, buf, bin) != 1)
            return 0;
        if (len >= outlen)
            return 0;
        memcpy(out, buf, len + 1);
        return len;
    }
    if (inet_pton(AF_INET6, buf, bin) != 1 || !inet_ntop(AF_INET6, bin, out, (socklen_t)outlen))
        return 0;
    return strlen(out);
}

static bool all_digits(const char *s, size_t len, size_t maxlen) {
    if (len == 0 || len > maxlen)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "ip", "ipv4:port" and "ip/prefix": emits and returns 1, or returns 0 when the chunk is
 * not one of them; a negative value is the callback's. */
static int emit_ip(tok_state *st, const char *s, size_t len) {
    char canon[INET6_ADDRSTRLEN + 8];
    size_t n = ip_canon(s, len, canon, sizeof(canon));
    if (n > 0) {
        int r = emit(st, canon, n, 1);
        return r < 0 ? r : 1;
    }
    const char *sep = NULL;
    const char *colon = memrchr(s, ':', len);
    const char *slash = memrchr(s, '/', len);
    if (slash && all_digits(slash + 1, len - (size_t)(slash - s) - 1, 3))
        sep = slash;
    else if (colon && all_digits(colon + 1, len - (size_t)(colon - s) - 1, 5) &&
             memchr(s, ':', (size_t)(colon - s)) == NULL)
        sep = colon; /* only IPv4 takes a port this way; IPv6 needs brackets */
    if (!sep)
        return 0;
    n = ip_canon(s, (size_t)(sep - s), canon, sizeof(canon) - 5);
    if (n == 0)
        return 0;
    size_t taillen = len - (size_t)(sep - s); /* separator and digits */
    char whole[INET6_ADDRSTRLEN + 8];
    memcpy(whole, canon, n);
    memcpy(whole + n, sep, taillen);
    int r = emit(st, whole, n + taillen, 1);
    if (r >= 0)
        r = emit(st, canon, n, 0);
    if (r >= 0)
        r = emit(st, sep + 1, taillen - 1, 0);
    return r < 0 ? r : 1;
}

/* One chunk (no delimiters inside), already lower-cased in a private buffer. */
static int emit_chunk(tok_state *st, char *s, size_t len) {
    /* trailing '.' and ',' go first, so that an IPv6 address ending in "::" survives */
    while (len > 0 && (s[len - 1] == '.' || s[len - 1] == ','))
        len--;
    bool has_word = false;
    for (size_t i = 0; i < len && !has_word; i++)
        has_word = is_word((unsigned char)s[i]);
    if (!has_word)
        return 0;
    if (st->pos < SR_SEARCH_POS_MAX)
        st->pos++;
    int r = emit_ip(st, s, len);
    if (r != 0)
        return r < 0 ? r : 0;
    while (len > 0 && (s[len - 1] == '.' || s[len - 1] == ',' || s[len - 1] == ':'))
        len--;
    r = emit_ip(st, s, len);
    if (r != 0)
        return r < 0 ? r : 0;
    while (len > 0 && s[0] == ':') {
        s++;
        len--;
    }
    bool compound = false;
    for (size_t i = 0; i < len && !compound; i++)
        compound = !is_word((unsigned char)s[i]);
    r = emit(st, s, len, 1);
    if (r < 0 || !compound)
        return r;
    int parts = 0;
    size_t i = 0;
    while (i < len && parts < SR_SEARCH_PARTS_MAX) {
        while (i < len && !is_word((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < len && is_word((unsigned char)s[i]))
            i++;
        if (i > start) {
            r = emit(st, s + start, i - start, 0);
            if (r < 0)
                return r;
            parts++;
        }
    }
    return 0;
}

int sr_search_tokenize(const char *text, size_t len, sr_search_token_fn fn, void *ud) {
    if ((!text && len > 0) || !fn)
        return -EINVAL;
    tok_state st = {.fn = fn, .ud = ud};
    /* a chunk longer than the token cap is still split into parts over its whole length,
     * so the buffer holds the cap plus one chunk's worth of parts window */
    char buf[4 * SR_SEARCH_TOKEN_MAX];
    size_t i = 0;
    while (i < len && !st.full) {
        while (i < len && is_delim((unsigned char)text[i]))
            i++;
        size_t start = i;
        while (i < len && !is_delim((unsigned char)text[i]))
            i++;
        if (i == start)
            continue;
        /* chunks beyond the buffer are cut (at a UTF-8 boundary); the whole token is capped
         * at SR_SEARCH_TOKEN_MAX anyway and parts past the cut are not indexed */
        size_t n = utf8_cut(text + start, i - start, sizeof(buf));
        for (size_t k = 0; k < n; k++)
            buf[k] = lower(text[start + k]);
        int r = emit_chunk(&st, buf, n);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- tsvector literal ---- */

typedef struct {
    uint32_t off; /* into the byte pool */
    uint16_t len;
    uint16_t pos;
} lex_entry;

typedef struct {
    lex_entry *e;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
} lex_list;

static int collect(void *ud, const char *tok, size_t len, uint32_t pos, int whole) {
    (void)whole;
    lex_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        lex_entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        l->e = e;
        l->cap = cap;
    }
    if (l->pool_len + len > l->pool_cap) {
        size_t cap = l->pool_cap ? l->pool_cap : 1024;
        while (cap < l->pool_len + len)
            cap *= 2;
        char *p = realloc(l->pool, cap);
        if (!p)
            return -ENOMEM;
        l->pool = p;
        l->pool_cap = cap;
    }
    memcpy(l->pool + l->pool_len, tok, len);
    l->e[l->n++] = (lex_entry){.off = (uint32_t)l->pool_len, .len = (uint16_t)len, .pos = (uint16_t)pos};
    l->pool_len += len;
    return 0;
}

/* Orders by lexeme bytes, then position (qsort_r passes the byte pool). */
static int lex_cmp(const void *pa, const void *pb, void *ud) {
    const char *pool = ud;
    const lex_entry *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(pool + a->off, pool + b->off, n);
    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

int sr_search_quote_lexeme(const char *tok, size_t len, char *out, size_t outlen, size_t *pos) {
    size_t p = *pos;
    if (p >= outlen)
        return -ENOBUFS;
    if (outlen - p < 3)
        return -ENOBUFS;
    out[p++] = '\'';
    for (size_t i = 0; i < len; i++) {
        char c = tok[i];
        size_t need = (c == '\'' || c == '\\') ? 2 : 1;
        if (outlen - p < need + 2)
            return -ENOBUFS;
        if (need == 2)
            out[p++] = c;
        out[p++] = c;
    }
    if (outlen - p < 2)
        return -ENOBUFS;
    out[p++] = '\'';
    out[p] = '\0';
    *pos = p;
    return 0;
}

static int append(char *out, size_t outlen, size_t *pos, const char *s, size_t n) {
    if (outlen - *pos < n + 1)
        return -ENOBUFS;
    memcpy(out + *pos, s, n);
    *pos += n;
    out[*pos] = '\0';
    return 0;
}

int sr_search_tsvector(const char *text, size_t len, char *out, size_t outlen, size_t *ret_len) {
    if (!out || outlen == 0 || (!text && len > 0))
        return -EINVAL;
    out[0] = '\0';
    lex_list l = {0};
    int r = sr_search_tokenize(text, len, collect, &l);
    if (r < 0)
        goto done;
    if (l.n > 1)
        qsort_r(l.e, l.n, sizeof(*l.e), lex_cmp, l.pool);
    size_t p = 0;
    for (size_t i = 0; i < l.n && r == 0;) {
        size_t j = i;
        if (p > 0)
            r = append(out, outlen, &p, " ", 1);
        if (r == 0)
            r = sr_search_quote_lexeme(l.pool + l.e[i].off, l.e[i].len, out, outlen, &p);
        char sep = ':';
        unsigned npos = 0;
        uint16_t last = 0;
        for (; j < l.n && l.e[j].len == l.e[i].len &&
               memcmp(l.pool + l.e[j].off, l.pool + l.e[i].off, l.e[i].len) == 0;
             j++) {
            if (r != 0 || l.e[j].pos == last || npos >= SR_SEARCH_LEXEME_POS_MAX)
                continue;
            char num[8];
            int n = 0;
            uint16_t v = l.e[j].pos;
            char digits[6];
            do {
                digits[n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v > 0);
            num[0] = sep;
            for (int k = 0; k < n; k++)
                num[1 + k] = digits[n - 1 - k];
            r = append(out, outlen, &p, num, (size_t)n + 1);
            sep = ',';
            last = l.e[j].pos;
            npos++;
        }
        i = j;
    }
    if (r == 0 && ret_len)
        *ret_len = p;
done:
    if (r < 0)
        out[0] = '\0';
    free(l.e);
    free(l.pool);
    return r;
}
