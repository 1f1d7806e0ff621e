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

int sr_ingest_decode_upload(const void *data, size_t len, const char *agent_hdr, int64_t now_ms,
                            sr_telemetry_decoder *dec, sr_ingest_upload *ret, char *reason, size_t reasonlen) {
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
