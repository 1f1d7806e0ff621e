/* JetStream streams and durable consumers the core owns (docs/internals/contracts.md):
 * TELEMETRY (telemetry.>) with the pull consumer core-metrics, AGENTS (agents.status) with the
 * pull consumer core-agents. Created when missing, updated to the configured limits otherwise. */
#pragma once
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#define SR_STREAM_TELEMETRY "TELEMETRY"
#define SR_STREAM_TELEMETRY_SUBJECTS "telemetry.>"
#define SR_SUBJECT_METRICS "telemetry.metrics.edge"
#define SR_CONSUMER_METRICS "core-metrics"
#define SR_STREAM_AGENTS "AGENTS"
#define SR_SUBJECT_AGENTS "agents.status"
#define SR_CONSUMER_AGENTS "core-agents"
#define SR_SUBJECT_COMMAND_RESULTS "commands.results.>"
#define SR_SUBJECT_COMMAND_RESULTS_PREFIX "commands.results."

#define SR_STREAM_DUPLICATE_WINDOW_MS 120000

typedef struct {
    int64_t telemetry_max_age_ms;  /* 0: unlimited */
    int64_t telemetry_max_bytes;   /* 0: unlimited */
    int64_t agents_max_age_ms;     /* 0: unlimited */
    int64_t ack_wait_ms;           /* both consumers */
    int64_t max_ack_pending;       /* core-metrics */
} sr_streams_config;

/* Returns 0, or a negative errno with "could not ... : reason" in err. */
int sr_streams_ensure(natsConnection *nc, const sr_streams_config *cfg, char *err, size_t errlen);
