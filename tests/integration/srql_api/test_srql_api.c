/* Integration tests of SRQL through POST /api/v1/query: the API runs in-process on a free port
 * against a fresh PostgreSQL database (all migrations applied) holding fixture events made from
 * real Falco alerts and auth log lines (search vectors from sr_search_tsvector, inserted with
 * parameterized statements). Each required query must return exactly the expected rows.
 *
 * Also: the tokenizer's tsvector literal is accepted by PostgreSQL unchanged for every line of
 * the real Falco alerts in testdata/falco and, when the third-party sample data beside the
 * repository is present ($SR_SHARED_DATA, default ../shared/data), of its log files; every golden
 * query of testdata/srql runs, and sort:relevance ranks by BM25. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_api.h"
#include "sr_file.h"
#include "sr_migrate.h"
#include "sr_search.h"
#include "sr_time.h"
#include "srql.h"
#include "srtest.h"
#include "srtest_http.h"

static char g_conninfo[512];
static PGconn *g_db;
static sr_core_stats g_stats;
static sr_api *g_api;
static int g_port;

/* ---- HTTP ---- */

static srtest_http_resp post_raw(const char *method, const char *body) {
    return srtest_http(g_port, method, "/api/v1/query", body, body ? strlen(body) : 0, 30);
}

/* Posts {"query": q, ...extra members} and returns the parsed answer; checks the status. */
static json_t *query_status(long want_status, const char *q, const char *extra_fmt, ...) {
    json_t *req = json_pack("{s:s}", "query", q);
    assert_non_null(req);
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        json_t *extra = json_vpack_ex(NULL, 0, extra_fmt, ap);
        va_end(ap);
        assert_non_null(extra);
        assert_int_equal(json_object_update(req, extra), 0);
        json_decref(extra);
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    srtest_http_resp r = post_raw("POST", body);
    json_t *ans = json_loads(r.body ? r.body : "", 0, NULL);
    if (r.status != want_status || !ans)
        fail_msg("query %s: status %ld (want %ld): %s", body, r.status, want_status, r.body ? r.body : "");
    free(body);
    free(r.body);
    return ans;
}

#define query_ok(q, ...) query_status(200, q, __VA_ARGS__)

/* The ids of the answer's rows ("NN" suffixes of the fixture ids) as "01 03 07". */
static void row_ids(json_t *ans, char *out, size_t outlen) {
    json_t *rows = json_object_get(ans, "rows");
    assert_true(json_is_array(rows));
    size_t off = 0, i;
    json_t *row;
    out[0] = '\0';
    json_array_foreach(rows, i, row) {
        const char *id = json_string_value(json_array_get(row, 1));
        assert_non_null(id);
        assert_int_equal(strlen(id), 36);
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", off ? " " : "", id + 34);
    }
}

static void expect_ids(const char *q, const char *want) {
    json_t *ans = query_ok(q, NULL);
    char got[1024];
    row_ids(ans, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("query %s\n  got ids:  %s\n  want ids: %s", q, got, want);
    assert_true(json_is_null(json_object_get(ans, "next_cursor")));
    json_decref(ans);
}

/* ---- fixtures ---- */

typedef struct {
    int n;
    const char *ago; /* interval before the insert transaction's now() */
    const char *host, *type;
    const char *severity, *severity_text, *program, *pid, *user, *ip, *outcome, *action, *rule;
    const char *message, *fields, *tags;
} fixture_event;

#define FALCO_SHELL                                                                                                    \
    "13:44:05.478445995: Critical A shell was spawned in a container with an attached terminal (user=root "         \
    "user_loginuid=-1 k8s.ns=%s k8s.pod=kubecon container=ee97d9c4186f shell=sh parent=runc cmdline=sh -c clear; "   \
    "(bash || ash || sh) terminal=34816 container_id=ee97d9c4186f image=docker.io/library/alpine)"
#define FALCO_SHELL_FIELDS                                                                                             \
    "{\"container.id\":\"ee97d9c4186f\",\"container.image.repository\":\"docker.io/library/alpine\","               \
    "\"container.image\":\"docker.io/library/alpine\",\"k8s.ns.name\":\"%s\",\"k8s.namespace\":\"%s\","             \
    "\"k8s.pod.name\":\"kubecon\",\"k8s.pod\":\"kubecon\",\"proc.cmdline\":\"sh -c clear; (bash || ash || sh)\","    \
    "\"proc.name\":\"sh\",\"proc.pname\":\"runc\",\"proc.tty\":34816,\"user.loginuid\":-1,\"user.name\":\"root\"}"
#define AUTH_FAIL_MSG(ns)                                                                                              \
    "Warning authentication failure for user=admin in container (k8s.ns=" ns " k8s.pod=api-7d9f "                 \
    "container=3f2a1b9c8d7e cmdline=sshd: admin [priv])"
#define AUTH_FAIL_FIELDS(ns)                                                                                           \
    "{\"k8s.ns.name\":\"" ns "\",\"k8s.namespace\":\"" ns "\",\"k8s.pod.name\":\"api-7d9f\",\"k8s.pod\":\"api-7d9f\"," \
    "\"container.id\":\"3f2a1b9c8d7e\",\"proc.cmdline\":\"sshd: admin [priv]\",\"user.name\":\"admin\"}"

static char shell_prod[512], shell_default[512], shell_prod_fields[600], shell_default_fields[600];

/* Messages are real lines of the shared sample data (Falco outputs, auth.log, syslog), a few
 * with the namespace changed; ids end in the fixture number. */
static const fixture_event fixtures[] = {
    {1, "10 minutes", "k8s-node-1", "falco_alert", "3", "Warning", NULL, NULL, "admin", NULL, NULL, NULL,
     "Auth failure in container", AUTH_FAIL_MSG("production"), AUTH_FAIL_FIELDS("production"),
     "{container,mitre_credential_access}"},
    {2, "20 minutes", "k8s-node-2", "falco_alert", "3", "Warning", NULL, NULL, "admin", NULL, NULL, NULL,
     "Auth failure in container", AUTH_FAIL_MSG("staging"), AUTH_FAIL_FIELDS("staging"),
     "{container,mitre_credential_access}"},
    {3, "30 minutes", "k8s-node-1", "falco_alert", "5", "Critical", NULL, NULL, "root", NULL, NULL, NULL,
     "Terminal shell in container", shell_prod, shell_prod_fields, "{container,mitre_execution,shell}"},
    {4, "2 days", "falco-xczjd", "falco_alert", "5", "Critical", NULL, NULL, "root", NULL, NULL, NULL,
     "Terminal shell in container", shell_default, shell_default_fields, "{container,mitre_execution,shell}"},
    {5, "40 minutes", "proxmox-node-01", "falco_alert", "3", "Warning", NULL, NULL, "root", NULL, NULL, NULL,
     "Read sensitive file untrusted",
     "Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=runc ggparent=init "
     "evt_type=openat user=root process=cat proc_exepath=/usr/bin/cat parent=sh command=cat /etc/shadow terminal=0)",
     "{\"fd.name\":\"/etc/shadow\",\"proc.cmdline\":\"cat /etc/shadow\",\"user.name\":\"root\"}",
     "{filesystem,mitre_credential_access}"},
    {6, "45 minutes", "slave22", "auth", "3", "", "sshd", "5774", "root", "216.160.83.57", "failure", "ssh_login", NULL,
     "Failed password for root from 216.160.83.57 port 29160 ssh2", "{}", "{}"},
    {7, "50 minutes", "proxmox-node-01", "auth", "4", "err", "sshd", "13709", "myhlj1374", NULL, "failure",
     "pam_auth", NULL, "error: PAM: Authentication failure for myhlj1374 from 192.030.0.6", "{}", "{}"},
    {8, "55 minutes", "slave22", "auth", "3", "", "sshd", "5775", "root", "216.160.83.57", "failure", "ssh_login", NULL,
     "Failed password for root from 216.160.83.57 port 29161 ssh2", "{}", "{}"},
    {9, "58 minutes", "proxmox-node-01", "syslog", "4", "crit", "kernel", NULL, NULL, NULL, NULL, NULL, NULL,
     "nouveau E[  PGRAPH][0000:0f:00.0] DATA_ERROR BEGIN_END_ACTIVE", "{}", "{}"},
    {10, "60 minutes", "web-01", "syslog", "4", "error", "nginx", "812", NULL, NULL, NULL, NULL, NULL,
     "connect() failed (111: Connection refused) while connecting to upstream", "{}", "{}"},
    {11, "70 minutes", "web-01", "journald", "3", "ERR", "systemd", "1", NULL, NULL, NULL, NULL, NULL,
     "Failed to start nginx.service - A high performance web server and a reverse proxy server.", "{}", "{}"},
    {12, "30 hours", "web-01", "auth", "4", "err", "sshd", "3402", NULL, NULL, NULL, NULL, NULL,
     "error: kex_exchange_identification: Connection closed by remote host", "{}", "{}"},
    {13, "75 minutes", "k8s-node-2", "falco_alert", "4", "Error", NULL, NULL, "root", NULL, NULL, NULL,
     "Write below binary dir",
     "16:31:56.746609046: Error File below a known binary directory opened for writing (user=root command=touch "
     "/bin/hack file=/bin/hack)",
     "{\"fd.name\":\"/bin/hack\",\"proc.cmdline\":\"touch /bin/hack\",\"user.name\":\"root\"}",
     "{filesystem,mitre_persistence}"},
    {14, "80 minutes", "web-01", "syslog", "3", "warning", "postfix", "2201", NULL, NULL, NULL, NULL, NULL,
     "warning: hostname mail.example.com does not resolve to address 203.0.113.9", "{}", "{}"},
    {15, "85 minutes", "localhost", "auth", "1", "info", "sshd", "3402", "vagrant", "10.0.2.2", "success", "ssh_login",
     NULL, "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99:e9:a0:dc:f2:33:a3:e5:72:3b:7c:3a:56:84",
     "{}", "{}"},
    {16, "90 minutes", "localhost", "auth", "2", "", "sshd", "3430", "test", "10.0.2.2", "failure", "ssh_login", NULL,
     "Invalid user test from 10.0.2.2", "{}", "{}"},
    {17, "95 minutes", "bastion", "auth", "3", "", "sshd", "4100", "root", "10.1.2.3", "failure", "ssh_login", NULL,
     "Failed password for root from 10.1.2.3 port 22 ssh2", "{}", "{}"},
    {18, "100 minutes", "bastion", "auth", "3", "", "sshd", "4101", "admin", "10.1.2.3", "failure", "ssh_login", NULL,
     "Failed password for invalid user admin from 10.1.2.3 port 4242 ssh2", "{}", "{}"},
    {19, "105 minutes", "bastion", "auth", "1", "", "sshd", "4102", NULL, "10.9.9.9", NULL, NULL, NULL,
     "Connection closed by 10.9.9.9 port 51234 [preauth]", "{}", "{}"},
    {20, "110 minutes", "slave22", "auth", "3", "", "sshd", "5790", "root", "216.160.83.57", "failure", "ssh_login",
     NULL, "Failed password for root from 216.160.83.57 port 29170 ssh2", "{}", "{}"},
    {21, "115 minutes", "edge-01", "auth", "3", "", "sshd", "7001", "oracle", "192.168.1.10", "failure", "ssh_login",
     NULL, "Failed password for invalid user oracle from 192.168.1.10 port 50000 ssh2", "{}", "{}"},
    {22, "120 minutes", "localhost", "auth", "1", "", "sshd", "7483", "vagrant", "192.168.33.1", "success",
     "ssh_login", NULL, "Accepted password for vagrant from 192.168.33.1 port 58803 ssh2", "{}", "{}"},
    {23, "125 minutes", "build-01", "syslog", "5", "crit", "trivy", NULL, NULL, NULL, NULL, NULL, NULL,
     "xz-utils 5.6.0-0.2 is affected by CVE-2024-3094 (backdoor in liblzma)", "{}", "{}"},
    {24, "130 minutes", "build-01", "syslog", "1", "info", "trivy", NULL, NULL, NULL, NULL, NULL, NULL,
     "CVE-2024-30940 fixed in 1.2.3; see the cve 2024 3094 notes", "{}", "{}"},
    /* ranking: same length and term frequency, a rare and a common term; and a tf-1 rare one */
    {25, "3 days 2 hours", "rank-host", "syslog", "1", "", "app", NULL, NULL, NULL, NULL, NULL, NULL,
     "zebra zebra zebra seen at the gate", "{}", "{}"},
    {26, "3 days 1 hour", "rank-host", "syslog", "1", "", "app", NULL, NULL, NULL, NULL, NULL, NULL,
     "login login login seen at the gate", "{}", "{}"},
    {27, "3 days", "rank-host", "syslog", "1", "", "app", NULL, NULL, NULL, NULL, NULL, NULL,
     "zebra seen at the gate", "{}", "{}"},
    /* the common term is common; the same time on purpose (keyset ties break on id) */
    {28, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
    {29, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
    {30, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
    {31, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
    {32, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
    {33, "3 days", "rank-host2", "syslog", "1", "", "login", NULL, NULL, NULL, NULL, NULL, NULL, "login accepted",
     "{}", "{}"},
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static void exec_ok(const char *sql, int n, const char *const *v) {
    PGresult *r = PQexecParams(g_db, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(g_db));
    PQclear(r);
}

static void insert_fixtures(void) {
    (void)snprintf(shell_prod, sizeof(shell_prod), FALCO_SHELL, "production");
    (void)snprintf(shell_default, sizeof(shell_default), FALCO_SHELL, "default");
    (void)snprintf(shell_prod_fields, sizeof(shell_prod_fields), FALCO_SHELL_FIELDS, "production", "production");
    (void)snprintf(shell_default_fields, sizeof(shell_default_fields), FALCO_SHELL_FIELDS, "default", "default");
    exec_ok("BEGIN", 0, NULL); /* one now() for every row */
    for (size_t i = 0; i < N_FIXTURES; i++) {
        const fixture_event *e = &fixtures[i];
        char id[40], tsv[8192];
        (void)snprintf(id, sizeof(id), "00000000-0000-4000-8000-0000000000%02d", e->n);
        assert_int_equal(sr_search_tsvector(e->message, strlen(e->message), tsv, sizeof(tsv), NULL), 0);
        const char *v[] = {e->ago,     id,        e->host,    e->type,    e->severity, e->severity_text,
                           e->program, e->pid,    e->user,    e->ip,      e->outcome,  e->action,
                           e->rule,    e->message, e->fields, e->tags,    tsv};
        exec_ok("INSERT INTO events (time, id, host, source_type, severity, severity_text, program, pid, user_name, "
                "src_ip, outcome, action, rule, message, fields, tags, search) VALUES (now() - $1::interval, "
                "$2::uuid, $3, $4, $5::smallint, $6, $7, $8::integer, $9, $10::inet, $11, $12, $13, $14, $15::jsonb, "
                "$16::text[], $17::tsvector)",
                17, v);
    }
    exec_ok("COMMIT", 0, NULL);
}

static int group_setup(void **state) {
    (void)state;
    assert_int_equal(srtest_pg_create_db(g_conninfo, sizeof(g_conninfo)), 0);
    g_db = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(g_db), CONNECTION_OK);
    int applied = 0;
    char err[512] = "";
    if (sr_migrate_apply_err(g_db, SR_MIGRATIONS_DIR, &applied, err, sizeof(err)) != 0)
        fail_msg("migrations: %s", err);
    insert_fixtures();
    atomic_store(&g_stats.db_connected, 1);
    sr_api_config cfg = {.listen = "127.0.0.1:0", .pg_conninfo = g_conninfo, .threads = 2};
    assert_int_equal(sr_api_start(&cfg, &g_stats, NULL, &g_api), 0);
    g_port = sr_api_port(g_api);
    assert_true(g_port > 0);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    g_api = sr_api_free(g_api);
    PQfinish(g_db);
    srtest_pg_drop_db(g_conninfo);
    return 0;
}

/* ---- the required queries ---- */

static void test_required_queries(void **state) {
    (void)state;
    expect_ids("type:falco_alert AND k8s.namespace:production AND \"authentication failure\"", "01");
    expect_ids("host:proxmox-node-01 AND severity:high", "07 09");
    expect_ids("in:logs severity_text:(error,ERROR,err,ERR) time:last_24h sort:timestamp:desc limit:100", "07 10 11");
    expect_ids("in:events severity:(Critical,High) time:last_24h sort:time:desc", "03 07 09 10 13 23");
    expect_ids("src_ip:10.0.0.0/8 AND NOT user:root", "15 16 18 19");
    expect_ids("CVE-2024-3094", "23");
    /* IOCs and identifiers are whole tokens */
    expect_ids("216.160.83.57", "06 08 20");
    expect_ids("/etc/shadow", "05");
    expect_ids("\"Failed password\" -root", "18 21");
    expect_ids("k8s.pod:kubecon proc.tty:34816", "03 04");
    expect_ids("pass* host:localhost", "22");
    expect_ids("*shadow* sort:time:asc", "05");
    expect_ids("user:adm* type:auth", "18");
    expect_ids("tags:shell time:last_24h", "03");
    expect_ids("message:\"Connection refused\"", "10");
    expect_ids("pid:>5000 pid:<6000", "06 08 20");
    expect_ids("severity:>=high in:alerts time:[1970-01-01T00:00:00Z,2999-01-01T00:00:00Z]", "03 13 04");

    json_t *ans = query_ok("\"Failed password\" | stats count() by src_ip | sort count desc | head 10", NULL);
    assert_string_equal(json_string_value(json_object_get(ans, "kind")), "stats");
    char *rows = json_dumps(json_object_get(ans, "rows"), JSON_COMPACT);
    assert_string_equal(rows, "[[\"216.160.83.57\",3],[\"10.1.2.3\",2],[\"192.168.1.10\",1]]");
    free(rows);
    char *cols = json_dumps(json_object_get(ans, "columns"), JSON_COMPACT);
    assert_string_equal(cols, "[{\"name\":\"src_ip\",\"type\":\"ip\"},{\"name\":\"count\",\"type\":\"integer\"}]");
    free(cols);
    assert_true(json_is_null(json_object_get(ans, "next_cursor")));
    char *hl = json_dumps(json_object_get(ans, "highlight"), JSON_COMPACT);
    assert_string_equal(hl, "[\"Failed password\"]");
    free(hl);
    json_decref(ans);

    ans = query_ok("in:logs stats:\"count() as n by host\" sort:n:desc | head 2", NULL);
    rows = json_dumps(json_object_get(ans, "rows"), JSON_COMPACT);
    assert_string_equal(rows, "[[\"rank-host2\",6],[\"web-01\",4]]");
    free(rows);
    json_decref(ans);
}

static void test_event_row_shape(void **state) {
    (void)state;
    json_t *ans = query_ok("k8s.namespace:production \"authentication failure\"", NULL);
    assert_string_equal(json_string_value(json_object_get(ans, "kind")), "events");
    json_t *cols = json_object_get(ans, "columns");
    assert_int_equal(json_array_size(cols), 17);
    json_t *row = json_array_get(json_object_get(ans, "rows"), 0);
    assert_int_equal(json_array_size(row), 17);
    const char *t = json_string_value(json_array_get(row, 0));
    assert_non_null(t);
    assert_int_equal(strlen(t), 27); /* 2026-01-01T00:00:00.000000Z */
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[26], 'Z');
    assert_string_equal(json_string_value(json_array_get(row, 2)), "k8s-node-1");
    assert_string_equal(json_string_value(json_array_get(row, 5)), "medium"); /* severity by name */
    assert_string_equal(json_string_value(json_array_get(row, 6)), "Warning");
    assert_true(json_is_null(json_array_get(row, 7)));  /* program */
    assert_true(json_is_null(json_array_get(row, 8)));  /* pid */
    assert_true(json_is_null(json_array_get(row, 10))); /* src_ip */
    json_t *fields = json_array_get(row, 15);
    assert_true(json_is_object(fields));
    assert_string_equal(json_string_value(json_object_get(fields, "k8s.namespace")), "production");
    json_t *tags = json_array_get(row, 16);
    assert_true(json_is_array(tags));
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "container");
    assert_true(json_is_number(json_object_get(ans, "elapsed_ms")));
    json_t *hl = json_object_get(ans, "highlight");
    assert_string_equal(json_string_value(json_array_get(hl, 0)), "authentication failure");
    assert_null(json_object_get(ans, "explain"));
    assert_null(json_object_get(ans, "histogram"));
    json_decref(ans);

    ans = query_ok("src_ip:10.0.2.2 pid:3402", NULL);
    row = json_array_get(json_object_get(ans, "rows"), 0);
    assert_string_equal(json_string_value(json_array_get(row, 10)), "10.0.2.2");
    assert_int_equal(json_integer_value(json_array_get(row, 8)), 3402);
    assert_string_equal(json_string_value(json_array_get(row, 5)), "info");
    json_decref(ans);
}

/* Pages through a query with next_cursor; every event comes exactly once. */
static void page_all(const char *q, int limit, size_t want_rows) {
    char seen[100] = {0};
    size_t total = 0;
    char *cursor = NULL;
    for (int page = 0; page < 100; page++) {
        json_t *ans = cursor ? query_ok(q, "{s:i,s:s}", "limit", limit, "cursor", cursor)
                             : query_ok(q, "{s:i}", "limit", limit);
        free(cursor);
        cursor = NULL;
        json_t *rows = json_object_get(ans, "rows");
        assert_true(json_array_size(rows) <= (size_t)limit);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            const char *id = json_string_value(json_array_get(row, 1));
            int n = (id[34] - '0') * 10 + (id[35] - '0');
            if (n < 1 || n > (int)N_FIXTURES || seen[n])
                fail_msg("%s: event %d unknown or on two pages", q, n);
            seen[n] = 1;
            total++;
        }
        json_t *next = json_object_get(ans, "next_cursor");
        if (json_is_string(next))
            cursor = strdup(json_string_value(next));
        json_decref(ans);
        if (!cursor)
            break;
    }
    assert_null(cursor);
    assert_int_equal(total, want_rows);
}

static void test_pagination(void **state) {
    (void)state;
    page_all("*", 5, N_FIXTURES);              /* keyset (time, id), with equal times */
    page_all("", 1000, N_FIXTURES);            /* one page */
    page_all("sort:time:asc", 4, N_FIXTURES);  /* keyset ascending */
    page_all("sort:host:asc", 4, N_FIXTURES);  /* offset */
    page_all("type:auth", 3, 12);              /* a filter */
    /* stats pages */
    json_t *all = query_ok("| stats count() by host", "{s:i}", "limit", 1000);
    size_t groups = json_array_size(json_object_get(all, "rows"));
    assert_true(groups > 5);
    json_decref(all);
    size_t got = 0;
    char *cursor = NULL;
    for (int page = 0; page < 50; page++) {
        json_t *ans = cursor ? query_ok("| stats count() by host", "{s:i,s:s}", "limit", 2, "cursor", cursor)
                             : query_ok("| stats count() by host", "{s:i}", "limit", 2);
        free(cursor);
        cursor = NULL;
        got += json_array_size(json_object_get(ans, "rows"));
        json_t *next = json_object_get(ans, "next_cursor");
        if (json_is_string(next))
            cursor = strdup(json_string_value(next));
        json_decref(ans);
        if (!cursor)
            break;
    }
    assert_int_equal(got, groups);
    /* a cursor of another query is refused, without a position */
    json_t *first = query_ok("*", "{s:i}", "limit", 2);
    const char *cur = json_string_value(json_object_get(first, "next_cursor"));
    assert_non_null(cur);
    json_t *bad = query_status(400, "host:bastion", "{s:s}", "cursor", cur);
    json_t *e = json_object_get(bad, "error");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "bad cursor");
    assert_null(json_object_get(e, "position"));
    json_decref(bad);
    json_decref(first);
}

static void test_explain_and_injection(void **state) {
    (void)state;
    json_t *ans = query_ok("host:\"x' OR 1=1 --\" OR user:\"root'; DROP TABLE events; --\"", "{s:b}", "explain", 1);
    assert_int_equal(json_array_size(json_object_get(ans, "rows")), 0);
    json_t *ex = json_object_get(ans, "explain");
    const char *sql = json_string_value(json_object_get(ex, "sql"));
    assert_non_null(sql);
    assert_non_null(strstr(sql, "e.host = $1 OR e.user_name = $2"));
    assert_null(strstr(sql, "1=1"));
    assert_null(strstr(sql, "DROP"));
    json_t *params = json_object_get(ex, "params");
    assert_string_equal(json_string_value(json_array_get(params, 0)), "x' OR 1=1 --");
    assert_string_equal(json_string_value(json_array_get(params, 1)), "root'; DROP TABLE events; --");
    json_decref(ans);
    /* nothing was harmed */
    PGresult *r = PQexec(g_db, "SELECT count(*) FROM events");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "33");
    PQclear(r);
    /* a dotted key and a tsquery-looking word are parameters too */
    ans = query_ok("k8s.namespace:\"production\\\"}\" \"a' & !b\"", "{s:b}", "explain", 1);
    assert_int_equal(json_array_size(json_object_get(ans, "rows")), 0);
    sql = json_string_value(json_object_get(json_object_get(ans, "explain"), "sql"));
    assert_non_null(strstr(sql, "e.fields @> $1::jsonb AND e.search @@ $2::tsquery"));
    json_decref(ans);
}

static void test_histogram(void **state) {
    (void)state;
    json_t *ans = query_ok("time:last_24h", "{s:b,s:i}", "histogram", 1, "limit", 1);
    json_t *h = json_object_get(ans, "histogram");
    assert_non_null(h);
    assert_int_equal(json_integer_value(json_object_get(h, "bucket_s")), 1800);
    json_t *buckets = json_object_get(h, "buckets");
    size_t i;
    json_t *b;
    json_int_t sum = 0;
    json_array_foreach(buckets, i, b) {
        assert_int_equal(strlen(json_string_value(json_object_get(b, "time"))), 20);
        sum += json_integer_value(json_object_get(b, "count"));
    }
    assert_int_equal(sum, 22); /* fixtures 1-3, 5-11, 13-24 */
    json_decref(ans);
    /* no time range: the bucket width follows the matched events' span (about 3 days) */
    ans = query_ok("type:syslog", "{s:b}", "histogram", 1);
    h = json_object_get(ans, "histogram");
    assert_int_equal(json_integer_value(json_object_get(h, "bucket_s")), 10800);
    sum = 0;
    json_array_foreach(json_object_get(h, "buckets"), i, b) sum += json_integer_value(json_object_get(b, "count"));
    assert_int_equal(sum, 14);
    json_decref(ans);
}

static void test_errors(void **state) {
    (void)state;
    json_t *ans = query_status(400, "usr:root AND host:x", NULL);
    json_t *e = json_object_get(ans, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_request");
    assert_int_equal(json_integer_value(json_object_get(e, "position")), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "length")), 3);
    assert_non_null(strstr(json_string_value(json_object_get(e, "hint")), "user_name"));
    json_decref(ans);
    ans = query_status(501, "host:proxmox-node-01 AND severity:high | SIMILAR_TO(\"privilege escalation via bash\")",
                       NULL);
    e = json_object_get(ans, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "not_available");
    assert_int_equal(json_integer_value(json_object_get(e, "position")), 41);
    json_decref(ans);
    ans = query_status(400, "src_ip:10.0.0.0/33", NULL);
    json_decref(ans);
    ans = query_status(400, "time:>yesterday", NULL);
    json_decref(ans);
    ans = query_status(400, "\"unclosed", NULL);
    json_decref(ans);
    /* refused in C with a position, not by PostgreSQL (min(uuid) does not exist, offsets past 15:59) */
    ans = query_status(400, "| stats min(id)", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ans, "error"), "position")), 8);
    json_decref(ans);
    ans = query_status(400, "time:>2026-01-01T00:00:00-20:00", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ans, "error"), "position")), 6);
    json_decref(ans);
    /* request shape */
    srtest_http_resp r = post_raw("POST", "{\"query\":\"x\",\"bogus\":1}");
    assert_int_equal(r.status, 400);
    free(r.body);
    r = post_raw("POST", "{\"limit\":5}");
    assert_int_equal(r.status, 400);
    free(r.body);
    r = post_raw("POST", "{\"query\":\"x\",\"limit\":0}");
    assert_int_equal(r.status, 400);
    free(r.body);
    r = post_raw("POST", "not json");
    assert_int_equal(r.status, 400);
    free(r.body);
    r = post_raw("GET", NULL);
    assert_int_equal(r.status, 405);
    free(r.body);
    char *big = malloc(70 * 1024);
    assert_non_null(big);
    memset(big, ' ', 70 * 1024 - 1);
    big[70 * 1024 - 1] = '\0';
    big[0] = '{';
    big[70 * 1024 - 2] = '}';
    r = post_raw("POST", big);
    assert_int_equal(r.status, 413);
    free(r.body);
    free(big);
}

static void test_relevance(void **state) {
    (void)state;
    PGresult *res = PQexec(g_db, "SELECT search_stats_refresh(100000)");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "33");
    PQclear(res);
    res = PQexec(g_db, "SELECT ndoc FROM search_term_stats WHERE lexeme = 'login'");
    assert_string_equal(PQgetvalue(res, 0, 0), "7");
    PQclear(res);
    /* time order would be 27, 26, 25; BM25 puts the repeated rare term first and the repeated
     * common term below it */
    json_t *ans = query_ok("host:rank-host (zebra OR login) sort:relevance", NULL);
    char got[256];
    row_ids(ans, got, sizeof(got));
    assert_string_equal(got, "25 27 26");
    json_t *rows = json_object_get(ans, "rows");
    double s1 = json_real_value(json_array_get(json_array_get(rows, 0), 17));
    double s2 = json_real_value(json_array_get(json_array_get(rows, 1), 17));
    double s3 = json_real_value(json_array_get(json_array_get(rows, 2), 17));
    assert_true(s1 > s2 && s2 > s3 && s3 > 0);
    json_t *cols = json_object_get(ans, "columns");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 17), "name")), "score");
    json_decref(ans);
    /* relevance pages by offset */
    page_all("login OR zebra sort:relevance", 2, 9);
}

/* The tokenizer's literal round-trips through PostgreSQL for every line of the sample data. */
static void check_file(const char *path, size_t *lines) {
    char *buf = NULL;
    size_t len = 0;
    if (sr_file_read_all(path, 16 * 1024 * 1024, &buf, &len) != 0)
        fail_msg("could not read %s (set SR_SHARED_DATA to the shared sample data)", path);
    size_t outlen = 1 << 20;
    char *out = malloc(outlen);
    assert_non_null(out);
    char *line = buf;
    while (line < buf + len) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
        assert_int_equal(sr_search_tsvector(line, n, out, outlen, NULL), 0);
        const char *v[] = {out};
        PGresult *r = PQexecParams(g_db, "SELECT $1::tsvector::text", 1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: PostgreSQL refused %s: %s", path, out, PQerrorMessage(g_db));
        if (strcmp(PQgetvalue(r, 0, 0), out) != 0)
            fail_msg("%s: PostgreSQL changed\n  %s\ninto\n  %s", path, out, PQgetvalue(r, 0, 0));
        PQclear(r);
        (*lines)++;
        line += n + 1;
    }
    free(out);
    free(buf);
}

static void test_tsvector_sample_data(void **state) {
    (void)state;
    size_t lines = 0;
    check_file(SR_FALCO_ALERTS_FILE, &lines);
    assert_true(lines > 10);
    const char *root = getenv("SR_SHARED_DATA") ? getenv("SR_SHARED_DATA") : SR_SHARED_DATA_DEFAULT;
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/logs", root);
    DIR *d = opendir(path);
    if (!d) {
        print_message("SKIPPED: the log lines of %s (third-party sample data beside the repository) are "
                      "absent; only testdata/falco was checked\n",
                      path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1400];
        (void)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        DIR *sd = opendir(sub);
        assert_non_null(sd);
        struct dirent *fe;
        while ((fe = readdir(sd)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            char file[1800];
            (void)snprintf(file, sizeof(file), "%s/%s", sub, fe->d_name);
            check_file(file, &lines);
        }
        closedir(sd);
    }
    closedir(d);
    assert_true(lines > 500);
}

/* Every golden query that compiles runs on PostgreSQL (page, histogram and bounds). */
static void test_golden_sql_runs(void **state) {
    (void)state;
    DIR *d = opendir(SR_SRQL_TESTDATA);
    assert_non_null(d);
    struct dirent *de;
    int ran = 0;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".srql") != 0)
            continue;
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/%s", SR_SRQL_TESTDATA, de->d_name);
        char *q = NULL;
        size_t qlen = 0;
        assert_int_equal(sr_file_read_all(path, 1 << 20, &q, &qlen), 0);
        if (qlen && q[qlen - 1] == '\n')
            q[--qlen] = '\0';
        srql_plan *p = NULL;
        srql_error e;
        if (srql_compile(q, qlen, NULL, &p, &e) == 0) {
            PGresult *r = PQexecParams(g_db, p->sql, (int)p->nparams, NULL, p->params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", de->d_name, PQerrorMessage(g_db));
            PQclear(r);
            if (p->histogram_sql) {
                const char **hp = calloc(p->nfilter_params + 1, sizeof(*hp));
                assert_non_null(hp);
                memcpy(hp, p->params, p->nfilter_params * sizeof(*hp));
                hp[p->nfilter_params] = "60";
                r = PQexecParams(g_db, p->histogram_sql, (int)p->nfilter_params + 1, NULL, hp, NULL, NULL, 0);
                if (PQresultStatus(r) != PGRES_TUPLES_OK)
                    fail_msg("%s histogram: %s", de->d_name, PQerrorMessage(g_db));
                PQclear(r);
                r = PQexecParams(g_db, p->bounds_sql, (int)p->nfilter_params, NULL, hp, NULL, NULL, 0);
                if (PQresultStatus(r) != PGRES_TUPLES_OK)
                    fail_msg("%s bounds: %s", de->d_name, PQerrorMessage(g_db));
                PQclear(r);
                free(hp);
            }
            ran++;
        }
        srql_plan_free(p);
        free(q);
    }
    closedir(d);
    assert_true(ran >= 20);
}

int main(void) {
    srtest_http_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_queries), cmocka_unit_test(test_event_row_shape),
        cmocka_unit_test(test_pagination),       cmocka_unit_test(test_explain_and_injection),
        cmocka_unit_test(test_histogram),        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_relevance),        cmocka_unit_test(test_tsvector_sample_data),
        cmocka_unit_test(test_golden_sql_runs),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    srtest_http_cleanup();
    return rc;
}
