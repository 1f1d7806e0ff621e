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

int sr_agents_worker_start(sr_ingest *ing, sr_agents_worker **ret);
int sr_events_worker_start(sr_ingest *ing, sr_events_kind kind, int index, sr_events_worker **ret);
sr_events_worker *sr_events_worker_free(sr_events_worker *w); /* joins the thread */
sr_agents_worker *sr_agents_worker_free(sr_agents_worker *w); /* joins the thread */
