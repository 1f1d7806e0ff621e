/* The ingest pipeline against a real nats-server (JetStream) and PostgreSQL: rows arrive and
 * match, redelivery never duplicates, garbage is parked without blocking, an abrupt stop
 * between commit and acknowledgement loses and duplicates nothing, agent events and command
 * results reach hosts and commands. Every wait polls with a deadline. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <nats/nats.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_ingest.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"
#include "srtest.h"

#define DEADLINE_MS 30000

typedef struct {
    srtest_nats nats;
    char conninfo[512];
    PGconn *pg;
    natsConnection *nc;
    jsCtx *js;
    sr_core_stats stats;
    sr_ingest *ing;
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
    sr_streams_config sc = {.telemetry_max_age_ms = 3600000,
                            .agents_max_age_ms = 3600000,
                            .ack_wait_ms = 2000,
                            .max_ack_pending = 20000};
    if (sr_streams_ensure(f->nc, &sc, err, sizeof(err)) != 0)
        fail_msg("streams: %s", err);
    /* ensuring twice updates in place */
    assert_int_equal(sr_streams_ensure(f->nc, &sc, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
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

static void start_ingest(fx *f, int workers, int batch) {
    sr_ingest_config ic = {.pg_conninfo = f->conninfo,
                           .workers = workers,
                           .batch_size = batch,
                           .batch_wait_ms = 100,
                           .offline_after_ms = 1500,
                           .sweep_interval_ms = 200,
                           .stats_interval_ms = 200,
                           .nak_delay_ms = 200};
    assert_int_equal(sr_ingest_start(&ic, f->nc, &f->stats, &f->ing), 0);
}


static void wait_text(PGconn *pg, const char *sql, const char *want) {
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    char *got = NULL;
    while (sr_mono_ms() < deadline) {
        free(got);
        got = srtest_pg_text(pg, sql);
        if (strcmp(got, want) == 0) {
            free(got);
            return;
        }
        sr_sleep_ms(25);
    }
    fail_msg("timed out: %s returned '%s', want '%s'", sql, got, want);
}

static void wait_stat(_Atomic uint64_t *v, uint64_t want) {
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    while (sr_mono_ms() < deadline && atomic_load(v) < want)
        sr_sleep_ms(10);
    assert_int_equal(atomic_load(v), want);
}

static double point_value(uint64_t seq, int i) { return (double)seq * 1000.0 + i + 0.25; }

static void publish_raw(fx *f, const char *agent, const char *msgid, const void *data, int len) {
    natsMsg *m = NULL;
    assert_int_equal(natsMsg_Create(&m, SR_SUBJECT_METRICS, NULL, data, len), NATS_OK);
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

/* One UploadBatch of npoints points; values are point_value(seq, i). */
static void publish_batch(fx *f, const char *agent, uint64_t epoch, uint64_t seq, int npoints, const char *msgid) {
    Serviceradar__Agent__V1__MetricPoint *pts = calloc((size_t)npoints, sizeof(*pts));
    Serviceradar__Agent__V1__MetricPoint **pp = calloc((size_t)npoints, sizeof(*pp));
    char(*names)[32] = calloc((size_t)npoints, 32);
    assert_true(pts && pp && names);
    int64_t now = sr_now_unix_ms();
    for (int i = 0; i < npoints; i++) {
        serviceradar__agent__v1__metric_point__init(&pts[i]);
        snprintf(names[i], 32, "test.metric_%d", i % 7);
        pts[i].name = names[i];
        pts[i].dim = (char *)(uintptr_t)(i % 2 ? "total" : "it's \"quoted\"\\");
        pts[i].value = point_value(seq, i);
        pts[i].time_unix_ms = now - 60000 + i;
        pp[i] = &pts[i];
    }
    Serviceradar__Agent__V1__MetricsBatch mb;
    serviceradar__agent__v1__metrics_batch__init(&mb);
    char host[64];
    snprintf(host, sizeof(host), "host-of-%s", agent);
    mb.hostname = host;
    mb.n_points = (size_t)npoints;
    mb.points = pp;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = (char *)(uintptr_t)agent;
    b.epoch = epoch;
    b.seq = seq;
    b.created_unix_ms = now;
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    b.metrics = &mb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    char id[128];
    if (!msgid) {
        snprintf(id, sizeof(id), "%s:%" PRIu64 ":%" PRIu64, agent, epoch, seq);
        msgid = id;
    }
    publish_raw(f, agent, msgid, buf, (int)len);
    free(buf);
    free(names);
    free(pp);
    free(pts);
}

static void test_ingest_rows(void **state) {
    fx *f = *state;
    start_ingest(f, 2, 256);
    const int batches = 60, points = 25;
    /* epoch with the top bit set: stored as a negative bigint */
    uint64_t epoch = UINT64_C(0x8000000000000001);
    for (int i = 1; i <= batches; i++)
        publish_batch(f, i % 2 ? "agent-a" : "agent-b", epoch, (uint64_t)i, points, NULL);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM metrics", (long)batches * points, DEADLINE_MS);
    wait_stat(&f->stats.messages_acked, (uint64_t)batches);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches"), batches);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches WHERE epoch < 0"), batches);
    /* values: sum over seq of sum over i of (seq*1000 + i + 0.25) */
    double want = 0;
    for (int s = 1; s <= batches; s++)
        for (int i = 0; i < points; i++)
            want += point_value((uint64_t)s, i);
    char *sum = srtest_pg_text(f->pg, "SELECT sum(value)::text FROM metrics");
    double got = 0;
    assert_int_equal(sr_parse_double(sum, &got), 0);
    assert_true(fabs(got - want) < 1e-6);
    free(sum);
    /* one exact row: agent, name, dim with quotes and backslash, value, time within a minute */
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM metrics WHERE agent_id = 'agent-a' AND "
                                       "name = 'test.metric_0' AND dim = 'it''s \"quoted\"\\' AND value = 1000.25 "
                                       "AND time > now() - interval '2 minutes' AND time < now()"),
                     1);
    /* status is not checked here: this fixture's sweep marks hosts offline 1.5 s after their
     * last point, which a slow (sanitizer) run can reach before this line */
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM hosts WHERE hostname = 'host-of-' || agent_id "
                                       "AND last_seen IS NOT NULL"),
                     2);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters"), 0);
    assert_int_equal(atomic_load(&f->stats.points_written), (uint64_t)batches * points);
    assert_int_equal(atomic_load(&f->stats.messages_received), (uint64_t)batches);
    assert_true(atomic_load(&f->stats.batches_committed) >= 1);
    uint64_t hist = 0;
    for (int i = 0; i <= SR_BATCH_HIST_BUCKETS; i++)
        hist += atomic_load(&f->stats.batch_size_hist[i]);
    assert_true(hist >= 1);
    assert_int_equal(atomic_load(&f->stats.batch_size_sum), (uint64_t)batches);
    /* the consumer's pending count is read back */
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    while (sr_mono_ms() < deadline && atomic_load(&f->stats.consumer_ack_pending) != 0)
        sr_sleep_ms(20);
    assert_int_equal(atomic_load(&f->stats.consumer_pending), 0);
}

static void test_redelivery_and_dead_letters(void **state) {
    fx *f = *state;
    start_ingest(f, 1, 256);
    /* the same batch twice under different message ids: JetStream keeps both, the core one */
    publish_batch(f, "agent-r", 42, 1, 10, "dup-1");
    publish_batch(f, "agent-r", 42, 1, 10, "dup-2");
    /* garbage, a missing identity, a non-finite value */
    static const char junk[] = "\xff\xfe this is not protobuf";
    publish_raw(f, "agent-r", "junk-1", junk, (int)sizeof(junk) - 1);
    publish_raw(f, NULL, "junk-2", "\x08\x01", 2);
    /* good ones after the bad ones still arrive */
    publish_batch(f, "agent-r", 42, 2, 10, NULL);
    publish_batch(f, "agent-r", 42, 3, 10, NULL);
    wait_stat(&f->stats.messages_acked, 6);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM metrics"), 30);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches"), 3);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters"), 2);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE stream = 'TELEMETRY' AND "
                                       "subject = 'telemetry.metrics.edge' AND stream_seq > 0 AND reason <> ''"),
                     2);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%Sr-Agent-Id%' "
                                       "AND payload = '\\x0801'::bytea"),
                     1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE headers->>'Nats-Msg-Id' = 'junk-1' "
                                       "AND headers->>'Sr-Agent-Id' = 'agent-r'"),
                     1);
    assert_int_equal(atomic_load(&f->stats.duplicates_skipped), 1);
    assert_int_equal(atomic_load(&f->stats.dead_letters), 2);

    /* a redelivery after a restart is skipped too */
    f->ing = sr_ingest_free(f->ing);
    publish_batch(f, "agent-r", 42, 2, 10, "dup-3");
    start_ingest(f, 1, 256);
    wait_stat(&f->stats.messages_acked, 7);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM metrics"), 30);
}

static void test_abrupt_stop_and_restart(void **state) {
    fx *f = *state;
    const int batches = 300, points = 40;
    for (int i = 1; i <= batches; i++)
        publish_batch(f, "agent-k", 7, (uint64_t)i, points, NULL);
    start_ingest(f, 1, 8);
    /* stop it mid-way: the batch in hand is committed but never acknowledged */
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    while (sr_mono_ms() < deadline && srtest_pg_long(f->pg, "SELECT count(*) FROM metrics") == 0)
        sr_sleep_ms(5);
    sr_ingest_abort(f->ing);
    long mid = srtest_pg_long(f->pg, "SELECT count(*) FROM metrics");
    assert_true(mid > 0);
    uint64_t acked = atomic_load(&f->stats.messages_acked);
    uint64_t committed_msgs = (uint64_t)srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches");
    print_message("aborted with %ld of %d rows, %" PRIu64 " acked, %" PRIu64 " batches committed\n", mid,
                  batches * points, acked, committed_msgs);
    f->ing = sr_ingest_free(f->ing);

    /* restart: the unacknowledged batches come back after the ack wait and are skipped */
    start_ingest(f, 2, 256);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM ingest_batches", batches, DEADLINE_MS);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM metrics", (long)batches * points, DEADLINE_MS);
    /* drain: nothing pending or unacknowledged, and still exact */
    deadline = sr_mono_ms() + DEADLINE_MS;
    for (;;) {
        jsConsumerInfo *ci = NULL;
        assert_int_equal(js_GetConsumerInfo(&ci, f->js, SR_STREAM_TELEMETRY, SR_CONSUMER_METRICS, NULL, NULL),
                         NATS_OK);
        int done = ci->NumPending == 0 && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (done)
            break;
        assert_true(sr_mono_ms() < deadline);
        sr_sleep_ms(50);
    }
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM metrics"), (long)batches * points);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(DISTINCT (agent_id, name, dim, time, value)) FROM metrics"),
                     (long)batches * points);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters"), 0);
}

static void publish_status(fx *f, const char *json) {
    jsPubAck *pa = NULL;
    assert_int_equal(js_Publish(&pa, f->js, SR_SUBJECT_AGENTS, json, (int)strlen(json), NULL, NULL), NATS_OK);
    jsPubAck_Destroy(pa);
}

static void test_agents_and_commands(void **state) {
    fx *f = *state;
    start_ingest(f, 1, 256);
    publish_status(f, "{\"event\":\"hello\",\"agent_id\":\"agent-h\",\"hostname\":\"web-1\",\"agent_version\":\"0.1.0\","
                      "\"os\":\"linux\",\"arch\":\"x86_64\",\"kernel\":\"6.1\",\"capabilities\":[\"metrics\",\"proc\"],"
                      "\"gateway\":\"gw-1\",\"time_unix_ms\":0}");
    wait_text(f->pg,
              "SELECT hostname || '|' || agent_version || '|' || os || '|' || arch || '|' || kernel || '|' || "
              "array_to_string(capabilities, ',') || '|' || gateway || '|' || status FROM hosts "
              "WHERE agent_id = 'agent-h'",
              "web-1|0.1.0|linux|x86_64|6.1|metrics,proc|gw-1|online");
    publish_status(f, "{\"event\":\"disconnect\",\"agent_id\":\"agent-h\",\"gateway\":\"gw-1\"}");
    wait_text(f->pg, "SELECT status FROM hosts WHERE agent_id = 'agent-h'", "offline");
    publish_status(f, "{\"event\":\"heartbeat\",\"agent_id\":\"agent-h\",\"spool_bytes\":0,\"spool_records\":0}");
    wait_text(f->pg, "SELECT status FROM hosts WHERE agent_id = 'agent-h'", "online");
    /* malformed events are parked and do not block the next one */
    publish_status(f, "{not json");
    publish_status(f, "{\"event\":\"hello\"}");
    publish_status(f, "{\"event\":\"hello\",\"agent_id\":\"agent-i\",\"hostname\":\"db-1\"}");
    wait_text(f->pg, "SELECT hostname FROM hosts WHERE agent_id = 'agent-i'", "db-1");
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM dead_letters WHERE stream = 'AGENTS'", 2, DEADLINE_MS);

    /* command results (core NATS) */
    PGresult *r = PQexec(f->pg, "INSERT INTO commands (command_id, agent_id, type, deadline_at, status) VALUES "
                                "('c1', 'agent-h', 'ping', now() + interval '1 hour', 'sent'), "
                                "('c2', 'agent-h', 'ping', now() + interval '1 hour', 'sent'), "
                                "('c3', 'agent-h', 'ping', now() - interval '1 second', 'sent')");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    static const char ack[] = "{\"command_id\":\"c1\",\"agent_id\":\"agent-h\",\"kind\":\"ack\"}";
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-h", ack, (int)strlen(ack)), NATS_OK);
    wait_text(f->pg, "SELECT status FROM commands WHERE command_id = 'c1'", "acked");
    static const char res[] = "{\"command_id\":\"c1\",\"agent_id\":\"agent-h\",\"kind\":\"result\",\"ok\":true,"
                              "\"output\":\"{\\\"rtt_ms\\\":1}\",\"error\":\"\"}";
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-h", res, (int)strlen(res)), NATS_OK);
    wait_text(f->pg, "SELECT status || '|' || (result->>'output') FROM commands WHERE command_id = 'c1'",
              "succeeded|{\"rtt_ms\":1}");
    /* a late ack does not move a finished command back; another agent cannot touch it */
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-h", ack, (int)strlen(ack)), NATS_OK);
    static const char fail2[] = "{\"command_id\":\"c2\",\"kind\":\"result\",\"ok\":false,\"error\":\"boom\"}";
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-x", fail2, (int)strlen(fail2)), NATS_OK);
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-h", fail2, (int)strlen(fail2)), NATS_OK);
    wait_text(f->pg, "SELECT status || '|' || (result->>'error') FROM commands WHERE command_id = 'c2'",
              "failed|boom");
    wait_text(f->pg, "SELECT status FROM commands WHERE command_id = 'c1'", "succeeded");
    /* the sweep expires c3 and marks silent hosts offline */
    wait_text(f->pg, "SELECT status FROM commands WHERE command_id = 'c3'", "expired");
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM hosts WHERE status = 'offline'", 2, DEADLINE_MS);
    static const char junk[] = "[1,2";
    assert_int_equal(natsConnection_Publish(f->nc, "commands.results.agent-h", junk, (int)strlen(junk)), NATS_OK);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM dead_letters WHERE subject = 'commands.results.agent-h'", 1,
                        DEADLINE_MS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_and_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abrupt_stop_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents_and_commands, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return r;
}
