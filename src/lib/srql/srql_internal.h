/* Shared between the files of sr_srql; not exported. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srql.h"

/* ---- arena: one per compilation, freed as a whole (srql_arena.c) ---- */
typedef struct srql_arena_block srql_arena_block;
typedef struct {
    srql_arena_block *head;
    size_t total; /* bytes handed out, capped */
} srql_arena;

#define SRQL_ARENA_MAX (8u * 1024 * 1024)

void *srql_alloc(srql_arena *a, size_t n); /* zeroed; NULL when out of memory or over the cap */
char *srql_strndup(srql_arena *a, const char *s, size_t n);
void srql_arena_free(srql_arena *a);

/* ---- growable text with a cap (srql_arena.c) ---- */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed; /* out of memory or over max: the text is incomplete */
    size_t max;
} srql_buf;

void srql_buf_add(srql_buf *b, const char *s, size_t n);
void srql_buf_puts(srql_buf *b, const char *s);
void srql_buf_printf(srql_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srql_buf_free(srql_buf *b);

/* ---- errors ---- */
int srql_fail(srql_error *err, srql_error_code code, size_t pos, size_t len, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- field catalog (srql_fields.c) ---- */
typedef enum {
    SRQL_F_TIME,
    SRQL_F_UUID,
    SRQL_F_TEXT,
    SRQL_F_INT,
    SRQL_F_SEVERITY,
    SRQL_F_IP,
    SRQL_F_TAGS,
    SRQL_F_MESSAGE,
} srql_ftype;

typedef struct {
    const char *name;   /* canonical name, also the result column name */
    const char *column; /* SQL expression over alias e */
    srql_ftype type;
    srql_col_type col;
    bool nullable;
    bool groupable;
    bool sortable;
} srql_field;

/* Looks a field or alias up (case-insensitive); NULL when unknown. */
const srql_field *srql_field_find(const char *name, size_t len);
/* "time, timestamp, id, host, ..." for hints. */
const char *srql_field_list(void);
/* The same, for a field:value term (adds how to search text with a colon). */
const char *srql_field_hint_term(void);
/* The catalog in result order (the events columns). */
const srql_field *srql_field_at(size_t i);
size_t srql_field_count(void);
/* A flat key of the fields object: [A-Za-z0-9_-] segments joined by single dots, at least one
 * dot, at most 128 bytes. */
bool srql_dotted_valid(const char *s, size_t len);
/* "info" -> 1, "5" -> 5, ...; -1 when not a severity. */
int srql_severity_parse(const char *s, size_t len);

/* ---- AST (srql_parse.c) ---- */
typedef struct {
    const char *s; /* unescaped, NUL-terminated */
    size_t len;
    size_t pos, plen; /* where it was in the query */
    bool quoted;
} srql_val;

/* A field as written: a catalog field or a dotted key of `fields`. */
typedef struct {
    const srql_field *f; /* NULL for a dotted key */
    const char *key;     /* the dotted key (NUL-terminated) when f is NULL */
    size_t pos, len;
} srql_fref;

typedef enum {
    SRQL_N_AND,
    SRQL_N_OR,
    SRQL_N_NOT,
    SRQL_N_TEXT,  /* bare word or phrase: full text (or a substring of message) */
    SRQL_N_FIELD, /* field:value */
} srql_ntype;

typedef enum { SRQL_OP_EQ, SRQL_OP_GT, SRQL_OP_GE, SRQL_OP_LT, SRQL_OP_LE, SRQL_OP_LIST, SRQL_OP_RANGE } srql_op;

typedef struct srql_node srql_node;
struct srql_node {
    srql_ntype type;
    size_t pos, len;
    /* AND / OR / NOT */
    srql_node **kids;
    size_t nkids;
    /* TEXT */
    srql_val text;
    bool phrase;
    /* FIELD */
    srql_fref field;
    srql_op op;
    srql_val *vals;
    size_t nvals;
};

typedef enum { SRQL_AGG_COUNT, SRQL_AGG_COUNT_DISTINCT, SRQL_AGG_MIN, SRQL_AGG_MAX } srql_agg_kind;

#define SRQL_AGGS_MAX 8
#define SRQL_GROUPS_MAX 8
#define SRQL_SORTS_MAX 8

typedef struct {
    srql_agg_kind kind;
    srql_fref field; /* not for count() */
    const char *name;  /* result column name (alias or default) */
    size_t pos, len;
} srql_agg;

typedef struct {
    const char *name; /* as written, NUL-terminated */
    size_t pos, len;
    bool desc;
    bool dir_given;
} srql_sortkey;

typedef enum { SRQL_IN_EVENTS, SRQL_IN_LOGS, SRQL_IN_ALERTS } srql_in;

typedef struct {
    srql_node *root; /* NULL: every event */
    srql_in in;
    bool has_in;
    /* sort:field:dir or | sort ... */
    srql_sortkey sorts[SRQL_SORTS_MAX];
    size_t nsorts;
    bool has_sort;
    int limit; /* 0 = not given */
    bool has_stats;
    srql_agg aggs[SRQL_AGGS_MAX];
    size_t naggs;
    srql_fref groups[SRQL_GROUPS_MAX];
    size_t ngroups;
    int64_t head; /* 0 = none */
    size_t head_pos, head_len;
    bool similar; /* SIMILAR_TO(...) seen (valid argument) */
    size_t similar_pos, similar_len;
    size_t nterms;
} srql_query;

int srql_parse(srql_arena *a, const char *q, size_t len, srql_query *ret, srql_error *err);

/* ---- cursor (srql_cursor.c) ---- */
#define SRQL_KEYSET_ROWS_MAX 1000000000000000LL /* rows before a keyset page (no OFFSET: only counted) */

typedef struct {
    srql_cursor_kind kind;
    int64_t offset; /* rows before the page (both kinds; only an offset cursor's becomes OFFSET) */
    char time[40];
    char id[40];
} srql_cursor;

uint64_t srql_query_hash(const char *q, size_t len);
/* Decodes and validates a cursor for the query with hash h. -EINVAL when malformed or not
 * made for this query. */
int srql_cursor_decode(const char *s, uint64_t h, srql_cursor *ret);
int srql_cursor_encode(uint64_t h, const srql_cursor *c, char *out, size_t outlen);
