#include "sr_streams.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_MS INT64_C(1000000)
#define JS_STREAM_NOT_FOUND 10059
#define JS_CONSUMER_NOT_FOUND 10014

static int nats_fail(char *err, size_t errlen, const char *what, const char *name, natsStatus s, jsErrCode jerr) {
    if (err && errlen) {
        const char *text = nats_GetLastError(NULL);
        snprintf(err, errlen, "could not %s %s: %s (status %d, jetstream error %d)", what, name,
                 text && *text ? text : natsStatus_GetText(s), (int)s, (int)jerr);
    }
    return -EIO;
}

static int ensure_stream(jsCtx *js, jsStreamConfig *sc, char *err, size_t errlen) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, sc->Name, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        si = NULL;
        s = js_UpdateStream(&si, js, sc, NULL, &jerr);
        if (s != NATS_OK)
            return nats_fail(err, errlen, "update stream", sc->Name, s, jerr);
    } else if (s == NATS_NOT_FOUND || jerr == JS_STREAM_NOT_FOUND) {
        s = js_AddStream(&si, js, sc, NULL, &jerr);
        if (s != NATS_OK)
            return nats_fail(err, errlen, "create stream", sc->Name, s, jerr);
    } else {
        return nats_fail(err, errlen, "look up stream", sc->Name, s, jerr);
    }
    jsStreamInfo_Destroy(si);
    return 0;
}

static int ensure_consumer(jsCtx *js, const char *stream, jsConsumerConfig *cc, char *err, size_t errlen) {
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, stream, cc->Durable, NULL, &jerr);
    if (s == NATS_OK) {
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        s = js_UpdateConsumer(&ci, js, stream, cc, NULL, &jerr);
        if (s != NATS_OK)
            return nats_fail(err, errlen, "update consumer", cc->Durable, s, jerr);
    } else if (s == NATS_NOT_FOUND || jerr == JS_CONSUMER_NOT_FOUND) {
        s = js_AddConsumer(&ci, js, stream, cc, NULL, &jerr);
        if (s != NATS_OK)
            return nats_fail(err, errlen, "create consumer", cc->Durable, s, jerr);
    } else {
        return nats_fail(err, errlen, "look up consumer", cc->Durable, s, jerr);
    }
    jsConsumerInfo_Destroy(ci);
    return 0;
}

/* A file-backed stream with limits and the duplicate window of message ids. */
static int ensure_limited_stream(jsCtx *js, const char *name, const char *subjects, int64_t max_age_ms,
                                 int64_t max_bytes, char *err, size_t errlen) {
    const char *subj[] = {subjects};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.Discard = js_DiscardOld;
    sc.Duplicates = SR_STREAM_DUPLICATE_WINDOW_MS * NS_PER_MS;
    sc.MaxAge = max_age_ms * NS_PER_MS;
    sc.MaxBytes = max_bytes > 0 ? max_bytes : -1;
    return ensure_stream(js, &sc, err, errlen);
}

/* A durable pull consumer with explicit acknowledgements, from the start of the stream. */
static int ensure_pull_consumer(jsCtx *js, const char *stream, const char *durable, const char *filter,
                                const sr_streams_config *cfg, bool limit_pending, char *err, size_t errlen) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.FilterSubject = filter;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = cfg->ack_wait_ms * NS_PER_MS;
    if (limit_pending)
        cc.MaxAckPending = cfg->max_ack_pending;
    return ensure_consumer(js, stream, &cc, err, errlen);
}

int sr_streams_ensure(natsConnection *nc, const sr_streams_config *cfg, char *err, size_t errlen) {
    jsCtx *js = NULL;
    natsStatus s = natsConnection_JetStream(&js, nc, NULL);
    if (s != NATS_OK)
        return nats_fail(err, errlen, "open", "jetstream context", s, 0);

    int r = ensure_limited_stream(js, SR_STREAM_TELEMETRY, SR_STREAM_TELEMETRY_SUBJECTS, cfg->telemetry_max_age_ms,
                                  cfg->telemetry_max_bytes, err, errlen);
    if (r == 0) {
        const char *subjects[] = {SR_SUBJECT_AGENTS};
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = SR_STREAM_AGENTS;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Retention = js_LimitsPolicy;
        sc.Discard = js_DiscardOld;
        sc.MaxAge = cfg->agents_max_age_ms * NS_PER_MS;
        r = ensure_stream(js, &sc, err, errlen);
    }
    if (r == 0)
        r = ensure_limited_stream(js, SR_STREAM_LOGS, SR_STREAM_LOGS_SUBJECTS, cfg->logs_max_age_ms,
                                  cfg->logs_max_bytes, err, errlen);
    if (r == 0)
        r = ensure_limited_stream(js, SR_STREAM_SECURITY, SR_STREAM_SECURITY_SUBJECTS, cfg->security_max_age_ms,
                                  cfg->security_max_bytes, err, errlen);
    if (r == 0)
        r = ensure_limited_stream(js, SR_STREAM_SCANS, SR_STREAM_SCANS_SUBJECTS, cfg->scans_max_age_ms,
                                  cfg->scans_max_bytes, err, errlen);
    if (r == 0)
        r = ensure_pull_consumer(js, SR_STREAM_TELEMETRY, SR_CONSUMER_METRICS, SR_SUBJECT_METRICS, cfg, true, err,
                                 errlen);
    if (r == 0)
        r = ensure_pull_consumer(js, SR_STREAM_AGENTS, SR_CONSUMER_AGENTS, SR_SUBJECT_AGENTS, cfg, false, err, errlen);
    if (r == 0)
        r = ensure_pull_consumer(js, SR_STREAM_LOGS, SR_CONSUMER_LOGS, SR_SUBJECT_LOGS, cfg, true, err, errlen);
    if (r == 0)
        r = ensure_pull_consumer(js, SR_STREAM_SECURITY, SR_CONSUMER_FALCO, SR_SUBJECT_FALCO, cfg, true, err, errlen);
    if (r == 0)
        r = ensure_pull_consumer(js, SR_STREAM_SCANS, SR_CONSUMER_SCANS, SR_SUBJECT_SCANS, cfg, true, err, errlen);
    jsCtx_Destroy(js);
    return r;
}
