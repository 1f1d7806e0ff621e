/* The core's HTTP API: JSON endpoints under /api/v1, /healthz, /readyz, Prometheus /metrics
 * and the web UI's static files. libmicrohttpd with a pool of threads, one PostgreSQL
 * connection per thread. See docs/internals/api.md. */
#pragma once
#include <nats/nats.h>

#include "sr_core_stats.h"

typedef struct sr_api sr_api;

typedef struct {
    const char *listen;      /* "127.0.0.1:8080" (host:port; "[::1]:8080" for IPv6) */
    const char *pg_conninfo; /* libpq connection string */
    const char *web_root;    /* dir with index.html; may be missing: then / answers 503
                                "web UI not built (run make web)" */
    const char *pki_dir;     /* CA directory for POST /api/v1/enroll */
    int threads;             /* default 4 (0 means default) */
} sr_api_config;

/* Starts the server; returns 0 or a negative errno (-EINVAL bad config, -EADDRINUSE, ...).
 * stats must outlive the API; nc may be NULL (then command endpoints answer 503). */
int sr_api_start(const sr_api_config *cfg, sr_core_stats *stats, natsConnection *nc, sr_api **ret);

/* The TCP port the server listens on (useful with port 0), or a negative errno. */
int sr_api_port(const sr_api *api);

/* Stops and frees; accepts NULL; returns NULL. */
sr_api *sr_api_free(sr_api *api);
