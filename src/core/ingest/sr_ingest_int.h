/* Internals shared by the ingest workers (not installed for other modules). */
#pragma once
#include <libpq-fe.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_core_stats.h"
#include "sr_ingest.h"

/* Growable text buffer with a cap, for query parameters (array literals). */
typedef struct {
    char *data;
    size_t len, cap, max;
} sr_textbuf;

void sr_textbuf_init(sr_textbuf *b, size_t max);
void sr_textbuf_done(sr_textbuf *b);
void sr_textbuf_reset(sr_textbuf *b);
int sr_textbuf_put(sr_textbuf *b, const char *s, size_t len);
/* Appends s as one double-quoted element of a PostgreSQL array literal. */
int sr_textbuf_put_array_elem(sr_textbuf *b, const char *s, size_t len);

typedef struct sr_agents_worker sr_agents_worker;
typedef struct sr_metrics_worker sr_metrics_worker;
typedef struct sr_events_worker sr_events_worker;
typedef struct sr_scans_worker sr_scans_worker;
typedef enum { SR_EVENTS_LOGS, SR_EVENTS_FALCO } sr_events_kind;

struct sr_ingest {
    sr_ingest_config cfg;
    char *conninfo;
    natsConnection *nc;
    sr_core_stats *stats;
    atomic_int stop;
    atomic_int abort;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on stop, for interruptible waits */
    sr_metrics_worker **workers;
    int n_workers;
    sr_agents_worker *agents;
    sr_events_worker **events; /* logs workers, then Falco workers */
    int n_events;
    sr_scans_worker **scans;
    int n_scans;
    int stopped;
};

/* Waits up to ms unless stop is requested. */
void sr_ingest_wait(sr_ingest *ing, int64_t ms);
/* Makes *pg a live connection, retrying with backoff (*backoff_ms kept by the caller) until it
 * works or stop is requested (-ECANCELED). who names the worker in log lines. */
int sr_ingest_pg_ensure(sr_ingest *ing, PGconn **pg, int64_t *backoff_ms, const char *who);
/* Inserts one dead_letters row for msg (stream may be "" for core NATS subjects). */
int sr_ingest_dead_letter(PGconn *pg, natsMsg *msg, const char *stream, const char *reason, PGresult **ret_err);
/* Replaces bytes that are not UTF-8 with '?', so any text can go into a text column. */
void sr_ingest_utf8_sanitize(char *s);

/* ---- batch workers (sr_ingest_worker.c): the loop the metrics and events workers share ----
 * Fetch a batch from a pull subscription, decode each message into an entry and its rows into the
 * kind's COPY buffer, then one transaction per buffer-full (dead letters, ingest_batches keys, the
 * kind's rows), acknowledgements only after the commit, nak with delay when it fails. */

typedef struct sr_ingest_worker sr_ingest_worker;

/* One fetched message. */
typedef struct {
    natsMsg *msg;
    int dead;
    int is_new; /* its ingest_batches key was not seen before */
    char reason[256];
    const char *agent_id; /* lives as long as msg, or a constant */
    size_t agent_len;
    uint64_t epoch, seq;
    size_t n_rows;    /* points or events */
    size_t off, len;  /* its rows in the COPY buffer */
} sr_ingest_entry;

/* What differs between the kinds of worker. */
typedef struct {
    const char *stream, *consumer, *subject;
    const char *rows; /* "points", "events": names the rows in messages */
    int reports;      /* the metrics workers: batch size histogram; index 0 db_connected, consumer state */
    /* Prepares the kind's statements on a new connection; NULL when none. 0 or -EIO (logged). */
    int (*prepare)(sr_ingest_worker *w);
    /* Empties the COPY buffer. */
    void (*copy_reset)(sr_ingest_worker *w);
    /* Decodes w->e[i] (msg set, the rest zero) and appends its rows to the COPY buffer, setting off
     * and len. 0 (e->dead set for a bad message), -ENOBUFS when the buffer is full (nothing of the
     * entry kept) or -EIO when the database could not be asked (the batch goes back). */
    int (*decode)(sr_ingest_worker *w, size_t i, int64_t now);
    /* Inside the transaction: writes the rows of the new entries of [a, b). 0, -EBADMSG, -ENOBUFS
     * (the data is at fault) or -EIO, with err set. */
    int (*write)(sr_ingest_worker *w, size_t a, size_t b, size_t n_rows, size_t fresh, char *err, size_t errlen);
} sr_ingest_worker_ops;

/* The common part of a worker, embedded at the start of the kind's own struct. */
struct sr_ingest_worker {
    sr_ingest *ing;
    const sr_ingest_worker_ops *ops;
    int index;
    char name[32];
    int batch;                      /* messages per fetch */
    size_t copy_max;                /* the COPY buffer's cap, for reasons */
    _Atomic uint64_t *rows_written; /* the stats counter of the kind's rows */
    pthread_t thread;
    int started;
    jsCtx *js;
    natsSubscription *sub;
    PGconn *pg;
    int prepared; /* the statements exist on pg */
    int64_t backoff_ms;
    int64_t next_stats_ms;
    sr_ingest_entry *e; /* batch entries */
    sr_textbuf p1, p2, p3;
};

/* Fills in the common part (name, buffers, entries, subscription) and starts the thread, after the
 * kind has set up its own part. On failure the kind frees what it has with sr_ingest_worker_done. */
int sr_ingest_worker_start(sr_ingest_worker *w, sr_ingest *ing, const sr_ingest_worker_ops *ops, const char *name,
                           int index, int batch, size_t copy_max, _Atomic uint64_t *rows_written);
/* Joins the thread and frees the common part; accepts a zeroed or half-built one. */
void sr_ingest_worker_done(sr_ingest_worker *w);
/* Classifies a failed statement (res consumed, rolls back): -EBADMSG when the data is at fault,
 * -EIO otherwise (logged). */
int sr_ingest_tx_error(sr_ingest_worker *w, PGresult *res, const char *what, char *err, size_t errlen);
/* The three array parameters p1..p3: begin empties them and opens each literal, end closes them
 * and points params at them. Non-zero when a parameter would exceed its cap. */
int sr_ingest_params_begin(sr_ingest_worker *w);
int sr_ingest_params_end(sr_ingest_worker *w, const char *params[3]);
int sr_ingest_put_i64(sr_textbuf *b, int64_t v, int first);
/* Runs copy_sql (COPY ... FROM STDIN into table) with the rows of the new entries of [a, b) from
 * data, between head and tail (may be empty). 0 or as sr_ingest_tx_error. */
int sr_ingest_copy_rows(sr_ingest_worker *w, const char *copy_sql, const char *table, const char *data,
                        const char *head, size_t head_len, const char *tail, size_t tail_len, size_t a, size_t b,
                        char *err, size_t errlen);

int sr_agents_worker_start(sr_ingest *ing, sr_agents_worker **ret);
int sr_events_worker_start(sr_ingest *ing, sr_events_kind kind, int index, sr_events_worker **ret);
sr_events_worker *sr_events_worker_free(sr_events_worker *w); /* joins the thread */
sr_agents_worker *sr_agents_worker_free(sr_agents_worker *w); /* joins the thread */
int sr_scans_worker_start(sr_ingest *ing, int index, sr_scans_worker **ret); /* sr_ingest_scans.c */
sr_scans_worker *sr_scans_worker_free(sr_scans_worker *w);                    /* joins the thread */
