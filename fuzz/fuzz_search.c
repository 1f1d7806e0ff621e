/* Fuzz target: the full-text tokenizer (src/lib/search) over arbitrary bytes. Every token must
 * obey the documented rules and the tsvector literal must parse as PostgreSQL's tsvector
 * input does: 'lexeme':pos,pos ... with lexemes ascending and unique, positions ascending. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_search.h"
#include "sr_utf8.h"

typedef struct {
    uint32_t last_pos;
} tok_check;

static int check_tok(void *ud, const char *tok, size_t len, uint32_t pos, int whole) {
    tok_check *c = ud;
    if (len == 0 || len > SR_SEARCH_TOKEN_MAX || !sr_utf8_valid(tok, len))
        abort();
    if (pos < 1 || pos > SR_SEARCH_POS_MAX)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)tok[i];
        if ((ch >= 'A' && ch <= 'Z') || ch <= 0x20 || ch == 0x7f || strchr("[](){}<>,;\"'`=|!", ch))
            abort();
    }
    /* positions never go back; a part has its compound's position (a whole
     * token that is not valid UTF-8 is dropped while its valid parts stay) */
    if (pos < c->last_pos)
        abort();
    c->last_pos = pos;
    (void)whole;
    return 0;
}

/* Parses a tsvector literal; aborts on anything PostgreSQL would reject or that breaks the
 * documented form (sorted, deduplicated). */
static void check_tsvector(const char *s, size_t n) {
    size_t i = 0;
    char prev[2 * SR_SEARCH_TOKEN_MAX];
    size_t prevlen = 0;
    int first = 1;
    while (i < n) {
        if (!first) {
            if (s[i] != ' ')
                abort();
            i++;
        }
        if (i >= n || s[i] != '\'')
            abort();
        i++;
        char lex[2 * SR_SEARCH_TOKEN_MAX];
        size_t lexlen = 0;
        for (;;) {
            if (i >= n)
                abort();
            char ch = s[i++];
            if (ch == '\'' || ch == '\\') {
                if (i < n && s[i] == ch) {
                    i++;
                } else if (ch == '\'') {
                    break;
                } else {
                    abort(); /* a lone backslash */
                }
            }
            if (lexlen >= sizeof(lex))
                abort();
            lex[lexlen++] = ch;
        }
        if (lexlen == 0 || lexlen > SR_SEARCH_TOKEN_MAX || !sr_utf8_valid(lex, lexlen))
            abort();
        if (!first) {
            size_t m = lexlen < prevlen ? lexlen : prevlen;
            int cmp = memcmp(prev, lex, m);
            if (cmp > 0 || (cmp == 0 && prevlen >= lexlen))
                abort();
        }
        memcpy(prev, lex, lexlen);
        prevlen = lexlen;
        first = 0;
        if (i >= n || s[i] != ':')
            abort();
        i++;
        uint32_t last = 0;
        int npos = 0;
        for (;;) {
            uint32_t v = 0;
            size_t digits = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                v = v * 10 + (uint32_t)(s[i] - '0');
                if (++digits > 5)
                    abort();
                i++;
            }
            if (digits == 0 || v < 1 || v > SR_SEARCH_POS_MAX || v <= last)
                abort();
            last = v;
            if (++npos > SR_SEARCH_LEXEME_POS_MAX)
                abort();
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 64 * 1024)
        return 0;
    const char *text = (const char *)data;
    tok_check c = {0};
    if (sr_search_tokenize(text, size, check_tok, &c) != 0)
        abort();
    size_t outlen = 16 * size + 64;
    char *out = malloc(outlen);
    if (!out)
        return 0;
    size_t len = 0;
    if (sr_search_tsvector(text, size, out, outlen, &len) != 0 || len != strlen(out))
        abort();
    check_tsvector(out, len);
    /* a buffer one byte short must fail cleanly */
    if (len > 0 && sr_search_tsvector(text, size, out, len, NULL) != -ENOBUFS)
        abort();
    free(out);
    return 0;
}
