#include "sr_core_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sr_log.h"

#ifndef SR_MIGRATIONS_DIR
#define SR_MIGRATIONS_DIR "migrations"
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
    E("nats.agents_max_age", SR_CFG_DURATION, agents_max_age_ms, "24h", 60000, 3650 * DAY_MS,
      "how long stream AGENTS keeps messages"),
    E("ingest.workers", SR_CFG_INT, ingest_workers, "2", 1, 16, "metrics ingest threads (one database connection each)"),
    E("ingest.batch_size", SR_CFG_INT, batch_size, "256", 1, 4096, "messages fetched per transaction"),
    E("ingest.batch_wait", SR_CFG_DURATION, batch_wait_ms, "500ms", 10, 60000,
      "longest wait for a batch to fill"),
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
};
#undef E

const sr_config_table sr_core_config_table = {entries, sizeof(entries) / sizeof(entries[0])};

int sr_core_config_defaults(sr_core_config *c) {
    memset(c, 0, sizeof(*c));
    return sr_config_defaults(&sr_core_config_table, c);
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

void sr_core_config_free(sr_core_config *c) { sr_config_free(&sr_core_config_table, c); }
