/* Shared between the files of sr_core_api; not exported. */
#pragma once
#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_api.h"
#include "sr_api_pool.h"
#include "sr_api_query.h"

#define SR_API_BODY_MAX (64 * 1024)     /* request bodies */
#define SR_API_DB_WAIT_MS 5000          /* waiting for a free pool connection */
#define SR_API_MAX_POINTS 200000        /* rows of one metrics answer */
#define SR_API_MAX_ROWS 50000           /* rows of a list answer */
#define SR_API_COMMAND_DEADLINE_MS 60000

/* Counted response codes for serviceradar_http_requests_total; the last slot is "other". */
#define SR_API_CODES_N 18
extern const unsigned sr_api_counted_codes[SR_API_CODES_N - 1];

struct sr_api {
    struct MHD_Daemon *daemon;
    sr_core_stats *stats;
    natsConnection *nc;
    char *web_root;
    char *pki_dir;
    sr_api_pool *pool;
    int64_t started_unix_ms;
    _Atomic uint64_t codes[SR_API_CODES_N];
};

/* One request: the raw target (from MHD's URI log callback) and the capped body. */
typedef struct {
    char *uri;
    int uri_too_long;
    int started;
    int body_too_large;
    char *body;
    size_t body_len;
} sr_api_req;

/* The embedded OpenAPI document (generated at build time from openapi.json). */
extern const char sr_api_openapi_json[];
extern const size_t sr_api_openapi_json_len;

/* Responding: each adds the security headers, counts the code and queues. */
enum MHD_Result sr_api_reply(sr_api *api, struct MHD_Connection *c, unsigned status, struct MHD_Response *resp);
/* Steals body (may be NULL: 500). */
enum MHD_Result sr_api_reply_json(sr_api *api, struct MHD_Connection *c, unsigned status, json_t *body);
enum MHD_Result sr_api_reply_error(sr_api *api, struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Handlers backed by the database (sr_api_handlers.c). */
enum MHD_Result sr_api_get_hosts(sr_api *api, struct MHD_Connection *c);
enum MHD_Result sr_api_get_host(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_get_host_metrics(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_get_host_metric_names(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_post_command(sr_api *api, struct MHD_Connection *c, const sr_api_target *t,
                                    const sr_api_req *req);
enum MHD_Result sr_api_get_command(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_post_enroll(sr_api *api, struct MHD_Connection *c, const sr_api_req *req);
enum MHD_Result sr_api_get_readyz(sr_api *api, struct MHD_Connection *c);
enum MHD_Result sr_api_get_jobs(sr_api *api, struct MHD_Connection *c);
/* Vulnerability scan results (sr_api_vulns.c). */
enum MHD_Result sr_api_get_findings(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_get_findings_summary(sr_api *api, struct MHD_Connection *c);
enum MHD_Result sr_api_get_vulnerability(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_get_host_packages(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
enum MHD_Result sr_api_get_host_sbom(sr_api *api, struct MHD_Connection *c, const sr_api_target *t);
