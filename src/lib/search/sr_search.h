/* Full-text tokenizer for security events. The ingest builds each event's tsvector with it
 * and SRQL builds its tsqueries with it, so both sides agree on what a token is.
 *
 * Rules (docs/internals/srql.md has the rationale):
 *  - text splits on whitespace, ASCII control bytes and the delimiters [ ] ( ) < > { } , ; " ' ` = | !
 *    (so key=value gives "key" and "value");
 *  - each chunk loses trailing '.', ',' and ':' (an IPv6 address ending in "::" keeps them) and
 *    is lower-cased (ASCII only; bytes >= 0x80 pass through, a multibyte sequence is never split);
 *  - a chunk without any letter, digit or non-ASCII byte is dropped;
 *  - IPv4 and IPv6 addresses (IPv6 in canonical text form, e.g. "fe80::1", "::ffff:1.2.3.4")
 *    are one token and are never split; "ip:port" and "ip/prefix" are one token plus, as
 *    parts, the address and the port or prefix;
 *  - any other chunk with punctuation inside (paths, user@host, dotted names, CVE ids,
 *    pam_unix, www-data, 21:54:44) is a compound token: it is emitted whole (whole=1), then
 *    its alphanumeric runs are emitted as parts (whole=0) at the SAME position;
 *  - hex hashes are plain alphanumeric tokens and stay whole by construction.
 * Caps: a token longer than SR_SEARCH_TOKEN_MAX bytes is truncated to that length (at a
 * UTF-8 boundary; the query side truncates the same way, so a long token still matches); a
 * compound yields at most SR_SEARCH_PARTS_MAX parts; positions start at 1 and stay at
 * SR_SEARCH_POS_MAX once reached (PostgreSQL's own limit); tokenizing stops silently after
 * SR_SEARCH_MAX_TOKENS callbacks. Tokens that are not valid UTF-8 are dropped. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SR_SEARCH_TOKEN_MAX 256
#define SR_SEARCH_PARTS_MAX 32
#define SR_SEARCH_POS_MAX 16383
#define SR_SEARCH_MAX_TOKENS 65536
/* PostgreSQL keeps at most this many positions per lexeme. */
#define SR_SEARCH_LEXEME_POS_MAX 256

/* whole=1 for a whole token, 0 for a part of a compound token (same pos as its whole).
 * tok is lower-case, not NUL-terminated, valid UTF-8 and 1..SR_SEARCH_TOKEN_MAX bytes long.
 * Return 0 to go on, a negative value to stop: sr_search_tokenize then returns it. */
typedef int (*sr_search_token_fn)(void *ud, const char *tok, size_t len, uint32_t pos, int whole);

/* Calls fn for every token of text[0..len). Returns 0, -EINVAL (text NULL with len > 0, fn
 * NULL) or the callback's negative value. */
int sr_search_tokenize(const char *text, size_t len, sr_search_token_fn fn, void *ud);

/* Writes the PostgreSQL tsvector literal of text into out (NUL-terminated), e.g.
 * "'b':2 'lex':1,3": each lexeme once, positions ascending and deduplicated (at most
 * SR_SEARCH_LEXEME_POS_MAX kept), ' and \ escaped. *ret_len (may be NULL) gets the length
 * without the NUL. Returns 0, -EINVAL, -ENOMEM or -ENOBUFS (out too small; out then holds
 * an empty string when outlen > 0). */
int sr_search_tsvector(const char *text, size_t len, char *out, size_t outlen, size_t *ret_len);

/* Appends lexeme tok[0..len) as a quoted tsvector/tsquery lexeme ('it''s', back-slashes
 * doubled) at out + *pos, NUL-terminated; advances *pos. -ENOBUFS when it does not fit
 * (*pos unchanged). */
int sr_search_quote_lexeme(const char *tok, size_t len, char *out, size_t outlen, size_t *pos);
