/* The batch loop the metrics and events workers share: fetch from a JetStream pull subscription,
 * decode into the kind's COPY buffer, one transaction per buffer-full (dead letters,
 * ingest_batches keys, the kind's rows), acknowledgements after the commit, nak with delay when
 * it fails. See docs/internals/ingest.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_ingest_int.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_time.h"

#define PARAM_MAX (16u * 1024 * 1024)

static const char SQL_INSERT_BATCHES[] =
    "INSERT INTO ingest_batches (agent_id, epoch, seq) "
    "SELECT a, e, s FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(a, e, s) "
    "ON CONFLICT DO NOTHING RETURNING agent_id, epoch, seq";
static const char PREP_INSERT_BATCHES[] = "sr_insert_batches";

int sr_ingest_tx_error(sr_ingest_worker *w, PGresult *res, const char *what, char *err, size_t errlen) {
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

int sr_ingest_params_begin(sr_ingest_worker *w) {
    sr_textbuf_reset(&w->p1);
    sr_textbuf_reset(&w->p2);
    sr_textbuf_reset(&w->p3);
    return sr_textbuf_put(&w->p1, "{", 1) | sr_textbuf_put(&w->p2, "{", 1) | sr_textbuf_put(&w->p3, "{", 1);
}

int sr_ingest_params_end(sr_ingest_worker *w, const char *params[3]) {
    int r = sr_textbuf_put(&w->p1, "}", 1) | sr_textbuf_put(&w->p2, "}", 1) | sr_textbuf_put(&w->p3, "}", 1);
    params[0] = w->p1.data; /* after the puts: they may move the buffers */
    params[1] = w->p2.data;
    params[2] = w->p3.data;
    return r;
}

int sr_ingest_put_i64(sr_textbuf *b, int64_t v, int first) {
    char num[32];
    int n = snprintf(num, sizeof(num), "%s%" PRId64, first ? "" : ",", v);
    return sr_textbuf_put(b, num, (size_t)n);
}

/* Prepares the shared statement and the kind's on a new connection. 0 or -EIO (logged). */
static int prepare_all(sr_ingest_worker *w) {
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
    if (w->ops->prepare && w->ops->prepare(w) < 0)
        return -EIO;
    w->prepared = 1;
    return 0;
}

/* Records the keys of entries [a, b) and marks the ones not seen before as new. */
static int insert_batches(sr_ingest_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    int r = sr_ingest_params_begin(w);
    int first = 1;
    for (size_t i = a; i < b && r == 0; i++) {
        sr_ingest_entry *e = &w->e[i];
        if (e->dead)
            continue;
        if (!first)
            r |= sr_textbuf_put(&w->p1, ",", 1);
        r |= sr_textbuf_put_array_elem(&w->p1, e->agent_id, e->agent_len);
        r |= sr_ingest_put_i64(&w->p2, (int64_t)e->epoch, first);
        r |= sr_ingest_put_i64(&w->p3, (int64_t)e->seq, first);
        first = 0;
    }
    const char *params[3];
    r |= sr_ingest_params_end(w, params);
    if (r != 0) {
        snprintf(err, errlen, "batch keys over the parameter size limit");
        (void)sr_pg_exec(w->pg, "ROLLBACK", NULL, 0);
        return -ENOBUFS;
    }
    PGresult *res = PQexecPrepared(w->pg, PREP_INSERT_BATCHES, 3, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return sr_ingest_tx_error(w, res, "record ingest batches", err, errlen);
    for (int row = 0; row < PQntuples(res); row++) {
        const char *agent = PQgetvalue(res, row, 0);
        int64_t epoch, seq;
        if (sr_parse_i64(PQgetvalue(res, row, 1), INT64_MIN, INT64_MAX, &epoch) < 0 ||
            sr_parse_i64(PQgetvalue(res, row, 2), INT64_MIN, INT64_MAX, &seq) < 0)
            continue;
        for (size_t i = a; i < b; i++) {
            sr_ingest_entry *e = &w->e[i];
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

int sr_ingest_copy_rows(sr_ingest_worker *w, const char *copy_sql, const char *table, const char *data,
                        const char *head, size_t head_len, const char *tail, size_t tail_len, size_t a, size_t b,
                        char *err, size_t errlen) {
    char what[64];
    PGresult *res = PQexec(w->pg, copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        snprintf(what, sizeof(what), "start COPY into %s", table);
        return sr_ingest_tx_error(w, res, what, err, errlen);
    }
    PQclear(res);
    int ok = head_len == 0 || PQputCopyData(w->pg, head, (int)head_len) == 1;
    /* Send runs of adjacent new entries in one call each (at most 1 GiB a call). */
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
        while (ok && len > 0) {
            size_t part = len > (1u << 30) ? (1u << 30) : len;
            ok = PQputCopyData(w->pg, data + off, (int)part) == 1;
            off += part;
            len -= part;
        }
    }
    if (ok && tail_len > 0)
        ok = PQputCopyData(w->pg, tail, (int)tail_len) == 1;
    if (PQputCopyEnd(w->pg, ok ? NULL : "client error") != 1) {
        snprintf(what, sizeof(what), "finish COPY into %s", table);
        return sr_ingest_tx_error(w, NULL, what, err, errlen);
    }
    res = PQgetResult(w->pg);
    int st = PQresultStatus(res);
    PGresult *extra;
    while ((extra = PQgetResult(w->pg)) != NULL)
        PQclear(extra);
    if (st != PGRES_COMMAND_OK) {
        snprintf(what, sizeof(what), "COPY into %s", table);
        return sr_ingest_tx_error(w, res, what, err, errlen);
    }
    PQclear(res);
    return 0;
}

/* One transaction for entries [a, b): dead letters, batch keys, the kind's rows. */
static int flush_tx(sr_ingest_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    sr_core_stats *st = w->ing->stats;
    int64_t t0 = sr_mono_ms();
    PGresult *res = PQexec(w->pg, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return sr_ingest_tx_error(w, res, "begin transaction", err, errlen);
    PQclear(res);
    size_t valid = 0, dead = 0;
    for (size_t i = a; i < b; i++) {
        sr_ingest_entry *e = &w->e[i];
        e->is_new = 0;
        if (!e->dead) {
            valid++;
            continue;
        }
        dead++;
        PGresult *fail = NULL;
        if (sr_ingest_dead_letter(w->pg, e->msg, w->ops->stream, e->reason, &fail) < 0)
            return sr_ingest_tx_error(w, fail, "insert dead letter", err, errlen);
    }
    size_t fresh = 0, rows = 0;
    if (valid > 0) {
        int r = insert_batches(w, a, b, err, errlen);
        if (r < 0)
            return r;
        for (size_t i = a; i < b; i++) {
            if (w->e[i].is_new) {
                fresh++;
                rows += w->e[i].n_rows;
            }
        }
        if ((r = w->ops->write(w, a, b, rows, fresh, err, errlen)) < 0)
            return r;
    }
    res = PQexec(w->pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return sr_ingest_tx_error(w, res, "commit", err, errlen);
    PQclear(res);
    atomic_fetch_add(&st->batches_committed, 1);
    atomic_fetch_add(&st->commit_ms_sum, (uint64_t)(sr_mono_ms() - t0));
    atomic_fetch_add(w->rows_written, rows);
    atomic_fetch_add(&st->duplicates_skipped, valid - fresh);
    atomic_fetch_add(&st->dead_letters, dead);
    return 0;
}

static void ack_range(sr_ingest_worker *w, size_t a, size_t b) {
    sr_core_stats *st = w->ing->stats;
    for (size_t i = a; i < b; i++) {
        if (natsMsg_Ack(w->e[i].msg, NULL) == NATS_OK)
            atomic_fetch_add(&st->messages_acked, 1);
        else
            atomic_fetch_add(&st->nats_errors, 1);
    }
}

/* Gives messages [a, b) of the fetched list back (w->e may not cover them all yet). */
static void nak_range(sr_ingest_worker *w, natsMsgList *list, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        (void)natsMsg_NakWithDelay(list->Msgs[i], w->ing->cfg.nak_delay_ms, NULL);
}

/* Commits entries [a, b) and acknowledges them. When the database rejects the data of the
 * batch, each message is retried alone and the one at fault is parked as a dead letter. */
static int flush(sr_ingest_worker *w, size_t a, size_t b) {
    if (a == b)
        return 0;
    char err[512];
    int r = flush_tx(w, a, b, err, sizeof(err));
    if (r == -EBADMSG || r == -ENOBUFS) {
        for (size_t i = a; i < b && r != -EIO; i++) {
            r = flush_tx(w, i, i + 1, err, sizeof(err));
            if (r == -EBADMSG || r == -ENOBUFS) {
                sr_ingest_entry *e = &w->e[i];
                sr_warn("%s: database rejected a message of %s from agent %s, parking it: %s", w->name,
                        w->ops->stream, e->dead ? "?" : e->agent_id, err);
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

static int decode_entry(sr_ingest_worker *w, size_t i, natsMsg *msg, int64_t now) {
    memset(&w->e[i], 0, sizeof(w->e[i]));
    w->e[i].msg = msg;
    return w->ops->decode(w, i, now);
}

static void process(sr_ingest_worker *w, natsMsgList *list) {
    size_t n = (size_t)list->Count;
    int64_t now = sr_now_unix_ms();
    w->ops->copy_reset(w);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        int r = decode_entry(w, i, list->Msgs[i], now);
        if (r == -ENOBUFS) {
            /* The copy buffer is full: commit what came before, then start over with this one. */
            if (flush(w, start, i) < 0) {
                if (!atomic_load(&w->ing->abort))
                    nak_range(w, list, start, n);
                return;
            }
            start = i;
            w->ops->copy_reset(w);
            r = decode_entry(w, i, list->Msgs[i], now);
            if (r == -ENOBUFS) {
                sr_ingest_entry *e = &w->e[i];
                e->dead = 1;
                e->len = 0;
                e->n_rows = 0;
                snprintf(e->reason, sizeof(e->reason), "%s exceed the %zu byte transaction buffer", w->ops->rows,
                         w->copy_max);
                r = 0;
            }
        }
        if (r < 0) {
            atomic_fetch_add(&w->ing->stats->db_errors, 1);
            nak_range(w, list, start, n);
            return;
        }
    }
    if (flush(w, start, n) < 0 && !atomic_load(&w->ing->abort))
        nak_range(w, list, start, n);
}

static void hist_add(sr_core_stats *st, int n) {
    int bucket = 0;
    while (bucket < SR_BATCH_HIST_BUCKETS && (1 << bucket) < n)
        bucket++;
    atomic_fetch_add(&st->batch_size_hist[bucket], 1);
    atomic_fetch_add(&st->batch_size_sum, (uint64_t)n);
}

static void read_consumer_info(sr_ingest_worker *w) {
    int64_t now = sr_mono_ms();
    if (!w->ops->reports || w->index != 0 || now < w->next_stats_ms)
        return;
    w->next_stats_ms = now + w->ing->cfg.stats_interval_ms;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    if (natsSubscription_GetConsumerInfo(&ci, w->sub, NULL, &jerr) == NATS_OK) {
        atomic_store(&w->ing->stats->consumer_pending, (int64_t)ci->NumPending);
        atomic_store(&w->ing->stats->consumer_ack_pending, ci->NumAckPending);
        jsConsumerInfo_Destroy(ci);
    }
}

static void *worker_main(void *arg) {
    sr_ingest_worker *w = arg;
    sr_ingest *ing = w->ing;
    sr_core_stats *st = ing->stats;
    int reporter = w->ops->reports && w->index == 0;
    int64_t nats_backoff = 0;
    while (!atomic_load(&ing->stop)) {
        if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
            w->prepared = 0; /* a new connection has none of them */
        if (sr_ingest_pg_ensure(ing, &w->pg, &w->backoff_ms, w->name) < 0)
            break;
        if (prepare_all(w) < 0) {
            atomic_fetch_add(&st->db_errors, 1);
            w->pg = sr_pg_close(w->pg);
            sr_ingest_wait(ing, 1000);
            continue;
        }
        if (reporter)
            atomic_store(&st->db_connected, 1);
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, w->sub, w->batch, ing->cfg.batch_wait_ms, &jerr);
        if (s == NATS_TIMEOUT) {
            read_consumer_info(w);
            continue;
        }
        if (s != NATS_OK) {
            atomic_fetch_add(&st->nats_errors, 1);
            nats_backoff = nats_backoff ? (nats_backoff * 2 > 5000 ? 5000 : nats_backoff * 2) : 100;
            if (nats_backoff >= 1000)
                sr_warn("%s: could not fetch from %s: %s", w->name, w->ops->consumer, natsStatus_GetText(s));
            sr_ingest_wait(ing, nats_backoff);
            continue;
        }
        nats_backoff = 0;
        atomic_fetch_add(&st->messages_received, (uint64_t)list.Count);
        if (w->ops->reports)
            hist_add(st, list.Count);
        process(w, &list);
        natsMsgList_Destroy(&list);
        if (reporter && w->pg && PQstatus(w->pg) != CONNECTION_OK)
            atomic_store(&st->db_connected, 0);
        if (atomic_load(&ing->abort))
            break;
        read_consumer_info(w);
    }
    return NULL;
}

int sr_ingest_worker_start(sr_ingest_worker *w, sr_ingest *ing, const sr_ingest_worker_ops *ops, const char *name,
                           int index, int batch, size_t copy_max, _Atomic uint64_t *rows_written) {
    w->ing = ing;
    w->ops = ops;
    w->index = index;
    snprintf(w->name, sizeof(w->name), "%s-%d", name, index);
    w->batch = batch;
    w->copy_max = copy_max;
    w->rows_written = rows_written;
    sr_textbuf_init(&w->p1, PARAM_MAX);
    sr_textbuf_init(&w->p2, PARAM_MAX);
    sr_textbuf_init(&w->p3, PARAM_MAX);
    w->e = calloc((size_t)batch, sizeof(*w->e));
    if (!w->e)
        return -ENOMEM;
    if (natsConnection_JetStream(&w->js, ing->nc, NULL) != NATS_OK)
        return -EIO;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = ops->stream;
    so.Consumer = ops->consumer;
    so.ManualAck = true;
    jsErrCode jerr = 0;
    if (js_PullSubscribe(&w->sub, w->js, ops->subject, ops->consumer, NULL, &so, &jerr) != NATS_OK)
        return -ENOENT;
    int r = -pthread_create(&w->thread, NULL, worker_main, w);
    w->started = r == 0;
    return r;
}

void sr_ingest_worker_done(sr_ingest_worker *w) {
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = 0;
    if (w->sub) {
        natsSubscription_Unsubscribe(w->sub); /* bound to the durable: the consumer stays */
        natsSubscription_Destroy(w->sub);
        w->sub = NULL;
    }
    jsCtx_Destroy(w->js);
    w->js = NULL;
    w->pg = sr_pg_close(w->pg);
    sr_textbuf_done(&w->p1);
    sr_textbuf_done(&w->p2);
    sr_textbuf_done(&w->p3);
    free(w->e);
    w->e = NULL;
}
