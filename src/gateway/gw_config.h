/* Gateway configuration: one declarative table (sr_config) drives parsing, --check-config,
 * --print-default-config and the documented defaults. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_config.h"

typedef struct gw_config {
    char *listen;           /* host:port */
    char *tls_ca_file;      /* CA bundle that signs agent certificates (required) */
    char *tls_cert_file;    /* gateway server certificate (required) */
    char *tls_key_file;     /* gateway server key (required) */
    char *tls_crl_file;     /* CRL of the CA; "" = no revocation list */
    char *nats_url;
    char *nats_creds_file;  /* "" = none */
    char *nats_user;        /* "" = none */
    char *nats_password;    /* "" = none */
    char *gateway_id;       /* "" = the host name */
    int64_t heartbeat_interval_ms;
    int64_t publish_timeout_ms;
    uint64_t max_message_bytes;
    int64_t max_points_per_batch;
    int64_t max_calls;
    int64_t shutdown_grace_ms;
    char *log_level;
    /* artifact distribution (gw_artifact) */
    int artifact_enabled;
    char *artifact_cache_dir;        /* files in <dir>/artifacts/trivy-db/ */
    char *artifact_bucket;           /* KV bucket and Object Store bucket */
    uint64_t artifact_chunk_size;    /* Download chunk, at most 2 MiB */
    uint64_t artifact_max_size;      /* largest bundle accepted */
    int64_t artifact_max_downloads;  /* concurrent Download calls */
    int64_t artifact_send_timeout_ms;
    int64_t artifact_retry_ms;
    int64_t artifact_recheck_ms;
} gw_config;

extern const sr_config_table gw_config_table;

/* Defaults into c (all strings allocated). */
int gw_config_init(gw_config *c);
/* Loads a file over the defaults already in c. */
int gw_config_load(gw_config *c, const char *path, char *err, size_t errlen);
/* Checks cross-field rules and fills derived values (gateway_id from the host name).
 * 0 or -EINVAL with err naming the key. */
int gw_config_finalize(gw_config *c, char *err, size_t errlen);
/* Frees the strings; c itself belongs to the caller. */
void gw_config_free(gw_config *c);
