#include "sr_core_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sr_log.h"
#include "sr_oci.h"

#ifndef SR_MIGRATIONS_DIR
#define SR_MIGRATIONS_DIR "migrations"
#endif
#ifndef SR_EMBED_MODEL_DIR
#define SR_EMBED_MODEL_DIR "all-MiniLM-L6-v2"
#endif
#ifndef SR_ORT_LIBRARY
#define SR_ORT_LIBRARY "libonnxruntime.so.1"
#endif
#ifndef SR_WEB_ROOT
#define SR_WEB_ROOT "web/dist"
#endif

#define DAY_MS INT64_C(86400000)

#define E(key, type, field, def, min, max, help) {key, type, offsetof(sr_core_config, field), def, min, max, help}
static const sr_config_entry entries[] = {
    E("data_dir", SR_CFG_STRING, data_dir, "./.data/core", 0, 0, "directory for the core's state (NATS store, PKI)"),
    E("log.level", SR_CFG_STRING, log_level, "info", 0, 0, "debug, info, warn or error"),
    E("pg.conninfo", SR_CFG_STRING, pg_conninfo, "host=127.0.0.1 port=55432 user=postgres dbname=serviceradar", 0, 0,
      "libpq connection string; the database is created when missing"),
    E("migrations.dir", SR_CFG_STRING, migrations_dir, "", 0, 0,
      "directory of numbered .sql migrations applied at start; empty: the migrations/ of the source tree this "
      "binary was built from"),
    E("nats.url", SR_CFG_STRING, nats_url, "", 0, 0,
      "NATS server to use; empty: start and supervise a local nats-server"),
    E("nats.server_path", SR_CFG_STRING, nats_server_path, "", 0, 0,
      "nats-server binary for the supervised server; empty: $SR_NATS_SERVER, then PATH"),
    E("nats.port", SR_CFG_INT, nats_port, "4222", 1, 65535, "port of the supervised nats-server (127.0.0.1)"),
    E("nats.telemetry_max_age", SR_CFG_DURATION, telemetry_max_age_ms, "168h", 60000, 3650 * DAY_MS,
      "how long stream TELEMETRY keeps messages"),
    E("nats.telemetry_max_bytes", SR_CFG_SIZE, telemetry_max_bytes, "0", 0, 0,
      "size limit of stream TELEMETRY (oldest dropped first); 0: unlimited"),
    E("nats.logs_max_age", SR_CFG_DURATION, logs_max_age_ms, "168h", 60000, 3650 * DAY_MS,
      "how long stream LOGS keeps messages"),
    E("nats.logs_max_bytes", SR_CFG_SIZE, logs_max_bytes, "0", 0, 0,
      "size limit of stream LOGS (oldest dropped first); 0: unlimited"),
    E("nats.security_max_age", SR_CFG_DURATION, security_max_age_ms, "168h", 60000, 3650 * DAY_MS,
      "how long stream SECURITY keeps messages"),
    E("nats.security_max_bytes", SR_CFG_SIZE, security_max_bytes, "0", 0, 0,
      "size limit of stream SECURITY (oldest dropped first); 0: unlimited"),
    E("nats.scans_max_age", SR_CFG_DURATION, scans_max_age_ms, "168h", 60000, 3650 * DAY_MS,
      "how long stream SCANS keeps messages (parts of Trivy reports and SBOMs)"),
    E("nats.scans_max_bytes", SR_CFG_SIZE, scans_max_bytes, "0", 0, 0,
      "size limit of stream SCANS (oldest dropped first); 0: unlimited"),
    E("nats.agents_max_age", SR_CFG_DURATION, agents_max_age_ms, "24h", 60000, 3650 * DAY_MS,
      "how long stream AGENTS keeps messages"),
    E("ingest.workers", SR_CFG_INT, ingest_workers, "2", 1, 16, "metrics ingest threads (one database connection each)"),
    E("ingest.batch_size", SR_CFG_INT, batch_size, "256", 1, 4096, "messages fetched per transaction"),
    E("ingest.batch_wait", SR_CFG_DURATION, batch_wait_ms, "500ms", 10, 60000,
      "longest wait for a batch to fill"),
    E("events.workers", SR_CFG_INT, events_workers, "2", 1, 16,
      "log event ingest threads on consumer core-logs (one database connection each)"),
    E("events.falco_workers", SR_CFG_INT, falco_workers, "1", 1, 16,
      "Falco alert ingest threads on consumer core-falco (one database connection each)"),
    E("events.batch_size", SR_CFG_INT, events_batch_size, "64", 1, 4096,
      "messages an events thread fetches per transaction (a log batch holds up to 10,000 records)"),
    E("scans.workers", SR_CFG_INT, scans_workers, "1", 1, 8,
      "vulnerability scan ingest threads on consumer core-scans (one database connection each)"),
    E("scans.max_document_bytes", SR_CFG_SIZE, scans_max_document_bytes, "128m", 1048576, 1073741824,
      "largest Trivy report or SBOM the core assembles and parses; larger ones are dead letters"),
    E("ingest.ack_wait", SR_CFG_DURATION, ack_wait_ms, "30s", 1000, 3600000,
      "redelivery after this long without an acknowledgement"),
    E("ingest.max_ack_pending", SR_CFG_INT, max_ack_pending, "20000", 1000, 10000000,
      "unacknowledged messages the consumer core-metrics allows"),
    E("agents.offline_after", SR_CFG_DURATION, offline_after_ms, "45s", 1000, DAY_MS,
      "a host without heartbeat or metrics for this long is marked offline (3 x heartbeat interval)"),
    E("agents.sweep_interval", SR_CFG_DURATION, sweep_interval_ms, "5s", 100, 3600000,
      "how often offline hosts and expired commands are looked for"),
    E("http.listen", SR_CFG_STRING, http_listen, "127.0.0.1:8080", 0, 0, "HTTP API and web UI address"),
    E("web.root", SR_CFG_STRING, web_root, "", 0, 0,
      "directory of the built web UI; empty: the web/dist of the source tree this binary was built from"),
    E("pki.dir", SR_CFG_STRING, pki_dir, "", 0, 0, "CA and certificates; empty: <data_dir>/pki"),
    E("jobs.enabled", SR_CFG_BOOL, jobs_enabled, "true", 0, 0,
      "run the scheduled jobs (rollups, retention); cores sharing a database run each due job once"),
    E("jobs.poll", SR_CFG_DURATION, jobs_poll_ms, "10s", 100, 3600000, "how often due jobs are looked for"),
    E("jobs.lease", SR_CFG_DURATION, jobs_lease_ms, "10m", 10000, DAY_MS,
      "a claimed job is taken over by another core when its runner has not renewed the claim for this long; "
      "also the longest statement of a job"),
    E("jobs.retry", SR_CFG_DURATION, jobs_retry_ms, "1m", 1000, DAY_MS,
      "a failed job runs again after this long (or its interval, when shorter)"),
    E("jobs.metrics_rollup.interval", SR_CFG_DURATION, job_metrics_rollup_ms, "5m", 1000, DAY_MS,
      "how often complete hours of metric points are rolled up into metric_rollups_1h"),
    E("jobs.metrics_rollup.delay", SR_CFG_DURATION, job_metrics_rollup_delay_ms, "5m", 0, DAY_MS,
      "an hour is rolled up once it ended this long ago"),
    E("jobs.metrics_retention.interval", SR_CFG_DURATION, job_metrics_retention_ms, "1h", 1000, DAY_MS,
      "how often old metric chunks are dropped"),
    E("jobs.events_retention.interval", SR_CFG_DURATION, job_events_retention_ms, "1h", 1000, DAY_MS,
      "how often old event chunks are dropped"),
    E("jobs.ingest_batches_retention.interval", SR_CFG_DURATION, job_ingest_batches_retention_ms, "1h", 1000,
      DAY_MS, "how often old dedupe keys are deleted"),
    E("jobs.dead_letters_retention.interval", SR_CFG_DURATION, job_dead_letters_retention_ms, "1h", 1000, DAY_MS,
      "how often old dead letters are deleted"),
    E("jobs.commands_retention.interval", SR_CFG_DURATION, job_commands_retention_ms, "1h", 1000, DAY_MS,
      "how often old finished commands are deleted"),
    E("jobs.scan_parts_retention.interval", SR_CFG_DURATION, job_scan_parts_retention_ms, "1h", 1000, DAY_MS,
      "how often incomplete sets of scan parts are deleted"),
    E("jobs.search_stats_refresh.interval", SR_CFG_DURATION, job_search_stats_refresh_ms, "1h", 1000, DAY_MS,
      "how often search_stats_refresh() runs (skipped while the database lacks the function)"),
    E("jobs.search_stats_refresh.sample_rows", SR_CFG_INT, search_stats_sample_rows, "100000", 1, 10000000,
      "sample_rows handed to search_stats_refresh()"),
    E("jobs.events_trgm_index.interval", SR_CFG_DURATION, job_events_trgm_index_ms, "10m", 1000, DAY_MS,
      "how often closed event chunks get their trigram index on message (substring search)"),
    E("jobs.events_trgm_index.closed_after", SR_CFG_DURATION, job_events_trgm_closed_after_ms, "1h", 0, 30 * DAY_MS,
      "an event chunk counts as closed (and is indexed) this long after its time range ended"),
    E("jobs.events_trgm_index.max_chunks", SR_CFG_INT, job_events_trgm_max_chunks, "4", 1, 1000,
      "trigram indexes built per run, newest chunk first"),
    E("retention.metrics_raw_days", SR_CFG_INT, retention_metrics_raw_days, "30", 1, 3650,
      "raw metric points are dropped (whole days) after this many days, once their hours are rolled up"),
    E("retention.metrics_rollup_days", SR_CFG_INT, retention_metrics_rollup_days, "400", 1, 3650,
      "hourly metric rollups are dropped after this many days"),
    E("retention.events_days", SR_CFG_INT, retention_events_days, "90", 1, 3650,
      "events are dropped (whole days) after this many days"),
    E("retention.ingest_batches_days", SR_CFG_INT, retention_ingest_batches_days, "7", 1, 3650,
      "dedupe keys of stored batches are deleted after this many days (at least nats.telemetry_max_age)"),
    E("retention.dead_letters_days", SR_CFG_INT, retention_dead_letters_days, "30", 1, 3650,
      "dead letters are deleted after this many days"),
    E("retention.scan_parts_age", SR_CFG_DURATION, retention_scan_parts_age_ms, "24h", 60000, 30 * DAY_MS,
      "staged parts of a scan document still incomplete this long after its last part arrived are deleted"),
    E("retention.commands_days", SR_CFG_INT, retention_commands_days, "30", 1, 3650,
      "finished commands are deleted this many days after their last update"),
    E("embed.model_dir", SR_CFG_STRING, embed_model_dir, "", 0, 0,
      "sentence-embedding model: model.onnx + vocab.txt (or tokenizer.json); empty: the all-MiniLM-L6-v2 that "
      "`make model` cached when this binary was built"),
    E("embed.runtime", SR_CFG_STRING, embed_runtime, "", 0, 0,
      "ONNX Runtime library (libonnxruntime.so) loaded at start; empty: the one `make model` cached"),
    E("embed.provider", SR_CFG_STRING, embed_provider, "auto", 0, 0,
      "auto (CUDA when an NVIDIA GPU and a CUDA-enabled runtime are present, else CPU), cpu or cuda"),
    E("embed.precision", SR_CFG_STRING, embed_precision, "fp32", 0, 0,
      "fp32 (model.onnx) or int8 (model_int8.onnx: faster on CPUs, slightly less exact)"),
    E("embed.threads", SR_CFG_INT, embed_threads, "0", 0, 256, "inference threads; 0: the CPUs the core may use"),
    E("embed.batch", SR_CFG_INT, embed_batch, "32", 1, 1024, "texts per inference call"),
    E("trivy_db.enabled", SR_CFG_BOOL, trivy_db_enabled, "true", 0, 0,
      "download the Trivy vulnerability DB for the agents (job trivy_db_sync; one core per database runs it)"),
    E("trivy_db.source", SR_CFG_STRING, trivy_db_source, "oci://ghcr.io/aquasecurity/trivy-db:2", 0, 0,
      "where the Trivy DB comes from: oci://host[:port]/repository:tag (or @sha256:...), oci+http://... for a "
      "registry without TLS, or the https:// (http://) URL of db.tar.gz on a mirror, next to <url>.sha256"),
    E("trivy_db.interval", SR_CFG_DURATION, trivy_db_interval_ms, "12h", 60000, 30 * DAY_MS,
      "how often the source is checked for a new Trivy DB"),
    E("trivy_db.ca_file", SR_CFG_STRING, trivy_db_ca_file, "", 0, 0,
      "PEM CA bundle trusted in addition to the system's (private registry or mirror)"),
    E("trivy_db.username", SR_CFG_STRING, trivy_db_username, "", 0, 0,
      "registry (token realm) or mirror basic-auth user; empty: anonymous"),
    E("trivy_db.password_file", SR_CFG_STRING, trivy_db_password_file, "", 0, 0,
      "file whose first line is the password of trivy_db.username (read at each run)"),
    E("trivy_db.timeout", SR_CFG_DURATION, trivy_db_timeout_ms, "60s", 1000, 3600000,
      "connect timeout, and a transfer that moves no byte for this long fails"),
    E("trivy_db.max_bytes", SR_CFG_SIZE, trivy_db_max_bytes, "2G", 1024, INT64_C(64) << 30,
      "largest Trivy DB bundle accepted"),
    E("trivy_db.work_dir", SR_CFG_STRING, trivy_db_work_dir, "", 0, 0,
      "directory of the temporary download; empty: <data_dir>/artifacts"),
    E("trivy_db.sha256", SR_CFG_STRING, trivy_db_sha256, "", 0, 0,
      "pinned SHA-256 (64 hex) of the bundle; empty: the registry's layer digest or the mirror's <url>.sha256"),
};
#undef E

const sr_config_table sr_core_config_table = {entries, sizeof(entries) / sizeof(entries[0])};

int sr_core_config_defaults(sr_core_config *c) {
    memset(c, 0, sizeof(*c));
    return sr_config_defaults(&sr_core_config_table, c);
}

static int trivy_db_validate(const sr_core_config *c, char *err, size_t errlen) {
    char perr[512];
    if (sr_oci_source_parse(c->trivy_db_source, NULL, NULL, perr, sizeof(perr)) < 0) {
        snprintf(err, errlen, "trivy_db.source: %s", perr);
        return -EINVAL;
    }
    const char *h = c->trivy_db_sha256;
    size_t n = strlen(h);
    if (n && (n != 64 || strspn(h, "0123456789abcdefABCDEF") != 64)) {
        snprintf(err, errlen, "trivy_db.sha256: expected 64 hex digits");
        return -EINVAL;
    }
    if (c->trivy_db_password_file[0] && !c->trivy_db_username[0]) {
        snprintf(err, errlen, "trivy_db.password_file needs trivy_db.username");
        return -EINVAL;
    }
    return 0;
}

int sr_core_config_validate(const sr_core_config *c, char *err, size_t errlen) {
    sr_log_level lvl;
    if (sr_log_level_parse(c->log_level, &lvl) < 0) {
        snprintf(err, errlen, "log.level: \"%s\" is not debug, info, warn or error", c->log_level);
        return -EINVAL;
    }
    if (!c->data_dir[0]) {
        snprintf(err, errlen, "data_dir: must not be empty");
        return -EINVAL;
    }
    if (!c->pg_conninfo[0]) {
        snprintf(err, errlen, "pg.conninfo: must not be empty");
        return -EINVAL;
    }
    if (c->batch_wait_ms >= c->ack_wait_ms) {
        snprintf(err, errlen, "ingest.batch_wait must be shorter than ingest.ack_wait");
        return -EINVAL;
    }
    if (c->max_ack_pending < c->batch_size * c->ingest_workers) {
        snprintf(err, errlen, "ingest.max_ack_pending must be at least ingest.batch_size x ingest.workers");
        return -EINVAL;
    }
    int64_t events_threads = c->events_workers > c->falco_workers ? c->events_workers : c->falco_workers;
    if (c->max_ack_pending < c->events_batch_size * events_threads) {
        snprintf(err, errlen, "ingest.max_ack_pending must be at least events.batch_size x events.workers "
                              "(and x events.falco_workers)");
        return -EINVAL;
    }
    if (c->retention_metrics_rollup_days < c->retention_metrics_raw_days) {
        snprintf(err, errlen, "retention.metrics_rollup_days must be at least retention.metrics_raw_days");
        return -EINVAL;
    }
    if (strcmp(c->embed_precision, "fp32") != 0 && strcmp(c->embed_precision, "int8") != 0) {
        snprintf(err, errlen, "embed.precision: \"%s\" is not fp32 or int8", c->embed_precision);
        return -EINVAL;
    }
    if (sr_core_config_embed_provider(c, NULL) < 0) {
        snprintf(err, errlen, "embed.provider: \"%s\" is not auto, cpu or cuda", c->embed_provider);
        return -EINVAL;
    }
    if (trivy_db_validate(c, err, errlen) < 0)
        return -EINVAL;
    if (c->retention_ingest_batches_days * DAY_MS < c->telemetry_max_age_ms) {
        snprintf(err, errlen,
                 "retention.ingest_batches_days must cover nats.telemetry_max_age (a redelivered batch would be "
                 "stored twice)");
        return -EINVAL;
    }
    return 0;
}

int sr_core_config_pki_dir(const sr_core_config *c, char *out, size_t outlen) {
    int n = c->pki_dir && c->pki_dir[0] ? snprintf(out, outlen, "%s", c->pki_dir)
                                        : snprintf(out, outlen, "%s/pki", c->data_dir);
    return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : 0;
}

/* The defaults name the build's source tree at run time, so sample files and --print-default-config
 * stay the same for every checkout. */
const char *sr_core_config_migrations_dir(const sr_core_config *c) {
    return c->migrations_dir && c->migrations_dir[0] ? c->migrations_dir : SR_MIGRATIONS_DIR;
}

const char *sr_core_config_web_root(const sr_core_config *c) {
    return c->web_root && c->web_root[0] ? c->web_root : SR_WEB_ROOT;
}

int sr_core_config_trivy_db_work_dir(const sr_core_config *c, char *out, size_t outlen) {
    int n = c->trivy_db_work_dir && c->trivy_db_work_dir[0] ? snprintf(out, outlen, "%s", c->trivy_db_work_dir)
                                                            : snprintf(out, outlen, "%s/artifacts", c->data_dir);
    return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : 0;
}

const char *sr_core_config_embed_model_dir(const sr_core_config *c) {
    return c->embed_model_dir && c->embed_model_dir[0] ? c->embed_model_dir : SR_EMBED_MODEL_DIR;
}

const char *sr_core_config_embed_runtime(const sr_core_config *c) {
    return c->embed_runtime && c->embed_runtime[0] ? c->embed_runtime : SR_ORT_LIBRARY;
}

int sr_core_config_embed_provider(const sr_core_config *c, int *ret) {
    static const char *const names[] = {"auto", "cpu", "cuda"};
    for (int i = 0; i < 3; i++)
        if (c->embed_provider && strcmp(c->embed_provider, names[i]) == 0) {
            if (ret)
                *ret = i;
            return 0;
        }
    return -EINVAL;
}

void sr_core_config_free(sr_core_config *c) { sr_config_free(&sr_core_config_table, c); }
