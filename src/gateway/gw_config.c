#include "gw_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_log.h"
#include "sr_telemetry.h"

#define OFF(f) offsetof(gw_config, f)
#define GW_ARTIFACT_CHUNK_LIMIT (2 * 1024 * 1024) /* ArtifactChunk.data, agent.proto */

static const sr_config_entry entries[] = {
    {"listen", SR_CFG_STRING, OFF(listen), "127.0.0.1:50052", 0, 0, "gRPC listen address, host:port"},
    {"tls.ca_file", SR_CFG_STRING, OFF(tls_ca_file), "", 0, 0,
     "PEM CA bundle that must have signed agent certificates (required)"},
    {"tls.cert_file", SR_CFG_STRING, OFF(tls_cert_file), "", 0, 0, "gateway server certificate chain, PEM (required)"},
    {"tls.key_file", SR_CFG_STRING, OFF(tls_key_file), "", 0, 0, "gateway server private key, PEM (required)"},
    {"tls.crl_file", SR_CFG_STRING, OFF(tls_crl_file), "", 0, 0,
     "CRL of the CA, PEM or DER; revoked agents are refused; reloaded when its mtime changes (empty: none)"},
    {"nats.url", SR_CFG_STRING, OFF(nats_url), "nats://127.0.0.1:4222", 0, 0, "NATS server URL(s), comma separated"},
    {"nats.creds_file", SR_CFG_STRING, OFF(nats_creds_file), "", 0, 0, "NATS credentials file (empty: none)"},
    {"nats.user", SR_CFG_STRING, OFF(nats_user), "", 0, 0, "NATS user name (empty: none)"},
    {"nats.password", SR_CFG_STRING, OFF(nats_password), "", 0, 0, "NATS password"},
    {"gateway.id", SR_CFG_STRING, OFF(gateway_id), "", 0, 0, "gateway id reported in agent events (empty: host name)"},
    {"heartbeat_interval", SR_CFG_DURATION, OFF(heartbeat_interval_ms), "15s", 1000, 3600000,
     "heartbeat interval announced to agents"},
    {"publish_timeout", SR_CFG_DURATION, OFF(publish_timeout_ms), "10s", 100, 300000,
     "how long an upload waits for JetStream acknowledgements before failing UNAVAILABLE"},
    {"max_message_bytes", SR_CFG_SIZE, OFF(max_message_bytes), "4M", 1024, 64 * 1024 * 1024,
     "largest gRPC message accepted; larger ones fail the call with RESOURCE_EXHAUSTED"},
    {"max_points_per_batch", SR_CFG_INT, OFF(max_points_per_batch), "10000", 1, SR_TELEMETRY_MAX_POINTS,
     "most metric points accepted in one batch"},
    {"max_calls", SR_CFG_INT, OFF(max_calls), "4096", 1, 100000, "most concurrent calls (control streams included)"},
    {"shutdown_grace", SR_CFG_DURATION, OFF(shutdown_grace_ms), "10s", 0, 600000,
     "on SIGTERM, how long live uploads may run before they are cancelled"},
    {"log_level", SR_CFG_STRING, OFF(log_level), "info", 0, 0, "debug, info, warn or error"},
    {"artifact.enabled", SR_CFG_BOOL, OFF(artifact_enabled), "true", 0, 0,
     "distribute the Trivy DB announced in NATS KV to agents with the trivy capability"},
    {"artifact.cache_dir", SR_CFG_STRING, OFF(artifact_cache_dir), "/var/cache/serviceradar/gateway", 0, 0,
     "local cache of distributed artifacts (<dir>/artifacts/trivy-db/<sha256>), created on the first update"},
    {"artifact.bucket", SR_CFG_STRING, OFF(artifact_bucket), "artifacts", 0, 0,
     "NATS KV bucket watched for key trivy-db, and the default Object Store bucket of the bundle"},
    {"artifact.chunk_size", SR_CFG_SIZE, OFF(artifact_chunk_size), "2M", 64 * 1024, GW_ARTIFACT_CHUNK_LIMIT,
     "bytes per Download chunk"},
    {"artifact.max_size", SR_CFG_SIZE, OFF(artifact_max_size), "2G", 1024, INT64_C(64) * 1024 * 1024 * 1024,
     "largest bundle the gateway caches"},
    {"artifact.max_downloads", SR_CFG_INT, OFF(artifact_max_downloads), "32", 1, 4096,
     "concurrent Download calls; more are refused RESOURCE_EXHAUSTED and the agents retry"},
    {"artifact.send_timeout", SR_CFG_DURATION, OFF(artifact_send_timeout_ms), "30s", 1000, 600000,
     "a Download chunk not taken by the agent within this time ends the call"},
    {"artifact.retry_interval", SR_CFG_DURATION, OFF(artifact_retry_ms), "10s", 100, 3600000,
     "wait before retrying a missing bucket, a failed fetch or an agent's failed update (doubling per failure)"},
    {"artifact.recheck_interval", SR_CFG_DURATION, OFF(artifact_recheck_ms), "60s", 1000, 86400000,
     "how often the KV key is read besides the watch, in case the watch missed an update"},
};

const sr_config_table gw_config_table = {entries, sizeof(entries) / sizeof(entries[0])};

int gw_config_init(gw_config *c) {
    memset(c, 0, sizeof(*c));
    return sr_config_defaults(&gw_config_table, c);
}

int gw_config_load(gw_config *c, const char *path, char *err, size_t errlen) {
    return sr_config_load_file(&gw_config_table, c, path, err, errlen);
}

static int set_string(char **slot, const char *v) {
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int gw_config_finalize(gw_config *c, char *err, size_t errlen) {
    static const struct {
        const char *key;
        size_t off;
    } required[] = {
        {"tls.ca_file", OFF(tls_ca_file)},
        {"tls.cert_file", OFF(tls_cert_file)},
        {"tls.key_file", OFF(tls_key_file)},
        {"listen", OFF(listen)},
        {"nats.url", OFF(nats_url)},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = *(char *const *)(const void *)((const char *)c + required[i].off);
        if (!v || v[0] == '\0') {
            snprintf(err, errlen, "%s is required", required[i].key);
            return -EINVAL;
        }
    }
    if (!strrchr(c->listen, ':')) {
        snprintf(err, errlen, "invalid value \"%s\" for listen: expected host:port", c->listen);
        return -EINVAL;
    }
    sr_log_level lvl;
    if (sr_log_level_parse(c->log_level, &lvl) < 0) {
        snprintf(err, errlen, "invalid value \"%s\" for log_level: expected debug, info, warn or error", c->log_level);
        return -EINVAL;
    }
    if (c->nats_password[0] != '\0' && c->nats_user[0] == '\0') {
        snprintf(err, errlen, "nats.password is set but nats.user is empty");
        return -EINVAL;
    }
    if (c->artifact_enabled && c->artifact_cache_dir[0] != '/') {
        snprintf(err, errlen, "invalid value \"%s\" for artifact.cache_dir: expected an absolute path",
                 c->artifact_cache_dir);
        return -EINVAL;
    }
    size_t blen = strlen(c->artifact_bucket);
    if (blen == 0 || blen > 64 || strspn(c->artifact_bucket, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_-") != blen) {
        snprintf(err, errlen, "invalid value \"%s\" for artifact.bucket: expected 1..64 of [A-Za-z0-9_-]",
                 c->artifact_bucket);
        return -EINVAL;
    }
    if (c->gateway_id[0] == '\0') {
        char host[HOST_NAME_MAX + 1] = "";
        if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "gateway");
        host[HOST_NAME_MAX] = '\0';
        int r = set_string(&c->gateway_id, host);
        if (r < 0) {
            snprintf(err, errlen, "could not set gateway.id: %s", strerror(-r));
            return r;
        }
    }
    return 0;
}

void gw_config_free(gw_config *c) {
    if (c)
        sr_config_free(&gw_config_table, c);
}
