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
/* The same in two steps: new (no thread yet), then run. Commands registered and artifact
 * versions set in between are there from the first Hello on. */
int sr_transport_new(const sr_transport_config *cfg, sr_spool *spool, sr_transport **ret);
int sr_transport_run(sr_transport *t);
void sr_transport_get_stats(sr_transport *t, sr_transport_stats *ret);
/* ---- long-running commands (contract; see docs/internals/agent.md) ----
 * A handler registered for a command type runs on its own thread, one at a time per type
 * (a second command of a busy type is refused with ok = 0, "busy"). The transport sends the
 * CommandAck at once; the handler reports with sr_cmd_progress and must end with exactly one
 * sr_cmd_finish. A result finished while the Control stream is down is kept (bounded queue)
 * and sent after the next HelloAck. ctx is valid until sr_cmd_finish returns. */
typedef struct sr_cmd_ctx sr_cmd_ctx;
typedef void (*sr_cmd_handler)(sr_cmd_ctx *ctx, const char *payload, void *userdata);

/* After sr_transport_start (a command of a type not yet registered is refused as unknown);
 * type is copied. -EEXIST when already registered. */
int sr_transport_register_command(sr_transport *t, const char *type, sr_cmd_handler fn, void *userdata);
const char *sr_cmd_id(const sr_cmd_ctx *ctx);
/* 1 once the transport is stopping or the command's deadline passed: the handler should end. */
int sr_cmd_cancelled(const sr_cmd_ctx *ctx);
/* Best effort (dropped while the stream is down); percent 0..100; message is copied. */
void sr_cmd_progress(sr_cmd_ctx *ctx, unsigned percent, const char *message);
/* output: JSON document or NULL; error: NULL when ok. Frees ctx. */
void sr_cmd_finish(sr_cmd_ctx *ctx, int ok, const char *output, const char *error);

/* Artifact versions sent in every Hello (artifact_versions map), e.g. ("trivy-db", "sha256:…").
 * version NULL removes the entry. Takes effect at the next Hello. */
int sr_transport_set_artifact_version(sr_transport *t, const char *name, const char *version);
/* The gRPC channel parameters, for callers that open their own calls (artifact Download). */
const sr_transport_config *sr_transport_config_of(const sr_transport *t);

/* Stops both threads (cancels live calls) and frees. Accepts NULL; returns NULL. */
sr_transport *sr_transport_free(sr_transport *t);
