/* Decoding and validation of one telemetry.metrics.edge or logs.edge message: the Sr-Agent-Id header plus
 * a packed serviceradar.agent.v1.UploadBatch. Pure (no I/O), so it is unit tested and fuzzed.
 * The batch rules are the shared ones of sr_telemetry (the gateway enforces the same); the core
 * checks again because anything may publish on the subject, and adds the header and time
 * checks that only matter for storage. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_telemetry.h"

#define SR_INGEST_MAX_PAYLOAD (4 * 1024 * 1024)
#define SR_INGEST_MAX_AGENT_ID SR_TELEMETRY_MAX_AGENT_ID_BYTES
/* Point times must lie in [2000-01-01, now + 1 day]: every distinct day creates a hypertable
 * chunk, so wild clocks must not reach the database. */
#define SR_INGEST_MIN_TIME_MS INT64_C(946684800000)
#define SR_INGEST_MAX_FUTURE_MS INT64_C(86400000)

typedef struct {
    const char *agent_id; /* the header value (borrowed from the caller) */
    size_t agent_id_len;
    uint64_t epoch, seq;
    const char *hostname; /* "" when absent; lives in the decoder */
    const Serviceradar__Agent__V1__MetricPoint *const *points;
    size_t n_points;
    int64_t max_time_ms; /* newest point time (0 when there are no points) */
} sr_ingest_upload;

/* Decodes data[0..len) with dec (its arena holds the result until the next decode). agent_hdr
 * is the value of Sr-Agent-Id (NULL when absent). Returns 0, or -EBADMSG with a short reason
 * ("missing Sr-Agent-Id header", "... point 3 (cpu.usage_pct): value is not finite") in reason. */
int sr_ingest_decode_upload(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                            sr_telemetry_decoder *dec, sr_ingest_upload *ret, char *reason, size_t reasonlen);

typedef struct {
    const char *agent_id; /* the header value (borrowed from the caller) */
    size_t agent_id_len;
    uint64_t epoch, seq;
    const char *hostname; /* "" when absent; lives in the decoder */
    const Serviceradar__Agent__V1__LogRecord *const *records;
    size_t n_records;
} sr_ingest_logs;

/* As sr_ingest_decode_upload for a logs payload (the shared sr_telemetry rules, then record
 * times in [2000-01-01, now + 1 day]). A metrics payload is refused. */
int sr_ingest_decode_logs(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                          sr_telemetry_decoder *dec, sr_ingest_logs *ret, char *reason, size_t reasonlen);

typedef struct {
    const char *agent_id; /* the header value (borrowed from the caller) */
    size_t agent_id_len;
    uint64_t epoch, seq;
    const Serviceradar__Agent__V1__ScanPart *part; /* lives in the decoder */
    int64_t finished_ms;  /* finished_unix_ms, at most now_ms */
} sr_ingest_scan;

/* As sr_ingest_decode_upload for a scan payload (scan.trivy.results: the shared sr_telemetry
 * rules for a ScanPart). finished_unix_ms later than now_ms is taken as now_ms (a clock ahead
 * must not make every later report look older). A metrics or logs payload is refused. */
int sr_ingest_decode_scan(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                          sr_telemetry_decoder *dec, sr_ingest_scan *ret, char *reason, size_t reasonlen);
