/* SRQL: the search language of the events table, compiled to parameterized PostgreSQL.
 * The SQL text holds only $n placeholders for what the user typed; every value travels in
 * params. See docs/internals/srql.md for the grammar, the fields and the SQL it produces. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SRQL_QUERY_MAX 8192      /* bytes of query text */
#define SRQL_DEPTH_MAX 32        /* nesting of parentheses and NOT */
#define SRQL_TERMS_MAX 128       /* field terms, words and phrases */
#define SRQL_LIST_MAX 256        /* items of one (a,b,...) list */
#define SRQL_LIMIT_MAX 1000      /* rows per page */
#define SRQL_LIMIT_DEFAULT 100
#define SRQL_OFFSET_MAX 100000   /* deepest row reachable with an offset cursor */
#define SRQL_RANK_CANDIDATES 10000 /* newest matches scored by sort:relevance */
#define SRQL_CURSOR_MAX 1024     /* bytes of an encoded cursor */
#define SRQL_HIST_BUCKETS 60     /* histogram buckets aimed at */

typedef enum {
    SRQL_ERR_NONE = 0,
    SRQL_ERR_SYNTAX,
    SRQL_ERR_UNKNOWN_FIELD,
    SRQL_ERR_BAD_VALUE,
    SRQL_ERR_NOT_AVAILABLE,
    SRQL_ERR_TOO_COMPLEX,
} srql_error_code;

typedef struct {
    srql_error_code code;
    char message[256];
    size_t position; /* byte offset in the query; position + length <= query length */
    size_t length;   /* bytes of the offending token (0 at the end of the query) */
    char hint[512];  /* what would be accepted there; may be empty */
    int no_position; /* 1: about the cursor, not the query text (position and length are 0) */
} srql_error;

/* "syntax", "unknown_field", "bad_value", "not_available", "too_complex". */
const char *srql_error_code_name(srql_error_code code);

typedef enum {
    SRQL_COL_TIMESTAMP, /* RFC 3339 UTC text, as produced by the SQL */
    SRQL_COL_TEXT,
    SRQL_COL_INTEGER,
    SRQL_COL_NUMBER,
    SRQL_COL_IP,         /* inet text */
    SRQL_COL_JSON,       /* JSON text */
    SRQL_COL_TEXT_ARRAY, /* JSON array text */
    SRQL_COL_SEVERITY,   /* integer 0..5; srql_severity_name() gives the name */
} srql_col_type;

/* "timestamp", "text", "integer", "number", "ip", "json", "text_array", "severity". */
const char *srql_col_type_name(srql_col_type t);
/* "unknown", "info", "low", "medium", "high", "critical"; NULL outside 0..5. */
const char *srql_severity_name(int severity);

typedef struct {
    const char *name;
    srql_col_type type;
} srql_column;

typedef enum { SRQL_KIND_EVENTS, SRQL_KIND_STATS } srql_kind;

typedef enum {
    SRQL_CURSOR_KEYSET, /* (time, id) of the last row: events sorted by time */
    SRQL_CURSOR_OFFSET, /* row offset: other sorts and stats */
} srql_cursor_kind;

typedef struct {
    int default_limit;  /* rows per page when the query sets none: 1..SRQL_LIMIT_MAX, 0 = 100 */
    const char *cursor; /* next_cursor of the previous page of the same query, or NULL */
} srql_options;

typedef struct srql_plan {
    srql_kind kind;
    /* The page query. It asks for limit + 1 rows: a row beyond limit means there is more. */
    const char *sql;
    size_t nparams;
    const char *const *params; /* text values, NULL for SQL NULL */
    size_t ncolumns;
    const srql_column *columns; /* what each result column is, in order */
    size_t nhighlight;
    const char *const *highlight; /* words and phrases searched, as typed */
    int limit;                    /* rows per page */
    int more_allowed;             /* 0 when `| head N` ends the result with this page */
    srql_cursor_kind cursor_kind;
    int64_t offset; /* rows before this page (SRQL_CURSOR_OFFSET: the SQL's OFFSET) */
    /* Histogram (events only): the same filter, counts per time bucket. Its params are the
     * first nfilter_params of params followed by one more, the bucket width in seconds
     * (an integer as text, for $n::bigint). */
    const char *histogram_sql;
    size_t nfilter_params;
    /* Bounds of the matched events for choosing a bucket width when the query has no time
     * range of its own: returns min and max epoch seconds; params as histogram_sql's first
     * nfilter_params. */
    const char *bounds_sql;
    int64_t range_s; /* the query's own time range in seconds (last_24h, [a,b]), 0 = unknown */
} srql_plan;

/* Parses and compiles query[0..len). On success returns 0 and *ret (free with srql_plan_free).
 * On a query error returns -EINVAL and fills *err; -ENOMEM when memory runs out. */
int srql_compile(const char *query, size_t len, const srql_options *opt, srql_plan **ret, srql_error *err);
srql_plan *srql_plan_free(srql_plan *plan);

/* The next_cursor for the page just read, from its last row: time_text and id_text are the
 * values of the row's time and id columns (SRQL_CURSOR_KEYSET; ignored otherwise). Writes a
 * NUL-terminated base64url string; returns 0, -EINVAL or -ENOBUFS. */
int srql_cursor_next(const srql_plan *plan, const char *time_text, const char *id_text, char *out, size_t outlen);

/* Histogram bucket width for a range: about SRQL_HIST_BUCKETS buckets, rounded up to a
 * readable width (1 s, 5 s, ..., 1 h, ..., 1 day, 7 days, 30 days, then whole 365-day years),
 * so never more than SRQL_HIST_BUCKETS + 1 buckets over the range. */
int64_t srql_bucket_seconds(int64_t range_s);
