/* Endpoints backed by PostgreSQL (and NATS, the CA): hosts, metrics, commands, enrollment,
 * readiness. Every statement is a constant string with parameters. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sr_api_db.h"
#include "sr_api_internal.h"
#include "sr_cleanup.h"
#include "sr_parse.h"
#include "sr_pki.h"
#include "sr_time.h"

#define SR_API_ENROLL_DAYS 365

/* ---- SQL ---- */

#define MS(col) "floor(extract(epoch from " col ") * 1000)::bigint"
#define FROM_MS(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 millisecond')"

static const char q_select_one[] = "SELECT 1";
static const char q_migrations_applied[] =
    "SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present";
static const char q_migrations_count[] = "SELECT count(*) FROM schema_migrations";

#define HOST_COLUMNS                                                                                                   \
    "agent_id, hostname, status, " MS("first_seen") ", " MS("last_seen") ", agent_version, os, arch, kernel, "        \
                                                                         "array_to_json(capabilities)::text, "        \
                                                                         "gateway, " MS("status_changed_at")

static const char q_hosts[] = "SELECT " HOST_COLUMNS " FROM hosts ORDER BY agent_id LIMIT $1";
static const char q_host[] = "SELECT " HOST_COLUMNS " FROM hosts WHERE agent_id = $1";
static const char q_host_exists[] = "SELECT 1 FROM hosts WHERE agent_id = $1";

/* Points with their series (migrations/0003): the planner finds the series by the unique
 * (agent_id, name, dim) index, then each series' points by (series_id, time). */
#define METRICS_FROM "metric_series s JOIN metric_points p ON p.series_id = s.id"
/* $1 agent_id, $2 name, $3 step seconds, $4 from ms, $5 to ms, $6 row limit [, $7 dim] */
static const char q_metrics_all_dims[] =
    "SELECT dim, " MS("time_bucket($3::bigint * interval '1 second', time)") " AS t, "
    "avg(value), min(value), max(value) FROM " METRICS_FROM " "
    "WHERE agent_id = $1 AND name = $2 AND time >= " FROM_MS("$4") " AND time < " FROM_MS("$5") " "
    "GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $6";
static const char q_metrics_one_dim[] =
    "SELECT dim, " MS("time_bucket($3::bigint * interval '1 second', time)") " AS t, "
    "avg(value), min(value), max(value) FROM " METRICS_FROM " "
    "WHERE agent_id = $1 AND name = $2 AND dim = $7 AND time >= " FROM_MS("$4") " AND time < " FROM_MS("$5") " "
    "GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $6";

/* Where raw points begin (migrations/0005): older ranges are read from the hourly rollups. */
static const char q_raw_from[] = "SELECT " MS("raw_kept_from") " FROM metric_storage_state";
/* Rollups before the raw boundary ($7 ms) and raw points after it, merged per bucket: a bucket's
 * avg weighs each part by its point count. Rollup buckets are at least an hour wide.
 * $1 agent_id, $2 name, $3 step seconds, $4 from ms, $5 to ms, $6 row limit, $7 raw boundary ms
 * [, $8 dim] */
#define METRICS_MIXED(dim_cond)                                                                                        \
    "SELECT dim, t, sum(total) / sum(n)::double precision, min(lo), max(hi) FROM ("                                    \
    "SELECT s.dim, " MS("time_bucket($3::bigint * interval '1 second', p.time)") " AS t, sum(p.value) AS total, "      \
    "count(*) AS n, min(p.value) AS lo, max(p.value) AS hi FROM " METRICS_FROM " "                                     \
    "WHERE s.agent_id = $1 AND s.name = $2" dim_cond " AND p.time >= greatest(" FROM_MS("$4") ", " FROM_MS("$7") ") "  \
    "AND p.time < " FROM_MS("$5") " GROUP BY 1, 2 "                                                                    \
    "UNION ALL "                                                                                                       \
    "SELECT s.dim, " MS("time_bucket(greatest($3::bigint, 3600) * interval '1 second', r.time)") ", "                  \
    "sum(r.avg * r.count), sum(r.count)::bigint, min(r.min), max(r.max) "                                              \
    "FROM metric_series s JOIN metric_rollups_1h r ON r.series_id = s.id "                                             \
    "WHERE s.agent_id = $1 AND s.name = $2" dim_cond " "                                                               \
    "AND r.time >= time_bucket(interval '1 hour', " FROM_MS("$4") ") "                                                 \
    "AND r.time < least(" FROM_MS("$5") ", " FROM_MS("$7") ") GROUP BY 1, 2"                                           \
    ") parts GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $6"
static const char q_metrics_mixed_all_dims[] = METRICS_MIXED("");
static const char q_metrics_mixed_one_dim[] = METRICS_MIXED(" AND s.dim = $8");

/* The scheduled jobs (migrations/0005, src/core/jobs). $1 row limit */
static const char q_jobs[] =
    "SELECT name, floor(extract(epoch from run_interval))::bigint, " MS("next_run_at") ", "
    MS("last_started_at") ", " MS("last_finished_at") ", last_status, last_error, last_message, "
    "last_duration_ms, runs, failures, lease_owner, " MS("lease_until") " FROM jobs ORDER BY name LIMIT $1";

/* Series with a point in the last 24 hours: one index probe per series of the agent. */
static const char q_metric_names[] =
    "SELECT s.name, array_to_json(array_agg(s.dim ORDER BY s.dim))::text FROM metric_series s "
    "WHERE s.agent_id = $1 AND EXISTS (SELECT 1 FROM metric_points p WHERE p.series_id = s.id AND "
    "p.time >= now() - interval '24 hours') GROUP BY s.name ORDER BY s.name LIMIT $2";

/* $1 command_id, $2 agent_id, $3 type, $4 payload (JSON text), $5 issued ms, $6 deadline ms */
static const char q_command_insert[] =
    "INSERT INTO commands (command_id, agent_id, type, payload, issued_at, deadline_at, status, updated_at) "
    "VALUES ($1, $2, $3, $4::jsonb, " FROM_MS("$5") ", " FROM_MS("$6") ", 'pending', now())";
static const char q_command_failed[] =
    "UPDATE commands SET status = 'failed', result = $2::jsonb, updated_at = now() "
    "WHERE command_id = $1 AND status = 'pending'";
static const char q_command_get[] =
    "SELECT command_id, agent_id, type, payload::text, status, " MS("issued_at") ", " MS("deadline_at") ", " MS(
        "updated_at") ", result::text FROM commands WHERE command_id = $1";

/* ---- helpers ---- */


static json_t *number_or_null(const char *s) {
    double d;
    return sr_parse_double(s, &d) == 0 ? json_real(d) : json_null();
}

static json_t *host_from_row(const PGresult *r, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "agent_id", sr_api_col_text(r, i, 0),
                     "hostname", sr_api_col_text(r, i, 1), "status", sr_api_col_text(r, i, 2), "first_seen",
                     sr_api_col_time(r, i, 3), "last_seen", sr_api_col_time(r, i, 4), "agent_version",
                     sr_api_col_text(r, i, 5), "os", sr_api_col_text(r, i, 6), "arch", sr_api_col_text(r, i, 7),
                     "kernel", sr_api_col_text(r, i, 8), "capabilities", sr_api_col_json(r, i, 9, json_array()),
                     "gateway", sr_api_col_text(r, i, 10), "status_changed_at", sr_api_col_time(r, i, 11));
}

/* ---- hosts ---- */

/* Answers a JSON array with one object per row of query (its only parameter is the row limit). */
static enum MHD_Result reply_list(sr_api *api, struct MHD_Connection *c, const char *query, const char *what,
                                  json_t *(*from_row)(const PGresult *r, int i)) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    char lim[24];
    (void)snprintf(lim, sizeof(lim), "%d", SR_API_MAX_ROWS);
    const char *vals[] = {lim};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, query, 1, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, what);
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        if (json_array_append_new(arr, from_row(r, i)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    return sr_api_reply_json(api, c, MHD_HTTP_OK, arr);
}

enum MHD_Result sr_api_get_hosts(sr_api *api, struct MHD_Connection *c) {
    return reply_list(api, c, q_hosts, "list hosts", host_from_row);
}

enum MHD_Result sr_api_get_host(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    const char *vals[] = {t->id};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_host, 1, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "read host");
    if (PQntuples(r) == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown host: %s", t->id);
    return sr_api_reply_json(api, c, MHD_HTTP_OK, host_from_row(r, 0));
}

/* 1 when the host exists, 0 when not, -1 on a database error. */
static int host_exists(PGconn *conn, const char *agent_id) {
    const char *vals[] = {agent_id};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(conn, q_host_exists, 1, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return -1;
    return PQntuples(r) > 0;
}

/* ---- metrics ---- */

enum MHD_Result sr_api_get_host_metrics(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    char err[SR_API_ERR_MAX];
    sr_api_metrics_query q;
    if (sr_api_metrics_query_resolve(t, sr_now_unix_ms(), &q, err, sizeof(err)) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);

    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    int ex = host_exists(l.conn, t->id);
    if (ex < 0)
        return sr_api_db_fail(api, c, &l, "read host");
    if (ex == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown host: %s", t->id);

    int64_t raw_from = 0;
    int has_raw_from = 0;
    {
        _cleanup_pgresult_ PGresult *rf = PQexec(l.conn, q_raw_from);
        if (PQresultStatus(rf) != PGRES_TUPLES_OK)
            return sr_api_db_fail(api, c, &l, "read the raw retention boundary");
        if (PQntuples(rf) == 1 && !PQgetisnull(rf, 0, 0) &&
            sr_parse_i64(PQgetvalue(rf, 0, 0), INT64_MIN, INT64_MAX, &raw_from) == 0)
            has_raw_from = 1;
    }
    sr_api_resolution res = sr_api_metrics_resolution(&q, has_raw_from, raw_from);

    char step[24], from[24], to[24], lim[24], rawb[24];
    (void)snprintf(step, sizeof(step), "%" PRId64, q.step_s);
    (void)snprintf(from, sizeof(from), "%" PRId64, q.from_ms);
    (void)snprintf(to, sizeof(to), "%" PRId64, q.to_ms);
    (void)snprintf(lim, sizeof(lim), "%d", SR_API_MAX_POINTS + 1);
    (void)snprintf(rawb, sizeof(rawb), "%" PRId64, raw_from);
    _cleanup_pgresult_ PGresult *r = NULL;
    if (res == SR_API_RES_RAW) {
        const char *vals[] = {t->id, t->name, step, from, to, lim, t->dim};
        r = t->has_dim ? sr_api_exec(l.conn, q_metrics_one_dim, 7, vals)
                       : sr_api_exec(l.conn, q_metrics_all_dims, 6, vals);
    } else {
        const char *vals[] = {t->id, t->name, step, from, to, lim, rawb, t->dim};
        r = t->has_dim ? sr_api_exec(l.conn, q_metrics_mixed_one_dim, 8, vals)
                       : sr_api_exec(l.conn, q_metrics_mixed_all_dims, 7, vals);
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "query metrics");
    sr_api_lease_release(&l);
    int n = PQntuples(r);
    if (n > SR_API_MAX_POINTS)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "too many points (over %d): choose a dim, raise step or shorten the range",
                                  SR_API_MAX_POINTS);

    char fbuf[40], tbuf[40], rbuf[40];
    (void)sr_api_time_format(q.from_ms, fbuf, sizeof(fbuf));
    (void)sr_api_time_format(q.to_ms, tbuf, sizeof(tbuf));
    json_t *jraw_from = has_raw_from && sr_api_time_format(raw_from, rbuf, sizeof(rbuf)) == 0 ? json_string(rbuf)
                                                                                               : json_null();
    json_t *series = json_array();
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:s,s:o}", "agent_id", t->id, "name", t->name, "from", fbuf,
                            "to", tbuf, "step_s", (json_int_t)q.step_s, "series", series, "resolution",
                            sr_api_resolution_name(res), "raw_from", jraw_from);
    if (!out)
        return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
    json_t *points = NULL;
    const char *cur_dim = NULL;
    for (int i = 0; i < n; i++) {
        const char *dim = PQgetvalue(r, i, 0);
        if (!cur_dim || strcmp(cur_dim, dim) != 0) {
            points = json_array();
            if (json_array_append_new(series, json_pack("{s:s,s:o}", "dim", dim, "points", points)) < 0)
                goto oom;
            cur_dim = dim;
        }
        int64_t tms;
        if (sr_parse_i64(PQgetvalue(r, i, 1), INT64_MIN, INT64_MAX, &tms) < 0)
            tms = 0;
        json_t *pt = json_pack("[I,o,o,o]", (json_int_t)tms, number_or_null(PQgetvalue(r, i, 2)),
                               number_or_null(PQgetvalue(r, i, 3)), number_or_null(PQgetvalue(r, i, 4)));
        if (json_array_append_new(points, pt) < 0)
            goto oom;
    }
    return sr_api_reply_json(api, c, MHD_HTTP_OK, out);
oom:
    json_decref(out);
    return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
}

enum MHD_Result sr_api_get_host_metric_names(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    int ex = host_exists(l.conn, t->id);
    if (ex < 0)
        return sr_api_db_fail(api, c, &l, "read host");
    if (ex == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown host: %s", t->id);
    char lim[24];
    (void)snprintf(lim, sizeof(lim), "%d", SR_API_MAX_ROWS);
    const char *vals[] = {t->id, lim};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_metric_names, 2, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "list metric names");
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        json_t *o = json_pack("{s:o,s:o}", "name", sr_api_col_text(r, i, 0), "dims",
                              sr_api_col_json(r, i, 1, json_array()));
        if (json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return sr_api_reply_json(api, c, MHD_HTTP_OK, arr);
}

/* ---- jobs ---- */

static json_t *text_or_null(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *job_from_row(const PGresult *r, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", sr_api_col_text(r, i, 0),
                     "interval_s", sr_api_col_int(r, i, 1), "next_run_at", sr_api_col_time(r, i, 2), "last_started_at",
                     sr_api_col_time(r, i, 3), "last_finished_at", sr_api_col_time(r, i, 4), "last_status",
                     text_or_null(r, i, 5), "last_error", text_or_null(r, i, 6), "last_message", text_or_null(r, i, 7),
                     "last_duration_ms", sr_api_col_int(r, i, 8), "runs", sr_api_col_int(r, i, 9), "failures",
                     sr_api_col_int(r, i, 10), "lease_owner", text_or_null(r, i, 11), "lease_until",
                     sr_api_col_time(r, i, 12));
}

enum MHD_Result sr_api_get_jobs(sr_api *api, struct MHD_Connection *c) {
    return reply_list(api, c, q_jobs, "list jobs", job_from_row);
}

/* ---- commands ---- */

static int uuid_v4(char out[37]) {
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return 0;
}

static json_t *parse_body(const sr_api_req *req, char *err, size_t errlen) {
    if (!req->body || req->body_len == 0) {
        (void)snprintf(err, errlen, "missing request body");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        (void)snprintf(err, errlen, "invalid JSON body: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        (void)snprintf(err, errlen, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

enum MHD_Result sr_api_post_command(sr_api *api, struct MHD_Connection *c, const sr_api_target *t,
                                    const sr_api_req *req) {
    char err[256];
    json_auto_t *body = parse_body(req, err, sizeof(err));
    if (!body)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    json_t *jtype = json_object_get(body, "type");
    json_t *jpayload = json_object_get(body, "payload");
    if (!json_is_string(jtype) || !sr_api_command_type_valid(json_string_value(jtype)))
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "invalid type (expected a string [a-z_]{1,32})");
    if (jpayload && !json_is_object(jpayload))
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "invalid payload (expected a JSON object)");
    const char *type = json_string_value(jtype); /* owned by body */
    _cleanup_free_ char *payload = jpayload ? json_dumps(jpayload, JSON_COMPACT) : strdup("{}");
    if (!payload)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (!api->nc)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "could not send command: NATS not configured");
    if (natsConnection_IsClosed(api->nc))
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "could not send command: NATS connection closed");

    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    int ex = host_exists(l.conn, t->id);
    if (ex < 0)
        return sr_api_db_fail(api, c, &l, "read host");
    if (ex == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown agent: %s", t->id);

    char id[37];
    if (uuid_v4(id) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not generate a command id");
    int64_t issued = sr_now_unix_ms(), deadline = issued + SR_API_COMMAND_DEADLINE_MS;
    char issued_s[24], deadline_s[24];
    (void)snprintf(issued_s, sizeof(issued_s), "%" PRId64, issued);
    (void)snprintf(deadline_s, sizeof(deadline_s), "%" PRId64, deadline);
    const char *vals[] = {id, t->id, type, payload, issued_s, deadline_s};
    {
        _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_command_insert, 6, vals);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return sr_api_db_fail(api, c, &l, "store command");
    }

    json_t *msg = json_pack("{s:s,s:s,s:s,s:I,s:I}", "command_id", id, "type", type, "payload", payload,
                            "issued_unix_ms", (json_int_t)issued, "deadline_unix_ms", (json_int_t)deadline);
    _cleanup_free_ char *msg_s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    char subject[128];
    (void)snprintf(subject, sizeof(subject), "commands.agent.%s", t->id);
    natsStatus s = msg_s ? natsConnection_Publish(api->nc, subject, msg_s, (int)strlen(msg_s)) : NATS_NO_MEMORY;
    if (s != NATS_OK) {
        json_t *res = json_pack("{s:s}", "error", "could not publish the command on NATS");
        _cleanup_free_ char *res_s = res ? json_dumps(res, JSON_COMPACT) : NULL;
        json_decref(res);
        const char *fvals[] = {id, res_s ? res_s : "{}"};
        PQclear(sr_api_exec(l.conn, q_command_failed, 2, fvals)); /* best effort: the caller gets 503 */
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "could not publish command: %s",
                                  natsStatus_GetText(s));
    }
    return sr_api_reply_json(api, c, MHD_HTTP_ACCEPTED, json_pack("{s:s}", "command_id", id));
}

enum MHD_Result sr_api_get_command(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    const char *vals[] = {t->id};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_command_get, 1, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "read command");
    if (PQntuples(r) == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown command: %s", t->id);
    json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "command_id", sr_api_col_text(r, 0, 0), "agent_id",
                          sr_api_col_text(r, 0, 1), "type", sr_api_col_text(r, 0, 2), "payload",
                          sr_api_col_json(r, 0, 3, json_object()), "status", sr_api_col_text(r, 0, 4), "issued_at",
                          sr_api_col_time(r, 0, 5), "deadline_at", sr_api_col_time(r, 0, 6), "updated_at",
                          sr_api_col_time(r, 0, 7), "result", sr_api_col_json(r, 0, 8, json_null()));
    return sr_api_reply_json(api, c, MHD_HTTP_OK, o);
}

/* ---- enrollment ---- */

enum MHD_Result sr_api_post_enroll(sr_api *api, struct MHD_Connection *c, const sr_api_req *req) {
    char err[256];
    if (!api->pki_dir)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "enrollment not configured (no pki_dir)");
    json_t *body = parse_body(req, err, sizeof(err));
    if (!body)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    json_t *jtoken = json_object_get(body, "token"), *jcsr = json_object_get(body, "csr");
    if (!json_is_string(jtoken) || !json_is_string(jcsr)) {
        json_decref(body);
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "token and csr must be strings");
    }
    char *cert = NULL, *ca = NULL;
    int r = sr_pki_token_redeem(api->pki_dir, json_string_value(jtoken), json_string_value(jcsr),
                                json_string_length(jcsr), SR_API_ENROLL_DAYS, &cert, &ca);
    json_decref(body);
    switch (r) {
    case 0: {
        json_t *o = json_pack("{s:s,s:s}", "certificate", cert, "ca", ca);
        free(cert);
        free(ca);
        return sr_api_reply_json(api, c, MHD_HTTP_OK, o);
    }
    case -EINVAL:
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "invalid token");
    case -EFBIG:
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "csr too large");
    case -EBADMSG:
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "csr is not a valid PEM certificate request");
    case -EKEYREJECTED:
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "csr key not accepted (EC P-256 or RSA 2048-8192 bits)");
    case -EPERM:
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "csr common name differs from the agent_id of the token");
    case -ENOENT:
        return sr_api_reply_error(api, c, MHD_HTTP_FORBIDDEN, "unknown or already used token");
    case -ETIME:
        return sr_api_reply_error(api, c, MHD_HTTP_GONE, "token expired");
    default:
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not issue certificate: %s",
                                  strerror(-r));
    }
}

/* ---- readiness ---- */

enum MHD_Result sr_api_get_readyz(sr_api *api, struct MHD_Connection *c) {
    char dbmsg[300] = "ok", migmsg[300] = "ok";
    const char *natsmsg = "skipped", *ingestmsg = "ok";
    int ready = 1;

    PGconn *conn = NULL;
    char err[256] = "";
    if (sr_api_pool_acquire(api->pool, SR_API_DB_WAIT_MS, &conn, err, sizeof(err)) < 0) {
        (void)snprintf(dbmsg, sizeof(dbmsg), "could not connect: %s", err);
        (void)snprintf(migmsg, sizeof(migmsg), "unknown: database unavailable");
        ready = 0;
    } else {
        PGresult *r = PQexec(conn, q_select_one);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            (void)snprintf(dbmsg, sizeof(dbmsg), "could not run SELECT 1");
            (void)snprintf(migmsg, sizeof(migmsg), "unknown: database unavailable");
            ready = 0;
        }
        PQclear(r);
        if (ready) {
            r = PQexec(conn, q_migrations_applied);
            int present = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                          strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            PQclear(r);
            if (present) {
                r = PQexec(conn, q_migrations_count);
                present = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                          strcmp(PQgetvalue(r, 0, 0), "0") != 0;
                PQclear(r);
            }
            if (!present) {
                (void)snprintf(migmsg, sizeof(migmsg), "no migrations applied");
                ready = 0;
            }
        }
        sr_api_pool_release(api->pool, conn);
    }
    if (api->nc) {
        natsConnStatus ns = natsConnection_Status(api->nc);
        natsmsg = ns == NATS_CONN_STATUS_CONNECTED ? "ok" : "not connected";
        if (ns != NATS_CONN_STATUS_CONNECTED)
            ready = 0;
    }
    if (!atomic_load_explicit(&api->stats->db_connected, memory_order_relaxed)) {
        ingestmsg = "ingest not connected to the database";
        ready = 0;
    }
    json_t *o = json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "status", ready ? "ready" : "not_ready", "checks", "database",
                          dbmsg, "migrations", migmsg, "nats", natsmsg, "ingest", ingestmsg);
    return sr_api_reply_json(api, c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, o);
}
