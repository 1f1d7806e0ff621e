/* sr_telemetry: the shared rules for agent telemetry batches (UploadBatch).
 *
 * The gateway validates every batch before it reaches JetStream; the core decodes the same
 * bytes. Limits are part of the contract (docs/internals/contracts.md). Library code: returns
 * 0 or a negative errno and writes a lowercase message naming the problem into err. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serviceradar/agent/v1/agent.pb-c.h"

#define SR_TELEMETRY_MAX_POINTS 10000
#define SR_TELEMETRY_MAX_NAME_BYTES 128
#define SR_TELEMETRY_MAX_DIM_BYTES 256
#define SR_TELEMETRY_MAX_HOSTNAME_BYTES 255
/* Logs payloads (LogsBatch). */
#define SR_TELEMETRY_MAX_LOG_RECORDS 10000
#define SR_TELEMETRY_MAX_LOG_FIELDS 64          /* entries of LogRecord.fields */
#define SR_TELEMETRY_MAX_LOG_RAW_BYTES 8192     /* raw and message */
#define SR_TELEMETRY_MAX_LOG_PATH_BYTES 4096
#define SR_TELEMETRY_MAX_LOG_WORD_BYTES 256     /* program, user */
#define SR_TELEMETRY_MAX_LOG_IP_BYTES 64        /* src_ip as sent (validated by the core) */
#define SR_TELEMETRY_MAX_LOG_TAG_BYTES 64       /* outcome, action */
#define SR_TELEMETRY_MAX_LOG_FIELD_KEY_BYTES 128
#define SR_TELEMETRY_MAX_LOG_FIELD_VALUE_BYTES 4096
/* Scan payloads (ScanPart): one part of a Trivy report or CycloneDX SBOM of one target. */
#define SR_TELEMETRY_SCAN_ID_LEN 32                 /* lowercase hex */
#define SR_TELEMETRY_SCAN_CONTAINER_ID_MAX 128      /* "container:<id>", id of [A-Za-z0-9._-] */
#define SR_TELEMETRY_SCAN_TARGET_MAX (10 + SR_TELEMETRY_SCAN_CONTAINER_ID_MAX)
#define SR_TELEMETRY_SCAN_MAX_PARTS 65536
#define SR_TELEMETRY_SCAN_MAX_PART_BYTES (512 * 1024)
#define SR_TELEMETRY_SCAN_MAX_TOTAL_BYTES (UINT64_C(1) << 30)
#define SR_TELEMETRY_SCAN_MAX_VERSION_BYTES 128     /* db_version, scanner_version */
#define SR_TELEMETRY_SCAN_MAX_NAME_BYTES 512        /* target_name */
#define SR_TELEMETRY_SCAN_MAX_TARGETS 65536         /* targets_in_run */
/* Record times must lie in [2000-01-01, now + 1 day] (each day is a hypertable chunk). */
#define SR_TELEMETRY_MIN_TIME_MS INT64_C(946684800000)
#define SR_TELEMETRY_MAX_FUTURE_MS INT64_C(86400000)
/* Longest agent id accepted in a message id (a certificate CN is at most 64 bytes). */
#define SR_TELEMETRY_MAX_AGENT_ID_BYTES 255
/* "<agent_id>:<epoch>:<seq>" with two u64 in decimal. */
#define SR_TELEMETRY_MSG_ID_MAX (SR_TELEMETRY_MAX_AGENT_ID_BYTES + 2 * 21 + 1)

typedef Serviceradar__Agent__V1__UploadBatch sr_upload_batch;

/* Checks a decoded batch: a metrics, logs or scan payload present, seq > 0, agent_id empty or
 * equal to identity (identity NULL skips that check), and then
 * - metrics: at most max_points points (0 or more than SR_TELEMETRY_MAX_POINTS means
 *   SR_TELEMETRY_MAX_POINTS), non-empty names, string lengths within the limits and valid
 *   UTF-8, finite values;
 * - logs: at most SR_TELEMETRY_MAX_LOG_RECORDS records, source one of sr_telemetry_log_source_known,
 *   every string within its SR_TELEMETRY_MAX_LOG_* limit and valid UTF-8, at most
 *   SR_TELEMETRY_MAX_LOG_FIELDS fields with non-empty keys, syslog_severity in -1..7, facility in
 *   -1..23. Record times are checked by sr_telemetry_check_log_times (it needs the clock);
 * - scan: sr_telemetry_scan_part_check.
 * Returns 0, -EINVAL (malformed; err names the problem and the seq) or -EPERM (agent_id
 * differs from identity). */
int sr_telemetry_validate(const sr_upload_batch *b, const char *identity, size_t max_points, char *err,
                          size_t errlen);

/* The rules of one ScanPart (contracts.md): scan_id SR_TELEMETRY_SCAN_ID_LEN lowercase hex
 * characters; target "host" or "container:<id>" (id 1..128 of [A-Za-z0-9._-]); kind "report" or
 * "sbom"; count 1..SR_TELEMETRY_SCAN_MAX_PARTS, index < count; data 1..512 KiB; total_size at most
 * 1 GiB, at least the data and at least count bytes; total_sha256 32 bytes; db_version and
 * scanner_version at most 128 bytes, target_name at most 512, all UTF-8; targets_in_run at most
 * 65536; started_unix_ms >= 0, finished_unix_ms >= started_unix_ms and not before 2000-01-01.
 * seq only names the batch in err. 0 or -EINVAL. */
int sr_telemetry_scan_part_check(const Serviceradar__Agent__V1__ScanPart *p, uint64_t seq, char *err,
                                 size_t errlen);
/* True for "host" and "container:<id>" with an id of 1..128 characters of [A-Za-z0-9._-]. */
bool sr_telemetry_scan_target_valid(const char *target);

/* Counts the points of a packed UploadBatch without decoding it (a cheap guard that bounds
 * the memory a decode can take). Returns 0 and the count, or -EBADMSG when the wire format is
 * broken at the level it looks at. */
int sr_telemetry_count_points(const uint8_t *buf, size_t len, size_t *ret_points);

/* Counts the log records of a packed UploadBatch without decoding it, and the largest number of
 * fields (map entries) in one record. Returns 0, or -EBADMSG as sr_telemetry_count_points. */
int sr_telemetry_count_records(const uint8_t *buf, size_t len, size_t *ret_records, size_t *ret_max_fields);

/* True for the log sources the contract knows: "auth", "syslog", "journald". */
bool sr_telemetry_log_source_known(const char *source);

/* Checks that every record time of a logs batch lies in [SR_TELEMETRY_MIN_TIME_MS,
 * now_ms + SR_TELEMETRY_MAX_FUTURE_MS]. 0 (also for metrics batches) or -EINVAL. */
int sr_telemetry_check_log_times(const sr_upload_batch *b, int64_t now_ms, char *err, size_t errlen);

/* A reusable decoder: protobuf-c allocations go to an arena that is reset on every decode,
 * so a stream of batches costs no malloc per string or point once warmed up. One decoder per
 * thread. */
typedef struct sr_telemetry_decoder sr_telemetry_decoder;

int sr_telemetry_decoder_new(sr_telemetry_decoder **ret);
sr_telemetry_decoder *sr_telemetry_decoder_free(sr_telemetry_decoder *d);

/* Decodes and validates one packed UploadBatch. The points or records (and the fields of each
 * record) are counted on the wire first, so a batch over the limits costs no decode memory. On
 * success *ret points into the decoder and stays valid until the next decode or free. Returns 0, -EBADMSG (not a valid UploadBatch),
 * -EINVAL, -EPERM (as sr_telemetry_validate) or -ENOMEM. */
int sr_telemetry_decode(sr_telemetry_decoder *d, const uint8_t *buf, size_t len, const char *identity,
                        size_t max_points, const sr_upload_batch **ret, char *err, size_t errlen);

/* Writes the JetStream message id "<agent_id>:<epoch>:<seq>" into buf. Returns 0, -EINVAL
 * (empty or over-long agent_id) or -ENOBUFS. */
int sr_telemetry_msg_id(const char *agent_id, uint64_t epoch, uint64_t seq, char *buf, size_t buflen);
