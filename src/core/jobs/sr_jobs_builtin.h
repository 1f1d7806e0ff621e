/* The core's built-in jobs: metric rollups, retention of metrics, events and bookkeeping rows,
 * the refresh of the search statistics and the trigram indexes of closed event chunks
 * (docs/internals/jobs.md). Each takes an
 * sr_jobs_params as its params. */
#pragma once
#include <stdint.h>

#include "sr_core_config.h"
#include "sr_jobs.h"

#define SR_JOBS_BUILTIN_N 9
#define SR_JOBS_OPTIONAL_MAX 4 /* jobs added with sr_jobs_builtin_setup_add */
#define SR_JOBS_ROLLUP_STEP_MS (24LL * 3600 * 1000) /* hours rolled up per transaction */
#define SR_JOBS_DELETE_BATCH 10000                  /* rows deleted per statement */

typedef struct {
    int64_t metrics_raw_days;     /* raw points older than this are dropped (whole chunks)... */
    int64_t metrics_rollup_days;  /* ...rollups older than this */
    int64_t events_days;          /* event chunks older than this are dropped */
    int64_t ingest_batches_days;  /* dedupe keys older than this are deleted */
    int64_t dead_letters_days;    /* dead letters older than this are deleted */
    int64_t commands_days;        /* finished commands not updated for this long are deleted */
    int64_t rollup_delay_ms;      /* an hour is rolled up once it ended this long ago */
    int64_t search_sample_rows;   /* handed to search_stats_refresh(sample_rows) */
    int64_t events_trgm_closed_ms;  /* an event chunk is closed this long after its range ended */
    int64_t events_trgm_max_chunks; /* trigram indexes built per run */
    int64_t scan_parts_age_ms;      /* incomplete scan part sets idle this long are deleted */
    struct sr_dbsync *dbsync;       /* trivy_db_sync's state (src/core/artifacts); NULL: not run here */
} sr_jobs_params;

/* metric_points -> metric_rollups_1h for every complete hour after the watermark
 * (metric_storage_state.rollup_done_before), one day per transaction. */
extern const sr_jobs_def sr_jobs_metrics_rollup;
/* Drops rollup chunks older than metrics_rollup_days, then raw chunks older than
 * metrics_raw_days that lie wholly before the rollup watermark, oldest first, each in one
 * transaction with a final rollup of its hours (late points count) and the new
 * metric_storage_state.raw_kept_from. */
extern const sr_jobs_def sr_jobs_metrics_retention;
/* drop_chunks on events older than events_days. */
extern const sr_jobs_def sr_jobs_events_retention;
/* Deletes, SR_JOBS_DELETE_BATCH rows per statement: ingest_batches by committed_at,
 * dead_letters by received_at, finished commands (succeeded, failed, expired) by updated_at. */
extern const sr_jobs_def sr_jobs_ingest_batches_retention;
extern const sr_jobs_def sr_jobs_dead_letters_retention;
extern const sr_jobs_def sr_jobs_commands_retention;
/* SELECT search_stats_refresh(search_sample_rows) when the function exists (migration 0006);
 * otherwise the run succeeds with the message
 * "skipped: function search_stats_refresh(integer) missing". */
extern const sr_jobs_def sr_jobs_search_stats_refresh;
/* Builds the trigram index (message gin_trgm_ops, CREATE INDEX CONCURRENTLY) of at most
 * events_trgm_max_chunks closed event chunks that lack it, newest first: chunks whose range
 * ended events_trgm_closed_ms ago or earlier (events_trgm_pending, migration 0007). An invalid
 * index left by an interrupted build is dropped and built again; a chunk dropped meanwhile is
 * skipped. Message "indexed N of M closed chunks without a trigram index", M counted before
 * the run. */
extern const sr_jobs_def sr_jobs_events_trgm_index;
/* Deletes sets of scan_parts (one document of one scan) whose newest part arrived more than
 * scan_parts_age_ms ago, 1000 sets per statement, and marks their scans' document status
 * 'expired' (src/core/vuln/sr_vuln_jobs.c, docs/internals/vulns.md). */
extern const sr_jobs_def sr_jobs_scan_parts_retention;

/* Every built-in job, in the order above. */
extern const sr_jobs_def *const sr_jobs_builtin[SR_JOBS_BUILTIN_N];

/* The runner configuration of the built-in jobs from the core's configuration: intervals,
 * retention periods, poll, lease and retry. Points into itself (params, entries) and at
 * cfg's strings: keep both alive while a runner uses it. */
typedef struct {
    sr_jobs_params params;
    sr_jobs_entry entries[SR_JOBS_BUILTIN_N + SR_JOBS_OPTIONAL_MAX];
    sr_jobs_config config;
} sr_jobs_builtin_setup;

void sr_jobs_builtin_setup_init(sr_jobs_builtin_setup *s, const sr_core_config *cfg);
/* Adds a job that only some cores run (e.g. trivy_db_sync where trivy_db.enabled) after the
 * built-in ones: only cores that add it claim it. 0, or -ENOSPC beyond SR_JOBS_OPTIONAL_MAX. */
int sr_jobs_builtin_setup_add(sr_jobs_builtin_setup *s, const sr_jobs_def *def, int64_t interval_ms);
