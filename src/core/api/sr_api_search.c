/* POST /api/v1/query: parses the JSON body, compiles the SRQL (src/lib/srql) and runs the
 * plan read-only with a statement timeout on a pooled connection. The SQL comes from the
 * compiler with every user value as a parameter; this file adds only constant statements. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_api_search.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srql.h"

static const char q_begin[] = "BEGIN READ ONLY";
static const char q_commit[] = "COMMIT";
static const char q_rollback[] = "ROLLBACK";
/* constant text: the timeout comes from this file, never from the request */
#define STR_(x) #x
#define STR(x) STR_(x)
static const char q_timeout[] = "SET LOCAL statement_timeout = " STR(SR_API_QUERY_TIMEOUT_MS);

typedef struct {
    const char *query;
    size_t query_len;
    int limit;
    const char *cursor;
    int explain;
    int histogram;
} query_req;

static void pqclearp(PGresult **r) {
    if (*r)
        PQclear(*r);
}
#define _cleanup_pgresult_ __attribute__((cleanup(pqclearp)))

/* Validates the body against QueryRequest; 0 or -EINVAL with a client-facing reason. */
static int parse_body(json_t *body, query_req *q, char *err, size_t errlen) {
    *q = (query_req){0};
    if (!json_is_object(body)) {
        (void)snprintf(err, errlen, "request body must be a JSON object");
        return -EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "query") == 0) {
            if (!json_is_string(v)) {
                (void)snprintf(err, errlen, "query must be a string");
                return -EINVAL;
            }
            q->query = json_string_value(v);
            q->query_len = json_string_length(v);
        } else if (strcmp(key, "limit") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SRQL_LIMIT_MAX) {
                (void)snprintf(err, errlen, "limit must be an integer from 1 to %d", SRQL_LIMIT_MAX);
                return -EINVAL;
            }
            q->limit = (int)json_integer_value(v);
        } else if (strcmp(key, "cursor") == 0) {
            if (!json_is_string(v) || json_string_length(v) > SRQL_CURSOR_MAX) {
                (void)snprintf(err, errlen, "cursor must be a string of at most %d bytes", SRQL_CURSOR_MAX);
                return -EINVAL;
            }
            q->cursor = json_string_value(v);
        } else if (strcmp(key, "explain") == 0 || strcmp(key, "histogram") == 0) {
            if (!json_is_boolean(v)) {
                (void)snprintf(err, errlen, "%s must be true or false", key);
                return -EINVAL;
            }
            *(strcmp(key, "explain") == 0 ? &q->explain : &q->histogram) = json_is_true(v);
        } else {
            (void)snprintf(err, errlen, "unknown member \"%.64s\" (expected query, limit, cursor, explain, histogram)",
                           key);
            return -EINVAL;
        }
    }
    if (!q->query) {
        (void)snprintf(err, errlen, "query is required");
        return -EINVAL;
    }
    if (q->query_len > SRQL_QUERY_MAX) {
        (void)snprintf(err, errlen, "query too long (at most %d bytes)", SRQL_QUERY_MAX);
        return -EINVAL;
    }
    if (strlen(q->query) != q->query_len) {
        (void)snprintf(err, errlen, "query must not contain NUL characters");
        return -EINVAL;
    }
    return 0;
}

static enum MHD_Result reply_srql_error(sr_api *api, struct MHD_Connection *c, const srql_error *e) {
    int na = e->code == SRQL_ERR_NOT_AVAILABLE;
    json_t *o = json_pack("{s:s,s:s}", "code", na ? "not_available" : "bad_request", "message", e->message);
    if (o && !e->no_position) {
        json_object_set_new(o, "position", json_integer((json_int_t)e->position));
        json_object_set_new(o, "length", json_integer((json_int_t)e->length));
    }
    if (o && e->hint[0])
        json_object_set_new(o, "hint", json_string(e->hint));
    json_t *body = o ? json_pack("{s:o}", "error", o) : NULL;
    return sr_api_reply_json(api, c, na ? 501 : MHD_HTTP_BAD_REQUEST, body);
}

/* One result value as JSON by its column type; NULL on a value the type cannot hold. */
static json_t *cell(const PGresult *res, int row, int col, srql_col_type type) {
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    switch (type) {
    case SRQL_COL_INTEGER: {
        int64_t n;
        return sr_parse_i64(v, INT64_MIN, INT64_MAX, &n) == 0 ? json_integer((json_int_t)n) : NULL;
    }
    case SRQL_COL_NUMBER: {
        double d;
        return sr_parse_double(v, &d) == 0 ? json_real(d) : NULL;
    }
    case SRQL_COL_SEVERITY: {
        int64_t n;
        const char *name = sr_parse_i64(v, 0, 5, &n) == 0 ? srql_severity_name((int)n) : NULL;
        return name ? json_string(name) : NULL;
    }
    case SRQL_COL_JSON:
    case SRQL_COL_TEXT_ARRAY:
        return json_loadb(v, len, JSON_DECODE_ANY, NULL);
    case SRQL_COL_TIMESTAMP:
    case SRQL_COL_TEXT:
    case SRQL_COL_IP:
        break;
    }
    return json_stringn(v, len);
}

static json_t *rows_json(const PGresult *res, int nrows, const srql_plan *p) {
    json_t *rows = json_array();
    for (int r = 0; rows && r < nrows; r++) {
        json_t *row = json_array();
        if (!row || json_array_append_new(rows, row) < 0) {
            json_decref(rows);
            return NULL;
        }
        for (size_t k = 0; k < p->ncolumns; k++) {
            json_t *v = cell(res, r, (int)k, p->columns[k].type);
            if (!v || json_array_append_new(row, v) < 0) {
                json_decref(rows);
                return NULL;
            }
        }
    }
    return rows;
}

/* A failed statement: timeouts and bad values answer the client, the rest is logged. */
static enum MHD_Result reply_db_error(sr_api *api, struct MHD_Connection *c, PGconn *conn, const PGresult *res,
                                      const char *what) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state && strcmp(state, "57014") == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "query took longer than %d s: narrow it with a time range or fields",
                                  SR_API_QUERY_TIMEOUT_MS / 1000);
    if (state && strncmp(state, "22", 2) == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "could not run the query: %s", msg ? msg : state);
    sr_error("api: query: could not %s: %s", what, conn ? PQerrorMessage(conn) : "no connection");
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "could not %s: database unavailable", what);
    return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not %s: database error", what);
}

/* Counts per time bucket over the plan's filter; NULL with *failed set when a statement fails. */
static json_t *histogram(PGconn *conn, const srql_plan *p, PGresult **ret_fail) {
    int64_t range = p->range_s;
    if (range <= 0) {
        PGresult *b = PQexecParams(conn, p->bounds_sql, (int)p->nfilter_params, NULL, p->params, NULL, NULL, 0);
        if (PQresultStatus(b) != PGRES_TUPLES_OK) {
            *ret_fail = b;
            return NULL;
        }
        int64_t lo = 0, hi = 0;
        if (!PQgetisnull(b, 0, 0) && !PQgetisnull(b, 0, 1) &&
            sr_parse_i64(PQgetvalue(b, 0, 0), INT64_MIN, INT64_MAX, &lo) == 0 &&
            sr_parse_i64(PQgetvalue(b, 0, 1), INT64_MIN, INT64_MAX, &hi) == 0)
            range = hi - lo + 1;
        PQclear(b);
    }
    int64_t bucket = srql_bucket_seconds(range);
    char bucket_s[24];
    (void)snprintf(bucket_s, sizeof(bucket_s), "%lld", (long long)bucket);
    const char **params = calloc(p->nfilter_params + 1, sizeof(*params));
    if (!params)
        return NULL;
    memcpy(params, p->params, p->nfilter_params * sizeof(*params));
    params[p->nfilter_params] = bucket_s;
    PGresult *h = PQexecParams(conn, p->histogram_sql, (int)p->nfilter_params + 1, NULL, params, NULL, NULL, 0);
    free(params);
    if (PQresultStatus(h) != PGRES_TUPLES_OK) {
        *ret_fail = h;
        return NULL;
    }
    json_t *buckets = json_array();
    for (int i = 0; buckets && i < PQntuples(h); i++) {
        int64_t n = 0;
        (void)sr_parse_i64(PQgetvalue(h, i, 1), 0, INT64_MAX, &n);
        json_t *b = json_pack("{s:s,s:I}", "time", PQgetvalue(h, i, 0), "count", (json_int_t)n);
        if (!b || json_array_append_new(buckets, b) < 0) {
            json_decref(buckets);
            buckets = NULL;
        }
    }
    PQclear(h);
    return buckets ? json_pack("{s:I,s:o}", "bucket_s", (json_int_t)bucket, "buckets", buckets) : NULL;
}

static json_t *explain_json(const srql_plan *p) {
    json_t *params = json_array();
    for (size_t i = 0; params && i < p->nparams; i++)
        if (json_array_append_new(params, p->params[i] ? json_string(p->params[i]) : json_null()) < 0) {
            json_decref(params);
            params = NULL;
        }
    return params ? json_pack("{s:s,s:o}", "sql", p->sql, "params", params) : NULL;
}

static json_t *columns_json(const srql_plan *p) {
    json_t *cols = json_array();
    for (size_t i = 0; cols && i < p->ncolumns; i++)
        if (json_array_append_new(cols, json_pack("{s:s,s:s}", "name", p->columns[i].name, "type",
                                                  srql_col_type_name(p->columns[i].type))) < 0) {
            json_decref(cols);
            cols = NULL;
        }
    return cols;
}

static json_t *highlight_json(const srql_plan *p) {
    json_t *h = json_array();
    for (size_t i = 0; h && i < p->nhighlight; i++)
        if (json_array_append_new(h, json_string(p->highlight[i])) < 0) {
            json_decref(h);
            h = NULL;
        }
    return h;
}

/* Runs the plan inside the read-only transaction and builds the response. */
static enum MHD_Result run_plan(sr_api *api, struct MHD_Connection *c, PGconn *conn, const srql_plan *p,
                                const query_req *q, int64_t started_ms) {
    _cleanup_pgresult_ PGresult *res =
        PQexecParams(conn, p->sql, (int)p->nparams, NULL, p->params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return reply_db_error(api, c, conn, res, "run the query");
    int n = PQntuples(res);
    int shown = n > p->limit ? p->limit : n;
    json_t *next = json_null();
    if (n > p->limit && p->more_allowed) {
        char cur[SRQL_CURSOR_MAX + 1];
        const char *t = p->kind == SRQL_KIND_EVENTS ? PQgetvalue(res, shown - 1, 0) : NULL;
        const char *id = p->kind == SRQL_KIND_EVENTS ? PQgetvalue(res, shown - 1, 1) : NULL;
        if (srql_cursor_next(p, t, id, cur, sizeof(cur)) < 0) {
            sr_error("api: query: could not make the next cursor");
            return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not make the next cursor");
        }
        next = json_string(cur);
    }
    json_t *rows = rows_json(res, shown, p);
    if (!rows) {
        json_decref(next);
        sr_error("api: query: a result value does not match its column type");
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not format the result");
    }
    json_t *hist = NULL;
    if (q->histogram && p->kind == SRQL_KIND_EVENTS) {
        PGresult *fail = NULL;
        hist = histogram(conn, p, &fail);
        if (!hist) {
            json_decref(rows);
            json_decref(next);
            enum MHD_Result r = fail ? reply_db_error(api, c, conn, fail, "count the histogram")
                                     : sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
            PQclear(fail);
            return r;
        }
    }
    _cleanup_pgresult_ PGresult *done = PQexec(conn, q_commit);
    if (PQresultStatus(done) != PGRES_COMMAND_OK) {
        json_decref(rows);
        json_decref(next);
        json_decref(hist);
        return reply_db_error(api, c, conn, done, "finish the query");
    }
    double elapsed = (double)(sr_mono_ms() - started_ms);
    json_t *body = json_pack("{s:s,s:o,s:o,s:o,s:f,s:o}", "kind", p->kind == SRQL_KIND_EVENTS ? "events" : "stats",
                             "columns", columns_json(p), "rows", rows, "next_cursor", next, "elapsed_ms", elapsed,
                             "highlight", highlight_json(p));
    if (body && hist)
        json_object_set_new(body, "histogram", hist);
    else
        json_decref(hist);
    if (body && q->explain)
        json_object_set_new(body, "explain", explain_json(p));
    return sr_api_reply_json(api, c, MHD_HTTP_OK, body);
}

enum MHD_Result sr_api_post_query(sr_api *api, struct MHD_Connection *c, const sr_api_req *req) {
    int64_t started = sr_mono_ms();
    if (!req->body || req->body_len == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "request body required (QueryRequest JSON)");
    json_error_t je;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "invalid JSON body: %s", je.text);
    query_req q;
    char err[256];
    if (parse_body(body, &q, err, sizeof(err)) < 0) {
        json_decref(body);
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    }
    srql_plan *plan = NULL;
    srql_error se;
    srql_options opt = {.default_limit = q.limit, .cursor = q.cursor};
    int r = srql_compile(q.query, q.query_len, &opt, &plan, &se);
    json_decref(body); /* q's strings are not used after this */
    if (r == -EINVAL)
        return reply_srql_error(api, c, &se);
    if (r < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not compile the query: %s",
                                  strerror(-r));

    PGconn *conn = NULL;
    char perr[256] = "";
    r = sr_api_pool_acquire(api->pool, SR_API_DB_WAIT_MS, &conn, perr, sizeof(perr));
    if (r < 0) {
        /* libpq's text names hosts and ports: the log gets it, the client does not */
        sr_error("api: query: no database connection: %s", perr);
        srql_plan_free(plan);
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "database unavailable: try again later");
    }
    enum MHD_Result ret;
    PGresult *b = PQexec(conn, q_begin);
    PGresult *t = PQresultStatus(b) == PGRES_COMMAND_OK ? PQexec(conn, q_timeout) : NULL;
    if (PQresultStatus(b) != PGRES_COMMAND_OK || PQresultStatus(t) != PGRES_COMMAND_OK)
        ret = reply_db_error(api, c, conn, t ? t : b, "start the query");
    else
        ret = run_plan(api, c, conn, plan, &q, started);
    PQclear(b);
    PQclear(t);
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, q_rollback));
    sr_api_pool_release(api->pool, conn);
    srql_plan_free(plan);
    return ret;
}
