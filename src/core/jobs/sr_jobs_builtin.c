/* The registry of built-in jobs, their configuration, and the SQL helpers they share. */
#include "sr_jobs_builtin.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sr_jobs_int.h"
#include "sr_pg.h"

/* To add a job: define its sr_jobs_def next to the others, list it here and in
 * SR_JOBS_BUILTIN_N, and give it an interval key in sr_core_config (jobs.<name>.interval). */
const sr_jobs_def *const sr_jobs_builtin[SR_JOBS_BUILTIN_N] = {
    &sr_jobs_metrics_rollup,         &sr_jobs_metrics_retention,  &sr_jobs_events_retention,
    &sr_jobs_ingest_batches_retention, &sr_jobs_dead_letters_retention, &sr_jobs_commands_retention,
    &sr_jobs_search_stats_refresh,   &sr_jobs_events_trgm_index,  &sr_jobs_scan_parts_retention,
};

/* Each job's interval in sr_core_config, in the order of sr_jobs_builtin. */
static const size_t interval_offsets[SR_JOBS_BUILTIN_N] = {
    offsetof(sr_core_config, job_metrics_rollup_ms),
    offsetof(sr_core_config, job_metrics_retention_ms),
    offsetof(sr_core_config, job_events_retention_ms),
    offsetof(sr_core_config, job_ingest_batches_retention_ms),
    offsetof(sr_core_config, job_dead_letters_retention_ms),
    offsetof(sr_core_config, job_commands_retention_ms),
    offsetof(sr_core_config, job_search_stats_refresh_ms),
    offsetof(sr_core_config, job_events_trgm_index_ms),
    offsetof(sr_core_config, job_scan_parts_retention_ms),
};

void sr_jobs_builtin_setup_init(sr_jobs_builtin_setup *s, const sr_core_config *cfg) {
    memset(s, 0, sizeof(*s));
    s->params = (sr_jobs_params){
        .metrics_raw_days = cfg->retention_metrics_raw_days,
        .metrics_rollup_days = cfg->retention_metrics_rollup_days,
        .events_days = cfg->retention_events_days,
        .ingest_batches_days = cfg->retention_ingest_batches_days,
        .dead_letters_days = cfg->retention_dead_letters_days,
        .commands_days = cfg->retention_commands_days,
        .rollup_delay_ms = cfg->job_metrics_rollup_delay_ms,
        .search_sample_rows = cfg->search_stats_sample_rows,
        .events_trgm_closed_ms = cfg->job_events_trgm_closed_after_ms,
        .events_trgm_max_chunks = cfg->job_events_trgm_max_chunks,
        .scan_parts_age_ms = cfg->retention_scan_parts_age_ms,
    };
    for (size_t i = 0; i < SR_JOBS_BUILTIN_N; i++) {
        s->entries[i].def = sr_jobs_builtin[i];
        s->entries[i].interval_ms = *(const int64_t *)(const void *)((const char *)cfg + interval_offsets[i]);
    }
    s->config = (sr_jobs_config){
        .pg_conninfo = cfg->pg_conninfo,
        .poll_ms = cfg->jobs_poll_ms,
        .lease_ms = cfg->jobs_lease_ms,
        .retry_ms = cfg->jobs_retry_ms,
        .jobs = s->entries,
        .n = SR_JOBS_BUILTIN_N,
        .params = &s->params,
    };
}

int sr_jobs_builtin_setup_add(sr_jobs_builtin_setup *s, const sr_jobs_def *def, int64_t interval_ms) {
    if (s->config.n >= sizeof(s->entries) / sizeof(s->entries[0]))
        return -ENOSPC;
    s->entries[s->config.n] = (sr_jobs_entry){.def = def, .interval_ms = interval_ms};
    s->config.n++;
    return 0;
}

/* ---- SQL helpers ---- */

int sr_jobs_query(PGconn *c, const char *sql, int n, const char *const *vals, PGresult **ret, const char *what,
                  char *err, size_t errlen) {
    PGresult *res = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char m[400];
        sr_pg_errmsg(c, res, m, sizeof(m));
        sr_errf(err, errlen, "could not %s: %s", what, m);
        if (res)
            PQclear(res);
        return -EIO;
    }
    *ret = res;
    return 0;
}

int sr_jobs_exec(PGconn *c, const char *sql, int n, const char *const *vals, const char *what, char *err,
                 size_t errlen) {
    _cleanup_pgresult_ PGresult *res = NULL;
    return sr_jobs_query(c, sql, n, vals, &res, what, err, errlen);
}
