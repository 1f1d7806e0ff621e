/* SRQL parser: query text to AST (srql_query). Recursive descent straight over the bytes;
 * every node keeps the offset and length of its text for error messages.
 *
 *   query   := expr? ('|' stage)*
 *   expr    := and ('OR' and)*
 *   and     := unary (['AND'] unary)*
 *   unary   := 'NOT' unary | '-' unary | primary
 *   primary := '(' expr ')' | '"phrase"' | name ':' value | 'SIMILAR_TO' '(' '"text"' ')' | word
 *   value   := '"text"' | '(' item (',' item)* ')' | '[' start ',' end ']' | ('>'|'>='|'<'|'<=')? raw
 *   stage   := 'stats' aggs ['by' names] | 'sort' name [asc|desc] (',' ...)* | 'head' N
 *            | 'SIMILAR_TO' '(' '"text"' ')'
 * in:, sort:, limit: and stats: are directives for the whole query: they may stand anywhere
 * outside parentheses and NOT, and are lifted out of the expression. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sr_parse.h"
#include "srql_internal.h"

typedef struct {
    srql_arena *a;
    const char *q;
    size_t len; /* parse bound (a stats:"..." string parses inside its quotes) */
    size_t i;
    srql_error *err;
    srql_query *out;
    int depth;
    int guarded; /* > 0 inside parentheses or NOT: no directives here */
} parser;

#define HINT_VALUE                                                                                                     \
    "a value: word, \"quoted text\", (a,b,...) list, >N / >=N / <N / <=N comparison, [start,end] time range"

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static bool is_stop(char c) { return is_ws(c) || c == '(' || c == ')' || c == '"' || c == '|'; }

static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

static bool is_ident_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static void skip_ws(parser *p) {
    while (p->i < p->len && is_ws(p->q[p->i]))
        p->i++;
}

static bool at_end(parser *p) { return p->i >= p->len; }

static char peek(parser *p) { return p->i < p->len ? p->q[p->i] : '\0'; }

/* Shows user text in a message: at most 48 bytes, cut at a UTF-8 boundary. */
static int show_len(const char *s, size_t len) {
    size_t n = len;
    if (n > 48) {
        n = 48;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

/* Is the keyword kw (upper case, exact) at i, followed by a stop or the end? */
static bool keyword_at(parser *p, const char *kw) {
    size_t n = strlen(kw);
    if (p->len - p->i < n || memcmp(p->q + p->i, kw, n) != 0)
        return false;
    return p->i + n == p->len || is_stop(p->q[p->i + n]);
}

static srql_node *new_node(parser *p, srql_ntype t, size_t pos, size_t len) {
    srql_node *n = srql_alloc(p->a, sizeof(*n));
    if (n) {
        n->type = t;
        n->pos = pos;
        n->len = len;
    }
    return n;
}

static int oom(parser *p) {
    (void)p;
    return -ENOMEM;
}

/* Reads "..." at i (i at the quote). \" and \\ are escapes; any other backslash stays. */
static int read_quoted(parser *p, srql_val *v) {
    size_t start = p->i;
    size_t j = start + 1;
    size_t n = 0;
    for (; j < p->len && p->q[j] != '"'; j++) {
        if (p->q[j] == '\\' && j + 1 < p->len && (p->q[j + 1] == '"' || p->q[j + 1] == '\\'))
            j++;
        n++;
    }
    if (j >= p->len)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, start, p->len - start, "close the text with \"",
                         "unclosed quote");
    char *s = srql_alloc(p->a, n + 1);
    if (!s)
        return oom(p);
    n = 0;
    for (size_t k = start + 1; k < j; k++) {
        if (p->q[k] == '\\' && k + 1 < j && (p->q[k + 1] == '"' || p->q[k + 1] == '\\'))
            k++;
        s[n++] = p->q[k];
    }
    *v = (srql_val){.s = s, .len = n, .pos = start, .plen = j + 1 - start, .quoted = true};
    p->i = j + 1;
    return 0;
}

/* Reads a raw value or word at i up to a stop byte (and ',' / ']' when in_list). */
static int read_raw(parser *p, bool in_list, srql_val *v) {
    size_t start = p->i;
    while (p->i < p->len && !is_stop(p->q[p->i]) && !(in_list && (p->q[p->i] == ',' || p->q[p->i] == ']')))
        p->i++;
    char *s = srql_strndup(p->a, p->q + start, p->i - start);
    if (!s)
        return oom(p);
    *v = (srql_val){.s = s, .len = p->i - start, .pos = start, .plen = p->i - start};
    return 0;
}

static int count_term(parser *p, size_t pos, size_t len) {
    if (++p->out->nterms > SRQL_TERMS_MAX)
        return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, pos, len, "split the search into several queries",
                         "too many terms (at most %d)", SRQL_TERMS_MAX);
    return 0;
}

/* ---- field references (stats and sort) ---- */

static int resolve_fref(parser *p, size_t pos, size_t len, srql_fref *ret) {
    const char *s = p->q + pos;
    const srql_field *f = srql_field_find(s, len);
    if (f) {
        *ret = (srql_fref){.f = f, .pos = pos, .len = len};
        return 0;
    }
    if (srql_dotted_valid(s, len)) {
        char *key = srql_strndup(p->a, s, len);
        if (!key)
            return oom(p);
        *ret = (srql_fref){.key = key, .pos = pos, .len = len};
        return 0;
    }
    return srql_fail(p->err, SRQL_ERR_UNKNOWN_FIELD, pos, len, srql_field_list(), "unknown field \"%.*s\"",
                     show_len(s, len), s);
}

/* A name at i: [A-Za-z_][A-Za-z0-9_.-]*. Returns its length (0: none). */
static size_t scan_name(parser *p) {
    size_t j = p->i;
    if (j >= p->len || !is_name_start(p->q[j]))
        return 0;
    while (j < p->len && is_name_char(p->q[j]))
        j++;
    return j - p->i;
}

static size_t scan_ident(parser *p) {
    size_t j = p->i;
    if (j >= p->len || !is_name_start(p->q[j]))
        return 0;
    while (j < p->len && is_ident_char(p->q[j]))
        j++;
    return j - p->i;
}

static bool ident_is(parser *p, size_t n, const char *word) {
    return strlen(word) == n && strncasecmp(p->q + p->i, word, n) == 0;
}

/* ---- stats ---- */

static const char HINT_STATS[] = "count(), count_distinct(field), min(field), max(field), each with an optional "
                                 "\"as name\", then an optional \"by field, field\"";

static int parse_stats(parser *p) {
    srql_query *o = p->out;
    if (o->has_stats)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, 0, NULL, "stats given twice");
    o->has_stats = true;
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        size_t n = scan_ident(p);
        if (n == 0)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, pos, at_end(p) ? 0 : 1, HINT_STATS, "expected an aggregate");
        srql_agg ag = {.pos = pos};
        if (ident_is(p, n, "count"))
            ag.kind = SRQL_AGG_COUNT;
        else if (ident_is(p, n, "count_distinct"))
            ag.kind = SRQL_AGG_COUNT_DISTINCT;
        else if (ident_is(p, n, "min"))
            ag.kind = SRQL_AGG_MIN;
        else if (ident_is(p, n, "max"))
            ag.kind = SRQL_AGG_MAX;
        else
            return srql_fail(p->err, SRQL_ERR_SYNTAX, pos, n, HINT_STATS, "unknown aggregate \"%.*s\"",
                             show_len(p->q + pos, n), p->q + pos);
        p->i += n;
        skip_ws(p);
        if (peek(p) != '(')
            return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, at_end(p) ? 0 : 1, HINT_STATS,
                             "expected ( after the aggregate");
        p->i++;
        skip_ws(p);
        if (ag.kind == SRQL_AGG_COUNT) {
            if (peek(p) == '*')
                p->i++;
        } else {
            size_t fpos = p->i;
            size_t fn = scan_name(p);
            if (fn == 0)
                return srql_fail(p->err, SRQL_ERR_SYNTAX, fpos, at_end(p) ? 0 : 1, srql_field_list(),
                                 "expected a field name");
            int r = resolve_fref(p, fpos, fn, &ag.field);
            if (r < 0)
                return r;
            p->i += fn;
        }
        skip_ws(p);
        if (peek(p) != ')')
            return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, at_end(p) ? 0 : 1, HINT_STATS,
                             "expected ) to close the aggregate");
        p->i++;
        ag.len = p->i - pos;
        skip_ws(p);
        n = scan_ident(p);
        if (n && ident_is(p, n, "as")) {
            p->i += n;
            skip_ws(p);
            size_t apos = p->i;
            size_t an = scan_ident(p);
            if (an == 0 || an > 63)
                return srql_fail(p->err, SRQL_ERR_SYNTAX, apos, an ? an : (at_end(p) ? 0 : 1),
                                 "a name of letters, digits and _ (at most 63)", "expected a name after as");
            ag.name = srql_strndup(p->a, p->q + apos, an);
            if (!ag.name)
                return oom(p);
            p->i += an;
        }
        if (o->naggs == SRQL_AGGS_MAX)
            return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, pos, ag.len, NULL, "too many aggregates (at most %d)",
                             SRQL_AGGS_MAX);
        o->aggs[o->naggs++] = ag;
        skip_ws(p);
        if (peek(p) == ',') {
            p->i++;
            continue;
        }
        break;
    }
    skip_ws(p);
    size_t n = scan_ident(p);
    if (n && ident_is(p, n, "by")) {
        p->i += n;
        for (;;) {
            skip_ws(p);
            size_t fpos = p->i;
            size_t fn = scan_name(p);
            if (fn == 0)
                return srql_fail(p->err, SRQL_ERR_SYNTAX, fpos, at_end(p) ? 0 : 1, srql_field_list(),
                                 "expected a field name after by");
            if (o->ngroups == SRQL_GROUPS_MAX)
                return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, fpos, fn, NULL, "too many groups (at most %d)",
                                 SRQL_GROUPS_MAX);
            int r = resolve_fref(p, fpos, fn, &o->groups[o->ngroups]);
            if (r < 0)
                return r;
            o->ngroups++;
            p->i += fn;
            skip_ws(p);
            if (peek(p) != ',')
                break;
            p->i++;
        }
    }
    return 0;
}

/* ---- sort ---- */

static int add_sort(parser *p, size_t pos, size_t n, bool desc, bool dir_given) {
    srql_query *o = p->out;
    if (o->nsorts == SRQL_SORTS_MAX)
        return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, pos, n, NULL, "too many sort keys (at most %d)",
                         SRQL_SORTS_MAX);
    char *name = srql_strndup(p->a, p->q + pos, n);
    if (!name)
        return oom(p);
    o->sorts[o->nsorts++] = (srql_sortkey){.name = name, .pos = pos, .len = n, .desc = desc, .dir_given = dir_given};
    return 0;
}

static int parse_sort_stage(parser *p) {
    if (p->out->has_sort)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, 0, NULL, "sort given twice");
    p->out->has_sort = true;
    for (;;) {
        skip_ws(p);
        size_t pos = p->i;
        size_t n = scan_name(p);
        if (n == 0)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, pos, at_end(p) ? 0 : 1,
                             "a field or an aggregate name, then asc or desc", "expected a sort key");
        p->i += n;
        skip_ws(p);
        size_t dn = scan_ident(p);
        bool desc = false, given = false;
        if (dn && (ident_is(p, dn, "asc") || ident_is(p, dn, "desc"))) {
            desc = ident_is(p, dn, "desc");
            given = true;
            p->i += dn;
        }
        int r = add_sort(p, pos, n, desc, given);
        if (r < 0)
            return r;
        skip_ws(p);
        if (peek(p) != ',')
            return 0;
        p->i++;
    }
}

/* ---- SIMILAR_TO("...") ---- */

static int parse_similar(parser *p, size_t start) {
    skip_ws(p);
    if (peek(p) != '(')
        return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, at_end(p) ? 0 : 1, "SIMILAR_TO(\"text to compare with\")",
                         "expected ( after SIMILAR_TO");
    p->i++;
    skip_ws(p);
    if (peek(p) != '"')
        return srql_fail(p->err, SRQL_ERR_BAD_VALUE, p->i, at_end(p) ? 0 : 1, "SIMILAR_TO(\"text to compare with\")",
                         "SIMILAR_TO takes a quoted text");
    srql_val v;
    int r = read_quoted(p, &v);
    if (r < 0)
        return r;
    size_t k = 0;
    while (k < v.len && is_ws(v.s[k]))
        k++;
    if (k == v.len)
        return srql_fail(p->err, SRQL_ERR_BAD_VALUE, v.pos, v.plen, "SIMILAR_TO(\"text to compare with\")",
                         "SIMILAR_TO needs a non-empty text");
    skip_ws(p);
    if (peek(p) != ')')
        return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, at_end(p) ? 0 : 1, NULL, "expected ) to close SIMILAR_TO");
    p->i++;
    if (!p->out->similar) {
        p->out->similar = true;
        p->out->similar_pos = start;
        p->out->similar_len = p->i - start;
    }
    return 0;
}

/* ---- pipe stages ---- */

static int parse_stage(parser *p) {
    skip_ws(p);
    size_t pos = p->i;
    size_t n = scan_ident(p);
    if (n && ident_is(p, n, "stats")) {
        p->i += n;
        return parse_stats(p);
    }
    if (n && ident_is(p, n, "sort")) {
        p->i += n;
        return parse_sort_stage(p);
    }
    if (n && ident_is(p, n, "head")) {
        p->i += n;
        skip_ws(p);
        size_t vpos = p->i;
        while (p->i < p->len && p->q[p->i] >= '0' && p->q[p->i] <= '9')
            p->i++;
        char num[16];
        size_t vn = p->i - vpos;
        int64_t v = 0;
        if (vn == 0 || vn >= sizeof(num) || (memcpy(num, p->q + vpos, vn), num[vn] = '\0', 0) ||
            sr_parse_i64(num, 1, SRQL_OFFSET_MAX, &v) < 0)
            return srql_fail(p->err, SRQL_ERR_BAD_VALUE, vpos, vn ? vn : (at_end(p) ? 0 : 1),
                             "head takes a number of rows from 1 to 100000", "bad head count");
        if (p->out->head)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, pos, p->i - pos, NULL, "head given twice");
        p->out->head = v;
        p->out->head_pos = pos;
        p->out->head_len = p->i - pos;
        return 0;
    }
    if (n && ident_is(p, n, "SIMILAR_TO")) {
        p->i += n;
        return parse_similar(p, pos);
    }
    return srql_fail(p->err, SRQL_ERR_SYNTAX, pos, n ? n : (at_end(p) ? 0 : 1),
                     "| stats ..., | sort field desc, | head N, | SIMILAR_TO(\"...\")",
                     n ? "unknown stage \"%.*s\"" : "expected a stage after |%.*s", show_len(p->q + pos, n),
                     p->q + pos);
}

/* ---- directives ---- */

static int directive(parser *p, size_t npos, size_t nlen, const srql_val *v, size_t tpos) {
    srql_query *o = p->out;
    const char *name = p->q + npos;
    if (p->guarded)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, npos, p->i - npos, "move it out of the parentheses or NOT",
                         "%.*s: applies to the whole query", (int)nlen, name);
    if (nlen == 2) { /* in: */
        if (o->has_in)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, tpos, p->i - tpos, NULL, "in: given twice");
        o->has_in = true;
        if (strcasecmp(v->s, "events") == 0)
            o->in = SRQL_IN_EVENTS;
        else if (strcasecmp(v->s, "logs") == 0)
            o->in = SRQL_IN_LOGS;
        else if (strcasecmp(v->s, "alerts") == 0)
            o->in = SRQL_IN_ALERTS;
        else
            return srql_fail(p->err, SRQL_ERR_BAD_VALUE, v->pos, v->plen,
                             "events (everything), logs (auth, syslog, journald) or alerts (falco_alert, "
                             "exec_denied, xdp_drop)",
                             "unknown collection \"%.*s\"", show_len(v->s, v->len), v->s);
        return 0;
    }
    if (nlen == 5 && strncasecmp(name, "limit", 5) == 0) {
        int64_t lim;
        if (o->limit)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, tpos, p->i - tpos, NULL, "limit: given twice");
        if (sr_parse_i64(v->s, 1, SRQL_LIMIT_MAX, &lim) < 0)
            return srql_fail(p->err, SRQL_ERR_BAD_VALUE, v->pos, v->plen, "a number of rows from 1 to 1000",
                             "bad limit \"%.*s\"", show_len(v->s, v->len), v->s);
        o->limit = (int)lim;
        return 0;
    }
    if (nlen == 4) { /* sort: field[:asc|desc] */
        if (o->has_sort)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, tpos, p->i - tpos, NULL, "sort given twice");
        o->has_sort = true;
        const char *colon = memchr(v->s, ':', v->len);
        size_t fn = colon ? (size_t)(colon - v->s) : v->len;
        bool desc = false, given = false;
        if (colon) {
            const char *dir = colon + 1;
            if (strcasecmp(dir, "desc") == 0)
                desc = true;
            else if (strcasecmp(dir, "asc") != 0)
                return srql_fail(p->err, SRQL_ERR_BAD_VALUE, v->pos + fn + (v->quoted ? 2 : 1),
                                 v->len - fn - 1, "asc or desc", "bad sort direction \"%.*s\"",
                                 show_len(dir, v->len - fn - 1), dir);
            given = true;
        }
        if (fn == 0 || v->quoted)
            return srql_fail(p->err, SRQL_ERR_BAD_VALUE, v->pos, v->plen, "sort:field:asc or sort:field:desc",
                             "bad sort key");
        return add_sort(p, v->pos, fn, desc, given);
    }
    /* stats:"count() as n by host" or stats:count() by host */
    if (v->quoted) {
        parser sub = *p;
        sub.i = v->pos + 1;
        sub.len = v->pos + v->plen - 1;
        if (memchr(p->q + sub.i, '\\', sub.len - sub.i))
            return srql_fail(p->err, SRQL_ERR_SYNTAX, v->pos, v->plen, HINT_STATS, "no escapes inside stats:\"...\"");
        int r = parse_stats(&sub);
        if (r < 0)
            return r;
        skip_ws(&sub);
        if (!at_end(&sub))
            return srql_fail(p->err, SRQL_ERR_SYNTAX, sub.i, sub.len - sub.i, HINT_STATS,
                             "unexpected text in stats");
        return 0;
    }
    p->i = v->pos;
    return parse_stats(p);
}

/* ---- terms ---- */

static int parse_or(parser *p, srql_node **ret);

static int parse_value(parser *p, srql_node *n) {
    size_t vstart = p->i;
    char c = peek(p);
    if (at_end(p) || is_ws(c) || c == ')' || c == '|')
        return srql_fail(p->err, SRQL_ERR_SYNTAX, n->pos, vstart - n->pos, HINT_VALUE, "missing value after %.*s",
                         show_len(p->q + n->pos, vstart - n->pos), p->q + n->pos);
    if (c == '(') {
        size_t open = p->i++;
        size_t cap = 8;
        n->vals = srql_alloc(p->a, cap * sizeof(*n->vals));
        if (!n->vals)
            return oom(p);
        n->op = SRQL_OP_LIST;
        for (;;) {
            skip_ws(p);
            srql_val v;
            int r;
            if (peek(p) == '"')
                r = read_quoted(p, &v);
            else
                r = read_raw(p, true, &v);
            if (r < 0)
                return r;
            if (v.len == 0 && !v.quoted)
                return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, at_end(p) ? 0 : 1, "(a,b,c)",
                                 at_end(p) ? "unclosed list" : "empty list item");
            if (n->nvals == SRQL_LIST_MAX)
                return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, open, p->i - open, NULL,
                                 "too many list items (at most %d)", SRQL_LIST_MAX);
            if (n->nvals == cap) {
                srql_val *nv = srql_alloc(p->a, 2 * cap * sizeof(*nv));
                if (!nv)
                    return oom(p);
                memcpy(nv, n->vals, cap * sizeof(*nv));
                n->vals = nv;
                cap *= 2;
            }
            n->vals[n->nvals++] = v;
            skip_ws(p);
            if (peek(p) == ',') {
                p->i++;
                continue;
            }
            if (peek(p) == ')') {
                p->i++;
                break;
            }
            return srql_fail(p->err, SRQL_ERR_SYNTAX, at_end(p) ? open : p->i, at_end(p) ? p->len - open : 1,
                             "(a,b,c)", at_end(p) ? "unclosed list" : "expected , or ) in the list");
        }
        return 0;
    }
    n->vals = srql_alloc(p->a, 2 * sizeof(*n->vals));
    if (!n->vals)
        return oom(p);
    if (c == '[') {
        size_t open = p->i;
        const char *close = memchr(p->q + open, ']', p->len - open);
        if (!close)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, open, p->len - open, "[start,end]", "unclosed time range");
        size_t end = (size_t)(close - p->q);
        const char *comma = memchr(p->q + open, ',', end - open);
        if (!comma)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, open, end + 1 - open, "[start,end]",
                             "a time range needs two times separated by a comma");
        size_t parts[2][2] = {{open + 1, (size_t)(comma - p->q)}, {(size_t)(comma - p->q) + 1, end}};
        for (int k = 0; k < 2; k++) {
            size_t a = parts[k][0], b = parts[k][1];
            while (a < b && is_ws(p->q[a]))
                a++;
            while (b > a && is_ws(p->q[b - 1]))
                b--;
            char *s = srql_strndup(p->a, p->q + a, b - a);
            if (!s)
                return oom(p);
            n->vals[k] = (srql_val){.s = s, .len = b - a, .pos = a, .plen = b - a};
        }
        n->nvals = 2;
        n->op = SRQL_OP_RANGE;
        p->i = end + 1;
        return 0;
    }
    n->op = SRQL_OP_EQ;
    if (c == '>' || c == '<') {
        bool eq = p->i + 1 < p->len && p->q[p->i + 1] == '=';
        n->op = c == '>' ? (eq ? SRQL_OP_GE : SRQL_OP_GT) : (eq ? SRQL_OP_LE : SRQL_OP_LT);
        p->i += eq ? 2 : 1;
        c = peek(p);
        if (at_end(p) || is_ws(c) || c == ')' || c == '|' || c == '(')
            return srql_fail(p->err, SRQL_ERR_SYNTAX, vstart, p->i - vstart, HINT_VALUE,
                             "missing value after the comparison");
    }
    int r = peek(p) == '"' ? read_quoted(p, &n->vals[0]) : read_raw(p, false, &n->vals[0]);
    if (r < 0)
        return r;
    n->nvals = 1;
    return 0;
}

static int parse_primary(parser *p, srql_node **ret) {
    *ret = NULL;
    size_t start = p->i;
    char c = peek(p);
    if (c == '(') {
        p->i++;
        p->guarded++;
        srql_node *inner = NULL;
        int r = parse_or(p, &inner);
        if (r < 0)
            return r;
        skip_ws(p);
        if (peek(p) != ')')
            return srql_fail(p->err, SRQL_ERR_SYNTAX, start, 1, "close it with )", "unclosed parenthesis");
        p->i++;
        p->guarded--;
        if (!inner)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, start, p->i - start, NULL, "empty parentheses");
        *ret = inner;
        return 0;
    }
    if (c == ')')
        return srql_fail(p->err, SRQL_ERR_SYNTAX, start, 1, NULL, "unexpected )");
    if (c == '"') {
        srql_node *n = new_node(p, SRQL_N_TEXT, start, 0);
        if (!n)
            return oom(p);
        int r = read_quoted(p, &n->text);
        if (r < 0)
            return r;
        n->phrase = true;
        n->len = p->i - start;
        r = count_term(p, start, n->len);
        if (r < 0)
            return r;
        *ret = n;
        return 0;
    }
    size_t nlen = scan_name(p);
    if (nlen == 10 && strncmp(p->q + start, "SIMILAR_TO", 10) == 0 && start + nlen < p->len &&
        (p->q[start + nlen] == '(' || is_ws(p->q[start + nlen]))) {
        p->i += nlen;
        return parse_similar(p, start);
    }
    if (nlen > 0 && start + nlen < p->len && p->q[start + nlen] == ':' &&
        !(start + nlen + 1 < p->len && p->q[start + nlen + 1] == ':')) {
        /* field:value */
        srql_node *n = new_node(p, SRQL_N_FIELD, start, 0);
        if (!n)
            return oom(p);
        const char *name = p->q + start;
        bool is_dir = (nlen == 2 && strncasecmp(name, "in", 2) == 0) ||
                      (nlen == 4 && strncasecmp(name, "sort", 4) == 0) ||
                      (nlen == 5 && strncasecmp(name, "limit", 5) == 0) ||
                      (nlen == 5 && strncasecmp(name, "stats", 5) == 0);
        p->i += nlen + 1;
        if (is_dir && nlen == 5 && strncasecmp(name, "stats", 5) == 0 && peek(p) != '"') {
            if (p->guarded)
                return srql_fail(p->err, SRQL_ERR_SYNTAX, start, nlen + 1, "move it out of the parentheses or NOT",
                                 "stats: applies to the whole query");
            int r = parse_stats(p);
            if (r < 0)
                return r;
            return 0;
        }
        int r = parse_value(p, n);
        if (r < 0)
            return r;
        n->len = p->i - start;
        if (is_dir) {
            if (n->op != SRQL_OP_EQ)
                return srql_fail(p->err, SRQL_ERR_BAD_VALUE, start + nlen + 1, p->i - start - nlen - 1, NULL,
                                 "%.*s: takes a single value", (int)nlen, name);
            return directive(p, start, nlen, &n->vals[0], start);
        }
        const srql_field *f = srql_field_find(name, nlen);
        if (f) {
            n->field = (srql_fref){.f = f, .pos = start, .len = nlen};
        } else if (srql_dotted_valid(name, nlen)) {
            char *key = srql_strndup(p->a, name, nlen);
            if (!key)
                return oom(p);
            n->field = (srql_fref){.key = key, .pos = start, .len = nlen};
        } else {
            return srql_fail(p->err, SRQL_ERR_UNKNOWN_FIELD, start, nlen, srql_field_hint_term(),
                             "unknown field \"%.*s\"", show_len(name, nlen), name);
        }
        r = count_term(p, start, n->len);
        if (r < 0)
            return r;
        *ret = n;
        return 0;
    }
    /* a bare word */
    srql_node *n = new_node(p, SRQL_N_TEXT, start, 0);
    if (!n)
        return oom(p);
    int r = read_raw(p, false, &n->text);
    if (r < 0)
        return r;
    n->len = p->i - start;
    if (n->len == 0)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, start, at_end(p) ? 0 : 1, NULL, "expected a term");
    if (n->text.len == 1 && n->text.s[0] == '*') {
        if (p->guarded)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, start, 1, NULL, "* (everything) cannot be negated or grouped");
        return 0; /* everything: no condition */
    }
    r = count_term(p, start, n->len);
    if (r < 0)
        return r;
    *ret = n;
    return 0;
}

static int parse_unary(parser *p, srql_node **ret) {
    *ret = NULL;
    skip_ws(p);
    size_t start = p->i;
    bool neg = false;
    if (keyword_at(p, "NOT")) {
        p->i += 3;
        neg = true;
    } else if (peek(p) == '-' && p->i + 1 < p->len && !is_stop(p->q[p->i + 1]) && p->q[p->i + 1] != '-') {
        p->i += 1;
        neg = true;
    }
    if (!neg)
        return parse_primary(p, ret);
    if (++p->depth > SRQL_DEPTH_MAX)
        return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, start, p->i - start, NULL, "nested too deeply (at most %d)",
                         SRQL_DEPTH_MAX);
    skip_ws(p);
    if (at_end(p) || peek(p) == ')' || peek(p) == '|')
        return srql_fail(p->err, SRQL_ERR_SYNTAX, start, p->i - start, "NOT term", "expected a term after NOT");
    p->guarded++;
    srql_node *kid = NULL;
    int r = parse_unary(p, &kid);
    p->guarded--;
    p->depth--;
    if (r < 0)
        return r;
    if (!kid)
        return srql_fail(p->err, SRQL_ERR_SYNTAX, start, p->i - start, NULL, "nothing to negate");
    srql_node *n = new_node(p, SRQL_N_NOT, start, p->i - start);
    if (!n || !(n->kids = srql_alloc(p->a, sizeof(*n->kids))))
        return oom(p);
    n->kids[0] = kid;
    n->nkids = 1;
    *ret = n;
    return 0;
}

/* Adds kid to a growing list of children (arena; doubling). */
static int push_kid(parser *p, srql_node ***kids, size_t *n, size_t *cap, srql_node *kid) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        srql_node **nk = srql_alloc(p->a, nc * sizeof(*nk));
        if (!nk)
            return oom(p);
        if (*n)
            memcpy(nk, *kids, *n * sizeof(*nk));
        *kids = nk;
        *cap = nc;
    }
    (*kids)[(*n)++] = kid;
    return 0;
}

static srql_node *group(parser *p, srql_ntype t, srql_node **kids, size_t n, size_t start) {
    if (n == 0)
        return NULL;
    if (n == 1)
        return kids[0];
    srql_node *g = new_node(p, t, start, p->i - start);
    if (g) {
        g->kids = kids;
        g->nkids = n;
    }
    return g;
}

static int parse_and(parser *p, srql_node **ret) {
    *ret = NULL;
    srql_node **kids = NULL;
    size_t n = 0, cap = 0, items = 0;
    skip_ws(p);
    size_t start = p->i;
    for (;;) {
        skip_ws(p);
        if (at_end(p) || peek(p) == ')' || peek(p) == '|' || keyword_at(p, "OR"))
            break;
        if (keyword_at(p, "AND")) {
            size_t kpos = p->i;
            p->i += 3;
            skip_ws(p);
            if (items == 0 || at_end(p) || peek(p) == ')' || peek(p) == '|' || keyword_at(p, "OR") ||
                keyword_at(p, "AND"))
                return srql_fail(p->err, SRQL_ERR_SYNTAX, kpos, 3, "term AND term", "AND needs a term on both sides");
        }
        srql_node *kid = NULL;
        size_t before = p->i;
        int r = parse_unary(p, &kid);
        if (r < 0)
            return r;
        if (p->i == before) /* nothing consumed: a stray byte */
            return srql_fail(p->err, SRQL_ERR_SYNTAX, p->i, 1, NULL, "unexpected character");
        items++;
        if (kid && (r = push_kid(p, &kids, &n, &cap, kid)) < 0)
            return r;
    }
    if (n > 0 && !(*ret = group(p, SRQL_N_AND, kids, n, start)))
        return oom(p);
    return 0;
}

static int parse_or(parser *p, srql_node **ret) {
    *ret = NULL;
    if (++p->depth > SRQL_DEPTH_MAX)
        return srql_fail(p->err, SRQL_ERR_TOO_COMPLEX, p->i, at_end(p) ? 0 : 1, NULL,
                         "nested too deeply (at most %d)", SRQL_DEPTH_MAX);
    srql_node **kids = NULL;
    size_t n = 0, cap = 0;
    skip_ws(p);
    size_t start = p->i;
    for (;;) {
        size_t bpos = p->i;
        srql_node *kid = NULL;
        int r = parse_and(p, &kid);
        if (r < 0)
            return r;
        if (kid && (r = push_kid(p, &kids, &n, &cap, kid)) < 0)
            return r;
        skip_ws(p);
        if (!keyword_at(p, "OR"))
            break;
        size_t kpos = p->i;
        if (p->i == bpos)
            return srql_fail(p->err, SRQL_ERR_SYNTAX, kpos, 2, "term OR term", "OR needs a term on both sides");
        p->i += 2;
        skip_ws(p);
        if (at_end(p) || peek(p) == ')' || peek(p) == '|' || keyword_at(p, "OR"))
            return srql_fail(p->err, SRQL_ERR_SYNTAX, kpos, 2, "term OR term", "OR needs a term on both sides");
    }
    p->depth--;
    if (n > 0 && !(*ret = group(p, SRQL_N_OR, kids, n, start)))
        return oom(p);
    return 0;
}

int srql_parse(srql_arena *a, const char *q, size_t len, srql_query *ret, srql_error *err) {
    parser p = {.a = a, .q = q, .len = len, .err = err, .out = ret};
    *ret = (srql_query){0};
    int r = parse_or(&p, &ret->root);
    if (r < 0)
        return r;
    for (;;) {
        skip_ws(&p);
        if (at_end(&p))
            return 0;
        if (peek(&p) == ')')
            return srql_fail(err, SRQL_ERR_SYNTAX, p.i, 1, NULL, "unexpected )");
        if (peek(&p) != '|')
            return srql_fail(err, SRQL_ERR_SYNTAX, p.i, 1, NULL, "unexpected character");
        p.i++;
        r = parse_stage(&p);
        if (r < 0)
            return r;
    }
}
