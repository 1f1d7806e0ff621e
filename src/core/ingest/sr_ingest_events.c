/* Events workers: LOGS/core-logs (agent LogsBatch uploads) and SECURITY/core-falco (Falco
 * alerts) -> events (text COPY); the batch loop, ingest_batches, dead letters and
 * acknowledgements are the shared ones of sr_ingest_worker.c. See docs/internals/ingest.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_event.h"
#include "sr_falco.h"
#include "sr_ingest_decode.h"
#include "sr_ingest_int.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"


#define EV_COPY_MAX (32u * 1024 * 1024) /* COPY text of one transaction; a fetch is split above it */
/* The identity under which Falco alerts are recorded in ingest_batches: '$' is not allowed in
 * agent ids, so no agent can collide with it. */
#define FALCO_BATCH_AGENT "$falco"

static const char SQL_COPY_EVENTS[] = "COPY events (" SR_EVENT_COPY_COLUMNS ") FROM STDIN";

struct sr_events_worker {
    sr_ingest_worker base; /* first: the callbacks cast back from it */
    sr_telemetry_decoder *dec;
    sr_evbuf copy;
    sr_event_scratch scratch;
};

static sr_events_worker *events_of(sr_ingest_worker *w) {
    return (sr_events_worker *)w;
}

static int write_events(sr_ingest_worker *base, size_t a, size_t b, size_t n_rows, size_t fresh, char *err,
                        size_t errlen) {
    (void)fresh;
    sr_events_worker *w = events_of(base);
    if (n_rows == 0)
        return 0;
    return sr_ingest_copy_rows(base, SQL_COPY_EVENTS, "events", w->copy.data, NULL, 0, NULL, 0, a, b, err, errlen);
}

static void reset_events(sr_ingest_worker *base) {
    sr_evbuf_reset(&events_of(base)->copy);
}

/* Rolls the copy buffer back to the entry's start and parks the entry. */
__attribute__((format(printf, 3, 4))) static void park(sr_events_worker *w, sr_ingest_entry *e, const char *fmt, ...) {
    w->copy.len = e->off;
    if (w->copy.data)
        w->copy.data[e->off] = '\0';
    e->dead = 1;
    e->len = 0;
    e->n_rows = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
}

/* Encodes one event; -ENOBUFS when the copy buffer is full (the entry is then retried after a
 * flush), other errors park the entry. */
static int encode_one(sr_events_worker *w, sr_ingest_entry *e, const sr_event *ev) {
    int r = sr_event_encode(&w->copy, ev, &w->scratch);
    if (r == 0) {
        e->n_rows++;
        return 0;
    }
    if (r == -ENOBUFS && e->off > 0)
        return -ENOBUFS;
    park(w, e, "could not encode the events: %s",
         r == -ENOBUFS ? "over the transaction buffer" : (r == -ENOMEM ? "out of memory" : "tokenizer refused"));
    return 0;
}

static int decode_logs(sr_events_worker *w, sr_ingest_entry *e, int64_t now) {
    const char *agent = NULL;
    (void)natsMsgHeader_Get(e->msg, "Sr-Agent-Id", &agent);
    sr_ingest_logs u;
    if (sr_ingest_decode_logs(natsMsg_GetData(e->msg), (size_t)natsMsg_GetDataLength(e->msg), agent, now, w->dec,
                              &u, e->reason, sizeof(e->reason)) < 0) {
        e->dead = 1;
        return 0;
    }
    e->agent_id = u.agent_id;
    e->agent_len = u.agent_id_len;
    e->epoch = u.epoch;
    e->seq = u.seq;
    for (size_t i = 0; i < u.n_records && !e->dead; i++) {
        sr_event ev;
        int r = sr_event_from_log(u.records[i], u.hostname, u.agent_id, u.epoch, u.seq, i, &w->scratch, &ev);
        if (r < 0) {
            park(w, e, "record %zu too large to index", i);
            break;
        }
        r = encode_one(w, e, &ev);
        if (r < 0)
            return r;
    }
    return 0;
}

static int decode_falco(sr_events_worker *w, sr_ingest_entry *e, int64_t now) {
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, e->msg) != NATS_OK) {
        e->dead = 1;
        snprintf(e->reason, sizeof(e->reason), "no JetStream metadata");
        return 0;
    }
    e->agent_id = FALCO_BATCH_AGENT;
    e->agent_len = sizeof(FALCO_BATCH_AGENT) - 1;
    e->epoch = (uint64_t)meta->Timestamp;
    e->seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    sr_falco_alert a;
    int r = sr_falco_decode(natsMsg_GetData(e->msg), (size_t)natsMsg_GetDataLength(e->msg), now, &w->scratch, &a,
                            e->reason, sizeof(e->reason));
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(e->reason, sizeof(e->reason), "out of memory decoding the alert");
        e->dead = 1;
        sr_falco_alert_clear(&a);
        return 0;
    }
    sr_falco_event_id((int64_t)e->epoch, e->seq, a.ev.id);
    r = encode_one(w, e, &a.ev);
    sr_falco_alert_clear(&a);
    return r;
}

/* Decodes w->e[i] and encodes its events into the copy buffer. -ENOBUFS when the buffer is
 * full (nothing of this entry is kept); otherwise 0, with e->dead set for a bad message. */
static int decode_entry(sr_ingest_worker *base, size_t i, int64_t now,
                        int (*decode)(sr_events_worker *, sr_ingest_entry *, int64_t)) {
    sr_events_worker *w = events_of(base);
    sr_ingest_entry *e = &base->e[i];
    e->off = w->copy.len;
    int r = decode(w, e, now);
    if (r == -ENOBUFS) {
        w->copy.len = e->off;
        if (w->copy.data)
            w->copy.data[e->off] = '\0';
        return r;
    }
    e->len = e->dead ? 0 : w->copy.len - e->off;
    return 0;
}

static int decode_logs_entry(sr_ingest_worker *base, size_t i, int64_t now) {
    return decode_entry(base, i, now, decode_logs);
}

static int decode_falco_entry(sr_ingest_worker *base, size_t i, int64_t now) {
    return decode_entry(base, i, now, decode_falco);
}

static const sr_ingest_worker_ops LOGS_OPS = {
    .stream = SR_STREAM_LOGS,
    .consumer = SR_CONSUMER_LOGS,
    .subject = SR_SUBJECT_LOGS,
    .rows = "events",
    .copy_reset = reset_events,
    .decode = decode_logs_entry,
    .write = write_events,
};

static const sr_ingest_worker_ops FALCO_OPS = {
    .stream = SR_STREAM_SECURITY,
    .consumer = SR_CONSUMER_FALCO,
    .subject = SR_SUBJECT_FALCO,
    .rows = "events",
    .copy_reset = reset_events,
    .decode = decode_falco_entry,
    .write = write_events,
};

sr_events_worker *sr_events_worker_free(sr_events_worker *w) {
    if (!w)
        return NULL;
    sr_ingest_worker_done(&w->base); /* joins the thread first */
    sr_telemetry_decoder_free(w->dec);
    sr_evbuf_done(&w->copy);
    sr_event_scratch_done(&w->scratch);
    free(w);
    return NULL;
}

int sr_events_worker_start(sr_ingest *ing, sr_events_kind kind, int index, sr_events_worker **ret) {
    sr_events_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    sr_evbuf_init(&w->copy, EV_COPY_MAX);
    sr_event_scratch_init(&w->scratch);
    int batch = ing->cfg.events_batch_size > 0 ? ing->cfg.events_batch_size : ing->cfg.batch_size;
    int r = sr_telemetry_decoder_new(&w->dec) < 0 ? -ENOMEM : 0;
    if (r == 0)
        r = sr_ingest_worker_start(&w->base, ing, kind == SR_EVENTS_LOGS ? &LOGS_OPS : &FALCO_OPS,
                                   kind == SR_EVENTS_LOGS ? "logs" : "falco", index, batch, EV_COPY_MAX,
                                   &ing->stats->events_written);
    if (r < 0) {
        sr_events_worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}
