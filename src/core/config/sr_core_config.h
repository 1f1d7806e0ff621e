/* serviceradar-core configuration: one declarative table (sr_config) for parsing,
 * --check-config, --print-default-config and docs. */
#pragma once
#include <stdint.h>

#include "sr_config.h"

typedef struct {
    char *data_dir;
    char *log_level;
    char *pg_conninfo;
    char *migrations_dir;
    char *nats_url;
    char *nats_server_path;
    int64_t nats_port;
    int64_t telemetry_max_age_ms;
    uint64_t telemetry_max_bytes;
    int64_t agents_max_age_ms;
    int64_t logs_max_age_ms;
    uint64_t logs_max_bytes;
    int64_t security_max_age_ms;
    uint64_t security_max_bytes;
    int64_t scans_max_age_ms;
    uint64_t scans_max_bytes;
    int64_t scans_workers;
    uint64_t scans_max_document_bytes;
    int64_t job_scan_parts_retention_ms;
    int64_t retention_scan_parts_age_ms;
    int64_t events_workers;
    int64_t falco_workers;
    int64_t events_batch_size;
    int64_t ingest_workers;
    int64_t batch_size;
    int64_t batch_wait_ms;
    int64_t ack_wait_ms;
    int64_t max_ack_pending;
    int64_t offline_after_ms;
    int64_t sweep_interval_ms;
    char *http_listen;
    char *web_root;
    char *pki_dir;
    int jobs_enabled;
    int64_t jobs_poll_ms;
    int64_t jobs_lease_ms;
    int64_t jobs_retry_ms;
    int64_t job_metrics_rollup_ms;
    int64_t job_metrics_rollup_delay_ms;
    int64_t job_metrics_retention_ms;
    int64_t job_events_retention_ms;
    int64_t job_ingest_batches_retention_ms;
    int64_t job_dead_letters_retention_ms;
    int64_t job_commands_retention_ms;
    int64_t job_search_stats_refresh_ms;
    int64_t search_stats_sample_rows;
    int64_t job_events_trgm_index_ms;
    int64_t job_events_trgm_closed_after_ms;
    int64_t job_events_trgm_max_chunks;
    int64_t retention_metrics_raw_days;
    int64_t retention_metrics_rollup_days;
    int64_t retention_events_days;
    int64_t retention_ingest_batches_days;
    int64_t retention_dead_letters_days;
    int64_t retention_commands_days;
    char *embed_model_dir;
    char *embed_runtime;
    char *embed_provider;
    char *embed_precision;
    int64_t embed_threads;
    int64_t embed_batch;
    int trivy_db_enabled;
    char *trivy_db_source;
    int64_t trivy_db_interval_ms;
    char *trivy_db_ca_file;
    char *trivy_db_username;
    char *trivy_db_password_file;
    int64_t trivy_db_timeout_ms;
    uint64_t trivy_db_max_bytes;
    char *trivy_db_work_dir;
    char *trivy_db_sha256;
} sr_core_config;

extern const sr_config_table sr_core_config_table;

/* Defaults into *c (strings owned by c; release with sr_core_config_free). */
int sr_core_config_defaults(sr_core_config *c);
/* Cross-field checks after loading (e.g. a parseable log level). err gets the reason. */
int sr_core_config_validate(const sr_core_config *c, char *err, size_t errlen);
/* pki_dir, or <data_dir>/pki when empty, into out. */
int sr_core_config_pki_dir(const sr_core_config *c, char *out, size_t outlen);
/* migrations.dir and web.root with their build-time defaults applied. */
const char *sr_core_config_migrations_dir(const sr_core_config *c);
/* embed.model_dir and embed.runtime, or the build's defaults (what `make model` cached). */
const char *sr_core_config_embed_model_dir(const sr_core_config *c);
const char *sr_core_config_embed_runtime(const sr_core_config *c);
/* embed.provider as an sr_embed_provider value (0 auto, 1 cpu, 2 cuda); -EINVAL if unknown. */
int sr_core_config_embed_provider(const sr_core_config *c, int *ret);
const char *sr_core_config_web_root(const sr_core_config *c);
/* trivy_db.work_dir, or <data_dir>/artifacts when empty, into out. */
int sr_core_config_trivy_db_work_dir(const sr_core_config *c, char *out, size_t outlen);
void sr_core_config_free(sr_core_config *c);
