/* Retention of events and bookkeeping rows, the search statistics refresh and the trigram
 * indexes of closed event chunks (sr_jobs_builtin.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_jobs_builtin.h"
#include "sr_jobs_int.h"
#include "sr_parse.h"
#include "sr_pg.h"

#define HOUR_MS (3600LL * 1000)
#define OLDER_THAN(col) col " < now() - $1::integer * interval '1 day'"

static const char q_drop_events[] =
    "SELECT count(*) FROM drop_chunks('events', older_than => now() - $1::integer * interval '1 day')";

/* $1 days, $2 batch size: each deletes one batch of rows by primary key. */
static const char q_delete_ingest_batches[] =
    "DELETE FROM ingest_batches WHERE (agent_id, epoch, seq) IN (SELECT agent_id, epoch, seq FROM ingest_batches "
    "WHERE " OLDER_THAN("committed_at") " LIMIT $2)";
static const char q_delete_dead_letters[] =
    "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE " OLDER_THAN("received_at") " LIMIT $2)";
static const char q_delete_commands[] =
    "DELETE FROM commands WHERE command_id IN (SELECT command_id FROM commands "
    "WHERE status IN ('succeeded', 'failed', 'expired') AND " OLDER_THAN("updated_at") " LIMIT $2)";

static const char q_search_stats_exists[] = "SELECT to_regprocedure('search_stats_refresh(integer)') IS NOT NULL";
static const char q_search_stats_refresh[] = "SELECT search_stats_refresh($1::integer)";

/* $1 closed_after ms, $2 max chunks (migration 0007) */
static const char q_trgm_pending[] =
    "SELECT chunk, drop_sql, create_sql, pending "
    "FROM events_trgm_pending(now() - $1::bigint * interval '1 millisecond', $2::integer)";
#define SQLSTATE_UNDEFINED_TABLE "42P01"

static int events_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                            size_t errlen) {
    const sr_jobs_params *p = params;
    char days[24];
    (void)snprintf(days, sizeof(days), "%" PRId64, p->events_days);
    const char *vals[] = {days};
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = sr_jobs_query(sr_jobs_run_conn(run), q_drop_events, 1, vals, &res, "drop event chunks", err, errlen);
    if (r < 0)
        return r;
    (void)snprintf(msg, msglen, "dropped %s event chunks", PQgetvalue(res, 0, 0));
    return 0;
}

/* Deletes batches of rows until a batch comes back short. */
static int delete_rows(sr_jobs_run *run, const char *sql, int64_t days, const char *what, char *msg, size_t msglen,
                       char *err, size_t errlen) {
    char d[24], lim[24];
    (void)snprintf(d, sizeof(d), "%" PRId64, days);
    (void)snprintf(lim, sizeof(lim), "%d", SR_JOBS_DELETE_BATCH);
    const char *vals[] = {d, lim};
    int64_t total = 0;
    for (;;) {
        (void)snprintf(msg, msglen, "deleted %" PRId64 " %s", total, what);
        int r = sr_jobs_run_step(run, err, errlen);
        if (r <= 0)
            return r < 0 ? r : 1;
        PGconn *c = sr_jobs_run_conn(run);
        _cleanup_pgresult_ PGresult *res = PQexecParams(c, sql, 2, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char m[400];
            sr_pg_errmsg(c, res, m, sizeof(m));
            sr_errf(err, errlen, "could not delete %s: %s", what, m);
            return -EIO;
        }
        int64_t n;
        if (sr_parse_i64(PQcmdTuples(res), 0, INT64_MAX, &n) < 0) {
            sr_errf(err, errlen, "could not delete %s: no row count", what);
            return -EPROTO;
        }
        total += n;
        if (n < SR_JOBS_DELETE_BATCH) {
            (void)snprintf(msg, msglen, "deleted %" PRId64 " %s", total, what);
            return 0;
        }
    }
}

static int ingest_batches_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                                    size_t errlen) {
    const sr_jobs_params *p = params;
    return delete_rows(run, q_delete_ingest_batches, p->ingest_batches_days, "ingest_batches rows", msg, msglen, err,
                       errlen);
}

static int dead_letters_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                                  size_t errlen) {
    const sr_jobs_params *p = params;
    return delete_rows(run, q_delete_dead_letters, p->dead_letters_days, "dead letters", msg, msglen, err, errlen);
}

static int commands_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                              size_t errlen) {
    const sr_jobs_params *p = params;
    return delete_rows(run, q_delete_commands, p->commands_days, "finished commands", msg, msglen, err, errlen);
}

static int search_stats_refresh(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                                size_t errlen) {
    const sr_jobs_params *p = params;
    PGconn *c = sr_jobs_run_conn(run);
    {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = sr_jobs_query(c, q_search_stats_exists, 0, NULL, &res, "look for search_stats_refresh", err, errlen);
        if (r < 0)
            return r;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            (void)snprintf(msg, msglen, "skipped: function search_stats_refresh(integer) missing");
            return 0;
        }
    }
    char rows[24];
    (void)snprintf(rows, sizeof(rows), "%" PRId64, p->search_sample_rows);
    const char *vals[] = {rows};
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = sr_jobs_query(c, q_search_stats_refresh, 1, vals, &res, "refresh the search statistics", err, errlen);
    if (r < 0)
        return r;
    /* what the function returns (the rows it sampled), when it returns something */
    const char *ret = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "";
    if (ret[0])
        (void)snprintf(msg, msglen, "refreshed (sample_rows %s): %.64s", rows, ret);
    else
        (void)snprintf(msg, msglen, "refreshed (sample_rows %s)", rows);
    return 0;
}

/* Runs one statement of events_trgm_index (no parameters: the statement was built by
 * events_trgm_pending with quoted identifiers). 0, 1 when the chunk is gone (dropped since it was
 * listed), or -EIO. */
static int trgm_exec(PGconn *c, const char *sql, const char *what, const char *chunk, char *err, size_t errlen) {
    _cleanup_pgresult_ PGresult *res = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        return 0;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, SQLSTATE_UNDEFINED_TABLE) == 0)
        return 1;
    char m[400];
    sr_pg_errmsg(c, res, m, sizeof(m));
    sr_errf(err, errlen, "could not %s of chunk %s: %s", what, chunk, m);
    return -EIO;
}

static void trgm_msg(char *msg, size_t msglen, int built, const char *pending, int redone, int gone) {
    int n = snprintf(msg, msglen, "indexed %d of %s closed chunks without a trigram index", built, pending);
    if (n < 0 || (size_t)n >= msglen)
        return;
    if (redone > 0 || gone > 0)
        (void)snprintf(msg + n, msglen - (size_t)n, " (%d invalid rebuilt, %d dropped meanwhile)", redone, gone);
}

/* One chunk per statement, CONCURRENTLY and therefore outside a transaction (the runner's
 * connection is in autocommit): ingest into the chunk goes on while its index is built. */
static int events_trgm_index(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                             size_t errlen) {
    const sr_jobs_params *p = params;
    char closed[24], max[24];
    (void)snprintf(closed, sizeof(closed), "%" PRId64, p->events_trgm_closed_ms);
    (void)snprintf(max, sizeof(max), "%" PRId64, p->events_trgm_max_chunks);
    const char *vals[] = {closed, max};
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = sr_jobs_query(sr_jobs_run_conn(run), q_trgm_pending, 2, vals, &res,
                          "list the event chunks without a trigram index", err, errlen);
    if (r < 0)
        return r;
    int n = PQntuples(res);
    const char *pending = n > 0 ? PQgetvalue(res, 0, 3) : "0";
    int built = 0, redone = 0, gone = 0;
    for (int i = 0; i < n; i++) {
        trgm_msg(msg, msglen, built, pending, redone, gone);
        r = sr_jobs_run_step(run, err, errlen);
        if (r <= 0)
            return r < 0 ? r : 1;
        PGconn *c = sr_jobs_run_conn(run);
        const char *chunk = PQgetvalue(res, i, 0);
        if (!PQgetisnull(res, i, 1)) {
            r = trgm_exec(c, PQgetvalue(res, i, 1), "drop the invalid trigram index", chunk, err, errlen);
            if (r < 0)
                return r;
            redone++;
        }
        r = trgm_exec(c, PQgetvalue(res, i, 2), "build the trigram index", chunk, err, errlen);
        if (r < 0)
            return r;
        if (r > 0)
            gone++;
        else
            built++;
    }
    trgm_msg(msg, msglen, built, pending, redone, gone);
    return 0;
}

const sr_jobs_def sr_jobs_events_retention = {"events_retention", HOUR_MS, events_retention};
const sr_jobs_def sr_jobs_ingest_batches_retention = {"ingest_batches_retention", HOUR_MS, ingest_batches_retention};
const sr_jobs_def sr_jobs_dead_letters_retention = {"dead_letters_retention", HOUR_MS, dead_letters_retention};
const sr_jobs_def sr_jobs_commands_retention = {"commands_retention", HOUR_MS, commands_retention};
const sr_jobs_def sr_jobs_search_stats_refresh = {"search_stats_refresh", HOUR_MS, search_stats_refresh};
const sr_jobs_def sr_jobs_events_trgm_index = {"events_trgm_index", HOUR_MS / 6, events_trgm_index};
