/* Metric jobs: hourly rollups and the retention of raw points and rollups (sr_jobs_builtin.h).
 * The rollup statement itself is the SQL function metric_rollup_hours (migrations/0005). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sr_jobs_builtin.h"
#include "sr_jobs_int.h"
#include "sr_parse.h"
#include "sr_pg.h"

#define MS(col) "floor(extract(epoch from " col ") * 1000)::bigint"
#define FROM_MS(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 millisecond')"
#define HOUR_MS (3600LL * 1000)

#define POINT_CHUNKS                                                                                                   \
    "timescaledb_information.chunks c WHERE c.hypertable_schema = current_schema() "                                  \
    "AND c.hypertable_name = 'metric_points'"

static const char q_lock_state[] = "SELECT 1 FROM metric_storage_state FOR UPDATE";

/* $1 delay ms: where rolling up starts (the watermark, or the oldest raw chunk the first time)
 * and the end of the last complete hour. */
static const char q_rollup_window[] =
    "SELECT " MS("coalesce(s.rollup_done_before, (SELECT min(c.range_start) FROM " POINT_CHUNKS "))") ", " MS(
        "time_bucket(interval '1 hour', now() - $1::bigint * interval '1 millisecond')") " FROM metric_storage_state s";

/* $1 from ms, $2 to ms, $3 merge */
static const char q_rollup_hours[] = "SELECT metric_rollup_hours(" FROM_MS("$1") ", " FROM_MS("$2") ", $3::boolean)";
static const char q_rollup_mark[] = "UPDATE metric_storage_state SET rollup_done_before = " FROM_MS("$1");

/* $1 days */
static const char q_drop_rollups[] =
    "SELECT count(*) FROM drop_chunks('metric_rollups_1h', older_than => now() - $1::integer * interval '1 day')";

/* $1 raw days: the oldest raw chunk that is old enough and wholly rolled up, and whether it lies
 * before raw_kept_from (a chunk made again by points that came after their day was dropped). */
static const char q_oldest_raw_chunk[] =
    "SELECT " MS("c.range_start") ", " MS("c.range_end") ", "
    "(s.raw_kept_from IS NOT NULL AND c.range_end <= s.raw_kept_from) "
    "FROM metric_storage_state s, " POINT_CHUNKS " AND s.rollup_done_before IS NOT NULL "
    "AND c.range_end <= least(now() - $1::integer * interval '1 day', s.rollup_done_before) "
    "ORDER BY c.range_start LIMIT 1";
/* $1 the chunk's end ms */
static const char q_drop_raw[] = "SELECT count(*) FROM drop_chunks('metric_points', older_than => " FROM_MS("$1") ")";
static const char q_mark_raw[] = "UPDATE metric_storage_state SET raw_kept_from = "
                                 "greatest(coalesce(raw_kept_from, " FROM_MS("$1") "), " FROM_MS("$1") ")";

/* Reads column col of row 0 as int64; *ret_null says whether it was NULL. */
static int get_i64(const PGresult *res, int col, int64_t *ret, int *ret_null) {
    if (PQgetisnull(res, 0, col)) {
        *ret_null = 1;
        return 0;
    }
    *ret_null = 0;
    return sr_parse_i64(PQgetvalue(res, 0, col), INT64_MIN, INT64_MAX, ret);
}

static int rollup_range(PGconn *c, int64_t from, int64_t to, int merge, int64_t *ret_rows, char *err,
                        size_t errlen) {
    char f[24], t[24];
    (void)snprintf(f, sizeof(f), "%" PRId64, from);
    (void)snprintf(t, sizeof(t), "%" PRId64, to);
    const char *vals[] = {f, t, merge ? "true" : "false"};
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = sr_jobs_query(c, q_rollup_hours, 3, vals, &res, "roll up metric points", err, errlen);
    if (r < 0)
        return r;
    int null;
    if (get_i64(res, 0, ret_rows, &null) < 0 || null) {
        sr_errf(err, errlen, "metric_rollup_hours returned no count");
        return -EPROTO;
    }
    return 0;
}

/* One step: rolls up at most SR_JOBS_ROLLUP_STEP_MS after the watermark in one transaction.
 * *ret_hours gets the hours rolled up (0: nothing to do), *ret_more whether more are complete. */
static int rollup_step(PGconn *c, const sr_jobs_params *p, int64_t *ret_hours, int64_t *ret_rows, int *ret_more,
                       char *err, size_t errlen) {
    *ret_hours = 0;
    *ret_rows = 0;
    *ret_more = 0;
    int r = sr_jobs_exec(c, "BEGIN", 0, NULL, "begin", err, errlen);
    if (r < 0)
        return r;
    r = sr_jobs_exec(c, q_lock_state, 0, NULL, "lock metric_storage_state", err, errlen);
    if (r < 0)
        return r;
    char delay[24];
    (void)snprintf(delay, sizeof(delay), "%" PRId64, p->rollup_delay_ms);
    const char *vals[] = {delay};
    int64_t start, end;
    {
        _cleanup_pgresult_ PGresult *res = NULL;
        r = sr_jobs_query(c, q_rollup_window, 1, vals, &res, "read the rollup watermark", err, errlen);
        if (r < 0)
            return r;
        int start_null, end_null;
        if (PQntuples(res) != 1 || get_i64(res, 0, &start, &start_null) < 0 || get_i64(res, 1, &end, &end_null) < 0 ||
            end_null) {
            sr_errf(err, errlen, "metric_storage_state: expected one row");
            return -EPROTO;
        }
        if (start_null) /* no metric points yet */
            return sr_jobs_exec(c, "COMMIT", 0, NULL, "commit", err, errlen);
    }
    if (start >= end)
        return sr_jobs_exec(c, "COMMIT", 0, NULL, "commit", err, errlen);
    int64_t to = end - start > SR_JOBS_ROLLUP_STEP_MS ? start + SR_JOBS_ROLLUP_STEP_MS : end;
    r = rollup_range(c, start, to, 0, ret_rows, err, errlen);
    if (r < 0)
        return r;
    char t[24];
    (void)snprintf(t, sizeof(t), "%" PRId64, to);
    const char *mvals[] = {t};
    r = sr_jobs_exec(c, q_rollup_mark, 1, mvals, "move the rollup watermark", err, errlen);
    if (r < 0)
        return r;
    r = sr_jobs_exec(c, "COMMIT", 0, NULL, "commit", err, errlen);
    if (r < 0)
        return r;
    *ret_hours = (to - start) / HOUR_MS;
    *ret_more = to < end;
    return 0;
}

static int metrics_rollup(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    const sr_jobs_params *p = params;
    PGconn *c = sr_jobs_run_conn(run);
    int64_t hours = 0, rows = 0;
    for (;;) {
        int64_t h, n;
        int more;
        int r = rollup_step(c, p, &h, &n, &more, err, errlen);
        if (r < 0)
            return r;
        hours += h;
        rows += n;
        (void)snprintf(msg, msglen, "rolled up %" PRId64 " hours (%" PRId64 " rows)", hours, rows);
        if (!more)
            return 0;
        r = sr_jobs_run_step(run, err, errlen);
        if (r <= 0)
            return r < 0 ? r : 1;
    }
}

/* One step: drops the oldest raw chunk that may go, after a final rollup of its hours. *ret_end
 * gets its end (0: none left). */
static int drop_raw_step(PGconn *c, const sr_jobs_params *p, int64_t *ret_end, char *err, size_t errlen) {
    *ret_end = 0;
    int r = sr_jobs_exec(c, "BEGIN", 0, NULL, "begin", err, errlen);
    if (r < 0)
        return r;
    r = sr_jobs_exec(c, q_lock_state, 0, NULL, "lock metric_storage_state", err, errlen);
    if (r < 0)
        return r;
    char days[24];
    (void)snprintf(days, sizeof(days), "%" PRId64, p->metrics_raw_days);
    const char *vals[] = {days};
    int64_t start, end;
    int merge;
    {
        _cleanup_pgresult_ PGresult *res = NULL;
        r = sr_jobs_query(c, q_oldest_raw_chunk, 1, vals, &res, "list raw metric chunks", err, errlen);
        if (r < 0)
            return r;
        if (PQntuples(res) == 0)
            return sr_jobs_exec(c, "COMMIT", 0, NULL, "commit", err, errlen);
        int n1, n2;
        if (get_i64(res, 0, &start, &n1) < 0 || get_i64(res, 1, &end, &n2) < 0 || n1 || n2) {
            sr_errf(err, errlen, "unreadable chunk range of metric_points");
            return -EPROTO;
        }
        merge = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    }
    int64_t rows;
    r = rollup_range(c, start, end, merge, &rows, err, errlen);
    if (r < 0)
        return r;
    char e[24];
    (void)snprintf(e, sizeof(e), "%" PRId64, end);
    const char *evals[] = {e};
    {
        _cleanup_pgresult_ PGresult *res = NULL;
        r = sr_jobs_query(c, q_drop_raw, 1, evals, &res, "drop a raw metric chunk", err, errlen);
        if (r < 0)
            return r;
        if (strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
            sr_errf(err, errlen, "drop_chunks on metric_points before %" PRId64 " ms dropped %s chunks, not 1", end,
                        PQgetvalue(res, 0, 0));
            return -EPROTO;
        }
    }
    r = sr_jobs_exec(c, q_mark_raw, 1, evals, "move raw_kept_from", err, errlen);
    if (r < 0)
        return r;
    r = sr_jobs_exec(c, "COMMIT", 0, NULL, "commit", err, errlen);
    if (r < 0)
        return r;
    *ret_end = end;
    return 0;
}

static int metrics_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                             size_t errlen) {
    const sr_jobs_params *p = params;
    PGconn *c = sr_jobs_run_conn(run);
    char days[24];
    (void)snprintf(days, sizeof(days), "%" PRId64, p->metrics_rollup_days);
    const char *vals[] = {days};
    char rollup_chunks[24];
    {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = sr_jobs_query(c, q_drop_rollups, 1, vals, &res, "drop rollup chunks", err, errlen);
        if (r < 0)
            return r;
        (void)snprintf(rollup_chunks, sizeof(rollup_chunks), "%s", PQgetvalue(res, 0, 0));
    }
    int64_t dropped = 0;
    for (;;) {
        (void)snprintf(msg, msglen, "dropped %" PRId64 " raw chunks, %s rollup chunks", dropped, rollup_chunks);
        int r = sr_jobs_run_step(run, err, errlen);
        if (r <= 0)
            return r < 0 ? r : 1;
        int64_t end;
        r = drop_raw_step(c, p, &end, err, errlen);
        if (r < 0)
            return r;
        if (!end)
            return 0;
        dropped++;
    }
}

const sr_jobs_def sr_jobs_metrics_rollup = {"metrics_rollup", 5 * 60 * 1000, metrics_rollup};
const sr_jobs_def sr_jobs_metrics_retention = {"metrics_retention", HOUR_MS, metrics_retention};
