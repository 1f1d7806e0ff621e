/* The vulnerability scan pipeline against a real nats-server (JetStream) and PostgreSQL: Trivy
 * reports (testdata/trivy) cut into ScanPart uploads, published to scan.trivy.results out of
 * order, become packages, host packages with their files, vulnerabilities and findings; the same
 * parts again change nothing; a later report without a CVE fixes its finding and moves the
 * others' last_seen; the CVE coming back reopens it; an older report changes no finding; a wrong
 * digest or a malformed report is a dead letter with its reason and nothing of it is applied,
 * while the next good message still goes in; SBOMs are kept and downloaded; incomplete part sets
 * are expired by the retention job; the HTTP API answers the queries over the result. Every
 * wait polls with a deadline. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <nats/nats.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_api.h"
#include "sr_file.h"
#include "sr_ingest.h"
#include "sr_jobs_builtin.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"
#include "srtest.h"
#include "srtest_http.h"

#define DEADLINE_MS 60000
#define S(x) ((char *)(uintptr_t)(x))
#define AGENT "agent-1"
#define HOUR_MS INT64_C(3600000)

typedef struct {
    srtest_nats nats;
    char conninfo[512];
    PGconn *pg;
    natsConnection *nc;
    jsCtx *js;
    sr_core_stats stats;
    sr_ingest *ing;
    sr_api *api;
    int port;
    uint64_t epoch, seq;
    int64_t now_ms;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_nats_start(&f->nats), 0);
    assert_int_equal(srtest_pg_create_db(f->conninfo, sizeof(f->conninfo)), 0);
    char err[1024];
    assert_int_equal(sr_pg_connect(f->conninfo, &f->pg, err, sizeof(err)), 0);
    if (sr_migrate_apply_err(f->pg, SR_MIGRATIONS_DIR, NULL, err, sizeof(err)) != 0)
        fail_msg("migrate: %s", err);
    assert_int_equal(natsConnection_ConnectTo(&f->nc, f->nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&f->js, f->nc, NULL), NATS_OK);
    sr_streams_config sc = {.telemetry_max_age_ms = HOUR_MS,
                            .agents_max_age_ms = HOUR_MS,
                            .logs_max_age_ms = HOUR_MS,
                            .security_max_age_ms = HOUR_MS,
                            .scans_max_age_ms = HOUR_MS,
                            .ack_wait_ms = 5000,
                            .max_ack_pending = 20000};
    if (sr_streams_ensure(f->nc, &sc, err, sizeof(err)) != 0)
        fail_msg("streams: %s", err);
    sr_ingest_config ic = {.pg_conninfo = f->conninfo,
                           .workers = 1,
                           .batch_size = 64,
                           .batch_wait_ms = 100,
                           .offline_after_ms = 60000,
                           .sweep_interval_ms = 1000,
                           .stats_interval_ms = 200,
                           .nak_delay_ms = 200,
                           .scan_workers = 1,
                           .scan_max_document_bytes = 1u << 20};
    assert_int_equal(sr_ingest_start(&ic, f->nc, &f->stats, &f->ing), 0);
    sr_api_config ac = {.listen = "127.0.0.1:0", .pg_conninfo = f->conninfo, .threads = 2};
    assert_int_equal(sr_api_start(&ac, &f->stats, f->nc, &f->api), 0);
    f->port = sr_api_port(f->api);
    f->epoch = (uint64_t)sr_now_unix_ms();
    f->now_ms = sr_now_unix_ms();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    sr_api_free(f->api);
    sr_ingest_free(f->ing);
    jsCtx_Destroy(f->js);
    natsConnection_Destroy(f->nc);
    sr_pg_close(f->pg);
    srtest_pg_drop_db(f->conninfo);
    srtest_nats_stop(&f->nats, 0);
    srtest_rmtree(f->nats.dir);
    free(f);
    return 0;
}

/* ---- documents ---- */

typedef struct {
    char *data;
    size_t len;
} doc;

static doc load(const char *name) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", SR_TRIVY_TESTDATA, name);
    doc d = {0};
    int r = sr_file_read_all(path, 16u << 20, &d.data, &d.len);
    if (r < 0)
        fail_msg("cannot read %s: %s", path, strerror(-r));
    return d;
}

/* agent-host.json with edits: drop_vuln removes that vulnerability, drop_pkg that package. */
static doc report_variant(const char *drop_vuln, const char *drop_pkg) {
    doc base = load("agent-host.json");
    json_error_t je;
    json_t *j = json_loadb(base.data, base.len, 0, &je);
    assert_non_null(j);
    free(base.data);
    size_t ri;
    json_t *res;
    json_array_foreach(json_object_get(j, "Results"), ri, res) {
        json_t *vs = json_object_get(res, "Vulnerabilities"), *ps = json_object_get(res, "Packages");
        for (size_t i = json_array_size(vs); drop_vuln && i-- > 0;)
            if (strcmp(json_string_value(json_object_get(json_array_get(vs, i), "VulnerabilityID")), drop_vuln) == 0)
                json_array_remove(vs, i);
        for (size_t i = json_array_size(ps); drop_pkg && i-- > 0;)
            if (strcmp(json_string_value(json_object_get(json_array_get(ps, i), "Name")), drop_pkg) == 0)
                json_array_remove(ps, i);
    }
    doc d;
    d.data = json_dumps(j, JSON_INDENT(1));
    assert_non_null(d.data);
    d.len = strlen(d.data);
    json_decref(j);
    return d;
}

/* ---- publishing ---- */

typedef struct {
    const char *agent, *scan_id, *target, *kind;
    int64_t finished_ms;
    size_t part_size;
    const unsigned *order; /* publish order of the parts (NULL: in order) */
    int bad_sha;           /* a wrong total_sha256 */
    uint64_t first_seq;    /* 0: the next seqs of the fixture; else these (a redelivery) */
} pub_opts;

static void publish_raw(fx *f, const char *agent, const char *msgid, const void *data, size_t len) {
    natsMsg *m = NULL;
    assert_int_equal(natsMsg_Create(&m, SR_SUBJECT_SCANS, NULL, data, (int)len), NATS_OK);
    if (agent)
        assert_int_equal(natsMsgHeader_Set(m, "Sr-Agent-Id", agent), NATS_OK);
    if (msgid)
        assert_int_equal(natsMsgHeader_Set(m, "Nats-Msg-Id", msgid), NATS_OK);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_PublishMsg(&pa, f->js, m, NULL, &jerr), NATS_OK);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
}

/* Cuts d into parts and publishes each as an UploadBatch with a ScanPart. Returns the first seq. */
static uint64_t publish_doc(fx *f, const doc *d, const pub_opts *o) {
    size_t psize = o->part_size ? o->part_size : d->len;
    uint32_t count = (uint32_t)((d->len + psize - 1) / psize);
    uint8_t sha[32];
    unsigned shalen = 0;
    assert_true(EVP_Digest(d->data, d->len, sha, &shalen, EVP_sha256(), NULL) == 1);
    if (o->bad_sha)
        sha[7] ^= 0x40;
    uint64_t first = o->first_seq ? o->first_seq : f->seq + 1;
    if (!o->first_seq)
        f->seq += count;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = o->order ? o->order[k] : k;
        Serviceradar__Agent__V1__ScanPart p;
        serviceradar__agent__v1__scan_part__init(&p);
        p.scan_id = S(o->scan_id);
        p.target = S(o->target ? o->target : "host");
        p.kind = S(o->kind ? o->kind : "report");
        p.index = i;
        p.count = count;
        p.data.data = (uint8_t *)d->data + (size_t)i * psize;
        p.data.len = (size_t)i + 1 == count ? d->len - (size_t)i * psize : psize;
        p.total_size = d->len;
        p.total_sha256.data = sha;
        p.total_sha256.len = 32;
        p.started_unix_ms = o->finished_ms - 30000;
        p.finished_unix_ms = o->finished_ms;
        p.db_version = S("sha256:7f3a");
        p.scanner_version = S("trivy v0.74.0");
        p.target_name = S("host-test");
        p.targets_in_run = 1;
        Serviceradar__Agent__V1__UploadBatch b;
        serviceradar__agent__v1__upload_batch__init(&b);
        b.agent_id = S(o->agent ? o->agent : AGENT);
        b.epoch = f->epoch;
        b.seq = first + i;
        b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
        b.scan = &p;
        size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
        uint8_t *buf = malloc(len);
        assert_non_null(buf);
        serviceradar__agent__v1__upload_batch__pack(&b, buf);
        char msgid[128];
        snprintf(msgid, sizeof(msgid), "%s:%" PRIu64 ":%" PRIu64 "%s", b.agent_id, b.epoch, b.seq,
                 o->first_seq ? ":again" : "");
        publish_raw(f, b.agent_id, msgid, buf, len);
        free(buf);
    }
    return first;
}

/* ---- reading back ---- */

static int64_t q1(fx *f, const char *sql, const char *p1) {
    const char *vals[] = {p1};
    return srtest_sql_i64(f->pg, sql, p1 ? 1 : 0, vals);
}

static char *qtext(fx *f, const char *sql, const char *p1) {
    const char *vals[] = {p1};
    PGresult *r = srtest_sqlr(f->pg, sql, p1 ? 1 : 0, vals);
    if (PQntuples(r) != 1)
        fail_msg("%s: %d rows", sql, PQntuples(r));
    char *s = strdup(PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* Waits until the scan's document left 'receiving' and returns its status (to free). */
static char *wait_doc(fx *f, const char *scan_id, const char *kind) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT COALESCE(%s_status, '') FROM scans WHERE scan_id = $1", kind);
    int64_t end = sr_mono_ms() + DEADLINE_MS;
    for (;;) {
        const char *vals[] = {scan_id};
        PGresult *r = srtest_sqlr(f->pg, sql, 1, vals);
        if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "receiving") != 0 && PQgetvalue(r, 0, 0)[0]) {
            char *s = strdup(PQgetvalue(r, 0, 0));
            PQclear(r);
            return s;
        }
        PQclear(r);
        if (sr_mono_ms() > end)
            fail_msg("scan %s: the %s was not processed in time", scan_id, kind);
        sr_sleep_ms(25);
    }
}

static void wait_drained(fx *f) {
    int64_t end = sr_mono_ms() + DEADLINE_MS;
    for (;;) {
        jsConsumerInfo *ci = NULL;
        assert_int_equal(js_GetConsumerInfo(&ci, f->js, SR_STREAM_SCANS, SR_CONSUMER_SCANS, NULL, NULL), NATS_OK);
        int done = ci->NumPending == 0 && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (done)
            return;
        if (sr_mono_ms() > end)
            fail_msg("consumer %s did not drain", SR_CONSUMER_SCANS);
        sr_sleep_ms(25);
    }
}

/* A digest of every row the lifecycle writes (ids included). */
static char *digest(fx *f) {
    return qtext(f,
                 "SELECT md5(concat_ws('|', "
                 "(SELECT string_agg(f::text, ',' ORDER BY id) FROM findings f), "
                 "(SELECT string_agg(h::text, ',' ORDER BY id) FROM host_packages h), "
                 "(SELECT string_agg(p::text, ',' ORDER BY id) FROM packages p), "
                 "(SELECT string_agg(v.id || v.updated_at::text, ',' ORDER BY id) FROM vulnerabilities v), "
                 "(SELECT string_agg(pf.host_package_id || pf.path, ',' ORDER BY 1) FROM package_files pf)))",
                 NULL);
}

static int64_t ms_of(fx *f, const char *sql, const char *p1) {
    const char *vals[] = {p1};
    char wrapped[512];
    snprintf(wrapped, sizeof(wrapped), "SELECT floor(extract(epoch from (%s)) * 1000)::bigint", sql);
    return srtest_sql_i64(f->pg, wrapped, p1 ? 1 : 0, vals);
}


static int64_t finding_ms(fx *f, const char *cve, const char *col) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM findings WHERE vulnerability_id = $1", col);
    return ms_of(f, sql, cve);
}

static char *finding_status(fx *f, const char *cve) {
    return qtext(f, "SELECT status FROM findings WHERE vulnerability_id = $1", cve);
}

static void expect_status(fx *f, const char *cve, const char *want) {
    char *s = finding_status(f, cve);
    if (strcmp(s, want) != 0)
        fail_msg("finding %s is %s, expected %s", cve, s, want);
    free(s);
}

static void expect_str(char *got, const char *want) {
    if (strcmp(got, want) != 0)
        fail_msg("got \"%s\", expected \"%s\"", got, want);
    free(got);
}

/* ---- tests ---- */

static const unsigned ORDER5[] = {3, 0, 4, 1, 2};

static void test_report_lifecycle(void **state) {
    fx *f = *state;
    int64_t t0 = f->now_ms - 3 * HOUR_MS, t1 = f->now_ms - 2 * HOUR_MS, t2 = f->now_ms - HOUR_MS;
    doc a = load("agent-host.json");
    size_t psize = a.len / 5 + 1; /* five parts */
    pub_opts o = {.scan_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", .finished_ms = t0, .part_size = psize, .order = ORDER5};
    uint64_t first = publish_doc(f, &a, &o);
    expect_str(wait_doc(f, o.scan_id, "report"), "processed");

    assert_int_equal(q1(f, "SELECT count(*) FROM findings WHERE status = 'open'", NULL), 3);
    assert_int_equal(q1(f, "SELECT count(*) FROM packages", NULL), 4);
    assert_int_equal(q1(f, "SELECT count(*) FROM host_packages WHERE agent_id = 'agent-1' AND target = 'host' "
                           "AND removed_at IS NULL",
                        NULL),
                     4);
    assert_int_equal(q1(f, "SELECT count(*) FROM package_files", NULL), 7);
    assert_int_equal(q1(f, "SELECT count(*) FROM vulnerabilities", NULL), 3);
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 0);
    assert_int_equal(q1(f, "SELECT packages * 100 + vulnerabilities * 10 + findings_opened FROM scans "
                           "WHERE scan_id = $1",
                        o.scan_id),
                     433);
    /* mapped files lead to their package */
    expect_str(qtext(f,
                     "SELECT p.name || ' ' || p.version FROM package_files pf JOIN host_packages h ON h.id = "
                     "pf.host_package_id JOIN packages p ON p.id = h.package_id WHERE pf.path = $1",
                     "/lib/x86_64-linux-gnu/libz.so.1"),
               "zlib1g 1:1.2.11.dfsg-1");
    expect_str(qtext(f, "SELECT severity || ' ' || fixed_version || ' ' || installed_version FROM findings "
                        "WHERE vulnerability_id = $1",
                     "CVE-2019-18224"),
               "CRITICAL 2.0.5-1+deb10u1 2.0.5-1");
    expect_str(qtext(f, "SELECT h.path FROM findings f JOIN host_packages h ON h.id = f.host_package_id "
                        "WHERE f.vulnerability_id = $1",
                     "CVE-2022-22965"),
               "usr/local/tomcat/webapps/helloworld.war/WEB-INF/lib/spring-beans-5.3.15.jar");
    expect_str(qtext(f, "SELECT cvss_v3_score::text || ' ' || (cvss->'nvd'->>'V3Score') || ' ' || "
                        "array_length(\"references\", 1) FROM vulnerabilities WHERE id = $1",
                     "CVE-2019-18224"),
               "9.8 9.8 14");
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "first_seen"), t0);
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "last_seen"), t0);

    /* the same parts again: as a redelivery (same batch keys) and as a new upload of the same
     * scan (new keys): nothing changes */
    char *before = digest(f);
    pub_opts again = o;
    again.first_seq = first;
    publish_doc(f, &a, &again);
    publish_doc(f, &a, &o);
    wait_drained(f);
    char *after = digest(f);
    assert_string_equal(before, after);
    free(after);
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 0);
    assert_true(atomic_load(&f->stats.duplicates_skipped) >= 10);

    /* a later report without CVE-2019-18276 and without zlib1g */
    doc b = report_variant("CVE-2019-18276", "zlib1g");
    pub_opts ob = {.scan_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02", .finished_ms = t1, .part_size = 1000};
    publish_doc(f, &b, &ob);
    expect_str(wait_doc(f, ob.scan_id, "report"), "processed");
    expect_status(f, "CVE-2019-18276", "fixed");
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "fixed_at"), t1);
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "last_seen"), t0);
    expect_status(f, "CVE-2019-18224", "open");
    assert_int_equal(finding_ms(f, "CVE-2019-18224", "last_seen"), t1);
    assert_int_equal(finding_ms(f, "CVE-2019-18224", "first_seen"), t0);
    assert_int_equal(finding_ms(f, "CVE-2022-22965", "last_seen"), t1);
    assert_int_equal(ms_of(f, "SELECT h.removed_at FROM host_packages h JOIN packages p ON p.id = h.package_id "
                              "WHERE p.name = $1",
                           "zlib1g"),
                     t1);
    assert_int_equal(q1(f, "SELECT findings_fixed * 10 + findings_opened FROM scans WHERE scan_id = $1", ob.scan_id),
                     10);

    /* it comes back: reopened, first_seen kept */
    pub_opts oc = {.scan_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03", .finished_ms = t2, .part_size = 4096};
    publish_doc(f, &a, &oc);
    expect_str(wait_doc(f, oc.scan_id, "report"), "processed");
    expect_status(f, "CVE-2019-18276", "open");
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "reopened_at"), t2);
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "first_seen"), t0);
    assert_int_equal(finding_ms(f, "CVE-2019-18276", "last_seen"), t2);
    assert_int_equal(q1(f, "SELECT count(*) FROM findings WHERE fixed_at IS NOT NULL", NULL), 0);
    assert_int_equal(q1(f, "SELECT count(*) FROM host_packages WHERE removed_at IS NOT NULL", NULL), 0);
    assert_int_equal(q1(f, "SELECT findings_reopened FROM scans WHERE scan_id = $1", oc.scan_id), 1);
    assert_int_equal(q1(f, "SELECT count(*) FROM findings", NULL), 3); /* never duplicated */

    /* an older report (between t1 and t2) arriving late: recorded as stale, no finding changes */
    free(before);
    before = digest(f);
    pub_opts od = {.scan_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04", .finished_ms = t2 - HOUR_MS / 2};
    publish_doc(f, &b, &od);
    expect_str(wait_doc(f, od.scan_id, "report"), "stale");
    after = digest(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    expect_status(f, "CVE-2019-18276", "open");
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters", NULL), 0);
    free(a.data);
    free(b.data);
}

static void test_bad_digest(void **state) {
    fx *f = *state;
    doc a = load("agent-host.json");
    pub_opts o = {.scan_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb01", .finished_ms = f->now_ms - HOUR_MS,
                  .part_size = 3000, .bad_sha = 1};
    publish_doc(f, &a, &o);
    expect_str(wait_doc(f, o.scan_id, "report"), "failed");
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE stream = 'SCANS' AND subject = "
                           "'scan.trivy.results' AND reason LIKE '%sha-256%differs from total_sha256%'",
                        NULL),
                     1);
    expect_str(qtext(f, "SELECT error FROM scans WHERE scan_id = $1", o.scan_id),
               "sha-256 of the assembled 12521 bytes differs from total_sha256");
    assert_int_equal(q1(f, "SELECT count(*) FROM findings", NULL), 0);
    assert_int_equal(q1(f, "SELECT count(*) FROM packages", NULL), 0);
    assert_int_equal(q1(f, "SELECT count(*) FROM vulnerabilities", NULL), 0);
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 0);
    free(a.data);
}

static void test_malformed_then_good(void **state) {
    fx *f = *state;
    /* garbage on the subject, a report that is not JSON, one that breaks a rule, then a good one */
    publish_raw(f, AGENT, "garbage-1", "\x0a\xff\xff", 3);
    doc bad = {strdup("{\"SchemaVersion\": 2, \"Results\": [{\"Packages\": "), 0};
    bad.len = strlen(bad.data);
    pub_opts ob = {.scan_id = "cccccccccccccccccccccccccccccc01", .finished_ms = f->now_ms - 2 * HOUR_MS,
                   .part_size = 10};
    publish_doc(f, &bad, &ob);
    doc rule = {strdup("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                       "[{\"VulnerabilityID\": \"CVE-2024-1'; DROP TABLE findings; --\", \"PkgName\": \"x\"}]}]}"),
                0};
    rule.len = strlen(rule.data);
    pub_opts orl = {.scan_id = "cccccccccccccccccccccccccccccc02", .finished_ms = f->now_ms - 2 * HOUR_MS};
    publish_doc(f, &rule, &orl);
    doc a = load("agent-host.json");
    pub_opts og = {.scan_id = "cccccccccccccccccccccccccccccc03", .finished_ms = f->now_ms - HOUR_MS,
                   .part_size = 5000};
    publish_doc(f, &a, &og);
    expect_str(wait_doc(f, og.scan_id, "report"), "processed");
    expect_str(wait_doc(f, ob.scan_id, "report"), "failed");
    expect_str(wait_doc(f, orl.scan_id, "report"), "failed");
    assert_int_equal(q1(f, "SELECT count(*) FROM findings WHERE status = 'open'", NULL), 3);
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters", NULL), 3);
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'not a valid UploadBatch%'", NULL),
                     1);
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'trivy report: not JSON%'", NULL), 1);
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE reason LIKE "
                           "'trivy report: Results[0].Vulnerabilities[0]: VulnerabilityID has characters%'",
                        NULL),
                     1);
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 0);
    /* a part that breaks the ScanPart rules (published straight to the subject, past the gateway) */
    Serviceradar__Agent__V1__ScanPart p;
    serviceradar__agent__v1__scan_part__init(&p);
    p.scan_id = S("NOT-HEX");
    p.target = S("host");
    p.kind = S("report");
    p.count = 1;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.epoch = 1;
    b.seq = 1;
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
    b.scan = &p;
    uint8_t buf[256];
    size_t len = serviceradar__agent__v1__upload_batch__pack(&b, buf);
    publish_raw(f, AGENT, "rule-1", buf, len);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%scan_id is not 32 lowercase hex%'",
                        1, DEADLINE_MS);
    free(bad.data);
    free(rule.data);
    free(a.data);
}

/* A document over scans.max_document_bytes (1 MiB here) is refused at its first part. */
static void test_too_large(void **state) {
    fx *f = *state;
    doc big = {malloc(1100000), 1100000};
    assert_non_null(big.data);
    memset(big.data, ' ', big.len);
    pub_opts o = {.scan_id = "dddddddddddddddddddddddddddddd01", .finished_ms = f->now_ms - HOUR_MS,
                  .part_size = 512 * 1024};
    publish_doc(f, &big, &o);
    expect_str(wait_doc(f, o.scan_id, "report"), "failed");
    wait_drained(f);
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE reason LIKE "
                           "'report of 1100000 bytes is over scans.max_document_bytes%'",
                        NULL),
                     1);
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 0);
    free(big.data);
}

static void test_sbom(void **state) {
    fx *f = *state;
    doc s = load("agent-host.cdx.json");
    pub_opts o = {.scan_id = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeee01", .kind = "sbom", .target = "container:3f2a9c1b7e4d",
                  .finished_ms = f->now_ms - HOUR_MS, .part_size = 700};
    publish_doc(f, &s, &o);
    expect_str(wait_doc(f, o.scan_id, "sbom"), "stored");
    srtest_http_resp r = srtest_http(f->port, "GET", "/api/v1/hosts/agent-1/sbom?target=container:3f2a9c1b7e4d",
                                     NULL, 0, 20);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, s.len);
    assert_memory_equal(r.body, s.data, s.len);
    assert_non_null(strcasestr(r.headers, "Content-Type: application/vnd.cyclonedx+json"));
    assert_non_null(strstr(r.headers, "agent-1-container_3f2a9c1b7e4d.cdx.json"));
    srtest_http_resp_free(&r);
    r = srtest_http(f->port, "GET", "/api/v1/hosts/agent-1/sbom", NULL, 0, 20); /* target host: none yet */
    assert_int_equal(r.status, 404);
    srtest_http_resp_free(&r);
    r = srtest_http(f->port, "GET", "/api/v1/hosts/agent-1/sbom?target=vm:1", NULL, 0, 20);
    assert_int_equal(r.status, 400);
    srtest_http_resp_free(&r);

    /* an older SBOM of the same target does not replace the newer one; a non-CycloneDX one is refused */
    doc old = {strdup("{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.5\", \"components\": []}"), 0};
    old.len = strlen(old.data);
    pub_opts oo = o;
    oo.scan_id = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeee02";
    oo.finished_ms = f->now_ms - 2 * HOUR_MS;
    publish_doc(f, &old, &oo);
    expect_str(wait_doc(f, oo.scan_id, "sbom"), "stored");
    expect_str(qtext(f, "SELECT scan_id FROM sboms WHERE target = $1", "container:3f2a9c1b7e4d"), o.scan_id);
    doc spdx = {strdup("{\"spdxVersion\": \"SPDX-2.3\", \"bomFormat\": \"SPDX\"}"), 0};
    spdx.len = strlen(spdx.data);
    pub_opts os = o;
    os.scan_id = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeee03";
    os.finished_ms = f->now_ms;
    publish_doc(f, &spdx, &os);
    expect_str(wait_doc(f, os.scan_id, "sbom"), "failed");
    assert_int_equal(q1(f, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'sbom: not a CycloneDX document%'",
                        NULL),
                     1);
    assert_int_equal(q1(f, "SELECT count(*) FROM sboms", NULL), 1);
    free(s.data);
    free(old.data);
    free(spdx.data);
}

/* Publishes part idx of count of doc d (parts of psize bytes) by itself. */
static void publish_part(fx *f, const char *scan_id, const char *kind, const doc *d, size_t psize, uint32_t idx,
                         int64_t finished_ms) {
    uint8_t sha[32];
    unsigned shalen = 0;
    assert_true(EVP_Digest(d->data, d->len, sha, &shalen, EVP_sha256(), NULL) == 1);
    Serviceradar__Agent__V1__ScanPart p;
    serviceradar__agent__v1__scan_part__init(&p);
    p.scan_id = S(scan_id);
    p.target = S("host");
    p.kind = S(kind);
    p.index = idx;
    p.count = (uint32_t)((d->len + psize - 1) / psize);
    p.data.data = (uint8_t *)d->data + (size_t)idx * psize;
    p.data.len = psize;
    p.total_size = d->len;
    p.total_sha256.data = sha;
    p.total_sha256.len = 32;
    p.started_unix_ms = finished_ms - 1000;
    p.finished_unix_ms = finished_ms;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.epoch = f->epoch;
    b.seq = ++f->seq;
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
    b.scan = &p;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    publish_raw(f, AGENT, NULL, buf, len);
    free(buf);
}

/* Incomplete sets older than the age are deleted and their documents marked expired. */
static void test_parts_retention(void **state) {
    fx *f = *state;
    doc a = load("agent-host.json");
    const char *old_scan = "ffffffffffffffffffffffffffffff01", *new_scan = "ffffffffffffffffffffffffffffff02";
    publish_part(f, old_scan, "report", &a, 2000, 0, f->now_ms - HOUR_MS); /* two of seven parts */
    publish_part(f, old_scan, "report", &a, 2000, 2, f->now_ms - HOUR_MS);
    doc s = load("agent-host.cdx.json");
    publish_part(f, new_scan, "sbom", &s, 700, 0, f->now_ms); /* a recent set stays */
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM scan_parts", 3, DEADLINE_MS);
    srtest_sql(f->pg, "UPDATE scan_parts SET received_at = now() - interval '25 hours' WHERE kind = 'report'", 0,
               NULL);

    sr_jobs_params params = {.scan_parts_age_ms = 24 * HOUR_MS};
    sr_jobs_entry entries[] = {{&sr_jobs_scan_parts_retention, 0}};
    sr_jobs_config jc = {.pg_conninfo = f->conninfo, .jobs = entries, .n = 1, .params = &params};
    char err[512];
    assert_int_equal(sr_jobs_register(f->pg, &jc, err, sizeof(err)), 0);
    int ran = 0, failed = 0;
    assert_int_equal(sr_jobs_run_due(f->pg, &jc, NULL, &ran, &failed, err, sizeof(err)), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(failed, 0);
    expect_str(qtext(f, "SELECT last_message FROM jobs WHERE name = $1", "scan_parts_retention"),
               "deleted 1 incomplete scan documents (2 parts)");
    assert_int_equal(q1(f, "SELECT count(*) FROM scan_parts", NULL), 1);
    expect_str(qtext(f, "SELECT report_status || ' ' || error FROM scans WHERE scan_id = $1", old_scan),
               "expired parts incomplete past retention.scan_parts_age");
    expect_str(qtext(f, "SELECT sbom_status FROM scans WHERE scan_id = $1", new_scan), "receiving");
    free(a.data);
    free(s.data);
}

/* ---- API ---- */

static json_t *get_json(fx *f, const char *path, long want_status) {
    srtest_http_resp r = srtest_http(f->port, "GET", path, NULL, 0, 20);
    if (r.status != want_status)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    if (!j)
        fail_msg("GET %s: not JSON: %s", path, r.body);
    srtest_http_resp_free(&r);
    return j;
}

static void expect_error(fx *f, const char *path, long status, const char *part) {
    json_t *j = get_json(f, path, status);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (!m || !strstr(m, part))
        fail_msg("GET %s: message \"%s\" lacks \"%s\"", path, m ? m : "", part);
    json_decref(j);
}

static const char *sv(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static void test_api(void **state) {
    fx *f = *state;
    int64_t t0 = f->now_ms - 2 * HOUR_MS, t1 = f->now_ms - HOUR_MS;
    doc a = load("agent-host.json");
    pub_opts o = {.scan_id = "abababababababababababababab0001", .finished_ms = t0, .part_size = 4000};
    publish_doc(f, &a, &o);
    expect_str(wait_doc(f, o.scan_id, "report"), "processed");
    pub_opts o2 = {.agent = "agent-2", .scan_id = "abababababababababababababab0002", .finished_ms = t0,
                   .target = "container:web1"};
    publish_doc(f, &a, &o2);
    expect_str(wait_doc(f, o2.scan_id, "report"), "processed");
    doc b = report_variant("CVE-2019-18276", NULL);
    pub_opts o3 = {.scan_id = "abababababababababababababab0003", .finished_ms = t1};
    publish_doc(f, &b, &o3);
    expect_str(wait_doc(f, o3.scan_id, "report"), "processed");

    /* open findings of agent-1, most severe first */
    json_t *j = get_json(f, "/api/v1/hosts/agent-1/findings", 200);
    json_t *list = json_object_get(j, "findings");
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    assert_string_equal(sv(first, "severity"), "CRITICAL");
    assert_string_equal(sv(first, "status"), "open");
    assert_string_equal(sv(first, "target"), "host");
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_t *pkg = json_object_get(first, "package");
    assert_non_null(sv(pkg, "name"));
    json_decref(j);

    j = get_json(f, "/api/v1/hosts/agent-1/findings?status=fixed", 200);
    list = json_object_get(j, "findings");
    assert_int_equal(json_array_size(list), 1);
    first = json_array_get(list, 0);
    assert_string_equal(sv(first, "vulnerability_id"), "CVE-2019-18276");
    assert_string_equal(sv(first, "severity"), "LOW");
    assert_string_equal(sv(json_object_get(first, "package"), "name"), "bash");
    assert_string_equal(sv(first, "installed_version"), "5.0-4");
    assert_non_null(sv(first, "fixed_at"));
    json_decref(j);

    j = get_json(f, "/api/v1/hosts/agent-1/findings?status=all&severity=low,Critical&target=host", 200);
    assert_int_equal(json_array_size(json_object_get(j, "findings")), 3);
    json_decref(j);

    /* paging: one at a time over every finding of both hosts */
    char path[256] = "/api/v1/findings?status=all&limit=1";
    int seen = 0, last_rank = 5;
    for (int guard = 0; guard < 20; guard++) {
        j = get_json(f, path, 200);
        list = json_object_get(j, "findings");
        assert_int_equal(json_array_size(list), 1);
        int rank = (int)json_integer_value(json_object_get(json_array_get(list, 0), "severity_rank"));
        assert_true(rank <= last_rank);
        last_rank = rank;
        seen++;
        json_t *next = json_object_get(j, "next_cursor");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        snprintf(path, sizeof(path), "/api/v1/findings?status=all&limit=1&cursor=%s", json_string_value(next));
        json_decref(j);
    }
    assert_int_equal(seen, 6);

    j = get_json(f, "/api/v1/findings?severity=CRITICAL", 200);
    assert_int_equal(json_array_size(json_object_get(j, "findings")), 4); /* two CVEs on two hosts */
    json_decref(j);

    /* one CVE: details and where it is */
    j = get_json(f, "/api/v1/vulnerabilities/CVE-2019-18224", 200);
    assert_string_equal(sv(j, "severity"), "CRITICAL");
    assert_true(json_real_value(json_object_get(j, "cvss_v3_score")) > 9.7);
    assert_int_equal(json_array_size(json_object_get(j, "references")), 14);
    assert_true(json_is_object(json_object_get(j, "cvss")));
    assert_non_null(sv(j, "published_at"));
    json_t *aff = json_object_get(j, "affected");
    assert_int_equal(json_array_size(aff), 2);
    assert_string_equal(sv(json_array_get(aff, 0), "agent_id"), "agent-1");
    assert_string_equal(sv(json_array_get(aff, 1), "agent_id"), "agent-2");
    assert_string_equal(sv(json_array_get(aff, 1), "target"), "container:web1");
    assert_string_equal(sv(json_object_get(json_array_get(aff, 0), "package"), "name"), "libidn2-0");
    assert_int_equal(json_integer_value(json_object_get(j, "open_findings")), 2);
    json_decref(j);
    expect_error(f, "/api/v1/vulnerabilities/CVE-1999-0001", 404, "unknown vulnerability");
    expect_error(f, "/api/v1/vulnerabilities/CVE%201", 400, "invalid vulnerability id");

    /* summary */
    j = get_json(f, "/api/v1/findings/summary", 200);
    json_t *open = json_object_get(j, "open");
    assert_int_equal(json_integer_value(json_object_get(open, "CRITICAL")), 4);
    assert_int_equal(json_integer_value(json_object_get(open, "LOW")), 1);
    assert_int_equal(json_integer_value(json_object_get(open, "total")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "hosts_with_open"), "CRITICAL")), 2);
    json_t *hosts = json_object_get(j, "hosts");
    assert_int_equal(json_array_size(hosts), 2);
    /* as many CRITICAL each: agent-2 has its LOW one still open, so it comes first */
    assert_string_equal(sv(json_array_get(hosts, 0), "agent_id"), "agent-2");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(hosts, 0), "open"), "LOW")), 1);
    assert_string_equal(sv(json_array_get(hosts, 1), "agent_id"), "agent-1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(hosts, 1), "open"), "LOW")), 0);
    json_decref(j);

    /* packages */
    j = get_json(f, "/api/v1/hosts/agent-1/packages", 200);
    list = json_object_get(j, "packages");
    assert_int_equal(json_array_size(list), 4);
    int files = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        files += (int)json_integer_value(json_object_get(json_array_get(list, i), "installed_files"));
    assert_int_equal(files, 7);
    json_decref(j);
    j = get_json(f, "/api/v1/hosts/agent-1/packages?name=zlib1g&limit=1", 200);
    list = json_object_get(j, "packages");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(sv(json_array_get(list, 0), "version"), "1:1.2.11.dfsg-1");
    assert_string_equal(sv(json_array_get(list, 0), "type"), "debian");
    json_decref(j);
    j = get_json(f, "/api/v1/hosts/agent-1/packages?limit=3", 200);
    assert_int_equal(json_array_size(json_object_get(j, "packages")), 3);
    char next[64];
    snprintf(next, sizeof(next), "/api/v1/hosts/agent-1/packages?limit=3&cursor=%s",
             json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = get_json(f, next, 200);
    assert_int_equal(json_array_size(json_object_get(j, "packages")), 1);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);

    /* errors */
    expect_error(f, "/api/v1/hosts/nobody/findings", 404, "unknown host");
    expect_error(f, "/api/v1/hosts/nobody/packages", 404, "unknown host");
    expect_error(f, "/api/v1/hosts/agent-1/findings?status=closed", 400, "invalid status");
    expect_error(f, "/api/v1/hosts/agent-1/findings?severity=SEVERE", 400, "invalid severity");
    expect_error(f, "/api/v1/hosts/agent-1/findings?limit=0", 400, "invalid limit");
    expect_error(f, "/api/v1/hosts/agent-1/findings?limit=1001", 400, "invalid limit");
    expect_error(f, "/api/v1/hosts/agent-1/findings?cursor=x", 400, "bad cursor");
    expect_error(f, "/api/v1/hosts/agent-1/findings?target=vm:1", 400, "invalid target");
    expect_error(f, "/api/v1/findings?status=open&status=fixed", 400, "duplicate parameter");
    expect_error(f, "/api/v1/hosts/agent-1/packages?status=open", 400, "invalid status");
    /* injection attempts are only data */
    j = get_json(f, "/api/v1/hosts/agent-1/packages?name=x%27%20OR%20%271%27=%271", 200);
    assert_int_equal(json_array_size(json_object_get(j, "packages")), 0);
    json_decref(j);
    free(a.data);
    free(b.data);
}

int main(void) {
    srtest_http_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_then_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sbom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    srtest_http_cleanup();
    return r;
}
