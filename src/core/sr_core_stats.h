/* Counters the core's pipeline keeps about itself, read by the HTTP API for /metrics and
 * /readyz. Written by the ingest threads, read anywhere: every field is atomic. */
#pragma once
#include <stdatomic.h>
#include <stdint.h>

#define SR_BATCH_HIST_BUCKETS 10 /* bucket i counts batches of size <= 2^i (1..512), bucket 10 larger */

typedef struct sr_core_stats {
    _Atomic uint64_t messages_received;    /* JetStream messages fetched */
    _Atomic uint64_t messages_acked;       /* acknowledged after commit */
    _Atomic uint64_t batches_committed;    /* database transactions committed */
    _Atomic uint64_t points_written;       /* metric rows inserted */
    _Atomic uint64_t events_written;       /* event rows inserted (logs, Falco alerts) */
    _Atomic uint64_t duplicates_skipped;   /* batches already stored (redelivery) */
    _Atomic uint64_t dead_letters;         /* messages parked with a reason */
    _Atomic uint64_t db_errors;            /* failed transactions (retried) */
    _Atomic uint64_t nats_errors;          /* fetch / ack failures */
    _Atomic int64_t consumer_pending;      /* last known num_pending of the durable consumer */
    _Atomic int64_t consumer_ack_pending;  /* last known num_ack_pending */
    _Atomic uint64_t batch_size_hist[SR_BATCH_HIST_BUCKETS + 1]; /* bucket counts */
    _Atomic uint64_t batch_size_sum;
    _Atomic uint64_t commit_ms_sum;        /* time spent in COPY + commit */
    _Atomic int nats_connected;            /* 1 when the NATS connection is up */
    _Atomic int db_connected;              /* 1 when the ingest database connection is up */
    _Atomic int64_t started_unix_ms;
} sr_core_stats;
