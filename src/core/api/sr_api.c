/* HTTP server: libmicrohttpd daemon, request routing, responses, static files of the web UI,
 * /healthz and Prometheus /metrics. Database-backed endpoints live in sr_api_handlers.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_api_internal.h"
#include "sr_api_search.h"
#include "sr_cleanup.h"
#include "sr_parse.h"
#include "sr_time.h"

#define SR_API_THREADS_DEFAULT 4
#define SR_API_THREADS_MAX 64
#define SR_API_CONNECTION_LIMIT 256
#define SR_API_CONNECTION_TIMEOUT_S 30
#define SR_API_METRICS_BUF (32 * 1024)

const unsigned sr_api_counted_codes[SR_API_CODES_N - 1] = {200, 202, 204, 206, 301, 304, 400, 403, 404,
                                                           405, 406, 410, 413, 414, 416, 500, 503};

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                          "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'self'; frame-ancestors 'none'; form-action 'self'";

static const char *error_code_for(unsigned status) {
    switch (status) {
    case MHD_HTTP_BAD_REQUEST:
        return "bad_request";
    case MHD_HTTP_FORBIDDEN:
        return "forbidden";
    case MHD_HTTP_NOT_FOUND:
        return "not_found";
    case MHD_HTTP_METHOD_NOT_ALLOWED:
        return "method_not_allowed";
    case MHD_HTTP_GONE:
        return "gone";
    case MHD_HTTP_CONTENT_TOO_LARGE:
        return "too_large";
    case MHD_HTTP_SERVICE_UNAVAILABLE:
        return "unavailable";
    default:
        return "internal";
    }
}

static void count_code(sr_api *api, unsigned status) {
    size_t i = 0;
    while (i < SR_API_CODES_N - 1 && sr_api_counted_codes[i] != status)
        i++;
    atomic_fetch_add_explicit(&api->codes[i], 1, memory_order_relaxed);
}

enum MHD_Result sr_api_reply(sr_api *api, struct MHD_Connection *c, unsigned status, struct MHD_Response *resp) {
    if (!resp)
        return MHD_NO;
    (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(resp, "Content-Security-Policy", csp);
    (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    (void)MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    count_code(api, status);
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result reply_buffer(sr_api *api, struct MHD_Connection *c, unsigned status, const char *type,
                                    char *buf, size_t len) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return sr_api_reply(api, c, status, resp);
}

enum MHD_Result sr_api_reply_json(sr_api *api, struct MHD_Connection *c, unsigned status, json_t *body) {
    if (!body)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply_buffer(api, c, status, "application/json", s, strlen(s));
}

enum MHD_Result sr_api_reply_error(sr_api *api, struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", error_code_for(status), "message", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        /* last resort, static text */
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)(uintptr_t)oom, MHD_RESPMEM_PERSISTENT);
        if (resp)
            (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        return sr_api_reply(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
    }
    return reply_buffer(api, c, status, "application/json", s, strlen(s));
}

/* ---- /metrics ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int overflow;
} textbuf;

static void tb_printf(textbuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(textbuf *tb, const char *fmt, ...) {
    if (tb->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tb->buf + tb->len, tb->cap - tb->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= tb->cap - tb->len) {
        tb->overflow = 1;
        return;
    }
    tb->len += (size_t)n;
}

static void tb_counter(textbuf *tb, const char *name, const char *help, uint64_t v) {
    tb_printf(tb, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static uint64_t ld(_Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }

static int64_t resident_bytes(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size = 0, rss = 0;
    if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (int64_t)rss * (page > 0 ? page : 4096);
}

static enum MHD_Result serve_metrics(sr_api *api, struct MHD_Connection *c) {
    textbuf tb = {.buf = malloc(SR_API_METRICS_BUF), .cap = SR_API_METRICS_BUF};
    if (!tb.buf)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    sr_core_stats *st = api->stats;
    tb_counter(&tb, "serviceradar_ingest_messages_total", "JetStream messages fetched by the ingest consumers.",
               ld(&st->messages_received));
    tb_counter(&tb, "serviceradar_ingest_points_total", "Metric points written to the database.",
               ld(&st->points_written));
    tb_counter(&tb, "serviceradar_ingest_batches_total", "Database transactions committed by ingest.",
               ld(&st->batches_committed));
    tb_counter(&tb, "serviceradar_ingest_duplicates_total", "Batches skipped because they were already stored.",
               ld(&st->duplicates_skipped));
    tb_counter(&tb, "serviceradar_ingest_dead_letters_total", "Messages parked in dead_letters with a reason.",
               ld(&st->dead_letters));
    tb_counter(&tb, "serviceradar_ingest_db_errors_total", "Failed ingest transactions (retried).",
               ld(&st->db_errors));
    tb_counter(&tb, "serviceradar_ingest_nats_errors_total", "JetStream fetch and ack failures.",
               ld(&st->nats_errors));
    tb_printf(&tb,
              "# HELP serviceradar_ingest_consumer_pending Messages pending on the durable consumer (last seen).\n"
              "# TYPE serviceradar_ingest_consumer_pending gauge\nserviceradar_ingest_consumer_pending %lld\n",
              (long long)atomic_load_explicit(&st->consumer_pending, memory_order_relaxed));

    /* histogram: bucket i < SR_BATCH_HIST_BUCKETS counts batches of size <= 2^i (and above
     * the previous bound); the last one counts the rest */
    tb_printf(&tb, "# HELP serviceradar_ingest_batch_size Messages per committed ingest batch.\n"
                   "# TYPE serviceradar_ingest_batch_size histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < SR_BATCH_HIST_BUCKETS; i++) {
        cum += ld(&st->batch_size_hist[i]);
        tb_printf(&tb, "serviceradar_ingest_batch_size_bucket{le=\"%llu\"} %llu\n", 1ULL << i,
                  (unsigned long long)cum);
    }
    cum += ld(&st->batch_size_hist[SR_BATCH_HIST_BUCKETS]);
    tb_printf(&tb, "serviceradar_ingest_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    tb_printf(&tb, "serviceradar_ingest_batch_size_sum %llu\nserviceradar_ingest_batch_size_count %llu\n",
              (unsigned long long)ld(&st->batch_size_sum), (unsigned long long)cum);

    uint64_t cms = ld(&st->commit_ms_sum);
    tb_printf(&tb,
              "# HELP serviceradar_ingest_commit_seconds_sum Seconds spent writing and committing ingest batches.\n"
              "# TYPE serviceradar_ingest_commit_seconds_sum counter\n"
              "serviceradar_ingest_commit_seconds_sum %llu.%03llu\n",
              (unsigned long long)(cms / 1000), (unsigned long long)(cms % 1000));

    tb_printf(&tb, "# HELP serviceradar_http_requests_total HTTP responses of the core's API by status code.\n"
                   "# TYPE serviceradar_http_requests_total counter\n");
    for (size_t i = 0; i < SR_API_CODES_N; i++) {
        uint64_t v = ld(&api->codes[i]);
        if (!v)
            continue;
        if (i < SR_API_CODES_N - 1)
            tb_printf(&tb, "serviceradar_http_requests_total{code=\"%u\"} %llu\n", sr_api_counted_codes[i],
                      (unsigned long long)v);
        else
            tb_printf(&tb, "serviceradar_http_requests_total{code=\"other\"} %llu\n", (unsigned long long)v);
    }

    tb_printf(&tb, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
              (long long)resident_bytes());
    int64_t start = atomic_load_explicit(&st->started_unix_ms, memory_order_relaxed);
    if (start <= 0)
        start = api->started_unix_ms;
    tb_printf(&tb,
              "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.\n"
              "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld.%03lld\n",
              (long long)(start / 1000), (long long)(start % 1000));
    if (tb.overflow) {
        free(tb.buf);
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not format metrics: too long");
    }
    return reply_buffer(api, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", tb.buf, tb.len);
}

/* ---- static files ---- */

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *mime_for(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < SR_ARRAY_SIZE(mime_types); i++)
            if (strcmp(dot, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

/* Opens a regular file at resolved (already inside root); -ENOENT when not a regular file. */
static int open_regular(const char *resolved, int *ret_fd, uint64_t *ret_size) {
    int fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -ENOENT;
    }
    *ret_fd = fd;
    *ret_size = (uint64_t)st.st_size;
    return 0;
}

static enum MHD_Result serve_fd(sr_api *api, struct MHD_Connection *c, int fd, uint64_t size, const char *path,
                                const char *cache) {
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime_for(path));
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    return sr_api_reply(api, c, MHD_HTTP_OK, resp);
}

static enum MHD_Result serve_index(sr_api *api, struct MHD_Connection *c, const char *root) {
    char p[PATH_MAX];
    int fd;
    uint64_t size;
    if ((size_t)snprintf(p, sizeof(p), "%s/index.html", root) >= sizeof(p) || open_regular(p, &fd, &size) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "web UI not built (run make web)");
    return serve_fd(api, c, fd, size, p, "no-cache");
}

static enum MHD_Result serve_static(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    _cleanup_free_ char *root = api->web_root ? realpath(api->web_root, NULL) : NULL;
    if (!root)
        return sr_api_reply_error(api, c, MHD_HTTP_SERVICE_UNAVAILABLE, "web UI not built (run make web)");
    size_t rootlen = strlen(root);
    const char *rel = t->path; /* starts with '/', no "." or ".." segments */
    if (rel[strspn(rel, "/")] == '\0')
        return serve_index(api, c, root);

    char cand[PATH_MAX];
    if ((size_t)snprintf(cand, sizeof(cand), "%s%s", root, rel) >= sizeof(cand))
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found");
    int is_asset = strncmp(rel, "/assets/", 8) == 0;
    _cleanup_free_ char *resolved = realpath(cand, NULL);
    if (!resolved) {
        if ((errno == ENOENT || errno == ENOTDIR) && !is_asset)
            return serve_index(api, c, root); /* client-side route */
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found");
    }
    /* symlinks may point anywhere: the resolved file must still be under the root */
    if (strncmp(resolved, root, rootlen) != 0 || (resolved[rootlen] != '/' && resolved[rootlen] != '\0'))
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found");
    struct stat st;
    if (stat(resolved, &st) == 0 && S_ISDIR(st.st_mode))
        return is_asset ? sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found") : serve_index(api, c, root);
    int fd;
    uint64_t size;
    if (open_regular(resolved, &fd, &size) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found");
    return serve_fd(api, c, fd, size, resolved,
                    is_asset ? "public, max-age=31536000, immutable"
                             : (strcmp(mime_for(resolved), mime_types[0].type) == 0 ? "no-cache" : "public, max-age=300"));
}

/* ---- dispatch ---- */

static enum MHD_Result serve_openapi(sr_api *api, struct MHD_Connection *c) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sr_api_openapi_json_len, (void *)(uintptr_t)sr_api_openapi_json, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return sr_api_reply(api, c, MHD_HTTP_OK, resp);
}

static enum MHD_Result method_not_allowed(sr_api *api, struct MHD_Connection *c, const char *allow) {
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", "method_not_allowed", "message", "method not allowed");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return sr_api_reply(api, c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static int is_post_route(sr_api_route r) { return r == SR_ROUTE_AGENT_COMMANDS || r == SR_ROUTE_ENROLL; }

static enum MHD_Result dispatch(sr_api *api, struct MHD_Connection *c, const char *method, sr_api_req *req) {
    if (req->uri_too_long)
        return sr_api_reply_error(api, c, MHD_HTTP_URI_TOO_LONG, "request target too long (at most %d bytes)",
                                  SR_API_URI_MAX);
    _cleanup_free_ sr_api_target *t = malloc(sizeof(*t));
    if (!t)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    char err[SR_API_ERR_MAX];
    if (sr_api_target_parse(req->uri, t, err, sizeof(err)) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);

    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (t->route == SR_ROUTE_API_UNKNOWN && strcmp(t->path, "/api/v1/query") == 0) { /* SRQL */
        if (!is_post)
            return method_not_allowed(api, c, "POST");
        if (req->body_too_large)
            return sr_api_reply_error(api, c, MHD_HTTP_CONTENT_TOO_LARGE,
                                      "request body too large (at most %d bytes)", SR_API_BODY_MAX);
        return sr_api_post_query(api, c, req);
    }
    if (t->route == SR_ROUTE_API_UNKNOWN)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", t->path);
    if (is_post_route(t->route) ? !is_post : !is_get)
        return method_not_allowed(api, c, is_post_route(t->route) ? "POST" : "GET, HEAD");
    if (req->body_too_large)
        return sr_api_reply_error(api, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large (at most %d bytes)",
                                  SR_API_BODY_MAX);

    switch (t->route) {
    case SR_ROUTE_HEALTHZ:
        return sr_api_reply_json(api, c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    case SR_ROUTE_READYZ:
        return sr_api_get_readyz(api, c);
    case SR_ROUTE_METRICS:
        return serve_metrics(api, c);
    case SR_ROUTE_OPENAPI:
        return serve_openapi(api, c);
    case SR_ROUTE_HOSTS:
        return sr_api_get_hosts(api, c);
    case SR_ROUTE_HOST:
        return sr_api_get_host(api, c, t);
    case SR_ROUTE_HOST_METRICS:
        return sr_api_get_host_metrics(api, c, t);
    case SR_ROUTE_HOST_METRIC_NAMES:
        return sr_api_get_host_metric_names(api, c, t);
    case SR_ROUTE_AGENT_COMMANDS:
        return sr_api_post_command(api, c, t, req);
    case SR_ROUTE_COMMAND:
        return sr_api_get_command(api, c, t);
    case SR_ROUTE_ENROLL:
        return sr_api_post_enroll(api, c, req);
    case SR_ROUTE_JOBS:
        return sr_api_get_jobs(api, c);
    case SR_ROUTE_FINDINGS:
    case SR_ROUTE_HOST_FINDINGS:
        return sr_api_get_findings(api, c, t);
    case SR_ROUTE_FINDINGS_SUMMARY:
        return sr_api_get_findings_summary(api, c);
    case SR_ROUTE_VULNERABILITY:
        return sr_api_get_vulnerability(api, c, t);
    case SR_ROUTE_HOST_PACKAGES:
        return sr_api_get_host_packages(api, c, t);
    case SR_ROUTE_HOST_SBOM:
        return sr_api_get_host_sbom(api, c, t);
    case SR_ROUTE_STATIC:
        return serve_static(api, c, t);
    case SR_ROUTE_API_UNKNOWN:
        break;
    }
    return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)url;
    (void)version;
    sr_api *api = cls;
    sr_api_req *req = *con_cls;
    if (!req) /* the URI callback could not allocate */
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (!req->started) {
        req->started = 1;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t len;
        if (cl && (sr_parse_u64(cl, &len) < 0 || len > SR_API_BODY_MAX)) /* MHD checked it is a number */
            req->body_too_large = 1;
        if (req->body_too_large)
            return sr_api_reply_error(api, c, MHD_HTTP_CONTENT_TOO_LARGE,
                                      "request body too large (at most %d bytes)", SR_API_BODY_MAX);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!req->body_too_large) {
            if (req->body_len + n > SR_API_BODY_MAX) {
                req->body_too_large = 1;
                free(req->body);
                req->body = NULL;
                req->body_len = 0;
            } else {
                char *nb = realloc(req->body, req->body_len + n + 1);
                if (!nb)
                    return MHD_NO;
                memcpy(nb + req->body_len, upload_data, n);
                req->body_len += n;
                nb[req->body_len] = '\0';
                req->body = nb;
            }
        }
        return MHD_YES;
    }
    return dispatch(api, c, method, req);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    sr_api_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    size_t n = uri ? strnlen(uri, SR_API_URI_MAX + 1) : 0;
    if (n > SR_API_URI_MAX) {
        req->uri_too_long = 1;
        n = 0;
    }
    req->uri = strndup(uri ? uri : "", n);
    if (!req->uri) {
        free(req);
        return NULL;
    }
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    sr_api_req *req = *con_cls;
    if (!req)
        return;
    free(req->uri);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

/* ---- lifecycle ---- */

/* "host:port", "[v6]:port" or ":port" (all interfaces). */
static int parse_listen(const char *listen, struct sockaddr_storage *ret, socklen_t *ret_len) {
    char host[256];
    const char *port;
    if (!listen || !*listen)
        return -EINVAL;
    if (listen[0] == '[') {
        const char *close_b = strchr(listen, ']');
        if (!close_b || close_b[1] != ':' || (size_t)(close_b - listen - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen + 1, (size_t)(close_b - listen - 1));
        host[close_b - listen - 1] = '\0';
        port = close_b + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return -EINVAL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    if (ai->ai_addrlen > sizeof(*ret)) {
        freeaddrinfo(ai);
        return -EINVAL;
    }
    memcpy(ret, ai->ai_addr, ai->ai_addrlen);
    *ret_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int sr_api_start(const sr_api_config *cfg, sr_core_stats *stats, natsConnection *nc, sr_api **ret) {
    if (!cfg || !stats || !ret || !cfg->pg_conninfo)
        return -EINVAL;
    int threads = cfg->threads > 0 ? cfg->threads : SR_API_THREADS_DEFAULT;
    if (threads > SR_API_THREADS_MAX)
        return -EINVAL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int r = parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:8080", &ss, &sslen);
    if (r < 0)
        return r;

    sr_api *api = calloc(1, sizeof(*api));
    if (!api)
        return -ENOMEM;
    api->stats = stats;
    api->nc = nc;
    api->started_unix_ms = sr_now_unix_ms();
    if ((cfg->web_root && !(api->web_root = strdup(cfg->web_root))) ||
        (cfg->pki_dir && !(api->pki_dir = strdup(cfg->pki_dir)))) {
        r = -ENOMEM;
        goto fail;
    }
    r = sr_api_pool_new(cfg->pg_conninfo, threads, &api->pool);
    if (r < 0)
        goto fail;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    api->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)SR_API_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SR_API_CONNECTION_TIMEOUT_S,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)NULL,
        MHD_OPTION_END);
    if (!api->daemon) {
        r = errno > 0 ? -errno : -EIO;
        goto fail;
    }
    *ret = api;
    return 0;
fail:
    sr_api_free(api);
    return r;
}

int sr_api_port(const sr_api *api) {
    if (!api || !api->daemon)
        return -EINVAL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -EIO;
}

sr_api *sr_api_free(sr_api *api) {
    if (!api)
        return NULL;
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    sr_api_pool_free(api->pool);
    free(api->web_root);
    free(api->pki_dir);
    free(api);
    return NULL;
}
