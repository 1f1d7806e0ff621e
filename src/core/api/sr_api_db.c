#include "sr_api_db.h"

#include <stdint.h>

#include "sr_parse.h"

int sr_api_lease_get(sr_api *api, struct MHD_Connection *c, sr_api_lease *l, enum MHD_Result *done) {
    char err[256] = "";
    l->api = api;
    l->conn = NULL;
    if (sr_api_pool_acquire(api->pool, SR_API_DB_WAIT_MS, &l->conn, err, sizeof(err)) < 0) {
        *done = sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "database unavailable: %s", err);
        return -1;
    }
    return 0;
}

void sr_api_lease_release(sr_api_lease *l) {
    if (l->conn)
        sr_api_pool_release(l->api->pool, l->conn);
    l->conn = NULL;
}

enum MHD_Result sr_api_db_fail(sr_api *api, struct MHD_Connection *c, sr_api_lease *l, const char *what) {
    if (PQstatus(l->conn) != CONNECTION_OK)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "could not %s: database unavailable", what);
    return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not %s: database error", what);
}

PGresult *sr_api_exec(PGconn *conn, const char *sql, int n, const char *const *vals) {
    return PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
}

void sr_api_pqclearp(PGresult **r) {
    if (*r)
        PQclear(*r);
}

json_t *sr_api_col_text(const PGresult *r, int row, int col) {
    return json_string(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

json_t *sr_api_col_time(const PGresult *r, int row, int col) {
    int64_t ms;
    char buf[40];
    if (PQgetisnull(r, row, col) || sr_parse_i64(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, &ms) < 0 ||
        sr_api_time_format(ms, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

json_t *sr_api_col_int(const PGresult *r, int row, int col) {
    int64_t v;
    if (PQgetisnull(r, row, col) || sr_parse_i64(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, &v) < 0)
        return json_null();
    return json_integer((json_int_t)v);
}

json_t *sr_api_col_real(const PGresult *r, int row, int col) {
    double d;
    if (PQgetisnull(r, row, col) || sr_parse_double(PQgetvalue(r, row, col), &d) < 0)
        return json_null();
    return json_real(d);
}

json_t *sr_api_col_json(const PGresult *r, int row, int col, json_t *fallback) {
    if (PQgetisnull(r, row, col))
        return fallback;
    json_t *j = json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
    if (!j)
        return fallback;
    json_decref(fallback);
    return j;
}
