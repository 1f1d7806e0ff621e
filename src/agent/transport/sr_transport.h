/* sr_transport: the agent's link to the gateway. One thread keeps the Control stream up
 * (Hello, heartbeats, commands); another drains the spool through Upload calls and
 * acknowledges what the gateway acknowledged. Both reconnect with exponential backoff and
 * full jitter. */
#pragma once
#include <stdint.h>

#include "sr_spool.h"
#include "srg.h"

typedef struct sr_transport sr_transport;

typedef struct {
    const char *gateway;         /* "host:port" */
    const char *server_name;     /* name in the gateway certificate; NULL: host of gateway */
    srg_tls tls;                 /* agent certificate, key and the CA that signed the gateway */
    const char *agent_id;        /* CN of our certificate (informational in messages) */
    const char *hostname;
    const char *agent_version;
    const char *const *capabilities; /* NULL-terminated, e.g. {"metrics", NULL} */
    int64_t heartbeat_ms;        /* default 15000 */
    int64_t backoff_min_ms;      /* default 500 */
    int64_t backoff_max_ms;      /* default 30000 */
    int64_t call_timeout_ms;     /* deadline of one Upload call, default 30000 */
    uint32_t upload_max_records; /* records per Upload call, default 64 */
    uint64_t upload_max_bytes;   /* bytes per Upload call, default 3 MiB */
} sr_transport_config;

typedef struct {
    int control_connected;       /* 1 while the Control stream is up */
    uint64_t uploads_ok, uploads_failed, batches_acked, reconnects, commands_run;
} sr_transport_stats;

/* Starts the threads. The spool must outlive the transport. Strings are copied. */
int sr_transport_start(const sr_transport_config *cfg, sr_spool *spool, sr_transport **ret);
void sr_transport_get_stats(sr_transport *t, sr_transport_stats *ret);
/* Stops both threads (cancels live calls) and frees. Accepts NULL; returns NULL. */
sr_transport *sr_transport_free(sr_transport *t);
