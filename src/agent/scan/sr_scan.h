/* sr_scan: the agent's vulnerability scans. One thread runs a scan of the host and each running
 * container (sr_scan_target) with Trivy (sr_trivy) on a schedule, on a `scan` command and after a
 * new Trivy DB is installed; runs never overlap and requests made during a run coalesce into one
 * more run. Each target's Trivy JSON report and CycloneDX SBOM are cut into ScanPart batches and
 * appended to the spool, so they reach the gateway like telemetry (same durability, same
 * exactly-once key). Scans run at the lowest CPU and I/O priority with bounded parallelism.
 * See docs/internals/scan.md. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_spool.h"

#define SR_SCAN_PART_MAX (512u * 1024u) /* bytes of a document per ScanPart (the contract) */
#define SR_SCAN_COMMAND "scan"

typedef struct {
    const char *agent_id;
    const char *hostname;
    const char *data_dir;      /* <data_dir>/scan holds the time of the last completed run */
    const char *db_dir;        /* Trivy DB directory */
    const char *host_root;     /* "/" */
    const char *proc_root;     /* "/proc" */
    const char *skip_dirs;     /* comma-separated, may be NULL */
    int containers;            /* scan containers too */
    size_t max_containers;
    int parallel;              /* 1..64 */
    int64_t interval_ms;       /* scheduled runs; 0: none */
    int64_t start_delay_ms;    /* a run that is due at start waits this long */
    int64_t timeout_ms;        /* per target */
    uint64_t spool_max_bytes;  /* spool.max_bytes: scans fill at most half of it (a target fails instead) */
} sr_scan_config;

typedef struct {
    uint64_t runs, runs_failed, targets_scanned, targets_failed, parts_spooled;
    int running;
    int64_t last_finished_unix_ms;
} sr_scan_stats;

typedef struct sr_scan sr_scan;

/* Progress of a run: percent 0..100 and a short message; called on the scan thread. */
typedef void (*sr_scan_progress_fn)(unsigned percent, const char *message, void *userdata);

/* Starts the scan thread. The spool must outlive the scanner. Strings are copied. */
int sr_scan_start(const sr_scan_config *cfg, sr_spool *spool, sr_scan **ret);
/* The version ("sha256:…") of the DB in db_dir, sent with every part; NULL or "": unknown. */
void sr_scan_set_db_version(sr_scan *s, const char *version);
/* Asks for a run as soon as the current one (if any) ends. reason is logged. */
void sr_scan_request(sr_scan *s, const char *reason);
/* Runs one scan now on the calling thread (waits for a run in progress to end first).
 * summary (may be NULL) receives a malloc'ed JSON document; err a message on failure. */
int sr_scan_run_now(sr_scan *s, sr_scan_progress_fn progress, void *userdata, int (*cancelled)(void *),
                    char **summary, char *err, size_t errlen);
void sr_scan_get_stats(sr_scan *s, sr_scan_stats *ret);
/* Makes a run in progress end soon (the running Trivy scan is cancelled) and refuses new ones.
 * Accepts NULL. */
void sr_scan_stop(sr_scan *s);
/* Stops, joins the thread and frees. Accepts NULL; returns NULL. */
sr_scan *sr_scan_free(sr_scan *s);

/* Cuts doc into ScanPart batches (at most SR_SCAN_PART_MAX bytes each) and appends them to the
 * spool. Exposed for tests. */
typedef struct {
    const char *agent_id;
    const char *scan_id;   /* 32 hex */
    const char *target;
    const char *target_name;
    const char *kind;      /* "report" or "sbom" */
    const char *db_version;
    const char *scanner_version;
    int64_t started_unix_ms, finished_unix_ms;
    uint32_t targets_in_run;
    uint64_t spool_max_bytes; /* the spool size scans may fill up to (0: no check); the scanner passes half
                               * of spool.max_bytes, so telemetry always keeps the other half */
} sr_scan_doc_info;
/* 0 when bytes of documents (cut into parts) fit in the spool under limit, else -ENOSPC. */
int sr_scan_spool_fits(sr_spool *spool, uint64_t limit, uint64_t bytes);
int sr_scan_spool_document(sr_spool *spool, const sr_scan_doc_info *info, const char *doc, size_t len,
                           uint32_t *ret_parts);
