/* The core's consumers: metrics workers (TELEMETRY/core-metrics -> metrics, ingest_batches,
 * hosts, dead_letters), events workers (LOGS/core-logs and SECURITY/core-falco -> events,
 * ingest_batches, dead_letters), scan workers (SCANS/core-scans -> scan_parts, scans, packages,
 * vulnerabilities, findings, sboms; sr_ingest_scans.c) and one agents worker (AGENTS/core-agents -> hosts, the core NATS
 * subject commands.results.> -> commands, and a periodic sweep for offline hosts and expired
 * commands). Each worker is a thread with its own PostgreSQL connection. A message is
 * acknowledged only after its rows are committed; see docs/internals/ingest.md. */
#pragma once
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_core_stats.h"

typedef struct {
    const char *pg_conninfo;
    int workers;               /* metrics workers, >= 1 */
    int batch_size;            /* messages per fetch (<= 4096) */
    int64_t batch_wait_ms;     /* longest wait for a batch to fill */
    int64_t offline_after_ms;  /* hosts silent this long are marked offline */
    int64_t sweep_interval_ms; /* how often the sweep runs */
    int64_t stats_interval_ms; /* how often the consumer's pending counts are read */
    int64_t nak_delay_ms;      /* redelivery delay after a failed transaction */
    int events_workers;        /* core-logs workers (0: none) */
    int falco_workers;         /* core-falco workers (0: none) */
    int events_batch_size;     /* messages per fetch of an events worker (<= 4096; 0: batch_size) */
    int scan_workers;          /* core-scans workers (0: none) */
    size_t scan_max_document_bytes; /* largest report or SBOM assembled (0: 128 MiB) */
} sr_ingest_config;

typedef struct sr_ingest sr_ingest;

/* Binds to the durable consumers (sr_streams_ensure first) and starts the threads. nc and stats
 * are borrowed and must outlive the ingest. Returns 0 or a negative errno. */
int sr_ingest_start(const sr_ingest_config *cfg, natsConnection *nc, sr_core_stats *stats, sr_ingest **ret);
/* Stops the workers after their current batch is committed and acknowledged. */
void sr_ingest_stop(sr_ingest *ing);
/* Test hook: stops the workers abruptly, as a crash would: a batch being processed is
 * committed or rolled back but never acknowledged, and fetched messages are dropped. */
void sr_ingest_abort(sr_ingest *ing);
/* Stops (if still running) and frees; accepts NULL; returns NULL. */
sr_ingest *sr_ingest_free(sr_ingest *ing);
