/* Events workers: LOGS/core-logs (agent LogsBatch uploads) and SECURITY/core-falco (Falco
 * alerts) -> events (text COPY), ingest_batches, dead_letters; one transaction per fetched
 * batch, acknowledgements after the commit. See docs/internals/ingest.md. */
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
#define EV_PARAM_MAX (16u * 1024 * 1024)
/* The identity under which Falco alerts are recorded in ingest_batches: '$' is not allowed in
 * agent ids, so no agent can collide with it. */
#define FALCO_BATCH_AGENT "$falco"

static const char SQL_INSERT_BATCHES[] =
    "INSERT INTO ingest_batches (agent_id, epoch, seq) "
    "SELECT a, e, s FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(a, e, s) "
    "ON CONFLICT DO NOTHING RETURNING agent_id, epoch, seq";
static const char SQL_COPY_EVENTS[] = "COPY events (" SR_EVENT_COPY_COLUMNS ") FROM STDIN";
static const char PREP_INSERT_BATCHES[] = "sr_ev_insert_batches";

typedef struct {
    natsMsg *msg;
    int dead;
    int is_new;
    char reason[256];
    const char *agent_id; /* header value (lives as long as msg) or FALCO_BATCH_AGENT */
    size_t agent_len;
    uint64_t epoch, seq;
    size_t n_events;
    size_t off, len; /* rows in the copy buffer */
} eentry;

struct sr_events_worker {
    sr_ingest *ing;
    sr_events_kind kind;
    const char *stream, *consumer, *subject;
    char name[32];
    pthread_t thread;
    int started;
    jsCtx *js;
    natsSubscription *sub;
    PGconn *pg;
    int prepared;
    int64_t backoff_ms;
    sr_telemetry_decoder *dec;
    sr_evbuf copy;
    sr_event_scratch scratch;
    eentry *e;
    sr_textbuf p1, p2, p3;
};

/* Classifies a failed statement: -EBADMSG when the data is at fault, -EIO otherwise. Logs once. */
static int tx_error(sr_events_worker *w, PGresult *res, const char *what, char *err, size_t errlen) {
    sr_pg_errmsg(w->pg, res, err, errlen);
    int data = sr_pg_is_data_error(res);
    if (res)
        PQclear(res);
    if (PQstatus(w->pg) == CONNECTION_OK && PQtransactionStatus(w->pg) != PQTRANS_IDLE)
        (void)sr_pg_exec(w->pg, "ROLLBACK", NULL, 0);
    if (!data)
        sr_warn("%s: could not %s: %s", w->name, what, err);
    return data ? -EBADMSG : -EIO;
}

static int prepare_all(sr_events_worker *w) {
    if (w->prepared)
        return 0;
    PGresult *res = PQprepare(w->pg, PREP_INSERT_BATCHES, SQL_INSERT_BATCHES, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char err[512];
        sr_pg_errmsg(w->pg, res, err, sizeof(err));
        sr_warn("%s: could not prepare %s: %s", w->name, PREP_INSERT_BATCHES, err);
        PQclear(res);
        return -EIO;
    }
    PQclear(res);
    w->prepared = 1;
    return 0;
}

static int put_i64(sr_textbuf *b, int64_t v, int first) {
    char num[32];
    int n = snprintf(num, sizeof(num), "%s%" PRId64, first ? "" : ",", v);
    return sr_textbuf_put(b, num, (size_t)n);
}

/* Records the keys of entries [a, b) and marks the ones not seen before as new. */
static int insert_batches(sr_events_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    sr_textbuf_reset(&w->p1);
    sr_textbuf_reset(&w->p2);
    sr_textbuf_reset(&w->p3);
    int r = sr_textbuf_put(&w->p1, "{", 1) | sr_textbuf_put(&w->p2, "{", 1) | sr_textbuf_put(&w->p3, "{", 1);
    int first = 1;
    for (size_t i = a; i < b && r == 0; i++) {
        eentry *e = &w->e[i];
        if (e->dead)
            continue;
        if (!first)
            r |= sr_textbuf_put(&w->p1, ",", 1);
        r |= sr_textbuf_put_array_elem(&w->p1, e->agent_id, e->agent_len);
        r |= put_i64(&w->p2, (int64_t)e->epoch, first);
        r |= put_i64(&w->p3, (int64_t)e->seq, first);
        first = 0;
    }
    r |= sr_textbuf_put(&w->p1, "}", 1) | sr_textbuf_put(&w->p2, "}", 1) | sr_textbuf_put(&w->p3, "}", 1);
    if (r != 0) {
        snprintf(err, errlen, "batch keys over the parameter size limit");
        (void)sr_pg_exec(w->pg, "ROLLBACK", NULL, 0);
        return -ENOBUFS;
    }
    const char *params[3] = {w->p1.data, w->p2.data, w->p3.data};
    PGresult *res = PQexecPrepared(w->pg, PREP_INSERT_BATCHES, 3, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return tx_error(w, res, "record ingest batches", err, errlen);
    for (int row = 0; row < PQntuples(res); row++) {
        const char *agent = PQgetvalue(res, row, 0);
        int64_t epoch, seq;
        if (sr_parse_i64(PQgetvalue(res, row, 1), INT64_MIN, INT64_MAX, &epoch) < 0 ||
            sr_parse_i64(PQgetvalue(res, row, 2), INT64_MIN, INT64_MAX, &seq) < 0)
            continue;
        for (size_t i = a; i < b; i++) {
            eentry *e = &w->e[i];
            if (!e->dead && !e->is_new && (int64_t)e->seq == seq && (int64_t)e->epoch == epoch &&
                strcmp(e->agent_id, agent) == 0) {
                e->is_new = 1;
                break;
            }
        }
    }
    PQclear(res);
    return 0;
}

static int copy_events(sr_events_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    PGresult *res = PQexec(w->pg, SQL_COPY_EVENTS);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        return tx_error(w, res, "start COPY into events", err, errlen);
    PQclear(res);
    int ok = 1;
    /* Send runs of adjacent new entries in one call each. */
    size_t i = a;
    while (ok && i < b) {
        if (!w->e[i].is_new || w->e[i].len == 0) {
            i++;
            continue;
        }
        size_t off = w->e[i].off, len = 0;
        while (i < b && w->e[i].is_new && w->e[i].off == off + len) {
            len += w->e[i].len;
            i++;
        }
        ok = PQputCopyData(w->pg, w->copy.data + off, (int)len) == 1; /* len <= EV_COPY_MAX */
    }
    if (PQputCopyEnd(w->pg, ok ? NULL : "client error") != 1)
        return tx_error(w, NULL, "finish COPY into events", err, errlen);
    res = PQgetResult(w->pg);
    int st = PQresultStatus(res);
    PGresult *extra;
    while ((extra = PQgetResult(w->pg)) != NULL)
        PQclear(extra);
    if (st != PGRES_COMMAND_OK)
        return tx_error(w, res, "COPY into events", err, errlen);
    PQclear(res);
    return 0;
}

/* One transaction for entries [a, b): dead letters, batch keys, events. */
static int flush_tx(sr_events_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    sr_core_stats *st = w->ing->stats;
    int64_t t0 = sr_mono_ms();
    PGresult *res = PQexec(w->pg, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return tx_error(w, res, "begin transaction", err, errlen);
    PQclear(res);
    size_t valid = 0, dead = 0;
    for (size_t i = a; i < b; i++) {
        eentry *e = &w->e[i];
        e->is_new = 0;
        if (!e->dead) {
            valid++;
            continue;
        }
        dead++;
        PGresult *fail = NULL;
        if (sr_ingest_dead_letter(w->pg, e->msg, w->stream, e->reason, &fail) < 0)
            return tx_error(w, fail, "insert dead letter", err, errlen);
    }
    size_t fresh = 0, events = 0;
    if (valid > 0) {
        int r = insert_batches(w, a, b, err, errlen);
        if (r < 0)
            return r;
        for (size_t i = a; i < b; i++) {
            if (w->e[i].is_new) {
                fresh++;
                events += w->e[i].n_events;
            }
        }
        if (events > 0 && (r = copy_events(w, a, b, err, errlen)) < 0)
            return r;
    }
    res = PQexec(w->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return tx_error(w, res, "commit", err, errlen);
    PQclear(res);
    atomic_fetch_add(&st->batches_committed, 1);
    atomic_fetch_add(&st->commit_ms_sum, (uint64_t)(sr_mono_ms() - t0));
    atomic_fetch_add(&st->events_written, events);
    atomic_fetch_add(&st->duplicates_skipped, valid - fresh);
    atomic_fetch_add(&st->dead_letters, dead);
    return 0;
}

static void ack_range(sr_events_worker *w, size_t a, size_t b) {
    sr_core_stats *st = w->ing->stats;
    for (size_t i = a; i < b; i++) {
        if (natsMsg_Ack(w->e[i].msg, NULL) == NATS_OK)
            atomic_fetch_add(&st->messages_acked, 1);
        else
            atomic_fetch_add(&st->nats_errors, 1);
    }
}

static void nak_range(sr_events_worker *w, natsMsgList *list, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        (void)natsMsg_NakWithDelay(list->Msgs[i], w->ing->cfg.nak_delay_ms, NULL);
}

/* Commits entries [a, b) and acknowledges them. When the database rejects the data of the
 * batch, each message is retried alone and the one at fault is parked as a dead letter. */
static int flush(sr_events_worker *w, size_t a, size_t b) {
    if (a == b)
        return 0;
    char err[512];
    int r = flush_tx(w, a, b, err, sizeof(err));
    if (r == -EBADMSG || r == -ENOBUFS) {
        for (size_t i = a; i < b && r != -EIO; i++) {
            r = flush_tx(w, i, i + 1, err, sizeof(err));
            if (r == -EBADMSG || r == -ENOBUFS) {
                eentry *e = &w->e[i];
                sr_warn("%s: database rejected a message of %s, parking it: %s", w->name, w->stream, err);
                e->dead = 1;
                snprintf(e->reason, sizeof(e->reason), "database rejected: %.200s", err);
                r = flush_tx(w, i, i + 1, err, sizeof(err));
                if (r == -EBADMSG || r == -ENOBUFS) {
                    sr_error("%s: could not park message as a dead letter, dropping it: %s", w->name, err);
                    r = 0;
                }
            }
            if (r == 0 && !atomic_load(&w->ing->abort))
                ack_range(w, i, i + 1);
        }
        return r == 0 ? 0 : -EIO;
    }
    if (r < 0) {
        atomic_fetch_add(&w->ing->stats->db_errors, 1);
        return -EIO;
    }
    if (atomic_load(&w->ing->abort))
        return -ECANCELED; /* simulated crash between commit and acknowledgement */
    ack_range(w, a, b);
    return 0;
}

/* Rolls the copy buffer back to the entry's start and parks the entry. */
__attribute__((format(printf, 3, 4))) static void park(sr_events_worker *w, eentry *e, const char *fmt, ...) {
    w->copy.len = e->off;
    if (w->copy.data)
        w->copy.data[e->off] = '\0';
    e->dead = 1;
    e->len = 0;
    e->n_events = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
}

/* Encodes one event; -ENOBUFS when the copy buffer is full (the entry is then retried after a
 * flush), other errors park the entry. */
static int encode_one(sr_events_worker *w, eentry *e, const sr_event *ev) {
    int r = sr_event_encode(&w->copy, ev, &w->scratch);
    if (r == 0) {
        e->n_events++;
        return 0;
    }
    if (r == -ENOBUFS && e->off > 0)
        return -ENOBUFS;
    park(w, e, "could not encode the events: %s",
         r == -ENOBUFS ? "over the transaction buffer" : (r == -ENOMEM ? "out of memory" : "tokenizer refused"));
    return 0;
}

static int decode_logs(sr_events_worker *w, eentry *e, int64_t now) {
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

static int decode_falco(sr_events_worker *w, eentry *e, int64_t now) {
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

/* Decodes e->msg and encodes its events into the copy buffer. -ENOBUFS when the buffer is
 * full (nothing of this entry is kept); otherwise 0, with e->dead set for a bad message. */
static int decode_entry(sr_events_worker *w, eentry *e, natsMsg *msg, int64_t now) {
    memset(e, 0, sizeof(*e));
    e->msg = msg;
    e->off = w->copy.len;
    int r = w->kind == SR_EVENTS_LOGS ? decode_logs(w, e, now) : decode_falco(w, e, now);
    if (r == -ENOBUFS) {
        w->copy.len = e->off;
        if (w->copy.data)
            w->copy.data[e->off] = '\0';
        return r;
    }
    e->len = e->dead ? 0 : w->copy.len - e->off;
    return 0;
}

static void process(sr_events_worker *w, natsMsgList *list) {
    size_t n = (size_t)list->Count;
    int64_t now = sr_now_unix_ms();
    sr_evbuf_reset(&w->copy);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (decode_entry(w, &w->e[i], list->Msgs[i], now) == 0)
            continue;
        /* The copy buffer is full: commit what came before, then start over with this one. */
        if (flush(w, start, i) < 0) {
            if (!atomic_load(&w->ing->abort))
                nak_range(w, list, start, n);
            return;
        }
        start = i;
        sr_evbuf_reset(&w->copy);
        if (decode_entry(w, &w->e[i], list->Msgs[i], now) < 0) {
            eentry *e = &w->e[i];
            e->dead = 1;
            e->len = 0;
            snprintf(e->reason, sizeof(e->reason), "events exceed the %u byte transaction buffer", EV_COPY_MAX);
        }
    }
    if (flush(w, start, n) < 0 && !atomic_load(&w->ing->abort))
        nak_range(w, list, start, n);
}

static void *events_main(void *arg) {
    sr_events_worker *w = arg;
    sr_ingest *ing = w->ing;
    sr_core_stats *st = ing->stats;
    int64_t nats_backoff = 0;
    int batch = ing->cfg.events_batch_size > 0 ? ing->cfg.events_batch_size : ing->cfg.batch_size;
    while (!atomic_load(&ing->stop)) {
        if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
            w->prepared = 0;
        if (sr_ingest_pg_ensure(ing, &w->pg, &w->backoff_ms, w->name) < 0)
            break;
        if (prepare_all(w) < 0) {
            atomic_fetch_add(&st->db_errors, 1);
            w->pg = sr_pg_close(w->pg);
            sr_ingest_wait(ing, 1000);
            continue;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, w->sub, batch, ing->cfg.batch_wait_ms, &jerr);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            atomic_fetch_add(&st->nats_errors, 1);
            nats_backoff = nats_backoff ? (nats_backoff * 2 > 5000 ? 5000 : nats_backoff * 2) : 100;
            if (nats_backoff >= 1000)
                sr_warn("%s: could not fetch from %s: %s", w->name, w->consumer, natsStatus_GetText(s));
            sr_ingest_wait(ing, nats_backoff);
            continue;
        }
        nats_backoff = 0;
        atomic_fetch_add(&st->messages_received, (uint64_t)list.Count);
        process(w, &list);
        natsMsgList_Destroy(&list);
        if (atomic_load(&ing->abort))
            break;
    }
    return NULL;
}

sr_events_worker *sr_events_worker_free(sr_events_worker *w) {
    if (!w)
        return NULL;
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->sub) {
        natsSubscription_Unsubscribe(w->sub); /* bound to the durable: the consumer stays */
        natsSubscription_Destroy(w->sub);
    }
    jsCtx_Destroy(w->js);
    sr_pg_close(w->pg);
    sr_telemetry_decoder_free(w->dec);
    sr_evbuf_done(&w->copy);
    sr_event_scratch_done(&w->scratch);
    sr_textbuf_done(&w->p1);
    sr_textbuf_done(&w->p2);
    sr_textbuf_done(&w->p3);
    free(w->e);
    free(w);
    return NULL;
}

int sr_events_worker_start(sr_ingest *ing, sr_events_kind kind, int index, sr_events_worker **ret) {
    sr_events_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->ing = ing;
    w->kind = kind;
    if (kind == SR_EVENTS_LOGS) {
        w->stream = SR_STREAM_LOGS;
        w->consumer = SR_CONSUMER_LOGS;
        w->subject = SR_SUBJECT_LOGS;
        snprintf(w->name, sizeof(w->name), "logs-%d", index);
    } else {
        w->stream = SR_STREAM_SECURITY;
        w->consumer = SR_CONSUMER_FALCO;
        w->subject = SR_SUBJECT_FALCO;
        snprintf(w->name, sizeof(w->name), "falco-%d", index);
    }
    sr_evbuf_init(&w->copy, EV_COPY_MAX);
    sr_event_scratch_init(&w->scratch);
    sr_textbuf_init(&w->p1, EV_PARAM_MAX);
    sr_textbuf_init(&w->p2, EV_PARAM_MAX);
    sr_textbuf_init(&w->p3, EV_PARAM_MAX);
    int batch = ing->cfg.events_batch_size > 0 ? ing->cfg.events_batch_size : ing->cfg.batch_size;
    w->e = calloc((size_t)batch, sizeof(*w->e));
    int r = (!w->e || sr_telemetry_decoder_new(&w->dec) < 0) ? -ENOMEM : 0;
    if (r == 0 && natsConnection_JetStream(&w->js, ing->nc, NULL) != NATS_OK)
        r = -EIO;
    if (r == 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = w->stream;
        so.Consumer = w->consumer;
        so.ManualAck = true;
        jsErrCode jerr = 0;
        if (js_PullSubscribe(&w->sub, w->js, w->subject, w->consumer, NULL, &so, &jerr) != NATS_OK)
            r = -ENOENT;
    }
    if (r == 0) {
        r = -pthread_create(&w->thread, NULL, events_main, w);
        w->started = r == 0;
    }
    if (r < 0) {
        sr_events_worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}
