/* Request-target parsing and parameter validation for the core's HTTP API. Pure functions
 * over outside input (the raw request URI as the client sent it): no I/O, fuzzed by
 * fuzz/fuzz_api_query.c. Internal to sr_core_api. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SR_API_URI_MAX 8192        /* longer request targets are refused */
#define SR_API_QUERY_PARAMS_MAX 64 /* key=value pairs in a query string */
#define SR_API_AGENT_ID_MAX 64
#define SR_API_COMMAND_ID_MAX 64
#define SR_API_NAME_MAX 128
#define SR_API_DIM_MAX 256
#define SR_API_TIME_ARG_MAX 64
#define SR_API_STEP_ARG_MAX 32
#define SR_API_MAX_RANGE_MS (400LL * 86400 * 1000)
#define SR_API_MAX_BUCKETS 10000
#define SR_API_DEFAULT_RANGE_MS (3600LL * 1000)
#define SR_API_TARGET_POINTS 360
#define SR_API_ERR_MAX 160
/* Vulnerability endpoints (sr_api_vulns.c). */
#define SR_API_VULN_ID_MAX 64
#define SR_API_STATUS_MAX 16
#define SR_API_SEVERITY_ARG_MAX 64   /* a comma list of severities */
#define SR_API_SCAN_TARGET_MAX 138   /* "host" or "container:<id>" with an id of 1..128 */
#define SR_API_LIMIT_ARG_MAX 16
#define SR_API_CURSOR_MAX 64

typedef enum {
    SR_ROUTE_STATIC = 0,       /* anything outside /api/ and the fixed paths: web UI */
    SR_ROUTE_API_UNKNOWN,      /* under /api/ but no such endpoint: 404, never the UI */
    SR_ROUTE_HEALTHZ,          /* /healthz */
    SR_ROUTE_READYZ,           /* /readyz */
    SR_ROUTE_METRICS,          /* /metrics */
    SR_ROUTE_OPENAPI,          /* /api/v1/openapi.json */
    SR_ROUTE_HOSTS,            /* /api/v1/hosts */
    SR_ROUTE_HOST,             /* /api/v1/hosts/{agent_id} */
    SR_ROUTE_HOST_METRICS,     /* /api/v1/hosts/{agent_id}/metrics */
    SR_ROUTE_HOST_METRIC_NAMES,/* /api/v1/hosts/{agent_id}/metric-names */
    SR_ROUTE_AGENT_COMMANDS,   /* /api/v1/agents/{agent_id}/commands */
    SR_ROUTE_COMMAND,          /* /api/v1/commands/{command_id} */
    SR_ROUTE_ENROLL,           /* /api/v1/enroll */
    SR_ROUTE_JOBS,             /* /api/v1/jobs */
    SR_ROUTE_FINDINGS,         /* /api/v1/findings */
    SR_ROUTE_FINDINGS_SUMMARY, /* /api/v1/findings/summary */
    SR_ROUTE_VULNERABILITY,    /* /api/v1/vulnerabilities/{vulnerability_id} */
    SR_ROUTE_HOST_FINDINGS,    /* /api/v1/hosts/{agent_id}/findings */
    SR_ROUTE_HOST_PACKAGES,    /* /api/v1/hosts/{agent_id}/packages */
    SR_ROUTE_HOST_SBOM,        /* /api/v1/hosts/{agent_id}/sbom */
} sr_api_route;

/* What a request target says, decoded. Strings are NUL-terminated; has_* tells presence. */
typedef struct {
    sr_api_route route;
    char id[SR_API_AGENT_ID_MAX + 1]; /* agent_id, command_id or vulnerability id of the route, validated */
    char path[SR_API_URI_MAX + 1];    /* percent-decoded path (SR_ROUTE_STATIC), no NUL bytes,
                                         no "." or ".." segments */
    int has_name, has_dim, has_from, has_to, has_step;
    char name[SR_API_NAME_MAX + 1];
    char dim[SR_API_DIM_MAX + 1];
    char from[SR_API_TIME_ARG_MAX + 1];
    char to[SR_API_TIME_ARG_MAX + 1];
    char step[SR_API_STEP_ARG_MAX + 1];
    int has_status, has_severity, has_target, has_limit, has_cursor; /* vulnerability endpoints */
    char status[SR_API_STATUS_MAX + 1];
    char severity[SR_API_SEVERITY_ARG_MAX + 1];
    char target[SR_API_SCAN_TARGET_MAX + 1];
    char limit[SR_API_LIMIT_ARG_MAX + 1];
    char cursor[SR_API_CURSOR_MAX + 1];
} sr_api_target;

/* Parses a raw request target ("/api/v1/hosts/web-01/metrics?name=cpu.usage_pct&dim=total").
 * Returns 0 and fills *ret, or -EINVAL with a client-facing reason in err (a 400). Unknown
 * query parameters are ignored; a repeated known one is an error. */
int sr_api_target_parse(const char *uri, sr_api_target *ret, char *err, size_t errlen);

/* Resolved query of GET /api/v1/hosts/{agent_id}/metrics. */
typedef struct {
    int64_t from_ms, to_ms; /* from < to, to - from <= SR_API_MAX_RANGE_MS */
    int64_t step_s;         /* >= 1, (to - from) / step <= SR_API_MAX_BUCKETS (rounded up) */
} sr_api_metrics_query;

/* Validates name/dim/from/to/step of a target against now_ms, filling the defaults.
 * Returns 0 or -EINVAL with a reason in err. */
int sr_api_metrics_query_resolve(const sr_api_target *t, int64_t now_ms, sr_api_metrics_query *ret, char *err,
                                 size_t errlen);

/* Which stored resolution answers a metrics query. Raw points are kept from raw_from on (the
 * metrics_retention job drops older ones, whole days, after rolling them up); before it only the
 * hourly rollups remain. */
typedef enum {
    SR_API_RES_RAW = 0, /* the range starts at or after raw_from (or nothing was dropped) */
    SR_API_RES_ROLLUP,  /* the range ends at or before raw_from: hourly rollups only */
    SR_API_RES_MIXED,   /* rollups before raw_from, raw points from it on */
} sr_api_resolution;

/* has_raw_from 0: no raw point was ever dropped. */
sr_api_resolution sr_api_metrics_resolution(const sr_api_metrics_query *q, int has_raw_from, int64_t raw_from_ms);
/* "raw", "rollup_1h" or "mixed". */
const char *sr_api_resolution_name(sr_api_resolution r);

/* "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.250+02:00" (RFC 3339, years 1970-9999) or
 * Unix milliseconds ("1714557600000"). Returns 0 or -EINVAL / -ERANGE. */
int sr_api_time_parse(const char *s, int64_t *ret_ms);
/* Formats Unix ms as RFC 3339 UTC ("2024-05-01T10:00:00Z", or with ".250" when ms != 0).
 * buf needs at least 32 bytes. Returns 0 or -EINVAL / -ERANGE. */
int sr_api_time_format(int64_t ms, char *buf, size_t len);

/* [A-Za-z0-9._-]{1,64}, not starting or ending with '.' and without "..": usable as a NATS
 * subject token sequence. */
int sr_api_agent_id_valid(const char *s);
/* [a-z_]{1,32}. */
int sr_api_command_type_valid(const char *s);
/* A vulnerability id: [A-Za-z0-9._:-]{1,64} (CVE-2021-44228, GHSA-..., DLA-3008-1). */
int sr_api_vuln_id_valid(const char *s);
/* [a-z0-9._]{1,128}. */
int sr_api_metric_name_valid(const char *s);
