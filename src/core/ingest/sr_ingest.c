/* Metrics workers: TELEMETRY/core-metrics -> metrics (binary COPY), metric_series, hosts; the
 * batch loop, ingest_batches, dead letters and acknowledgements are the shared ones of
 * sr_ingest_worker.c. */
#include "sr_ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_cleanup.h"
#include "sr_ingest_copy.h"
#include "sr_ingest_decode.h"
#include "sr_ingest_int.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_series_cache.h"
#include "sr_streams.h"
#include "sr_time.h"
#include "sr_utf8.h"

#define COPYBUF_MAX (64u * 1024 * 1024) /* a fetched batch is split into transactions above this */
#define SERIES_CACHE_MAX (1u << 20) /* series ids a worker keeps (about 100 MiB at most) */

static const char SQL_COPY_METRICS[] = "COPY metric_points (time, series_id, value) FROM STDIN (FORMAT binary)";
/* Series are created in their own short transaction, in one (sorted) order so that concurrent
 * workers never deadlock, and looked up afterwards: a plain SELECT sees rows another worker
 * committed while this INSERT waited on them. */
static const char SQL_SERIES_INSERT[] =
    "INSERT INTO metric_series (agent_id, name, dim) "
    "SELECT DISTINCT a, n, d FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, n, d) ORDER BY 1, 2, 3 "
    "ON CONFLICT DO NOTHING";
static const char SQL_SERIES_SELECT[] =
    "SELECT s.id, s.agent_id, s.name, s.dim FROM metric_series s "
    "JOIN (SELECT DISTINCT a, n, d FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, n, d)) k "
    "ON s.agent_id = k.a AND s.name = k.n AND s.dim = k.d";
static const char SQL_UPSERT_HOSTS[] =
    "INSERT INTO hosts AS h (agent_id, hostname, first_seen, last_seen, status, status_changed_at) "
    "SELECT a, n, now(), LEAST(to_timestamp(t / 1000.0), now()), 'online', now() "
    "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(a, n, t) "
    "ON CONFLICT (agent_id) DO UPDATE SET "
    "hostname = CASE WHEN EXCLUDED.hostname <> '' THEN EXCLUDED.hostname ELSE h.hostname END, "
    "last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen), status = 'online', "
    "status_changed_at = CASE WHEN h.status <> 'online' THEN now() ELSE h.status_changed_at END";
/* The statements a metrics worker runs for every batch (besides sr_ingest_worker.c's), prepared
 * once per connection (parsing and planning them each time cost PostgreSQL more than a small COPY). */
static const struct {
    const char *name, *sql;
} PREPARED[] = {
    {"sr_upsert_hosts", SQL_UPSERT_HOSTS},
    {"sr_series_insert", SQL_SERIES_INSERT},
    {"sr_series_select", SQL_SERIES_SELECT},
};
enum { PREP_UPSERT_HOSTS, PREP_SERIES_INSERT, PREP_SERIES_SELECT };

static const char SQL_INSERT_DEAD[] =
    "INSERT INTO dead_letters (stream, subject, stream_seq, reason, headers, payload) "
    "VALUES ($1, $2, $3::bigint, $4, $5::jsonb, $6::bytea)";

/* ---- small buffers ---- */

void sr_textbuf_init(sr_textbuf *b, size_t max) {
    memset(b, 0, sizeof(*b));
    b->max = max;
}
void sr_textbuf_done(sr_textbuf *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}
void sr_textbuf_reset(sr_textbuf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
int sr_textbuf_put(sr_textbuf *b, const char *s, size_t len) {
    if (len >= b->max || b->len >= b->max - len)
        return -ENOBUFS;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}
int sr_textbuf_put_array_elem(sr_textbuf *b, const char *s, size_t len) {
    int r = sr_textbuf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; r == 0 && i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            r = sr_textbuf_put(b, s + run, i - run);
            if (r == 0)
                r = sr_textbuf_put(b, "\\", 1);
            run = i;
        }
    }
    if (r == 0)
        r = sr_textbuf_put(b, s + run, len - run);
    if (r == 0)
        r = sr_textbuf_put(b, "\"", 1);
    return r;
}

void sr_ingest_utf8_sanitize(char *s) {
    size_t len = strlen(s);
    size_t i = 0;
    while (i < len) {
        size_t n = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (i + n > len || !sr_utf8_valid(s + i, n)) {
                s[i] = '?';
                n = 1;
            }
        }
        i += n;
    }
}

/* ---- shared by both workers ---- */

void sr_ingest_wait(sr_ingest *ing, int64_t ms) {
    struct timespec until = sr_mono_deadline_ts(ms);
    pthread_mutex_lock(&ing->lock);
    while (!atomic_load(&ing->stop) && pthread_cond_timedwait(&ing->cond, &ing->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&ing->lock);
}

int sr_ingest_pg_ensure(sr_ingest *ing, PGconn **pg, int64_t *backoff_ms, const char *who) {
    if (*pg && PQstatus(*pg) == CONNECTION_OK)
        return 0;
    *pg = sr_pg_close(*pg);
    while (!atomic_load(&ing->stop)) {
        char err[512];
        if (sr_pg_connect(ing->conninfo, pg, err, sizeof(err)) == 0) {
            if (*backoff_ms > 0)
                sr_info("%s: database connection restored", who);
            *backoff_ms = 0;
            return 0;
        }
        *backoff_ms = *backoff_ms ? *backoff_ms * 2 : 250;
        if (*backoff_ms > 5000)
            *backoff_ms = 5000;
        sr_warn("%s: could not connect to the database: %s (retrying in %" PRId64 " ms)", who, err, *backoff_ms);
        sr_ingest_wait(ing, *backoff_ms);
    }
    return -ECANCELED;
}

static json_t *headers_json(natsMsg *msg) {
    json_t *o = json_object();
    const char **keys = NULL;
    int n = 0;
    if (!o || natsMsgHeader_Keys(msg, &keys, &n) != NATS_OK)
        return o;
    for (int i = 0; i < n && i < 64; i++) {
        const char *v = NULL;
        if (!keys[i] || !sr_utf8_valid(keys[i], strlen(keys[i])))
            continue;
        if (natsMsgHeader_Get(msg, keys[i], &v) != NATS_OK || !v)
            continue;
        size_t vl = strnlen(v, 4096);
        json_t *js = sr_utf8_valid(v, vl) ? json_stringn(v, vl) : json_string("<not utf-8>");
        if (js)
            json_object_set_new(o, keys[i], js);
    }
    free((void *)keys);
    return o;
}

int sr_ingest_dead_letter(PGconn *pg, natsMsg *msg, const char *stream, const char *reason, PGresult **ret_err) {
    char seq[32] = "";
    jsMsgMetaData *meta = NULL;
    if (stream && *stream && natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        snprintf(seq, sizeof(seq), "%" PRIu64, meta->Sequence.Stream);
        jsMsgMetaData_Destroy(meta);
    }
    char subject[512];
    snprintf(subject, sizeof(subject), "%s", natsMsg_GetSubject(msg) ? natsMsg_GetSubject(msg) : "");
    sr_ingest_utf8_sanitize(subject);
    char why[1024];
    snprintf(why, sizeof(why), "%s", reason);
    sr_ingest_utf8_sanitize(why);
    json_t *h = headers_json(msg);
    _cleanup_free_ char *hjson = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    const char *params[6] = {stream ? stream : "", subject, seq[0] ? seq : NULL, why, hjson,
                             natsMsg_GetData(msg) ? natsMsg_GetData(msg) : ""};
    int lengths[6] = {0, 0, 0, 0, 0, natsMsg_GetDataLength(msg)};
    int formats[6] = {0, 0, 0, 0, 0, 1};
    PGresult *res = PQexecParams(pg, SQL_INSERT_DEAD, 6, NULL, params, lengths, formats, 0);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return 0;
    }
    *ret_err = res;
    return -EIO;
}

/* ---- metrics worker ---- */

/* What a metrics entry adds to sr_ingest_entry, for the hosts upsert (same index). */
typedef struct {
    int64_t max_time_ms;
    char hostname[SR_TELEMETRY_MAX_HOSTNAME_BYTES + 1];
} mhost;

struct sr_metrics_worker {
    sr_ingest_worker base; /* first: the callbacks cast back from it */
    sr_telemetry_decoder *dec;
    sr_copybuf copy;
    sr_series_cache *series;
    int64_t *ids; /* series id per point of the message being encoded */
    size_t ids_cap;
    mhost *hosts; /* per entry */
};

static sr_metrics_worker *metrics_of(sr_ingest_worker *w) {
    return (sr_metrics_worker *)w;
}

static PGresult *exec_prepared(sr_metrics_worker *w, int which, int n, const char *const *params) {
    return PQexecPrepared(w->base.pg, PREPARED[which].name, n, params, NULL, NULL, 0);
}

/* Prepares PREPARED on a new connection. 0 or -EIO (logged). */
static int prepare_metrics(sr_ingest_worker *base) {
    for (size_t i = 0; i < SR_ARRAY_SIZE(PREPARED); i++) {
        PGresult *res = PQprepare(base->pg, PREPARED[i].name, PREPARED[i].sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char err[512];
            sr_pg_errmsg(base->pg, res, err, sizeof(err));
            sr_warn("%s: could not prepare %s: %s", base->name, PREPARED[i].name, err);
            PQclear(res);
            return -EIO;
        }
        PQclear(res);
    }
    return 0;
}

static int copy_points(sr_metrics_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    sr_copybuf frame;
    sr_copybuf_init(&frame, 64);
    unsigned char head[64], tail[8];
    frame.data = head;
    frame.cap = sizeof(head);
    (void)sr_copybuf_header(&frame);
    size_t head_len = frame.len;
    frame.data = tail;
    frame.cap = sizeof(tail);
    frame.len = 0;
    (void)sr_copybuf_trailer(&frame);
    return sr_ingest_copy_rows(&w->base, SQL_COPY_METRICS, "metrics", (const char *)w->copy.data,
                               (const char *)head, head_len, (const char *)tail, frame.len, a, b, err, errlen);
}

static int upsert_hosts(sr_metrics_worker *w, size_t a, size_t b, char *err, size_t errlen) {
    sr_ingest_worker *base = &w->base;
    /* Distinct agents of the new batches, sorted so concurrent workers lock rows in one order. */
    size_t idx[4096];
    size_t n = 0;
    for (size_t i = a; i < b && n < SR_ARRAY_SIZE(idx); i++) {
        sr_ingest_entry *e = &base->e[i];
        if (!e->is_new)
            continue;
        size_t j = 0;
        while (j < n && strcmp(base->e[idx[j]].agent_id, e->agent_id) < 0)
            j++;
        if (j < n && strcmp(base->e[idx[j]].agent_id, e->agent_id) == 0) {
            mhost *k = &w->hosts[idx[j]];
            if (w->hosts[i].max_time_ms > k->max_time_ms)
                k->max_time_ms = w->hosts[i].max_time_ms;
            if (w->hosts[i].hostname[0])
                memcpy(k->hostname, w->hosts[i].hostname, sizeof(k->hostname));
            continue;
        }
        memmove(&idx[j + 1], &idx[j], (n - j) * sizeof(idx[0]));
        idx[j] = i;
        n++;
    }
    if (n == 0)
        return 0;
    int r = sr_ingest_params_begin(base);
    int64_t now = sr_now_unix_ms();
    for (size_t j = 0; j < n && r == 0; j++) {
        const sr_ingest_entry *e = &base->e[idx[j]];
        const mhost *h = &w->hosts[idx[j]];
        if (j > 0)
            r |= sr_textbuf_put(&base->p1, ",", 1) | sr_textbuf_put(&base->p2, ",", 1);
        r |= sr_textbuf_put_array_elem(&base->p1, e->agent_id, e->agent_len);
        r |= sr_textbuf_put_array_elem(&base->p2, h->hostname, strlen(h->hostname));
        r |= sr_ingest_put_i64(&base->p3, h->max_time_ms > 0 ? h->max_time_ms : now, j == 0);
    }
    const char *params[3];
    r |= sr_ingest_params_end(base, params);
    if (r != 0) {
        snprintf(err, errlen, "host list over the parameter size limit");
        (void)sr_pg_exec(base->pg, "ROLLBACK", NULL, 0);
        return -ENOBUFS;
    }
    PGresult *res = exec_prepared(w, PREP_UPSERT_HOSTS, 3, params);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return sr_ingest_tx_error(base, res, "update hosts", err, errlen);
    PQclear(res);
    return 0;
}

/* Inside the batch transaction: points, then hosts. */
static int write_metrics(sr_ingest_worker *base, size_t a, size_t b, size_t n_rows, size_t fresh, char *err,
                         size_t errlen) {
    sr_metrics_worker *w = metrics_of(base);
    int r = 0;
    if (n_rows > 0 && (r = copy_points(w, a, b, err, errlen)) < 0)
        return r;
    if (fresh > 0 && (r = upsert_hosts(w, a, b, err, errlen)) < 0)
        return r;
    return 0;
}

static void reset_metrics(sr_ingest_worker *base) {
    sr_copybuf_reset(&metrics_of(base)->copy);
}

/* Fills w->ids with the series of every point of u: from the cache, else from metric_series
 * (created when missing, committed at once, so cached ids always exist). Runs outside the batch
 * transaction. 0, -EBADMSG (the database rejects these names) or -EIO. */
static int resolve_series(sr_metrics_worker *w, const sr_ingest_upload *u, char *err, size_t errlen) {
    if (u->n_points > w->ids_cap) {
        int64_t *ids = realloc(w->ids, u->n_points * sizeof(*ids));
        if (!ids) {
            snprintf(err, errlen, "out of memory");
            return -EIO;
        }
        w->ids = ids;
        w->ids_cap = u->n_points;
    }
    /* Everything this message needs must fit in the cache at once. */
    if (sr_series_cache_count(w->series) + u->n_points > SERIES_CACHE_MAX)
        sr_series_cache_clear(w->series);
    size_t misses = 0;
    for (size_t i = 0; i < u->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *pt = u->points[i];
        if (!sr_series_cache_get(w->series, u->agent_id, u->agent_id_len, pt->name, pt->dim, &w->ids[i])) {
            w->ids[i] = -1;
            misses++;
        }
    }
    if (misses == 0)
        return 0;
    int r = sr_ingest_params_begin(&w->base);
    int first = 1;
    for (size_t i = 0; i < u->n_points && r == 0; i++) {
        if (w->ids[i] >= 0)
            continue;
        const Serviceradar__Agent__V1__MetricPoint *pt = u->points[i];
        const char *dim = pt->dim ? pt->dim : "";
        if (!first)
            r |= sr_textbuf_put(&w->base.p1, ",", 1) | sr_textbuf_put(&w->base.p2, ",", 1) | sr_textbuf_put(&w->base.p3, ",", 1);
        r |= sr_textbuf_put_array_elem(&w->base.p1, u->agent_id, u->agent_id_len);
        r |= sr_textbuf_put_array_elem(&w->base.p2, pt->name, strlen(pt->name));
        r |= sr_textbuf_put_array_elem(&w->base.p3, dim, strlen(dim));
        first = 0;
    }
    const char *params[3];
    r |= sr_ingest_params_end(&w->base, params);
    if (r != 0) {
        snprintf(err, errlen, "series keys over the parameter size limit");
        return -EBADMSG;
    }
    PGresult *res = exec_prepared(w, PREP_SERIES_INSERT, 3, params);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return sr_ingest_tx_error(&w->base, res, "create metric series", err, errlen);
    PQclear(res);
    res = exec_prepared(w, PREP_SERIES_SELECT, 3, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return sr_ingest_tx_error(&w->base, res, "look up metric series", err, errlen);
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t id;
        if (sr_parse_i64(PQgetvalue(res, row, 0), 1, INT64_MAX, &id) < 0)
            continue;
        const char *agent = PQgetvalue(res, row, 1);
        if (sr_series_cache_put(w->series, agent, strlen(agent), PQgetvalue(res, row, 2), PQgetvalue(res, row, 3),
                                id) < 0) {
            PQclear(res);
            snprintf(err, errlen, "out of memory");
            return -EIO;
        }
    }
    PQclear(res);
    for (size_t i = 0; i < u->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *pt = u->points[i];
        if (w->ids[i] < 0 &&
            !sr_series_cache_get(w->series, u->agent_id, u->agent_id_len, pt->name, pt->dim, &w->ids[i])) {
            snprintf(err, errlen, "metric series of point %zu (%s) not found after insert", i, pt->name);
            sr_warn("%s: %s", w->base.name, err);
            return -EIO;
        }
    }
    return 0;
}

/* Decodes w->e[i] and encodes its points into the copy buffer. 0, -ENOBUFS when the buffer is
 * full, or -EIO when the database could not be asked for series ids (the caller gives the batch
 * back to JetStream). */
static int decode_entry(sr_ingest_worker *base, size_t i, int64_t now) {
    sr_metrics_worker *w = metrics_of(base);
    sr_ingest_entry *e = &base->e[i];
    mhost *h = &w->hosts[i];
    memset(h, 0, sizeof(*h));
    const char *agent = NULL;
    (void)natsMsgHeader_Get(e->msg, "Sr-Agent-Id", &agent);
    sr_ingest_upload u;
    int r = sr_ingest_decode_upload(natsMsg_GetData(e->msg), (size_t)natsMsg_GetDataLength(e->msg), agent, now,
                                    w->dec, &u, e->reason, sizeof(e->reason));
    if (r < 0) {
        e->dead = 1;
        return 0;
    }
    e->agent_id = u.agent_id;
    e->agent_len = u.agent_id_len;
    e->epoch = u.epoch;
    e->seq = u.seq;
    e->n_rows = u.n_points;
    h->max_time_ms = u.max_time_ms;
    snprintf(h->hostname, sizeof(h->hostname), "%s", u.hostname);
    char err[512];
    r = resolve_series(w, &u, err, sizeof(err));
    if (r == -EBADMSG) {
        sr_warn("%s: database rejected the series of a message from agent %s, parking it: %s", base->name,
                e->agent_id, err);
        e->dead = 1;
        snprintf(e->reason, sizeof(e->reason), "database rejected: %.200s", err);
        return 0;
    }
    if (r < 0)
        return r;
    e->off = w->copy.len;
    r = sr_copybuf_append_series(&w->copy, &u, w->ids);
    if (r == -ENOBUFS)
        return r; /* the caller flushes what it has and retries */
    if (r < 0) {
        e->dead = 1;
        snprintf(e->reason, sizeof(e->reason), "could not encode points: %s", strerror(-r));
        return 0;
    }
    e->len = w->copy.len - e->off;
    return 0;
}

static const sr_ingest_worker_ops METRICS_OPS = {
    .stream = SR_STREAM_TELEMETRY,
    .consumer = SR_CONSUMER_METRICS,
    .subject = SR_SUBJECT_METRICS,
    .rows = "points",
    .reports = 1,
    .prepare = prepare_metrics,
    .copy_reset = reset_metrics,
    .decode = decode_entry,
    .write = write_metrics,
};

static sr_metrics_worker *metrics_worker_free(sr_metrics_worker *w) {
    if (!w)
        return NULL;
    sr_ingest_worker_done(&w->base); /* joins the thread first */
    sr_telemetry_decoder_free(w->dec);
    sr_copybuf_done(&w->copy);
    sr_series_cache_free(w->series);
    free(w->ids);
    free(w->hosts);
    free(w);
    return NULL;
}

static int metrics_worker_start(sr_ingest *ing, int index, sr_metrics_worker **ret) {
    sr_metrics_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    sr_copybuf_init(&w->copy, COPYBUF_MAX);
    w->hosts = calloc((size_t)ing->cfg.batch_size, sizeof(*w->hosts));
    int r =
        (!w->hosts || sr_telemetry_decoder_new(&w->dec) < 0 || sr_series_cache_new(SERIES_CACHE_MAX, &w->series) < 0)
            ? -ENOMEM
            : 0;
    if (r == 0)
        r = sr_ingest_worker_start(&w->base, ing, &METRICS_OPS, "ingest", index, ing->cfg.batch_size, COPYBUF_MAX,
                                   &ing->stats->points_written);
    if (r < 0) {
        metrics_worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

/* ---- lifecycle ---- */

static void request_stop(sr_ingest *ing) {
    pthread_mutex_lock(&ing->lock);
    atomic_store(&ing->stop, 1);
    pthread_cond_broadcast(&ing->cond);
    pthread_mutex_unlock(&ing->lock);
}

static void join_all(sr_ingest *ing) {
    if (ing->stopped)
        return;
    for (int i = 0; i < ing->n_workers; i++)
        ing->workers[i] = metrics_worker_free(ing->workers[i]);
    for (int i = 0; i < ing->n_events; i++)
        ing->events[i] = sr_events_worker_free(ing->events[i]);
    for (int i = 0; i < ing->n_scans; i++)
        ing->scans[i] = sr_scans_worker_free(ing->scans[i]);
    ing->agents = sr_agents_worker_free(ing->agents);
    ing->stopped = 1;
}

int sr_ingest_start(const sr_ingest_config *cfg, natsConnection *nc, sr_core_stats *stats, sr_ingest **ret) {
    if (!cfg || !cfg->pg_conninfo || !nc || !stats || cfg->workers < 1 || cfg->workers > 64 || cfg->batch_size < 1 ||
        cfg->batch_size > 4096 || cfg->batch_wait_ms < 1 || cfg->events_workers < 0 || cfg->events_workers > 64 ||
        cfg->falco_workers < 0 || cfg->falco_workers > 64 || cfg->events_batch_size < 0 ||
        cfg->events_batch_size > 4096 || cfg->scan_workers < 0 || cfg->scan_workers > 64)
        return -EINVAL;
    sr_ingest *ing = calloc(1, sizeof(*ing));
    if (!ing)
        return -ENOMEM;
    ing->cfg = *cfg;
    if (ing->cfg.sweep_interval_ms <= 0)
        ing->cfg.sweep_interval_ms = 5000;
    if (ing->cfg.stats_interval_ms <= 0)
        ing->cfg.stats_interval_ms = 5000;
    if (ing->cfg.nak_delay_ms <= 0)
        ing->cfg.nak_delay_ms = 1000;
    if (ing->cfg.offline_after_ms <= 0)
        ing->cfg.offline_after_ms = 45000;
    /* On the monotonic clock, for sr_ingest_wait. Made first, since sr_ingest_free destroys it. */
    int r = sr_mono_cond_init(&ing->cond);
    if (r < 0) {
        free(ing);
        return r;
    }
    ing->conninfo = strdup(cfg->pg_conninfo);
    ing->nc = nc;
    ing->stats = stats;
    pthread_mutex_init(&ing->lock, NULL);
    ing->workers = calloc((size_t)cfg->workers, sizeof(*ing->workers));
    ing->events = calloc((size_t)(cfg->events_workers + cfg->falco_workers) + 1, sizeof(*ing->events));
    ing->scans = calloc((size_t)cfg->scan_workers + 1, sizeof(*ing->scans));
    r = (!ing->conninfo || !ing->workers || !ing->events || !ing->scans) ? -ENOMEM : 0;
    for (int i = 0; r == 0 && i < cfg->workers; i++) {
        r = metrics_worker_start(ing, i, &ing->workers[i]);
        if (r == 0)
            ing->n_workers++;
    }
    for (int i = 0; r == 0 && i < cfg->events_workers + cfg->falco_workers; i++) {
        int falco = i >= cfg->events_workers;
        r = sr_events_worker_start(ing, falco ? SR_EVENTS_FALCO : SR_EVENTS_LOGS,
                                   falco ? i - cfg->events_workers : i, &ing->events[i]);
        if (r == 0)
            ing->n_events++;
    }
    for (int i = 0; r == 0 && i < cfg->scan_workers; i++) {
        r = sr_scans_worker_start(ing, i, &ing->scans[i]);
        if (r == 0)
            ing->n_scans++;
    }
    if (r == 0)
        r = sr_agents_worker_start(ing, &ing->agents);
    if (r < 0) {
        sr_ingest_free(ing);
        return r;
    }
    *ret = ing;
    return 0;
}

void sr_ingest_stop(sr_ingest *ing) {
    if (!ing)
        return;
    request_stop(ing);
    join_all(ing);
}

void sr_ingest_abort(sr_ingest *ing) {
    if (!ing)
        return;
    atomic_store(&ing->abort, 1);
    request_stop(ing);
    join_all(ing);
}

sr_ingest *sr_ingest_free(sr_ingest *ing) {
    if (!ing)
        return NULL;
    sr_ingest_stop(ing);
    free(ing->workers);
    free(ing->events);
    free(ing->scans);
    free(ing->conninfo);
    pthread_cond_destroy(&ing->cond);
    pthread_mutex_destroy(&ing->lock);
    free(ing);
    return NULL;
}
