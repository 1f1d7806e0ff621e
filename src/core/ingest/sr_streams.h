/* JetStream streams and durable consumers the core owns (docs/internals/contracts.md):
 * TELEMETRY (telemetry.>) with the pull consumer core-metrics, AGENTS (agents.status) with the
 * pull consumer core-agents, LOGS (logs.>) with core-logs, SECURITY (security.>) with
 * core-falco (filter security.falco.alerts; later security sources add their own consumers),
 * SCANS (scan.>) with core-scans (filter scan.trivy.results).
 * Created when missing, updated to the configured limits otherwise. */
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
#define SR_STREAM_LOGS "LOGS"
#define SR_STREAM_LOGS_SUBJECTS "logs.>"
#define SR_SUBJECT_LOGS "logs.edge"
#define SR_CONSUMER_LOGS "core-logs"
#define SR_STREAM_SECURITY "SECURITY"
#define SR_STREAM_SECURITY_SUBJECTS "security.>"
#define SR_SUBJECT_FALCO "security.falco.alerts"
#define SR_CONSUMER_FALCO "core-falco"
#define SR_STREAM_SCANS "SCANS"
#define SR_STREAM_SCANS_SUBJECTS "scan.>"
#define SR_SUBJECT_SCANS "scan.trivy.results"
#define SR_CONSUMER_SCANS "core-scans"
#define SR_SUBJECT_COMMAND_RESULTS "commands.results.>"
#define SR_SUBJECT_COMMAND_RESULTS_PREFIX "commands.results."

#define SR_STREAM_DUPLICATE_WINDOW_MS 120000

typedef struct {
    int64_t telemetry_max_age_ms;  /* 0: unlimited */
    int64_t telemetry_max_bytes;   /* 0: unlimited */
    int64_t agents_max_age_ms;     /* 0: unlimited */
    int64_t logs_max_age_ms;       /* 0: unlimited */
    int64_t logs_max_bytes;        /* 0: unlimited */
    int64_t security_max_age_ms;   /* 0: unlimited */
    int64_t security_max_bytes;    /* 0: unlimited */
    int64_t scans_max_age_ms;      /* 0: unlimited */
    int64_t scans_max_bytes;       /* 0: unlimited */
    int64_t ack_wait_ms;           /* every consumer */
    int64_t max_ack_pending;       /* core-metrics, core-logs, core-falco */
} sr_streams_config;

/* Returns 0, or a negative errno with "could not ... : reason" in err. */
int sr_streams_ensure(natsConnection *nc, const sr_streams_config *cfg, char *err, size_t errlen);
