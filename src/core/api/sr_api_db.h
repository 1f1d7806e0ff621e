/* sr_api_db: what every handler that reads PostgreSQL shares: a pool connection held for one
 * request, the error answer when a query fails, and result columns as JSON values. */
#pragma once
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>

#include "sr_api_internal.h"
#include "sr_cleanup.h"

typedef struct {
    sr_api *api;
    PGconn *conn;
} sr_api_lease;

/* Takes a pool connection; on failure answers 503 itself and returns -1 with *done set. */
int sr_api_lease_get(sr_api *api, struct MHD_Connection *c, sr_api_lease *l, enum MHD_Result *done);
/* Gives the connection back (for _cleanup_); accepts a lease without one. */
void sr_api_lease_release(sr_api_lease *l);
/* 503 when the connection broke, 500 otherwise; the message names what failed. */
enum MHD_Result sr_api_db_fail(sr_api *api, struct MHD_Connection *c, sr_api_lease *l, const char *what);
/* PQexecParams with text parameters and text results. */
PGresult *sr_api_exec(PGconn *conn, const char *sql, int n, const char *const *vals);

void sr_api_pqclearp(PGresult **r);
#define _cleanup_pgresult_ _cleanup_(sr_api_pqclearp)

/* Columns as JSON: text ("" when NULL), a time in Unix ms as RFC 3339 (null when NULL), an integer
 * or a number (null when NULL or not one), JSON text parsed (fallback, stolen, when NULL or not
 * JSON). */
json_t *sr_api_col_text(const PGresult *r, int row, int col);
json_t *sr_api_col_time(const PGresult *r, int row, int col);
json_t *sr_api_col_int(const PGresult *r, int row, int col);
json_t *sr_api_col_real(const PGresult *r, int row, int col);
json_t *sr_api_col_json(const PGresult *r, int row, int col, json_t *fallback);
