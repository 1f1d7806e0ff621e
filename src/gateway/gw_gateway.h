/* The agent gateway: gRPC server (srg) with the AgentGateway methods, wired to NATS,
 * the agent registry and the revocation list. main.c owns signals; tests start it
 * in-process. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"

#define GW_SERVICE "/serviceradar.agent.v1.AgentGateway/"
#define GW_SUBJECT_METRICS "telemetry.metrics.edge"
#define GW_SUBJECT_LOGS "logs.edge"
#define GW_SUBJECT_STATUS "agents.status"
#define GW_SUBJECT_COMMANDS "commands.agent."
#define GW_SUBJECT_RESULTS "commands.results."
#define GW_DOWNLOAD_UNAVAILABLE "artifact distribution is not available in this version"

typedef struct gw_gateway gw_gateway;

typedef struct {
    uint64_t uploads_ok, uploads_failed;
    uint64_t batches_published, duplicates, points, records; /* points: metrics; records: log records */
    uint64_t control_streams; /* currently registered */
} gw_stats;

/* Loads the CRL, connects to NATS and starts serving. cfg must be finalized and must outlive
 * the gateway. err receives a message naming what failed. */
int gw_gateway_start(const gw_config *cfg, gw_gateway **ret, char *err, size_t errlen);
/* The bound port. */
int gw_gateway_port(const gw_gateway *g);
/* Graceful stop: refuses new calls, closes control streams (each publishes its disconnect),
 * lets uploads finish within the configured grace, then drains NATS. Idempotent. */
void gw_gateway_stop(gw_gateway *g);
/* Stops if needed and frees. Accepts NULL; returns NULL. */
gw_gateway *gw_gateway_free(gw_gateway *g);
void gw_gateway_stats(gw_gateway *g, gw_stats *ret);
