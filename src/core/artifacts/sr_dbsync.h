/* The Trivy DB sync job (docs/internals/dbsync.md): every trivy_db.interval one core downloads
 * the Trivy vulnerability DB bundle (db.tar.gz) from an OCI registry or an HTTP(S) mirror,
 * verifies its SHA-256, stores it in the NATS Object Store (bucket "artifacts", object
 * "trivy-db") and then signals the new version on the KV bucket "artifacts", key "trivy-db"
 * (docs/internals/contracts.md). A source whose digest equals the signalled version is not
 * downloaded again. The job runs on the job runner's thread (src/core/jobs) under its lease. */
#pragma once
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_core_config.h"
#include "sr_jobs.h"
#include "sr_jobs_builtin.h"

#define SR_DBSYNC_JOB "trivy_db_sync"
#define SR_DBSYNC_BUCKET "artifacts" /* Object Store bucket and KV bucket */
#define SR_DBSYNC_OBJECT "trivy-db"  /* object name and KV key */
#define SR_DBSYNC_EVENT "trivy_db_update"
#define SR_DBSYNC_DEFAULT_SOURCE "oci://ghcr.io/aquasecurity/trivy-db:2"
#define SR_DBSYNC_DEFAULT_INTERVAL_MS (12LL * 3600 * 1000)

typedef struct {
    const char *source;        /* oci://, oci+http://, https:// or http:// (sr_oci_source_parse) */
    const char *ca_file;       /* extra CA bundle (PEM); NULL or "": the system's only */
    const char *username;      /* registry or mirror basic auth; NULL or "": anonymous */
    const char *password_file; /* its password (first line), read at each run */
    const char *sha256;        /* pinned digest of the bundle (64 hex); NULL or "": the source's */
    const char *work_dir;      /* temporary download directory (created, 0700) */
    int64_t timeout_ms;        /* connect timeout and longest stall of a transfer */
    uint64_t max_bytes;        /* cap on the bundle */
    int64_t lease_ms;          /* the job runner's lease, renewed while a download goes on */
    int64_t nats_timeout_ms;   /* per NATS request; 0: 10 s */
    natsConnection *nc;        /* borrowed; must outlive the job runner */
} sr_dbsync_config;

typedef struct sr_dbsync sr_dbsync;

/* Checks and copies cfg (the source is parsed, the digest checked). Calls curl_global_init.
 * 0 or -EINVAL / -ENOMEM with the reason in err. */
int sr_dbsync_new(const sr_dbsync_config *cfg, sr_dbsync **ret, char *err, size_t errlen);
/* Makes a running download stop within about a second (-ECANCELED); call before stopping the
 * job runner. Thread-safe. */
void sr_dbsync_cancel(sr_dbsync *ds);
/* The source without credentials or query, for messages. */
const char *sr_dbsync_source(const sr_dbsync *ds);
/* Accepts NULL; returns NULL. Only after the job runner stopped. */
sr_dbsync *sr_dbsync_free(sr_dbsync *ds);

/* One run: check, download, verify, store, signal. run (may be NULL) is the job runner's run:
 * progress goes to the job's last_message and renews its lease. msg gets the outcome; on
 * failure the previous object and KV value stay as they were. 0 or a negative errno. */
int sr_dbsync_run(sr_dbsync *ds, sr_jobs_run *run, char *msg, size_t msglen, char *err, size_t errlen);

/* For the core: when trivy_db.enabled, creates the sr_dbsync from the trivy_db.* keys (into
 * *ret) and adds the job to s with trivy_db.interval; otherwise *ret is NULL. The caller cancels
 * it before stopping the runner and frees it after. 0 or a negative errno with err. */
int sr_dbsync_setup(const sr_core_config *cfg, natsConnection *nc, sr_jobs_builtin_setup *s, sr_dbsync **ret,
                    char *err, size_t errlen);

/* The job "trivy_db_sync" (default interval 12 h). Its params are an sr_jobs_params whose
 * dbsync points at the sr_dbsync to use. */
extern const sr_jobs_def sr_dbsync_job;
