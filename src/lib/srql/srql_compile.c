/* SRQL compiler: AST to parameterized SQL over the events table (alias e).
 * Every value the user typed becomes a parameter; the SQL text holds only $n placeholders,
 * column names from the catalog and constants of this file. See docs/internals/srql.md. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_search.h"
#include "sr_utf8.h"
#include "srql_internal.h"
#include "srql_values.h"

#define PARAMS_MAX 1024
#define TIME_TEXT "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define BUCKET_TEXT "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

typedef struct {
    srql_plan pub;
    srql_arena arena;
    uint64_t hash;
} plan_impl;

typedef struct {
    srql_arena *a;
    const char *q;
    srql_error *err;
    const srql_query *query;
    const char **params;
    size_t nparams;
    const char **hl;
    size_t nhl, hlcap;
    const char **lex; /* lexemes scored by sort:relevance */
    size_t nlex, lexcap;
    int64_t range_s;
} comp;

/* Compiled condition: SQL text in the arena. */
typedef enum { PREC_ATOM, PREC_AND, PREC_OR } prec;
typedef struct {
    const char *sql;
    bool nullable; /* may be NULL (then NOT needs IS NOT TRUE) */
    prec prec;     /* how its parts are joined: parentheses inside a looser or other join */
} cond;

static int show_len(const char *s, size_t len) {
    size_t n = len;
    if (n > 48) {
        n = 48;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

static int add_param(comp *c, const char *v, size_t pos) {
    if (c->nparams == PARAMS_MAX)
        return srql_fail(c->err, SRQL_ERR_TOO_COMPLEX, pos, 0, NULL, "too many values (at most %d)", PARAMS_MAX);
    c->params[c->nparams++] = v;
    return (int)c->nparams;
}

static char *buf_take(comp *c, srql_buf *b) {
    if (b->failed) {
        srql_buf_free(b);
        return NULL;
    }
    char *s = srql_strndup(c->a, b->buf ? b->buf : "", b->len);
    srql_buf_free(b);
    return s;
}

static int push_str(comp *c, const char ***arr, size_t *n, size_t *cap, const char *s) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        const char **na = srql_alloc(c->a, nc * sizeof(*na));
        if (!na)
            return -ENOMEM;
        if (*n)
            memcpy(na, *arr, *n * sizeof(*na));
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = s;
    return 0;
}

/* One quoted element of an array literal ("a\"b"). */
static void array_elem(srql_buf *b, const char *s, size_t len, bool first) {
    srql_buf_add(b, first ? "{\"" : ",\"", 2);
    for (size_t k = 0; k < len; k++) {
        if (s[k] == '"' || s[k] == '\\')
            srql_buf_add(b, "\\", 1);
        srql_buf_add(b, s + k, 1);
    }
    srql_buf_add(b, "\"", 1);
}

/* "{"a","b"}": a PostgreSQL array literal with every element quoted, of values or of texts. */
static char *array_of_vals(comp *c, const srql_val *vals, size_t n) {
    srql_buf b = {0};
    for (size_t i = 0; i < n; i++)
        array_elem(&b, vals[i].s, vals[i].len, i == 0);
    srql_buf_add(&b, n ? "}" : "{}", n ? 1 : 2);
    return buf_take(c, &b);
}

static char *array_of_texts(comp *c, const char *const *texts, size_t n) {
    srql_buf b = {0};
    for (size_t i = 0; i < n; i++)
        array_elem(&b, texts[i], strlen(texts[i]), i == 0);
    srql_buf_add(&b, n ? "}" : "{}", n ? 1 : 2);
    return buf_take(c, &b);
}

/* LIKE pattern of a value: \ % _ escaped, * as %. Surrounded by % when contains. */
static char *like_pattern(comp *c, const char *s, size_t len, bool stars, bool contains) {
    srql_buf b = {0};
    if (contains)
        srql_buf_add(&b, "%", 1);
    for (size_t i = 0; i < len; i++) {
        if (stars && s[i] == '*') {
            if (b.len == 0 || b.buf[b.len - 1] != '%' || (b.len >= 2 && b.buf[b.len - 2] == '\\'))
                srql_buf_add(&b, "%", 1);
            continue;
        }
        if (s[i] == '\\' || s[i] == '%' || s[i] == '_')
            srql_buf_add(&b, "\\", 1);
        srql_buf_add(&b, s + i, 1);
    }
    if (contains && !(b.len > 0 && b.buf[b.len - 1] == '%' && !(b.len >= 2 && b.buf[b.len - 2] == '\\')))
        srql_buf_add(&b, "%", 1);
    return buf_take(c, &b);
}

static bool has_star(const srql_val *v) { return !v->quoted && memchr(v->s, '*', v->len) != NULL; }

static int fmt_cond(comp *c, cond *out, bool nullable, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fmt_cond(comp *c, cond *out, bool nullable, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENOMEM;
    out->sql = srql_strndup(c->a, tmp, (size_t)n);
    out->nullable = nullable;
    out->prec = PREC_ATOM;
    return out->sql ? 0 : -ENOMEM;
}

/* ---- full text ---- */

typedef struct {
    srql_buf *b;
    uint32_t last_pos;
    int n;
    comp *c;
    bool score;
} tsq_build;

static int tsq_tok(void *ud, const char *tok, size_t len, uint32_t pos, int whole) {
    tsq_build *t = ud;
    if (!whole)
        return 0;
    if (t->n > 0) {
        if (pos - t->last_pos <= 1)
            srql_buf_puts(t->b, " <-> ");
        else
            srql_buf_printf(t->b, " <%u> ", pos - t->last_pos);
    }
    char q[2 * SR_SEARCH_TOKEN_MAX + 3];
    size_t qp = 0;
    if (sr_search_quote_lexeme(tok, len, q, sizeof(q), &qp) < 0)
        return -ENOBUFS;
    srql_buf_add(t->b, q, qp);
    t->last_pos = pos;
    t->n++;
    if (t->score) {
        char *lx = srql_strndup(t->c->a, tok, len);
        if (!lx || push_str(t->c, &t->c->lex, &t->c->nlex, &t->c->lexcap, lx) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Is this TEXT node a tsquery (not a substring search of message)? */
static bool is_fulltext(const srql_node *n) {
    if (n->type != SRQL_N_TEXT)
        return false;
    if (n->phrase)
        return true;
    const char *star = memchr(n->text.s, '*', n->text.len);
    return !star || (size_t)(star - n->text.s) == n->text.len - 1;
}

/* Appends the tsquery of one word or phrase to b. negated: not scored nor highlighted. */
static int tsq_term(comp *c, const srql_node *n, bool negated, bool alone, srql_buf *b) {
    size_t len = n->text.len;
    bool prefix = !n->phrase && len > 0 && n->text.s[len - 1] == '*';
    if (prefix)
        len--;
    srql_buf t = {0};
    tsq_build tb = {.b = &t, .c = c, .score = !negated && !prefix};
    int r = sr_search_tokenize(n->text.s, len, tsq_tok, &tb);
    if (r == -ENOMEM || t.failed) {
        srql_buf_free(&t);
        return -ENOMEM;
    }
    if (r < 0 || tb.n == 0) {
        srql_buf_free(&t);
        return srql_fail(c->err, SRQL_ERR_BAD_VALUE, n->pos, n->len, "search words need a letter or a digit",
                         "nothing to search for in %.*s", show_len(c->q + n->pos, n->len), c->q + n->pos);
    }
    if (prefix)
        srql_buf_puts(&t, ":*");
    if (tb.n > 1 && !alone)
        srql_buf_add(b, "(", 1);
    srql_buf_add(b, t.buf, t.len);
    if (tb.n > 1 && !alone)
        srql_buf_add(b, ")", 1);
    srql_buf_free(&t);
    if (!negated) {
        char *h = srql_strndup(c->a, n->text.s, len);
        if (!h || push_str(c, &c->hl, &c->nhl, &c->hlcap, h) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* A word, a phrase, or an AND / OR of only those: one tsquery. */
static bool ft_pure(const srql_node *n) {
    if (n->type == SRQL_N_TEXT)
        return is_fulltext(n);
    if (n->type != SRQL_N_AND && n->type != SRQL_N_OR)
        return false;
    for (size_t i = 0; i < n->nkids; i++)
        if (!ft_pure(n->kids[i]))
            return false;
    return true;
}

static int tsq_node(comp *c, const srql_node *n, bool negated, bool alone, srql_buf *b) {
    if (n->type == SRQL_N_TEXT)
        return tsq_term(c, n, negated, alone, b);
    if (!alone)
        srql_buf_add(b, "(", 1);
    for (size_t i = 0; i < n->nkids; i++) {
        if (i)
            srql_buf_puts(b, n->type == SRQL_N_AND ? " & " : " | ");
        int r = tsq_node(c, n->kids[i], negated, false, b);
        if (r < 0)
            return r;
    }
    if (!alone)
        srql_buf_add(b, ")", 1);
    return 0;
}

/* One search @@ condition over the full-text kids (joined by op "&" or "|"): one parameter,
 * one index scan. */
static int tsq_cond(comp *c, srql_node *const *kids, size_t n, const char *op, bool negated, cond *out) {
    srql_buf b = {0};
    size_t first_pos = 0;
    int count = 0, total = 0;
    for (size_t i = 0; i < n; i++)
        total += ft_pure(kids[i]);
    for (size_t i = 0; i < n; i++) {
        if (!ft_pure(kids[i]))
            continue;
        if (count++ == 0)
            first_pos = kids[i]->pos;
        else
            srql_buf_printf(&b, " %s ", op);
        int r = tsq_node(c, kids[i], negated, total == 1, &b);
        if (r < 0) {
            srql_buf_free(&b);
            return r;
        }
    }
    char *text = buf_take(c, &b);
    if (!text)
        return -ENOMEM;
    int p = add_param(c, text, first_pos);
    if (p < 0)
        return p;
    return fmt_cond(c, out, false, "e.search @@ $%d::tsquery", p);
}

/* A bare word with a leading or inner *: substring match of message (trigram index). */
static int substring_cond(comp *c, const srql_node *n, bool negated, cond *out) {
    char *pat = like_pattern(c, n->text.s, n->text.len, true, true);
    if (!pat)
        return -ENOMEM;
    if (strspn(pat, "%") == strlen(pat))
        return srql_fail(c->err, SRQL_ERR_BAD_VALUE, n->pos, n->len, "a word around the *", "nothing to search for");
    if (!negated) {
        /* highlight the pieces between the stars */
        const char *s = n->text.s;
        size_t i = 0;
        while (i < n->text.len) {
            while (i < n->text.len && s[i] == '*')
                i++;
            size_t st = i;
            while (i < n->text.len && s[i] != '*')
                i++;
            if (i > st) {
                char *h = srql_strndup(c->a, s + st, i - st);
                if (!h || push_str(c, &c->hl, &c->nhl, &c->hlcap, h) < 0)
                    return -ENOMEM;
            }
        }
    }
    int p = add_param(c, pat, n->pos);
    if (p < 0)
        return p;
    return fmt_cond(c, out, false, "e.message ILIKE $%d", p);
}

/* ---- field terms ---- */

static const char *op_sql(srql_op op) {
    switch (op) {
    case SRQL_OP_GT:
        return ">";
    case SRQL_OP_GE:
        return ">=";
    case SRQL_OP_LT:
        return "<";
    case SRQL_OP_LE:
        return "<=";
    default:
        return "=";
    }
}

static int bad(comp *c, const srql_val *v, const char *hint, const char *what) {
    return srql_fail(c->err, SRQL_ERR_BAD_VALUE, v->pos, v->plen, hint, "%s: \"%.*s\"", what, show_len(v->s, v->len),
                     v->s);
}

static int no_op(comp *c, const srql_node *n, const char *hint) {
    return srql_fail(c->err, SRQL_ERR_BAD_VALUE, n->pos, n->len, hint, "%.*s does not take this form of value",
                     (int)n->field.len, c->q + n->field.pos);
}

static int no_stars(comp *c, const srql_node *n, const char *hint) {
    for (size_t i = 0; i < n->nvals; i++)
        if (has_star(&n->vals[i]))
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, n->vals[i].pos, n->vals[i].plen, hint,
                             "no wildcards here");
    return 0;
}

#define HINT_TIME "last_15m, last_24h, last_7d (s, m, h, d, w), an RFC 3339 time such as 2026-01-01T00:00:00Z, " \
                  ">2026-01-01T00:00:00Z or [start,end]"
#define HINT_SEVERITY "unknown, info, low, medium, high, critical (or 0-5); also >=high, (critical,high)"

static void note_range(comp *c, bool top, int64_t s) {
    if (top && s > 0 && (c->range_s == 0 || s < c->range_s))
        c->range_s = s;
}

static int time_cond(comp *c, const srql_node *n, bool top, cond *out) {
    const srql_val *v = &n->vals[0];
    int64_t t;
    if (n->op == SRQL_OP_RANGE) {
        int64_t t2;
        if (srql_time_parse(v[0].s, v[0].len, &t) < 0)
            return bad(c, &v[0], HINT_TIME, "bad time");
        if (srql_time_parse(v[1].s, v[1].len, &t2) < 0)
            return bad(c, &v[1], HINT_TIME, "bad time");
        if (t2 < t)
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, n->pos, n->len, "[earlier,later]",
                             "the time range ends before it starts");
        int p1 = add_param(c, v[0].s, v[0].pos);
        int p2 = p1 < 0 ? p1 : add_param(c, v[1].s, v[1].pos);
        if (p2 < 0)
            return p2;
        note_range(c, top, t2 - t > 0 ? t2 - t : 1);
        int r = fmt_cond(c, out, false, "e.time >= $%d::timestamptz AND e.time <= $%d::timestamptz", p1, p2);
        out->prec = PREC_AND;
        return r;
    }
    if (n->op == SRQL_OP_LIST)
        return no_op(c, n, HINT_TIME);
    char interval[48];
    int64_t span;
    if (n->op == SRQL_OP_EQ && !v->quoted && srql_relative_parse(v->s, v->len, interval, sizeof(interval), &span) == 0) {
        char *iv = srql_strndup(c->a, interval, strlen(interval));
        if (!iv)
            return -ENOMEM;
        int p = add_param(c, iv, v->pos);
        if (p < 0)
            return p;
        note_range(c, top, span);
        return fmt_cond(c, out, false, "e.time >= now() - $%d::interval", p);
    }
    if (srql_time_parse(v->s, v->len, &t) < 0)
        return bad(c, v, HINT_TIME, "bad time");
    int p = add_param(c, v->s, v->pos);
    if (p < 0)
        return p;
    return fmt_cond(c, out, false, "e.time %s $%d::timestamptz", op_sql(n->op), p);
}

/* Values of a list or a single value, checked by kind; returns the array literal or text. */
static int typed_values(comp *c, const srql_node *n, srql_ftype type, const char **texts) {
    for (size_t i = 0; i < n->nvals; i++) {
        const srql_val *v = &n->vals[i];
        texts[i] = v->s;
        switch (type) {
        case SRQL_F_INT:
            if (!srql_int_valid(v->s, v->len, INT32_MIN, INT32_MAX))
                return bad(c, v, "a whole number, e.g. pid:1234 or pid:>100", "bad number");
            break;
        case SRQL_F_SEVERITY: {
            int sv = srql_severity_parse(v->s, v->len);
            static const char *const digits[] = {"0", "1", "2", "3", "4", "5"};
            if (sv < 0)
                return bad(c, v, HINT_SEVERITY, "bad severity");
            texts[i] = digits[sv];
            break;
        }
        case SRQL_F_UUID:
            if (!srql_uuid_valid(v->s, v->len))
                return bad(c, v, "an event id such as 0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f", "bad id");
            break;
        case SRQL_F_IP: {
            bool net;
            if (srql_ip_parse(v->s, v->len, &net) < 0)
                return bad(c, v, "an IPv4 or IPv6 address, or a network such as 10.0.0.0/8 or fe80::/10",
                           "bad IP address or network");
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static int text_field_cond(comp *c, const srql_node *n, const char *col, bool nullable, cond *out) {
    const srql_val *v = &n->vals[0];
    if (n->op == SRQL_OP_LIST) {
        int r = no_stars(c, n, "list items are exact values; use OR for patterns");
        if (r < 0)
            return r;
        char *arr = array_of_vals(c, n->vals, n->nvals);
        int p = arr ? add_param(c, arr, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, nullable, "%s = ANY($%d::text[])", col, p);
    }
    if (n->op != SRQL_OP_EQ)
        return no_op(c, n, "an exact value, a pattern with * or a (a,b) list; comparisons work on time, severity "
                           "and pid");
    if (has_star(v)) {
        char *pat = like_pattern(c, v->s, v->len, true, false);
        int p = pat ? add_param(c, pat, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, nullable, "%s LIKE $%d", col, p);
    }
    int p = add_param(c, v->s, v->pos);
    if (p < 0)
        return p;
    return fmt_cond(c, out, nullable, "%s = $%d", col, p);
}

static int message_cond(comp *c, const srql_node *n, bool negated, cond *out) {
    if (n->op != SRQL_OP_EQ && n->op != SRQL_OP_LIST)
        return no_op(c, n, "text to find in the message, with * as a wildcard, or a (a,b) list");
    const char *pats[SRQL_LIST_MAX];
    for (size_t i = 0; i < n->nvals; i++) {
        const srql_val *v = &n->vals[i];
        bool stars = has_star(v);
        pats[i] = like_pattern(c, v->s, v->len, stars, !stars);
        if (!pats[i])
            return -ENOMEM;
        if (strspn(pats[i], "%") == strlen(pats[i]))
            return bad(c, v, "text to find in the message", "nothing to search for");
        if (!negated) {
            size_t k = 0;
            while (k < v->len && v->s[k] == '*')
                k++;
            size_t e = v->len;
            while (e > k && v->s[e - 1] == '*' && !v->quoted)
                e--;
            char *h = srql_strndup(c->a, v->s + k, e - k);
            if (!h || push_str(c, &c->hl, &c->nhl, &c->hlcap, h) < 0)
                return -ENOMEM;
        }
    }
    if (n->op == SRQL_OP_LIST) {
        char *arr = array_of_texts(c, pats, n->nvals);
        int p = arr ? add_param(c, arr, n->vals[0].pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, false, "e.message ILIKE ANY($%d::text[])", p);
    }
    int p = add_param(c, pats[0], n->vals[0].pos);
    if (p < 0)
        return p;
    return fmt_cond(c, out, false, "e.message ILIKE $%d", p);
}

static char *json_text(comp *c, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return NULL;
    char *r = srql_strndup(c->a, s, strlen(s));
    free(s);
    return r;
}

/* A raw (unquoted) value that is a JSON number ("34816", "-1.5", "2e10") or boolean ("true").
 * Numbers follow JSON's grammar with at most 3 exponent digits, so PostgreSQL's numeric (and
 * jsonb) input takes them as they are. */
typedef enum { SCALAR_NONE, SCALAR_NUMBER, SCALAR_BOOL } scalar_kind;

static size_t scan_digits(const char *s, size_t i, size_t len) {
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

static scalar_kind json_scalar(const srql_val *v) {
    const char *s = v->s;
    size_t len = v->len;
    if (v->quoted || len == 0)
        return SCALAR_NONE;
    if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0))
        return SCALAR_BOOL;
    size_t i = s[0] == '-' ? 1 : 0;
    size_t j = scan_digits(s, i, len);
    if (j == i || (s[i] == '0' && j > i + 1))
        return SCALAR_NONE;
    i = j;
    if (i < len && s[i] == '.') {
        j = scan_digits(s, i + 1, len);
        if (j == i + 1)
            return SCALAR_NONE;
        i = j;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        j = scan_digits(s, i, len);
        if (j == i || j - i > 3)
            return SCALAR_NONE;
        i = j;
    }
    return i == len ? SCALAR_NUMBER : SCALAR_NONE;
}

static int dotted_cond(comp *c, const srql_node *n, cond *out) {
    const char *key = n->field.key;
    const srql_val *v = &n->vals[0];
    if (n->op == SRQL_OP_EQ && !has_star(v)) {
        char *as_text = json_text(c, json_pack("{s:s#}", key, v->s, (int)v->len));
        if (!as_text)
            return -ENOMEM;
        int p = add_param(c, as_text, v->pos);
        if (p < 0)
            return p;
        if (json_scalar(v) == SCALAR_NONE)
            return fmt_cond(c, out, false, "e.fields @> $%d::jsonb", p);
        /* the value as written (not through a double: 0.1 stays 0.1); the key is
         * [A-Za-z0-9_.-] only (srql_dotted_valid), so it needs no escaping */
        srql_buf tb = {0};
        srql_buf_puts(&tb, "{\"");
        srql_buf_puts(&tb, key);
        srql_buf_puts(&tb, "\":");
        srql_buf_add(&tb, v->s, v->len);
        srql_buf_puts(&tb, "}");
        char *typed = buf_take(c, &tb);
        int p2 = typed ? add_param(c, typed, v->pos) : -ENOMEM;
        if (p2 < 0)
            return p2;
        int r = fmt_cond(c, out, false, "(e.fields @> $%d::jsonb OR e.fields @> $%d::jsonb)", p, p2);
        return r;
    }
    int pk = add_param(c, key, n->field.pos);
    if (pk < 0)
        return pk;
    if (n->op == SRQL_OP_EQ) {
        char *pat = like_pattern(c, v->s, v->len, true, false);
        int p = pat ? add_param(c, pat, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, true, "e.fields->>$%d LIKE $%d", pk, p);
    }
    if (n->op == SRQL_OP_LIST) {
        int r = no_stars(c, n, "list items are exact values; use OR for patterns");
        if (r < 0)
            return r;
        char *arr = array_of_vals(c, n->vals, n->nvals);
        int p = arr ? add_param(c, arr, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, true, "e.fields->>$%d = ANY($%d::text[])", pk, p);
    }
    /* comparisons and ranges: numeric when the value is a number */
    size_t nv = n->op == SRQL_OP_RANGE ? 2 : 1;
    bool numeric = true;
    for (size_t i = 0; i < nv; i++)
        numeric = numeric && json_scalar(&v[i]) == SCALAR_NUMBER;
    if (n->op == SRQL_OP_RANGE && !numeric)
        return no_op(c, n, "[low,high] takes two numbers for a key of fields");
    int pv[2];
    for (size_t i = 0; i < nv; i++)
        if ((pv[i] = add_param(c, v[i].s, v[i].pos)) < 0)
            return pv[i];
    if (numeric) {
        char lhs[128];
        (void)snprintf(lhs, sizeof(lhs),
                       "CASE WHEN jsonb_typeof(e.fields->$%d) = 'number' THEN (e.fields->>$%d)::numeric END", pk, pk);
        if (n->op == SRQL_OP_RANGE) {
            int r = fmt_cond(c, out, true, "%s >= $%d::numeric AND %s <= $%d::numeric", lhs, pv[0], lhs, pv[1]);
            out->prec = PREC_AND;
            return r;
        }
        return fmt_cond(c, out, true, "%s %s $%d::numeric", lhs, op_sql(n->op), pv[0]);
    }
    return fmt_cond(c, out, true, "e.fields->>$%d %s $%d", pk, op_sql(n->op), pv[0]);
}

static int field_cond(comp *c, const srql_node *n, bool negated, bool top, cond *out) {
    if (!n->field.f)
        return dotted_cond(c, n, out);
    const srql_field *f = n->field.f;
    const char *texts[SRQL_LIST_MAX];
    const srql_val *v = &n->vals[0];
    int r;
    switch (f->type) {
    case SRQL_F_TIME:
        return time_cond(c, n, top, out);
    case SRQL_F_TEXT:
        return text_field_cond(c, n, f->column, f->nullable, out);
    case SRQL_F_MESSAGE:
        return message_cond(c, n, negated, out);
    case SRQL_F_TAGS: {
        if (n->op != SRQL_OP_EQ && n->op != SRQL_OP_LIST)
            return no_op(c, n, "a tag or a (a,b) list of tags (any of them)");
        if ((r = no_stars(c, n, "tags match exactly")) < 0)
            return r;
        char *arr = array_of_vals(c, n->vals, n->nvals);
        int p = arr ? add_param(c, arr, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        return fmt_cond(c, out, false, "e.tags %s $%d::text[]", n->op == SRQL_OP_LIST ? "&&" : "@>", p);
    }
    case SRQL_F_INT:
    case SRQL_F_SEVERITY:
    case SRQL_F_UUID:
    case SRQL_F_IP:
        break;
    }
    const char *cast = f->type == SRQL_F_INT ? "integer"
                       : f->type == SRQL_F_SEVERITY ? "smallint"
                       : f->type == SRQL_F_UUID     ? "uuid"
                                                    : "inet";
    if ((r = no_stars(c, n,
                      f->type == SRQL_F_IP ? "use a network for ranges of addresses, e.g. 10.0.0.0/8"
                                           : "exact values only")) < 0)
        return r;
    bool ordered = f->type == SRQL_F_INT || f->type == SRQL_F_SEVERITY;
    if (!ordered && n->op != SRQL_OP_EQ && n->op != SRQL_OP_LIST)
        return no_op(c, n, f->type == SRQL_F_IP ? "an address, a network (10.0.0.0/8) or a (a,b) list"
                                                : "an id or a (a,b) list of ids");
    if ((r = typed_values(c, n, f->type, texts)) < 0)
        return r;
    if (n->op == SRQL_OP_LIST) {
        char *arr = array_of_texts(c, texts, n->nvals);
        int p = arr ? add_param(c, arr, v->pos) : -ENOMEM;
        if (p < 0)
            return p;
        if (f->type == SRQL_F_IP)
            return fmt_cond(c, out, f->nullable, "%s <<= ANY($%d::inet[])", f->column, p);
        return fmt_cond(c, out, f->nullable, "%s = ANY($%d::%s[])", f->column, p, cast);
    }
    if (n->op == SRQL_OP_RANGE) {
        int p1 = add_param(c, texts[0], v[0].pos);
        int p2 = p1 < 0 ? p1 : add_param(c, texts[1], v[1].pos);
        if (p2 < 0)
            return p2;
        r = fmt_cond(c, out, f->nullable, "%s >= $%d::%s AND %s <= $%d::%s", f->column, p1, cast, f->column, p2, cast);
        out->prec = PREC_AND;
        return r;
    }
    int p = add_param(c, texts[0], v->pos);
    if (p < 0)
        return p;
    if (f->type == SRQL_F_IP) {
        bool net = false;
        (void)srql_ip_parse(v->s, v->len, &net);
        return fmt_cond(c, out, f->nullable, "%s %s $%d::inet", f->column, net ? "<<=" : "=", p);
    }
    return fmt_cond(c, out, f->nullable, "%s %s $%d::%s", f->column, op_sql(n->op), p, cast);
}

/* ---- boolean structure ---- */

static int compile_node(comp *c, srql_node *n, bool negated, bool top, cond *out);

/* Joins parts with " AND " or " OR "; a part joined differently gets parentheses. */
static int join_conds(comp *c, const cond *parts, size_t n, prec how, cond *out) {
    if (n == 1) {
        *out = parts[0];
        return 0;
    }
    srql_buf b = {0};
    bool nullable = false;
    for (size_t i = 0; i < n; i++) {
        bool paren = parts[i].prec != PREC_ATOM && parts[i].prec != how;
        if (i)
            srql_buf_puts(&b, how == PREC_AND ? " AND " : " OR ");
        if (paren)
            srql_buf_add(&b, "(", 1);
        srql_buf_puts(&b, parts[i].sql);
        if (paren)
            srql_buf_add(&b, ")", 1);
        nullable = nullable || parts[i].nullable;
    }
    out->sql = buf_take(c, &b);
    out->nullable = nullable;
    out->prec = how;
    return out->sql ? 0 : -ENOMEM;
}

static int compile_group(comp *c, srql_node *n, bool negated, bool top, cond *out) {
    bool is_and = n->type == SRQL_N_AND;
    cond *parts = srql_alloc(c->a, (n->nkids + 1) * sizeof(*parts));
    if (!parts)
        return -ENOMEM;
    size_t np = 0;
    bool ft_done = false;
    size_t nft = 0;
    for (size_t i = 0; i < n->nkids; i++)
        nft += ft_pure(n->kids[i]);
    for (size_t i = 0; i < n->nkids; i++) {
        srql_node *k = n->kids[i];
        int r;
        if (ft_pure(k) && (nft > 1 || nft == n->nkids)) {
            if (ft_done)
                continue;
            ft_done = true; /* all words and phrases of the group: one tsquery, one index scan */
            r = tsq_cond(c, n->kids, n->nkids, is_and ? "&" : "|", negated, &parts[np]);
        } else {
            r = compile_node(c, k, negated, top && is_and, &parts[np]);
        }
        if (r < 0)
            return r;
        np++;
    }
    return join_conds(c, parts, np, is_and ? PREC_AND : PREC_OR, out);
}

static int compile_node(comp *c, srql_node *n, bool negated, bool top, cond *out) {
    switch (n->type) {
    case SRQL_N_AND:
    case SRQL_N_OR:
        return compile_group(c, n, negated, top, out);
    case SRQL_N_NOT: {
        cond k;
        int r = compile_node(c, n->kids[0], !negated, false, &k);
        if (r < 0)
            return r;
        srql_buf b = {0};
        srql_buf_puts(&b, k.nullable ? "(" : "NOT (");
        srql_buf_puts(&b, k.sql);
        srql_buf_puts(&b, k.nullable ? ") IS NOT TRUE" : ")");
        out->sql = buf_take(c, &b);
        out->nullable = false;
        out->prec = PREC_ATOM;
        return out->sql ? 0 : -ENOMEM;
    }
    case SRQL_N_TEXT:
        if (ft_pure(n)) {
            srql_node *one[1] = {n};
            return tsq_cond(c, one, 1, "&", negated, out);
        }
        return substring_cond(c, n, negated, out);
    case SRQL_N_FIELD:
        return field_cond(c, n, negated, top, out);
    }
    return -EINVAL;
}

/* ---- statement assembly ---- */

/* The WHERE clause (with its leading newline), or nothing for every event. */
static int where_clause(comp *c, srql_buf *b) {
    const srql_query *q = c->query;
    cond parts[2];
    size_t np = 0;
    if (q->has_in && q->in != SRQL_IN_EVENTS) {
        static const char *const logs[] = {"auth", "syslog", "journald"};
        static const char *const alerts[] = {"falco_alert", "exec_denied", "xdp_drop"};
        char *arr = array_of_texts(c, q->in == SRQL_IN_LOGS ? logs : alerts, 3);
        int p = arr ? add_param(c, arr, 0) : -ENOMEM;
        if (p < 0)
            return p;
        int r = fmt_cond(c, &parts[np++], false, "e.source_type = ANY($%d::text[])", p);
        if (r < 0)
            return r;
    }
    if (q->root) {
        int r = compile_node(c, q->root, false, true, &parts[np++]);
        if (r < 0)
            return r;
    }
    if (np == 0)
        return 0;
    cond all;
    int r = join_conds(c, parts, np, PREC_AND, &all);
    if (r < 0)
        return r;
    srql_buf_puts(b, "\nWHERE ");
    srql_buf_puts(b, all.sql);
    return 0;
}

static void events_select(srql_buf *b, bool score) {
    srql_buf_puts(b, "SELECT ");
    for (size_t i = 0; i < srql_field_count(); i++) {
        const srql_field *f = srql_field_at(i);
        if (i)
            srql_buf_puts(b, ", ");
        if (f->type == SRQL_F_TIME)
            srql_buf_printf(b, TIME_TEXT, f->column);
        else if (f->type == SRQL_F_TAGS)
            srql_buf_printf(b, "array_to_json(%s)", f->column);
        else
            srql_buf_puts(b, f->column);
    }
    if (score)
        srql_buf_puts(b, ", search_bm25(e.search, s.terms, s.idf, s.avg_len) AS score");
}

static int events_columns(comp *c, srql_plan *p, bool score) {
    size_t n = srql_field_count();
    srql_column *cols = srql_alloc(c->a, (n + 1) * sizeof(*cols));
    if (!cols)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        cols[i] = (srql_column){.name = srql_field_at(i)->name, .type = srql_field_at(i)->col};
    if (score)
        cols[n++] = (srql_column){.name = "score", .type = SRQL_COL_NUMBER};
    p->columns = cols;
    p->ncolumns = n;
    return 0;
}

/* The SQL of a sort key over events: a catalog column or a key of fields ($n). */
static int event_sort_expr(comp *c, const srql_sortkey *k, char *out, size_t outlen) {
    const srql_field *f = srql_field_find(k->name, k->len);
    if (f) {
        if (!f->sortable)
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, k->pos, k->len,
                             "time, host, severity, pid, source_type, user_name, program, ... or relevance",
                             "cannot sort by %s", f->name);
        (void)snprintf(out, outlen, "%s", f->column);
        return 0;
    }
    if (!srql_dotted_valid(k->name, k->len))
        return srql_fail(c->err, SRQL_ERR_UNKNOWN_FIELD, k->pos, k->len, srql_field_list(),
                         "unknown sort field \"%.*s\"", show_len(k->name, k->len), k->name);
    int p = add_param(c, k->name, k->pos);
    if (p < 0)
        return p;
    (void)snprintf(out, outlen, "e.fields->>$%d", p);
    return 0;
}

static int limit_clause(comp *c, srql_buf *b, srql_plan *p, const srql_cursor *cur) {
    char num[24];
    (void)snprintf(num, sizeof(num), "%d", p->limit + 1);
    char *lim = srql_strndup(c->a, num, strlen(num));
    int pl = lim ? add_param(c, lim, 0) : -ENOMEM;
    if (pl < 0)
        return pl;
    srql_buf_printf(b, "\nLIMIT $%d", pl);
    if (p->cursor_kind == SRQL_CURSOR_OFFSET) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)(cur ? cur->offset : 0));
        char *off = srql_strndup(c->a, num, strlen(num));
        int po = off ? add_param(c, off, 0) : -ENOMEM;
        if (po < 0)
            return po;
        srql_buf_printf(b, " OFFSET $%d", po);
    }
    return 0;
}

/* Keyset condition after the filter: rows past the cursor's (time, id). */
static int keyset_cond(comp *c, srql_buf *b, const srql_cursor *cur, bool desc, bool have_where) {
    char *t = srql_strndup(c->a, cur->time, strlen(cur->time));
    char *id = srql_strndup(c->a, cur->id, strlen(cur->id));
    int pt = t ? add_param(c, t, 0) : -ENOMEM;
    int pi = pt < 0 ? pt : (id ? add_param(c, id, 0) : -ENOMEM);
    if (pi < 0)
        return pi;
    srql_buf_printf(b, "%s(e.time, e.id) %s ($%d::timestamptz, $%d::uuid)", have_where ? " AND " : "\nWHERE ",
                    desc ? "<" : ">", pt, pi);
    return 0;
}

static int cursor_mismatch(comp *c) {
    srql_fail(c->err, SRQL_ERR_BAD_VALUE, 0, 0, NULL, "cursor does not belong to this query");
    c->err->no_position = 1;
    return -EINVAL;
}

static int compile_events(comp *c, srql_plan *p, srql_buf *b, const char *where, const srql_cursor *cur,
                          bool have_cursor) {
    const srql_query *q = c->query;
    bool relevance = false, time_sort = true, desc = true;
    char order[2048] = "";
    size_t olen = 0;
    for (size_t i = 0; i < q->nsorts; i++) {
        const srql_sortkey *k = &q->sorts[i];
        if (k->len == 9 && strncasecmp(k->name, "relevance", 9) == 0) {
            if (q->nsorts > 1 || (k->dir_given && !k->desc))
                return srql_fail(c->err, SRQL_ERR_BAD_VALUE, k->pos, k->len, "sort:relevance (best first)",
                                 "relevance sorts alone and best first");
            relevance = true;
            break;
        }
        char expr[96];
        int r = event_sort_expr(c, k, expr, sizeof(expr));
        if (r < 0)
            return r;
        const srql_field *f = srql_field_find(k->name, k->len);
        bool kdesc = k->dir_given ? k->desc : (f && f->type == SRQL_F_TIME);
        if (i == 0 && q->nsorts == 1 && f && f->type == SRQL_F_TIME) {
            desc = kdesc;
            break;
        }
        time_sort = false;
        olen += (size_t)snprintf(order + olen, sizeof(order) - olen, "%s%s %s", olen ? ", " : "", expr,
                                 kdesc ? "DESC NULLS LAST" : "ASC NULLS LAST");
    }
    if (relevance && c->nlex == 0)
        return srql_fail(c->err, SRQL_ERR_BAD_VALUE, q->sorts[0].pos, q->sorts[0].len,
                         "add words or phrases to rank by, e.g. \"reverse shell\" sort:relevance",
                         "sort:relevance needs search words");
    p->cursor_kind = (time_sort && !relevance) ? SRQL_CURSOR_KEYSET : SRQL_CURSOR_OFFSET;
    if (have_cursor && cur->kind != p->cursor_kind)
        return cursor_mismatch(c);
    int r = events_columns(c, p, relevance);
    if (r < 0)
        return r;
    if (relevance) {
        char *terms = array_of_texts(c, c->lex, c->nlex);
        int pt = terms ? add_param(c, terms, 0) : -ENOMEM;
        if (pt < 0)
            return pt;
        srql_buf_printf(b, "WITH s AS (SELECT * FROM search_query_stats($%d::text[]))\n", pt);
        events_select(b, true);
        srql_buf_puts(b, "\nFROM (SELECT ");
        for (size_t i = 0; i < srql_field_count(); i++)
            srql_buf_printf(b, "%s, ", srql_field_at(i)->column);
        srql_buf_puts(b, "e.search\n      FROM events e");
        if (where[0]) {
            srql_buf_puts(b, "\n      ");
            srql_buf_puts(b, where + 1);
        }
        srql_buf_printf(b, "\n      ORDER BY e.time DESC LIMIT %d) e CROSS JOIN s", SRQL_RANK_CANDIDATES);
        srql_buf_puts(b, "\nORDER BY score DESC, e.time DESC, e.id DESC");
        return limit_clause(c, b, p, cur);
    }
    events_select(b, false);
    srql_buf_puts(b, "\nFROM events e");
    srql_buf_puts(b, where);
    if (p->cursor_kind == SRQL_CURSOR_KEYSET) {
        if (have_cursor && (r = keyset_cond(c, b, cur, desc, where[0] != '\0')) < 0)
            return r;
        srql_buf_printf(b, "\nORDER BY e.time %s, e.id %s", desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
    } else {
        srql_buf_printf(b, "\nORDER BY %s, e.time DESC, e.id DESC", order);
    }
    return limit_clause(c, b, p, cur);
}

/* ---- stats ---- */

static const char *agg_default_name(comp *c, const srql_agg *ag) {
    if (ag->kind == SRQL_AGG_COUNT)
        return "count";
    const char *fname = ag->field.f ? ag->field.f->name : ag->field.key;
    const char *pre = ag->kind == SRQL_AGG_COUNT_DISTINCT ? "count_distinct_" : ag->kind == SRQL_AGG_MIN ? "min_" : "max_";
    size_t n = strlen(pre) + strlen(fname);
    char *s = srql_alloc(c->a, n + 1);
    if (s)
        (void)snprintf(s, n + 1, "%s%s", pre, fname);
    return s;
}

/* SQL of a group or aggregate argument: catalog column or e.fields->>$n. */
static int fref_expr(comp *c, const srql_fref *fr, char *out, size_t outlen) {
    if (fr->f) {
        (void)snprintf(out, outlen, "%s", fr->f->column);
        return 0;
    }
    int p = add_param(c, fr->key, fr->pos);
    if (p < 0)
        return p;
    (void)snprintf(out, outlen, "e.fields->>$%d", p);
    return 0;
}

static bool fref_same(const srql_fref *a, const char *name, size_t len) {
    const srql_field *f = srql_field_find(name, len);
    if (a->f)
        return f == a->f;
    return !f && strlen(a->key) == len && strncmp(a->key, name, len) == 0;
}

static int compile_stats(comp *c, srql_plan *p, srql_buf *b, const char *where, const srql_cursor *cur,
                         bool have_cursor) {
    const srql_query *q = c->query;
    size_t ncol = q->ngroups + q->naggs;
    srql_column *cols = srql_alloc(c->a, ncol * sizeof(*cols));
    if (!cols)
        return -ENOMEM;
    p->cursor_kind = SRQL_CURSOR_OFFSET;
    if (have_cursor && cur->kind != SRQL_CURSOR_OFFSET)
        return cursor_mismatch(c);
    srql_buf sel = {0};
    srql_buf_puts(&sel, "SELECT ");
    for (size_t i = 0; i < q->ngroups; i++) {
        const srql_fref *g = &q->groups[i];
        if (g->f && !g->f->groupable) {
            srql_buf_free(&sel);
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, g->pos, g->len,
                             "host, source_type, severity, program, user_name, src_ip, rule, action, outcome, pid, "
                             "agent_id, severity_text or a key of fields (counts over time: ask for the histogram)",
                             "cannot group by %s", g->f->name);
        }
        char expr[96];
        int r = fref_expr(c, g, expr, sizeof(expr));
        if (r < 0) {
            srql_buf_free(&sel);
            return r;
        }
        srql_buf_printf(&sel, "%s%s", i ? ", " : "", expr);
        cols[i] = (srql_column){.name = g->f ? g->f->name : g->key, .type = g->f ? g->f->col : SRQL_COL_TEXT};
    }
    for (size_t i = 0; i < q->naggs; i++) {
        const srql_agg *ag = &q->aggs[i];
        srql_column *col = &cols[q->ngroups + i];
        col->name = ag->name ? ag->name : agg_default_name(c, ag);
        if (!col->name) {
            srql_buf_free(&sel);
            return -ENOMEM;
        }
        const char *sep = (i || q->ngroups) ? ", " : "";
        if (ag->kind == SRQL_AGG_COUNT) {
            srql_buf_printf(&sel, "%scount(*)", sep);
            col->type = SRQL_COL_INTEGER;
            continue;
        }
        const srql_field *f = ag->field.f;
        if (f && (f->type == SRQL_F_TAGS || strcmp(f->name, "fields") == 0)) {
            srql_buf_free(&sel);
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, ag->field.pos, ag->field.len, NULL,
                             "cannot aggregate %s", f->name);
        }
        if (f && f->type == SRQL_F_UUID && ag->kind != SRQL_AGG_COUNT_DISTINCT) {
            srql_buf_free(&sel);
            return srql_fail(c->err, SRQL_ERR_BAD_VALUE, ag->pos, ag->len, "count_distinct(id)",
                             "ids have no order: min and max do not apply to %s", f->name);
        }
        char expr[96];
        int r = fref_expr(c, &ag->field, expr, sizeof(expr));
        if (r < 0) {
            srql_buf_free(&sel);
            return r;
        }
        if (ag->kind == SRQL_AGG_COUNT_DISTINCT) {
            srql_buf_printf(&sel, "%scount(DISTINCT %s)", sep, expr);
            col->type = SRQL_COL_INTEGER;
        } else {
            const char *fn = ag->kind == SRQL_AGG_MIN ? "min" : "max";
            if (f && f->type == SRQL_F_TIME) {
                char inner[128];
                (void)snprintf(inner, sizeof(inner), "%s(%s)", fn, expr);
                srql_buf_puts(&sel, sep);
                srql_buf_printf(&sel, TIME_TEXT, inner);
            } else {
                srql_buf_printf(&sel, "%s%s(%s)", sep, fn, expr);
            }
            col->type = f ? f->col : SRQL_COL_TEXT;
            if (f && (f->type == SRQL_F_UUID || f->type == SRQL_F_MESSAGE))
                col->type = SRQL_COL_TEXT;
        }
    }
    /* ORDER BY positions; the default is the first aggregate, largest first */
    char order[512] = "";
    size_t olen = 0;
    for (size_t i = 0; i < q->nsorts; i++) {
        const srql_sortkey *k = &q->sorts[i];
        size_t pos = 0;
        for (size_t a = 0; a < q->naggs && !pos; a++)
            if (strlen(cols[q->ngroups + a].name) == k->len && strncmp(cols[q->ngroups + a].name, k->name, k->len) == 0)
                pos = q->ngroups + a + 1;
        for (size_t g = 0; g < q->ngroups && !pos; g++)
            if (fref_same(&q->groups[g], k->name, k->len))
                pos = g + 1;
        if (!pos) {
            srql_buf_free(&sel);
            return srql_fail(c->err, SRQL_ERR_UNKNOWN_FIELD, k->pos, k->len, "a group field or an aggregate name",
                             "cannot sort stats by \"%.*s\"", show_len(k->name, k->len), k->name);
        }
        bool desc = k->dir_given ? k->desc : pos > q->ngroups;
        olen += (size_t)snprintf(order + olen, sizeof(order) - olen, "%s%zu %s", olen ? ", " : "", pos,
                                 desc ? "DESC NULLS LAST" : "ASC NULLS LAST");
    }
    if (olen == 0)
        olen += (size_t)snprintf(order, sizeof(order), "%zu DESC", q->ngroups + 1);
    for (size_t g = 0; g < q->ngroups && olen < sizeof(order); g++) {
        char mine[24];
        (void)snprintf(mine, sizeof(mine), "%zu ", g + 1);
        bool listed = strncmp(order, mine, strlen(mine)) == 0;
        for (const char *o = strstr(order, ", "); o && !listed; o = strstr(o + 2, ", "))
            listed = strncmp(o + 2, mine, strlen(mine)) == 0;
        if (!listed)
            olen += (size_t)snprintf(order + olen, sizeof(order) - olen, ", %zu", g + 1);
    }
    srql_buf_add(b, sel.buf, sel.len);
    if (sel.failed)
        b->failed = 1;
    srql_buf_free(&sel);
    p->columns = cols;
    p->ncolumns = ncol;
    srql_buf_puts(b, "\nFROM events e");
    srql_buf_puts(b, where);
    if (q->ngroups) {
        srql_buf_puts(b, "\nGROUP BY ");
        for (size_t g = 0; g < q->ngroups; g++)
            srql_buf_printf(b, "%s%zu", g ? ", " : "", g + 1);
    }
    srql_buf_printf(b, "\nORDER BY %s", order);
    return limit_clause(c, b, p, cur);
}

/* ---- entry points ---- */

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_bad_at(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char b = (unsigned char)s[i];
        size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len || !sr_utf8_valid(s + i, n))
            return i;
        i += n;
    }
    return len;
}

static int compile(comp *c, const srql_options *opt, plan_impl *pi, srql_error *err) {
    srql_plan *p = &pi->pub;
    const srql_query *q = c->query;
    srql_cursor cur = {0};
    bool have_cursor = opt && opt->cursor && opt->cursor[0];
    if (have_cursor && srql_cursor_decode(opt->cursor, pi->hash, &cur) < 0) {
        srql_fail(err, SRQL_ERR_BAD_VALUE, 0, 0, "send the next_cursor of the previous page of the same query",
                  "bad cursor");
        err->no_position = 1;
        return -EINVAL;
    }
    /* the filter first: its parameters are $1..$k, shared with the histogram */
    srql_buf wb = {0};
    int r = where_clause(c, &wb);
    if (r < 0) {
        srql_buf_free(&wb);
        return r;
    }
    const char *where = buf_take(c, &wb);
    if (!where)
        return -ENOMEM;
    p->nfilter_params = c->nparams;

    int limit = q->limit ? q->limit : (opt && opt->default_limit > 0 ? opt->default_limit : SRQL_LIMIT_DEFAULT);
    if (limit > SRQL_LIMIT_MAX)
        limit = SRQL_LIMIT_MAX;
    /* rows before this page: an offset cursor's OFFSET, or what keyset pages have shown (for head) */
    int64_t offset = have_cursor ? cur.offset : 0;
    int64_t cap = q->head ? q->head : (have_cursor && cur.kind == SRQL_CURSOR_KEYSET ? INT64_MAX : SRQL_OFFSET_MAX);
    if (offset >= cap) {
        srql_fail(err, SRQL_ERR_BAD_VALUE, 0, 0, NULL, "cursor is past the end of the result");
        err->no_position = 1;
        return -EINVAL;
    }
    if (limit > cap - offset)
        limit = (int)(cap - offset);
    p->limit = limit;
    p->offset = offset;
    p->more_allowed = q->head ? offset + limit < cap : 1;

    srql_buf b = {0};
    if (q->has_stats) {
        p->kind = SRQL_KIND_STATS;
        r = compile_stats(c, p, &b, where, &cur, have_cursor);
    } else {
        p->kind = SRQL_KIND_EVENTS;
        r = compile_events(c, p, &b, where, &cur, have_cursor);
    }
    if (r < 0) {
        srql_buf_free(&b);
        return r;
    }
    if (p->cursor_kind == SRQL_CURSOR_OFFSET && offset + limit >= SRQL_OFFSET_MAX)
        p->more_allowed = 0;
    if (!(p->sql = buf_take(c, &b)))
        return -ENOMEM;
    if (p->kind == SRQL_KIND_EVENTS) {
        srql_buf h = {0};
        srql_buf_puts(&h, "SELECT ");
        char bucket[96];
        (void)snprintf(bucket, sizeof(bucket), "time_bucket(make_interval(secs => $%zu::bigint), e.time)",
                       p->nfilter_params + 1);
        srql_buf_printf(&h, BUCKET_TEXT, bucket);
        srql_buf_puts(&h, ", count(*)\nFROM events e");
        srql_buf_puts(&h, where);
        srql_buf_puts(&h, "\nGROUP BY 1\nORDER BY 1");
        if (!(p->histogram_sql = buf_take(c, &h)))
            return -ENOMEM;
        srql_buf m = {0};
        srql_buf_puts(&m, "SELECT extract(epoch FROM min(e.time))::bigint, extract(epoch FROM max(e.time))::bigint"
                          "\nFROM events e");
        srql_buf_puts(&m, where);
        if (!(p->bounds_sql = buf_take(c, &m)))
            return -ENOMEM;
    }
    p->range_s = c->range_s;
    p->params = c->params;
    p->nparams = c->nparams;
    p->highlight = c->hl;
    p->nhighlight = c->nhl;
    if (q->similar)
        return srql_fail(err, SRQL_ERR_NOT_AVAILABLE, q->similar_pos, q->similar_len,
                         "use words, phrases and fields until then",
                         "SIMILAR_TO is not available yet: semantic search needs the embeddings pipeline");
    return 0;
}

int srql_compile(const char *query, size_t len, const srql_options *opt, srql_plan **ret, srql_error *err) {
    srql_error dummy;
    if (!err)
        err = &dummy;
    *err = (srql_error){0};
    if (!ret || (!query && len > 0))
        return -EINVAL;
    if (!query)
        query = "";
    if (len > SRQL_QUERY_MAX)
        return srql_fail(err, SRQL_ERR_TOO_COMPLEX, SRQL_QUERY_MAX, len - SRQL_QUERY_MAX, NULL,
                         "query too long (at most %d bytes)", SRQL_QUERY_MAX);
    size_t bad_at = utf8_bad_at(query, len);
    if (bad_at < len)
        return srql_fail(err, SRQL_ERR_BAD_VALUE, bad_at, 1, NULL, "query is not valid UTF-8");
    /* PostgreSQL text cannot hold NUL: a value would be cut short or refused */
    const char *nul = memchr(query, '\0', len);
    if (nul)
        return srql_fail(err, SRQL_ERR_BAD_VALUE, (size_t)(nul - query), 1, NULL, "query contains a NUL byte");
    plan_impl *pi = calloc(1, sizeof(*pi));
    if (!pi)
        return -ENOMEM;
    pi->hash = srql_query_hash(query, len);
    comp c = {.a = &pi->arena, .q = query, .err = err};
    srql_query *q = srql_alloc(&pi->arena, sizeof(*q));
    c.params = srql_alloc(&pi->arena, PARAMS_MAX * sizeof(*c.params));
    int r = (!q || !c.params) ? -ENOMEM : srql_parse(&pi->arena, query, len, q, err);
    if (r == 0) {
        c.query = q;
        r = compile(&c, opt, pi, err);
    }
    if (r < 0) {
        if (r == -ENOMEM && err->code == SRQL_ERR_NONE) {
            /* the arena cap or malloc: the query is too big to compile */
            r = pi->arena.total + 4096 >= SRQL_ARENA_MAX
                    ? srql_fail(err, SRQL_ERR_TOO_COMPLEX, 0, 0, NULL, "query too complex to compile")
                    : -ENOMEM;
        }
        srql_plan_free(&pi->pub);
        return r;
    }
    *ret = &pi->pub;
    return 0;
}

srql_plan *srql_plan_free(srql_plan *plan) {
    if (!plan)
        return NULL;
    plan_impl *pi = (plan_impl *)plan;
    srql_arena_free(&pi->arena);
    free(pi);
    return NULL;
}

int srql_cursor_next(const srql_plan *plan, const char *time_text, const char *id_text, char *out, size_t outlen) {
    if (!plan || !out)
        return -EINVAL;
    const plan_impl *pi = (const plan_impl *)plan;
    srql_cursor c = {.kind = plan->cursor_kind};
    if (plan->cursor_kind == SRQL_CURSOR_KEYSET) {
        int64_t t;
        if (!time_text || !id_text || strlen(time_text) >= sizeof(c.time) ||
            srql_time_parse(time_text, strlen(time_text), &t) < 0 || !srql_uuid_valid(id_text, strlen(id_text)))
            return -EINVAL;
        memcpy(c.time, time_text, strlen(time_text) + 1);
        memcpy(c.id, id_text, strlen(id_text) + 1);
    }
    c.offset = plan->offset + plan->limit;
    if (c.kind == SRQL_CURSOR_KEYSET && c.offset > SRQL_KEYSET_ROWS_MAX)
        c.offset = SRQL_KEYSET_ROWS_MAX; /* only counted, and only head needs it exact */
    return srql_cursor_encode(pi->hash, &c, out, outlen);
}

int64_t srql_bucket_seconds(int64_t range_s) {
    static const int64_t widths[] = {1,    5,    10,    15,    30,    60,    300,    600,    900,     1800,
                                     3600, 10800, 21600, 43200, 86400, 604800, 2592000, 31536000};
    const int64_t year = 31536000;
    if (range_s <= 0)
        range_s = 1;
    int64_t want = range_s / SRQL_HIST_BUCKETS + (range_s % SRQL_HIST_BUCKETS != 0);
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        if (widths[i] >= want)
            return widths[i];
    /* beyond a year: whole years, still about SRQL_HIST_BUCKETS buckets (events centuries
     * apart must not ask for hundreds of thousands of them) */
    return (want / year + (want % year != 0)) * year;
}
