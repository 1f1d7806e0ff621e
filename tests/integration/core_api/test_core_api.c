/* Integration tests of the core's HTTP API: the server runs in-process on a free port against a
 * fresh PostgreSQL database (migrations applied), a real nats-server and a temporary web root;
 * requests go through libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_api.h"
#include "sr_api_query.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_pki.h"
#include "sr_time.h"
#include "srtest.h"
#include "srtest_http.h"

typedef struct {
    char conninfo[512];
    char tmp[256];
    char web[300];
    char pki[300];
    srtest_nats nats;
    natsConnection *nc;
    PGconn *db;
    sr_core_stats stats;
    sr_api *api;
    int port;
    int64_t base_ms; /* a whole hour, two hours ago: the metric rows live there */
} fixture;

/* ---- HTTP client ---- */

/* Sends method path (raw: no dot-segment squashing) with an optional body. */
static srtest_http_resp http(int port, const char *method, const char *path, const char *body, size_t body_len) {
    return srtest_http(port, method, path, body, body_len, 20);
}

typedef struct {
    size_t left;
} chunk_src;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud) {
    chunk_src *src = ud;
    size_t k = sz * n < 1000 ? sz * n : 1000;
    if (k > src->left)
        k = src->left;
    memset(buf, ' ', k);
    src->left -= k;
    return k;
}

/* POSTs total bytes of spaces with chunked transfer encoding (no Content-Length). */
static srtest_http_resp post_chunked(int port, const char *path, size_t total) {
    srtest_http_resp r = {0};
    chunk_src src = {total};
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, srtest_http_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, srtest_http_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("chunked POST %s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static srtest_http_resp get(fixture *f, const char *path) { return http(f->port, "GET", path, NULL, 0); }
static srtest_http_resp post(fixture *f, const char *path, const char *body) {
    return http(f->port, "POST", path, body, strlen(body));
}

static json_t *json_of(const srtest_http_resp *r) {
    json_error_t je;
    json_t *j = json_loads(r->body, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("not JSON (%s): %.300s", je.text, r->body);
    return j;
}

static const char *header(const srtest_http_resp *r, const char *name, char *buf, size_t len) {
    size_t nl = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            (void)snprintf(buf, len, "%.*s", (int)vl, v);
            return buf;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* Checks the status and an error body with code and a message containing want. */
static void expect_error(srtest_http_resp r, long status, const char *code, const char *want) {
    if (r.status != status)
        fail_msg("status %ld, want %ld: %s", r.status, status, r.body);
    json_t *j = json_of(&r);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(c);
    assert_non_null(m);
    assert_string_equal(c, code);
    if (want && !strstr(m, want))
        fail_msg("message '%s' lacks '%s'", m, want);
    char ct[128];
    assert_non_null(header(&r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json");
    json_decref(j);
    srtest_http_resp_free(&r);
}

/* ---- fixture ---- */

static void sql(fixture *f, const char *q, int n, const char *const *vals) {
    PGresult *r = PQexecParams(f->db, q, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(f->db));
    PQclear(r);
}

static void write_file(const char *dir, const char *name, const char *content) {
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *fp = fopen(p, "we");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* One database per run (creating it and applying the migrations is the slow part); every test
 * starts from empty tables, its own nats-server, web root, CA and API server. */
static char g_conninfo[512];

static int group_setup(void **state) {
    (void)state;
    assert_int_equal(srtest_pg_create_db(g_conninfo, sizeof(g_conninfo)), 0);
    PGconn *db = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    int applied = 0;
    assert_int_equal(sr_migrate_apply(db, SR_MIGRATIONS_DIR, &applied), 0);
    assert_true(applied > 0);
    PQfinish(db);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    srtest_pg_drop_db(g_conninfo);
    return 0;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->conninfo, sizeof(f->conninfo), "%s", g_conninfo);
    f->db = PQconnectdb(f->conninfo);
    assert_int_equal(PQstatus(f->db), CONNECTION_OK);
    sql(f, "TRUNCATE hosts, metric_points, metric_series, commands", 0, NULL);

    assert_int_equal(srtest_tmpdir(f->tmp, sizeof(f->tmp)), 0);
    snprintf(f->web, sizeof(f->web), "%s/web", f->tmp);
    snprintf(f->pki, sizeof(f->pki), "%s/pki", f->tmp);
    assert_int_equal(mkdir(f->web, 0755), 0);
    char p[600];
    snprintf(p, sizeof(p), "%s/assets", f->web);
    assert_int_equal(mkdir(p, 0755), 0);
    write_file(f->web, "index.html", "<!doctype html><title>ServiceRadar</title>");
    write_file(f->web, "assets/app-123.js", "console.log(1)");
    write_file(f->web, "assets/app-123.css", "body{}");
    write_file(f->web, "logo.svg", "<svg/>");
    write_file(f->web, "favicon.ico", "ico");
    write_file(f->tmp, "secret.txt", "top secret");
    char link[600];
    snprintf(p, sizeof(p), "%s/secret.txt", f->tmp);
    snprintf(link, sizeof(link), "%s/leak.txt", f->web);
    assert_int_equal(symlink(p, link), 0);
    snprintf(link, sizeof(link), "%s/assets/leakdir", f->web);
    assert_int_equal(symlink(f->tmp, link), 0);
    assert_int_equal(sr_pki_init_ca(f->pki, "test CA", 30), 0);

    assert_int_equal(srtest_nats_start(&f->nats), 0);
    assert_int_equal(natsConnection_ConnectTo(&f->nc, f->nats.url), NATS_OK);

    atomic_store(&f->stats.db_connected, 1);
    atomic_store(&f->stats.started_unix_ms, sr_now_unix_ms());
    sr_api_config cfg = {.listen = "127.0.0.1:0", .pg_conninfo = f->conninfo, .web_root = f->web,
                         .pki_dir = f->pki, .threads = 2};
    assert_int_equal(sr_api_start(&cfg, &f->stats, f->nc, &f->api), 0);
    f->port = sr_api_port(f->api);
    assert_true(f->port > 0);
    f->base_ms = (sr_now_unix_ms() / 3600000 - 2) * 3600000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    f->api = sr_api_free(f->api);
    natsConnection_Destroy(f->nc);
    srtest_nats_stop(&f->nats, 0);
    srtest_rmtree(f->nats.dir);
    PQfinish(f->db);
    srtest_rmtree(f->tmp);
    free(f);
    return 0;
}

static void add_host(fixture *f, const char *id, const char *hostname) {
    const char *v[] = {id, hostname};
    sql(f,
        "INSERT INTO hosts (agent_id, hostname, first_seen, last_seen, status, agent_version, os, arch, kernel, "
        "capabilities, gateway) VALUES ($1, $2, '2024-05-01T10:00:00Z', '2024-05-01T10:05:00.250Z', 'online', "
        "'0.1.0', 'linux', 'x86_64', '6.1.0', '{metrics}', 'gw-1')",
        2, v);
}

static void add_point(fixture *f, const char *id, const char *name, const char *dim, int64_t ms, double value) {
    char t[24], val[64];
    snprintf(t, sizeof(t), "%lld", (long long)ms);
    snprintf(val, sizeof(val), "%.17g", value);
    const char *v[] = {id, name, dim, t, val};
    sql(f,
        "INSERT INTO metrics (time, agent_id, name, dim, value) VALUES "
        "(timestamptz 'epoch' + $4::bigint * interval '1 millisecond', $1, $2, $3, $5)",
        5, v);
}

/* ---- tests ---- */

static void test_health_and_headers(void **state) {
    fixture *f = *state;
    srtest_http_resp r = get(f, "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    char v[512];
    assert_non_null(header(&r, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    assert_non_null(header(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_non_null(header(&r, "Referrer-Policy", v, sizeof(v)));
    srtest_http_resp_free(&r);

    r = http(f->port, "HEAD", "/healthz", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    srtest_http_resp_free(&r);
    r = http(f->port, "DELETE", "/healthz", NULL, 0);
    char allow[64];
    assert_non_null(header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET, HEAD");
    expect_error(r, 405, "method_not_allowed", "method not allowed");
}

static void test_readyz(void **state) {
    fixture *f = *state;
    srtest_http_resp r = get(f, "/readyz");
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
    json_t *checks = json_object_get(j, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "database")), "ok");
    assert_string_equal(json_string_value(json_object_get(checks, "migrations")), "ok");
    assert_string_equal(json_string_value(json_object_get(checks, "nats")), "ok");
    assert_string_equal(json_string_value(json_object_get(checks, "ingest")), "ok");
    json_decref(j);
    srtest_http_resp_free(&r);

    atomic_store(&f->stats.db_connected, 0);
    r = get(f, "/readyz");
    atomic_store(&f->stats.db_connected, 1);
    assert_int_equal(r.status, 503);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "not_ready");
    assert_string_not_equal(json_string_value(json_object_get(json_object_get(j, "checks"), "ingest")), "ok");
    json_decref(j);
    srtest_http_resp_free(&r);
}

static void test_hosts(void **state) {
    fixture *f = *state;
    srtest_http_resp r = get(f, "/api/v1/hosts");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[]");
    srtest_http_resp_free(&r);

    add_host(f, "web-02", "web02.example.com");
    add_host(f, "web-01", "web01.example.com");
    r = get(f, "/api/v1/hosts");
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_int_equal(json_array_size(j), 2);
    json_t *h = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(h, "agent_id")), "web-01");
    assert_string_equal(json_string_value(json_object_get(h, "hostname")), "web01.example.com");
    assert_string_equal(json_string_value(json_object_get(h, "status")), "online");
    assert_string_equal(json_string_value(json_object_get(h, "first_seen")), "2024-05-01T10:00:00Z");
    assert_string_equal(json_string_value(json_object_get(h, "last_seen")), "2024-05-01T10:05:00.250Z");
    assert_string_equal(json_string_value(json_object_get(h, "agent_version")), "0.1.0");
    assert_string_equal(json_string_value(json_object_get(h, "os")), "linux");
    assert_string_equal(json_string_value(json_object_get(h, "arch")), "x86_64");
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "capabilities"), 0)), "metrics");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "agent_id")), "web-02");
    json_decref(j);
    srtest_http_resp_free(&r);

    r = get(f, "/api/v1/hosts/web-02");
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "hostname")), "web02.example.com");
    assert_string_equal(json_string_value(json_object_get(j, "gateway")), "gw-1");
    json_decref(j);
    srtest_http_resp_free(&r);

    expect_error(get(f, "/api/v1/hosts/nope"), 404, "not_found", "unknown host: nope");
    expect_error(get(f, "/api/v1/hosts/bad%20id"), 400, "bad_request", "invalid agent_id");
    expect_error(get(f, "/api/v1/nothing"), 404, "not_found", "no such endpoint");
    expect_error(get(f, "/api/v1/hosts/"), 404, "not_found", NULL);
    expect_error(post(f, "/api/v1/hosts", "{}"), 405, "method_not_allowed", NULL);
}

static void test_metrics_bucketing(void **state) {
    fixture *f = *state;
    add_host(f, "m1", "m1");
    const int64_t b = f->base_ms;
    /* minute 0: total 1,2,3,4 -> avg 2.5; minute 1: total 10 -> 10; minute 3: total -1, 0.5 */
    add_point(f, "m1", "cpu.usage_pct", "total", b + 0, 1);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 15000, 2);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 30000, 3);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 59999, 4);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 60000, 10);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 180000, -1);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 239000, 0.5);
    add_point(f, "m1", "cpu.usage_pct", "cpu0", b + 1000, 7);
    add_point(f, "m1", "cpu.usage_pct", "cpu0", b + 2000, 9);
    add_point(f, "m1", "cpu.usage_pct", "total", b + 600000, 99); /* outside [from, to) */
    add_point(f, "m1", "mem.used_pct", "", b + 1000, 50);
    add_point(f, "other", "cpu.usage_pct", "total", b + 1000, 1000);

    char path[512];
    snprintf(path, sizeof(path), "/api/v1/hosts/m1/metrics?name=cpu.usage_pct&dim=total&from=%lld&to=%lld&step=1m",
             (long long)b, (long long)(b + 600000));
    srtest_http_resp r = get(f, path);
    if (r.status != 200)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "agent_id")), "m1");
    assert_string_equal(json_string_value(json_object_get(j, "name")), "cpu.usage_pct");
    assert_int_equal(json_integer_value(json_object_get(j, "step_s")), 60);
    char fb[40];
    snprintf(fb, sizeof(fb), "%s", json_string_value(json_object_get(j, "from")));
    int64_t from_back;
    assert_int_equal(sr_api_time_parse(fb, &from_back), 0);
    json_t *series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 1);
    json_t *s0 = json_array_get(series, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "dim")), "total");
    json_t *pts = json_object_get(s0, "points");
    assert_int_equal(json_array_size(pts), 3);
    const double want[3][4] = {{0, 2.5, 1, 4}, {60000, 10, 10, 10}, {180000, -0.25, -1, 0.5}};
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_array_get(pts, i);
        assert_int_equal(json_array_size(p), 4);
        assert_int_equal(json_integer_value(json_array_get(p, 0)), b + (int64_t)want[i][0]);
        for (size_t k = 1; k < 4; k++)
            if (json_number_value(json_array_get(p, k)) != want[i][k])
                fail_msg("point %zu value %zu: %g, want %g", i, k, json_number_value(json_array_get(p, k)),
                         want[i][k]);
    }
    json_decref(j);
    srtest_http_resp_free(&r);

    /* all dims, ordered by dim; RFC 3339 bounds; 5 minute step */
    char from_s[40], to_s[40];
    assert_int_equal(sr_api_time_format(b, from_s, sizeof(from_s)), 0);
    assert_int_equal(sr_api_time_format(b + 300000, to_s, sizeof(to_s)), 0);
    snprintf(path, sizeof(path), "/api/v1/hosts/m1/metrics?name=cpu.usage_pct&from=%s&to=%s&step=5m", from_s, to_s);
    r = get(f, path);
    if (r.status != 200)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    j = json_of(&r);
    series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(series, 0), "dim")), "cpu0");
    json_t *p = json_array_get(json_object_get(json_array_get(series, 0), "points"), 0);
    assert_true(json_number_value(json_array_get(p, 1)) == 8.0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(series, 1), "dim")), "total");
    p = json_array_get(json_object_get(json_array_get(series, 1), "points"), 0);
    /* 1+2+3+4+10-1+0.5 = 19.5 over 7 */
    assert_true(json_number_value(json_array_get(p, 1)) == 19.5 / 7);
    assert_true(json_number_value(json_array_get(p, 2)) == -1);
    assert_true(json_number_value(json_array_get(p, 3)) == 10);
    assert_string_equal(json_string_value(json_object_get(j, "from")), from_s);
    json_decref(j);
    srtest_http_resp_free(&r);

    /* defaults: last hour, step 10 s; the rows are older, so no series */
    r = get(f, "/api/v1/hosts/m1/metrics?name=cpu.usage_pct");
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "step_s")), 10);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 0);
    json_decref(j);
    srtest_http_resp_free(&r);

    /* an empty dim selects the dimensionless metric */
    snprintf(path, sizeof(path), "/api/v1/hosts/m1/metrics?name=mem.used_pct&dim=&from=%lld&to=%lld", (long long)b,
             (long long)(b + 60000));
    r = get(f, path);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "series"), 0), "dim")), "");
    json_decref(j);
    srtest_http_resp_free(&r);
}

static void test_metrics_errors(void **state) {
    fixture *f = *state;
    add_host(f, "m2", "m2");
    expect_error(get(f, "/api/v1/hosts/m2/metrics"), 400, "bad_request", "missing parameter: name");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=CPU"), 400, "bad_request", "invalid parameter name");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&step=500ms"), 400, "bad_request", "at least 1s");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&from=0&to=86400000&step=1s"), 400, "bad_request",
                 "too many buckets");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&from=2000&to=1000"), 400, "bad_request",
                 "from must be before to");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&from=0&to=40000000000"), 400, "bad_request", "400 days");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&from=yesterday"), 400, "bad_request",
                 "invalid parameter from");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&name=y"), 400, "bad_request", "duplicate parameter");
    expect_error(get(f, "/api/v1/hosts/m2/metrics?name=x&dim=%zz"), 400, "bad_request", "percent-encoding");
    expect_error(get(f, "/api/v1/hosts/ghost/metrics?name=x"), 404, "not_found", "unknown host");
    expect_error(get(f, "/api/v1/hosts/ghost/metric-names"), 404, "not_found", "unknown host");
}

static void test_metric_names(void **state) {
    fixture *f = *state;
    add_host(f, "n1", "n1");
    int64_t now = sr_now_unix_ms();
    add_point(f, "n1", "cpu.usage_pct", "total", now - 3600000, 1);
    add_point(f, "n1", "cpu.usage_pct", "cpu1", now - 3600000, 1);
    add_point(f, "n1", "cpu.usage_pct", "cpu0", now - 1800000, 1);
    add_point(f, "n1", "cpu.usage_pct", "cpu0", now - 1700000, 1);
    add_point(f, "n1", "load.1", "", now - 60000, 0.5);
    add_point(f, "n1", "old.metric", "x", now - 25 * 3600000LL, 1);
    srtest_http_resp r = get(f, "/api/v1/hosts/n1/metric-names");
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *want = json_loads("[{\"name\":\"cpu.usage_pct\",\"dims\":[\"cpu0\",\"cpu1\",\"total\"]},"
                              "{\"name\":\"load.1\",\"dims\":[\"\"]}]",
                              0, NULL);
    if (!json_equal(j, want))
        fail_msg("metric-names: %s", r.body);
    json_decref(want);
    json_decref(j);
    srtest_http_resp_free(&r);
}

static void test_commands(void **state) {
    fixture *f = *state;
    add_host(f, "agent-7", "a7");
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&sub, f->nc, "commands.agent.agent-7"), NATS_OK);
    assert_int_equal(natsConnection_Flush(f->nc), NATS_OK);

    int64_t before = sr_now_unix_ms();
    srtest_http_resp r = post(f, "/api/v1/agents/agent-7/commands", "{\"type\":\"ping\",\"payload\":{\"count\":3}}");
    if (r.status != 202)
        fail_msg("post: %ld %s", r.status, r.body);
    json_t *j = json_of(&r);
    char id[64];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "command_id")));
    assert_int_equal(strlen(id), 36);
    json_decref(j);
    srtest_http_resp_free(&r);

    natsMsg *m = NULL;
    assert_int_equal(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
    json_t *msg = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "command_id")), id);
    assert_string_equal(json_string_value(json_object_get(msg, "type")), "ping");
    assert_string_equal(json_string_value(json_object_get(msg, "payload")), "{\"count\":3}");
    json_int_t issued = json_integer_value(json_object_get(msg, "issued_unix_ms"));
    json_int_t deadline = json_integer_value(json_object_get(msg, "deadline_unix_ms"));
    assert_true(issued >= before && issued <= sr_now_unix_ms());
    assert_int_equal(deadline - issued, 60000);
    json_decref(msg);
    natsMsg_Destroy(m);

    char path[128];
    snprintf(path, sizeof(path), "/api/v1/commands/%s", id);
    r = get(f, path);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "command_id")), id);
    assert_string_equal(json_string_value(json_object_get(j, "agent_id")), "agent-7");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ping");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "payload"), "count")), 3);
    assert_true(json_is_null(json_object_get(j, "result")));
    char want_issued[40];
    assert_int_equal(sr_api_time_format(issued, want_issued, sizeof(want_issued)), 0);
    assert_string_equal(json_string_value(json_object_get(j, "issued_at")), want_issued);
    json_decref(j);
    srtest_http_resp_free(&r);

    /* a result recorded by the core shows up */
    const char *v[] = {id};
    sql(f, "UPDATE commands SET status = 'succeeded', result = '{\"ok\":true,\"output\":\"pong\"}' WHERE command_id = $1",
        1, v);
    r = get(f, path);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "succeeded");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "result"), "output")), "pong");
    json_decref(j);
    srtest_http_resp_free(&r);

    /* payload defaults to {} */
    r = post(f, "/api/v1/agents/agent-7/commands", "{\"type\":\"collect_now\"}");
    assert_int_equal(r.status, 202);
    srtest_http_resp_free(&r);
    assert_int_equal(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
    msg = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(msg, "payload")), "{}");
    json_decref(msg);
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);

    expect_error(post(f, "/api/v1/agents/agent-7/commands", "{\"type\":\"Ping!\"}"), 400, "bad_request",
                 "invalid type");
    expect_error(post(f, "/api/v1/agents/agent-7/commands", "{\"payload\":{}}"), 400, "bad_request", "invalid type");
    expect_error(post(f, "/api/v1/agents/agent-7/commands", "{\"type\":\"ping\",\"payload\":[1]}"), 400,
                 "bad_request", "invalid payload");
    expect_error(post(f, "/api/v1/agents/agent-7/commands", "{\"type\":"), 400, "bad_request", "invalid JSON");
    expect_error(post(f, "/api/v1/agents/agent-7/commands", "[]"), 400, "bad_request", "JSON object");
    expect_error(post(f, "/api/v1/agents/agent-7/commands", ""), 400, "bad_request", "missing request body");
    expect_error(post(f, "/api/v1/agents/nobody/commands", "{\"type\":\"ping\"}"), 404, "not_found",
                 "unknown agent");
    expect_error(get(f, "/api/v1/agents/agent-7/commands"), 405, "method_not_allowed", NULL);
    expect_error(get(f, "/api/v1/commands/00000000-0000-4000-8000-000000000000"), 404, "not_found",
                 "unknown command");
    expect_error(get(f, "/api/v1/commands/not_valid"), 400, "bad_request", "invalid command_id");

    /* body cap: 64 KiB */
    size_t big = 70 * 1024;
    char *body = malloc(big + 1);
    assert_non_null(body);
    memset(body, ' ', big);
    memcpy(body, "{\"type\":\"ping\",\"payload\":{\"x\":\"", 31);
    body[big - 3] = '"';
    body[big - 2] = '}';
    body[big - 1] = '}';
    body[big] = '\0';
    memset(body + 31, 'a', big - 34);
    expect_error(http(f->port, "POST", "/api/v1/agents/agent-7/commands", body, big), 413, "too_large",
                 "too large");
    free(body);
    /* without Content-Length: the cap applies while the body streams in */
    expect_error(post_chunked(f->port, "/api/v1/agents/agent-7/commands", 200 * 1024), 413, "too_large",
                 "too large");
    /* a body under the cap that is all whitespace is not JSON */
    expect_error(post_chunked(f->port, "/api/v1/agents/agent-7/commands", 10 * 1024), 400, "bad_request",
                 "invalid JSON");
}

static void test_commands_without_nats(void **state) {
    fixture *f = *state;
    add_host(f, "agent-8", "a8");
    sr_api *api2 = NULL;
    sr_api_config cfg = {.listen = "127.0.0.1:0", .pg_conninfo = f->conninfo, .web_root = NULL, .threads = 1};
    assert_int_equal(sr_api_start(&cfg, &f->stats, NULL, &api2), 0);
    int port = sr_api_port(api2);
    expect_error(http(port, "POST", "/api/v1/agents/agent-8/commands", "{\"type\":\"ping\"}", 15), 503,
                 "unavailable", "NATS");
    /* readyz skips NATS; the web UI is not built */
    srtest_http_resp r = http(port, "GET", "/readyz", NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "checks"), "nats")), "skipped");
    json_decref(j);
    srtest_http_resp_free(&r);
    expect_error(http(port, "GET", "/", NULL, 0), 503, "unavailable", "web UI not built (run make web)");
    expect_error(http(port, "GET", "/hosts/x", NULL, 0), 503, "unavailable", "web UI not built");
    api2 = sr_api_free(api2);
}

static void test_database_down(void **state) {
    fixture *f = *state;
    int dead = srtest_free_port();
    char conninfo[128];
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=postgres dbname=postgres", dead);
    sr_api *api2 = NULL;
    sr_api_config cfg = {.listen = "127.0.0.1:0", .pg_conninfo = conninfo, .threads = 1};
    assert_int_equal(sr_api_start(&cfg, &f->stats, f->nc, &api2), 0);
    int port = sr_api_port(api2);
    expect_error(http(port, "GET", "/api/v1/hosts", NULL, 0), 503, "unavailable", "database unavailable");
    srtest_http_resp r = http(port, "GET", "/readyz", NULL, 0);
    assert_int_equal(r.status, 503);
    json_t *j = json_of(&r);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j, "checks"), "database")),
                           "could not connect"));
    json_decref(j);
    srtest_http_resp_free(&r);
    api2 = sr_api_free(api2);

    /* the listen address is taken */
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->port);
    cfg.listen = listen;
    assert_int_equal(sr_api_start(&cfg, &f->stats, NULL, &api2), -EADDRINUSE);
    cfg.listen = "nonsense";
    assert_int_equal(sr_api_start(&cfg, &f->stats, NULL, &api2), -EINVAL);
    assert_null(sr_api_free(NULL));
}

static void expect_file(fixture *f, const char *path, const char *body, const char *type, const char *cache) {
    srtest_http_resp r = get(f, path);
    if (r.status != 200)
        fail_msg("%s: %ld %s", path, r.status, r.body);
    assert_string_equal(r.body, body);
    char v[256];
    assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, type);
    if (cache) {
        assert_non_null(header(&r, "Cache-Control", v, sizeof(v)));
        assert_string_equal(v, cache);
    }
    assert_non_null(header(&r, "Content-Security-Policy", v, sizeof(v)));
    srtest_http_resp_free(&r);
}

static void test_static(void **state) {
    fixture *f = *state;
    const char *index = "<!doctype html><title>ServiceRadar</title>";
    expect_file(f, "/", index, "text/html; charset=utf-8", "no-cache");
    expect_file(f, "/index.html", index, "text/html; charset=utf-8", "no-cache");
    expect_file(f, "/assets/app-123.js", "console.log(1)", "text/javascript; charset=utf-8",
                "public, max-age=31536000, immutable");
    expect_file(f, "/assets/app-123.css", "body{}", "text/css; charset=utf-8", NULL);
    expect_file(f, "/logo.svg", "<svg/>", "image/svg+xml", NULL);
    expect_file(f, "/favicon.ico", "ico", "image/x-icon", NULL);
    /* client-side routes get index.html */
    expect_file(f, "/hosts/web-01", index, "text/html; charset=utf-8", "no-cache");
    expect_file(f, "/hosts/web-01?tab=metrics", index, "text/html; charset=utf-8", NULL);
    expect_file(f, "/assets", index, "text/html; charset=utf-8", NULL);
    /* a missing asset is a 404, never HTML */
    expect_error(get(f, "/assets/missing.js"), 404, "not_found", NULL);
    /* API paths never fall back */
    expect_error(get(f, "/api/v1/hosts/x/y/z"), 404, "not_found", NULL);
    expect_error(get(f, "/api"), 404, "not_found", NULL);
    /* traversal */
    expect_error(get(f, "/../secret.txt"), 400, "bad_request", "invalid path");
    expect_error(get(f, "/assets/../../secret.txt"), 400, "bad_request", "invalid path");
    expect_error(get(f, "/%2e%2e/secret.txt"), 400, "bad_request", "invalid path");
    expect_error(get(f, "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt"), 400, "bad_request", "invalid path");
    expect_error(get(f, "/a%00b"), 400, "bad_request", NULL);
    /* symlinks out of the web root */
    expect_error(get(f, "/leak.txt"), 404, "not_found", NULL);
    expect_error(get(f, "/assets/leakdir/secret.txt"), 404, "not_found", NULL);
    srtest_http_resp r = get(f, "/assets/leakdir/secret.txt");
    assert_null(strstr(r.body, "top secret"));
    srtest_http_resp_free(&r);
}

static void test_prometheus(void **state) {
    fixture *f = *state;
    atomic_store(&f->stats.messages_received, 42);
    atomic_store(&f->stats.points_written, 4200);
    atomic_store(&f->stats.batch_size_hist[0], 1);  /* size 1 */
    atomic_store(&f->stats.batch_size_hist[3], 2);  /* <= 8 */
    atomic_store(&f->stats.batch_size_hist[SR_BATCH_HIST_BUCKETS], 1);
    atomic_store(&f->stats.batch_size_sum, 1 + 8 + 7 + 1000);
    atomic_store(&f->stats.commit_ms_sum, 1500);
    atomic_store(&f->stats.consumer_pending, 17);
    srtest_http_resp r0 = get(f, "/healthz");
    srtest_http_resp_free(&r0);
    srtest_http_resp r = get(f, "/metrics");
    assert_int_equal(r.status, 200);
    char v[128];
    assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
    assert_non_null(strstr(v, "text/plain; version=0.0.4"));
    static const char *const want[] = {
        "# TYPE serviceradar_ingest_messages_total counter\nserviceradar_ingest_messages_total 42\n",
        "serviceradar_ingest_points_total 4200\n",
        "# HELP serviceradar_ingest_batches_total ",
        "serviceradar_ingest_duplicates_total 0\n",
        "serviceradar_ingest_dead_letters_total 0\n",
        "serviceradar_ingest_db_errors_total 0\n",
        "serviceradar_ingest_nats_errors_total 0\n",
        "# TYPE serviceradar_ingest_consumer_pending gauge\nserviceradar_ingest_consumer_pending 17\n",
        "# TYPE serviceradar_ingest_batch_size histogram\n",
        "serviceradar_ingest_batch_size_bucket{le=\"1\"} 1\n",
        "serviceradar_ingest_batch_size_bucket{le=\"4\"} 1\n",
        "serviceradar_ingest_batch_size_bucket{le=\"8\"} 3\n",
        "serviceradar_ingest_batch_size_bucket{le=\"+Inf\"} 4\n",
        "serviceradar_ingest_batch_size_sum 1016\n",
        "serviceradar_ingest_batch_size_count 4\n",
        "serviceradar_ingest_commit_seconds_sum 1.500\n",
        "# TYPE serviceradar_http_requests_total counter\n",
        "serviceradar_http_requests_total{code=\"200\"} ",
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(r.body, want[i]))
            fail_msg("/metrics lacks '%s':\n%s", want[i], r.body);
    /* every sample line is "name{labels} value" with a HELP and TYPE before its family */
    for (char *line = r.body, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl); /* every line ends with a newline */
        *nl = '\0';
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        double d;
        if (sr_parse_double(sp + 1, &d) < 0)
            fail_msg("bad sample value: %s", line);
    }
    srtest_http_resp_free(&r);
}

static void test_openapi(void **state) {
    fixture *f = *state;
    srtest_http_resp r = get(f, "/api/v1/openapi.json");
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "openapi")), "3.0.3");
    json_t *schemas = json_object_get(json_object_get(j, "components"), "schemas");
    static const char *const names[] = {"Host",          "MetricSeries",    "MetricSeriesSet", "MetricName",
                                        "CommandRequest", "CommandAccepted", "Command",         "EnrollRequest",
                                        "EnrollResponse", "Error",           "Health",          "Ready"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!json_object_get(schemas, names[i]))
            fail_msg("schema %s missing", names[i]);
    static const char *const ops[] = {"listHosts", "getHost",   "getHostMetrics", "listHostMetricNames",
                                      "sendAgentCommand", "getCommand", "enroll", "healthz", "readyz"};
    char *all = json_dumps(json_object_get(j, "paths"), 0);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\"operationId\": \"%s\"", ops[i]);
        if (!strstr(all, needle))
            fail_msg("operationId %s missing", ops[i]);
    }
    free(all);
    json_decref(j);
    srtest_http_resp_free(&r);
}

static void sha256_hex(const char *s, char out[65]) {
    unsigned char md[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *enroll_body(const char *token, const char *csr) {
    json_t *o = json_pack("{s:s,s:s}", "token", token, "csr", csr);
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static void test_enroll(void **state) {
    fixture *f = *state;
    char token[SR_PKI_TOKEN_SIZE];
    assert_int_equal(sr_pki_token_create(f->pki, "edge-9", 600, token, sizeof(token)), 0);
    char *key = NULL, *csr = NULL;
    assert_int_equal(sr_pki_csr_new("edge-9", &key, &csr), 0);

    char *body = enroll_body(token, csr);
    srtest_http_resp r = post(f, "/api/v1/enroll", body);
    if (r.status != 200)
        fail_msg("enroll: %ld %s", r.status, r.body);
    json_t *j = json_of(&r);
    const char *cert = json_string_value(json_object_get(j, "certificate"));
    const char *ca = json_string_value(json_object_get(j, "ca"));
    assert_non_null(cert);
    assert_non_null(ca);
    char fp[SR_PKI_FINGERPRINT_SIZE], cn[SR_PKI_CN_MAX + 1];
    assert_int_equal(sr_pki_fingerprint(ca, fp, sizeof(fp)), 0);
    assert_int_equal(sr_pki_check_enrollment(key, cert, ca, fp, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "edge-9");
    json_decref(j);
    srtest_http_resp_free(&r);
    /* one time only */
    expect_error(post(f, "/api/v1/enroll", body), 403, "forbidden", "already used");
    free(body);

    /* wrong CN in the CSR: refused, token kept */
    assert_int_equal(sr_pki_token_create(f->pki, "edge-10", 600, token, sizeof(token)), 0);
    body = enroll_body(token, csr);
    expect_error(post(f, "/api/v1/enroll", body), 400, "bad_request", "common name");
    free(body);
    body = enroll_body(token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
    expect_error(post(f, "/api/v1/enroll", body), 400, "bad_request", "csr");
    free(body);
    body = enroll_body("short", csr);
    expect_error(post(f, "/api/v1/enroll", body), 400, "bad_request", "invalid token");
    free(body);
    expect_error(post(f, "/api/v1/enroll", "{\"token\":1}"), 400, "bad_request", "must be strings");
    expect_error(post(f, "/api/v1/enroll", "not json"), 400, "bad_request", "invalid JSON");
    expect_error(get(f, "/api/v1/enroll"), 405, "method_not_allowed", NULL);

    /* an expired token (its file says so): 410 */
    assert_int_equal(sr_pki_token_create(f->pki, "edge-11", 600, token, sizeof(token)), 0);
    char hex[65], path[700];
    sha256_hex(token, hex);
    snprintf(path, sizeof(path), "%s/tokens/%s.json", f->pki, hex);
    FILE *fp2 = fopen(path, "we");
    assert_non_null(fp2);
    fprintf(fp2, "{\"agent_id\":\"edge-11\",\"expires_unix\":%lld}", (long long)(sr_now_unix_ms() / 1000 - 10));
    fclose(fp2);
    char *key11 = NULL, *csr11 = NULL;
    assert_int_equal(sr_pki_csr_new("edge-11", &key11, &csr11), 0);
    body = enroll_body(token, csr11);
    expect_error(post(f, "/api/v1/enroll", body), 410, "gone", "expired");
    free(body);
    free(key11);
    free(csr11);
    free(key);
    free(csr);
}

int main(void) {
    srtest_http_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_bucketing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_without_nats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prometheus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    nats_Close();
    srtest_http_cleanup();
    return rc;
}
