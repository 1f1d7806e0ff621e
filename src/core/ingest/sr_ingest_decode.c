#include "sr_ingest_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sr_utf8.h"

__attribute__((format(printf, 3, 4))) static int fail(char *reason, size_t reasonlen, const char *fmt, ...) {
    if (reason && reasonlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reasonlen, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

/* The checks common to both payloads; *ret_batch points into dec. */
static int decode_common(const void *data, size_t len, const char *agent_hdr, sr_telemetry_decoder *dec,
                         const sr_upload_batch **ret_batch, size_t *ret_alen, char *reason, size_t reasonlen) {
    if (!agent_hdr || !*agent_hdr)
        return fail(reason, reasonlen, "missing Sr-Agent-Id header");
    size_t alen = strnlen(agent_hdr, SR_INGEST_MAX_AGENT_ID + 1);
    if (alen > SR_INGEST_MAX_AGENT_ID || !sr_utf8_valid(agent_hdr, alen))
        return fail(reason, reasonlen, "Sr-Agent-Id header too long or not UTF-8");
    if (len > SR_INGEST_MAX_PAYLOAD)
        return fail(reason, reasonlen, "payload of %zu bytes over the %d byte limit", len, SR_INGEST_MAX_PAYLOAD);
    if (len == 0 || !data)
        return fail(reason, reasonlen, "empty payload");

    const sr_upload_batch *m = NULL;
    char why[256] = "";
    int r = sr_telemetry_decode(dec, data, len, agent_hdr, 0, &m, why, sizeof(why));
    if (r == -ENOMEM)
        return fail(reason, reasonlen, "out of memory decoding the batch");
    if (r < 0)
        return fail(reason, reasonlen, "%s", why[0] ? why : "not a valid UploadBatch message");
    *ret_batch = m;
    *ret_alen = alen;
    return 0;
}

int sr_ingest_decode_upload(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                            sr_telemetry_decoder *dec, sr_ingest_upload *ret, char *reason, size_t reasonlen) {
    const sr_upload_batch *m = NULL;
    size_t alen = 0;
    int r = decode_common(data, len, agent_hdr, dec, &m, &alen, reason, reasonlen);
    if (r < 0)
        return r;
    if (m->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS)
        return fail(reason, reasonlen, "batch seq %llu: payload is not metrics", (unsigned long long)m->seq);

    const Serviceradar__Agent__V1__MetricsBatch *mb = m->metrics;
    int64_t max_time = 0;
    int64_t latest_ok = now_ms + SR_INGEST_MAX_FUTURE_MS;
    for (size_t i = 0; i < mb->n_points; i++) {
        int64_t t = mb->points[i]->time_unix_ms;
        if (t < SR_INGEST_MIN_TIME_MS || t > latest_ok)
            return fail(reason, reasonlen, "batch seq %llu: point %zu: time %lld out of range",
                        (unsigned long long)m->seq, i, (long long)t);
        if (t > max_time)
            max_time = t;
    }
    ret->agent_id = agent_hdr;
    ret->agent_id_len = alen;
    ret->epoch = m->epoch;
    ret->seq = m->seq;
    ret->hostname = mb->hostname ? mb->hostname : "";
    ret->points = (const Serviceradar__Agent__V1__MetricPoint *const *)mb->points;
    ret->n_points = mb->n_points;
    ret->max_time_ms = max_time;
    return 0;
}

int sr_ingest_decode_logs(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                          sr_telemetry_decoder *dec, sr_ingest_logs *ret, char *reason, size_t reasonlen) {
    const sr_upload_batch *m = NULL;
    size_t alen = 0;
    int r = decode_common(data, len, agent_hdr, dec, &m, &alen, reason, reasonlen);
    if (r < 0)
        return r;
    if (m->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS)
        return fail(reason, reasonlen, "batch seq %llu: payload is not logs", (unsigned long long)m->seq);
    char why[256] = "";
    if (sr_telemetry_check_log_times(m, now_ms, why, sizeof(why)) < 0)
        return fail(reason, reasonlen, "%s", why);
    ret->agent_id = agent_hdr;
    ret->agent_id_len = alen;
    ret->epoch = m->epoch;
    ret->seq = m->seq;
    ret->hostname = m->logs->hostname ? m->logs->hostname : "";
    ret->records = (const Serviceradar__Agent__V1__LogRecord *const *)m->logs->records;
    ret->n_records = m->logs->n_records;
    return 0;
}

int sr_ingest_decode_scan(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                          sr_telemetry_decoder *dec, sr_ingest_scan *ret, char *reason, size_t reasonlen) {
    const sr_upload_batch *m = NULL;
    size_t alen = 0;
    int r = decode_common(data, len, agent_hdr, dec, &m, &alen, reason, reasonlen);
    if (r < 0)
        return r;
    if (m->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN)
        return fail(reason, reasonlen, "batch seq %llu: payload is not a scan part", (unsigned long long)m->seq);
    ret->agent_id = agent_hdr;
    ret->agent_id_len = alen;
    ret->epoch = m->epoch;
    ret->seq = m->seq;
    ret->part = m->scan;
    ret->finished_ms = m->scan->finished_unix_ms > now_ms ? now_ms : m->scan->finished_unix_ms;
    return 0;
}
