/* The events pipeline against a real nats-server (JetStream) and PostgreSQL: the real Falco
 * sample alerts published to security.falco.alerts (malformed ones in between) become rows with
 * the mapped severity, fields and a search vector, the malformed ones dead letters with their
 * reason; log batches on logs.edge become one row per record; a batch delivered twice and an
 * abrupt stop between commit and acknowledgement duplicate nothing. Every wait polls with a
 * deadline. The sample file is $SR_FALCO_ALERTS (default testdata/falco/falco_alerts.jsonl); a missing
 * file is a failure. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
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
#include "sr_falco.h"
#include "sr_ingest.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"
#include "srtest.h"

#define DEADLINE_MS 60000
#define S(x) ((char *)(uintptr_t)(x))

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
                            .logs_max_age_ms = 3600000,
                            .security_max_age_ms = 3600000,
                            .ack_wait_ms = 2000,
                            .max_ack_pending = 20000};
    if (sr_streams_ensure(f->nc, &sc, err, sizeof(err)) != 0)
        fail_msg("streams: %s", err);
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

static void start_ingest(fx *f, int log_workers, int falco_workers, int batch) {
    sr_ingest_config ic = {.pg_conninfo = f->conninfo,
                           .workers = 1,
                           .batch_size = 64,
                           .batch_wait_ms = 100,
                           .offline_after_ms = 60000,
                           .sweep_interval_ms = 1000,
                           .stats_interval_ms = 200,
                           .nak_delay_ms = 200,
                           .events_workers = log_workers,
                           .falco_workers = falco_workers,
                           .events_batch_size = batch};
    assert_int_equal(sr_ingest_start(&ic, f->nc, &f->stats, &f->ing), 0);
}

/* One parameter, one integer result. */
static long query_long1(PGconn *pg, const char *sql, const char *param) {
    PGresult *r = PQexecParams(pg, sql, 1, NULL, &param, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    int64_t n = -1;
    if (sr_parse_i64(PQgetvalue(r, 0, 0), INT64_MIN, INT64_MAX, &n) < 0)
        fail_msg("%s: not an integer", sql);
    PQclear(r);
    return n;
}

/* Waits until the consumer has nothing pending or unacknowledged. */
static void wait_drained(fx *f, const char *stream, const char *consumer) {
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    for (;;) {
        jsConsumerInfo *ci = NULL;
        assert_int_equal(js_GetConsumerInfo(&ci, f->js, stream, consumer, NULL, NULL), NATS_OK);
        int done = ci->NumPending == 0 && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (done)
            return;
        if (sr_mono_ms() > deadline)
            fail_msg("consumer %s did not drain", consumer);
        sr_sleep_ms(50);
    }
}

static void publish(fx *f, const char *subject, const char *agent, const char *msgid, const void *data, size_t len) {
    natsMsg *m = NULL;
    assert_int_equal(natsMsg_Create(&m, subject, NULL, data, (int)len), NATS_OK);
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

static const char *alerts_path(void) {
    const char *p = getenv("SR_FALCO_ALERTS");
    return p && *p ? p : SR_FALCO_ALERTS_DEFAULT;
}

typedef struct {
    char **lines;
    size_t n;
    long by_sev[6];
    long ns_default;
    long shadow;
} samples;

static void samples_load(samples *s) {
    memset(s, 0, sizeof(*s));
    FILE *fp = fopen(alerts_path(), "re");
    if (!fp)
        fail_msg("cannot open the Falco sample alerts %s (set SR_FALCO_ALERTS): %s", alerts_path(), strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        int sev = sr_falco_priority(json_string_value(json_object_get(j, "priority")));
        assert_true(sev > 0);
        s->by_sev[sev]++;
        json_t *of = json_object_get(j, "output_fields");
        const char *ns = json_string_value(json_object_get(of, "k8s.ns.name"));
        if (!ns)
            ns = json_string_value(json_object_get(of, "ka.target.namespace"));
        const char *fd = json_string_value(json_object_get(of, "fd.name"));
        s->ns_default += ns && strcmp(ns, "default") == 0;
        s->shadow += fd && strcmp(fd, "/etc/shadow") == 0;
        json_decref(j);
        s->lines = realloc(s->lines, (s->n + 1) * sizeof(*s->lines));
        assert_non_null(s->lines);
        s->lines[s->n++] = strdup(line);
    }
    free(line);
    fclose(fp);
    assert_true(s->n >= 18);
}

static void samples_free(samples *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->lines[i]);
    free(s->lines);
}

static const char *const BAD_ALERTS[] = {
    "{\"output\":\"truncated",
    "{\"output\":\"x\",\"priority\":\"Notice\",\"time\":\"2024-01-01T00:00:00Z\"}",
    "{\"output\":\"x\",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"01/02/2024 10:00\"}",
};

static void test_falco_alerts(void **state) {
    fx *f = *state;
    samples s;
    samples_load(&s);
    start_ingest(f, 0, 1, 16);
    for (size_t i = 0; i < s.n; i++) {
        publish(f, SR_SUBJECT_FALCO, NULL, NULL, s.lines[i], strlen(s.lines[i]));
        if (i % 6 == 4) /* the three malformed alerts, among the real ones */
            publish(f, SR_SUBJECT_FALCO, NULL, NULL, BAD_ALERTS[i / 6], strlen(BAD_ALERTS[i / 6]));
    }
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM events", (long)s.n, DEADLINE_MS);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM dead_letters", 3, DEADLINE_MS);
    wait_drained(f, SR_STREAM_SECURITY, SR_CONSUMER_FALCO);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events"), (long)s.n);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(DISTINCT id) FROM events"), (long)s.n);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE source_type = 'falco_alert' AND "
                                       "agent_id IS NULL AND rule <> '' AND message <> ''"),
                     (long)s.n);
    /* severity mapping, level by level */
    for (int sev = 1; sev <= 5; sev++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE severity = %d", sev);
        assert_int_equal(srtest_pg_long(f->pg, sql), s.by_sev[sev]);
    }
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE severity_text = 'Critical' AND "
                                       "severity = 5"),
                     s.by_sev[5]);
    /* the first sample alert, exactly */
    char *t = srtest_pg_text(f->pg, "SELECT time::text || '|' || host || '|' || program || '|' || user_name || '|' || "
                                "array_to_string(tags, ',') FROM events WHERE rule = 'Terminal shell in container' "
                                "AND host = 'falco-xczjd'");
    assert_string_equal(t, "2023-05-25 13:44:05.478445+00|falco-xczjd|sh|root|container,mitre_execution,shell");
    free(t);
    /* SRQL's shape of a field filter, and the search vector keeping a path whole */
    assert_int_equal(srtest_pg_long(f->pg,
                                    "SELECT count(*) FROM events WHERE fields @> '{\"k8s.namespace\":\"default\"}'"),
                     s.ns_default);
    assert_int_equal(query_long1(f->pg, "SELECT count(*) FROM events WHERE search @@ $1::tsquery", "'/etc/shadow'"),
                     s.shadow);
    assert_int_equal(query_long1(f->pg, "SELECT count(*) FROM events WHERE search @@ $1::tsquery",
                                 "'docker.io/library/alpine'"),
                     srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE fields->>'container.image' LIKE "
                                       "'docker.io/library/alpine%'"));
    assert_true(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE fields->>'container.image' LIKE "
                                  "'docker.io/library/alpine%'") > 0);
    /* dead letters: stream, subject, reason, payload */
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE stream = 'SECURITY' AND "
                                       "subject = 'security.falco.alerts' AND stream_seq > 0"),
                     3);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'not JSON%'"), 1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason = 'missing rule'"), 1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%not RFC 3339'"), 1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches WHERE agent_id = '$falco'"), (long)s.n);
    assert_int_equal(atomic_load(&f->stats.events_written), s.n);
    assert_int_equal(atomic_load(&f->stats.dead_letters), 3);

    /* a restarted core sees everything acknowledged: nothing is written twice */
    f->ing = sr_ingest_free(f->ing);
    start_ingest(f, 0, 1, 16);
    sr_sleep_ms(500);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events"), (long)s.n);
    samples_free(&s);
}

/* A LogsBatch of n records; record i of seq gets the message "event <seq>.<i> ...". */
static uint8_t *pack_logs(const char *agent, uint64_t epoch, uint64_t seq, int n, size_t *ret_len) {
    Serviceradar__Agent__V1__LogRecord *recs = calloc((size_t)n, sizeof(*recs));
    Serviceradar__Agent__V1__LogRecord **rp = calloc((size_t)n, sizeof(*rp));
    char(*msgs)[160] = calloc((size_t)n, 160);
    Serviceradar__Agent__V1__LogRecord__FieldsEntry fe;
    Serviceradar__Agent__V1__LogRecord__FieldsEntry *fp = &fe;
    serviceradar__agent__v1__log_record__fields_entry__init(&fe);
    fe.key = S("sudo.command");
    fe.value = S("/usr/bin/systemctl restart nginx");
    assert_true(recs && rp && msgs);
    int64_t now = sr_now_unix_ms();
    for (int i = 0; i < n; i++) {
        Serviceradar__Agent__V1__LogRecord *r = &recs[i];
        serviceradar__agent__v1__log_record__init(r);
        r->time_unix_ms = now - 60000 + i;
        r->path = S("/var/log/auth.log");
        r->program = S("sshd");
        r->pid = 800 + (uint32_t)i;
        r->facility = 10;
        if (i % 3 == 0) {
            r->source = S("auth");
            snprintf(msgs[i], 160, "Failed password for invalid user admin from 198.51.100.7 port 52144 ssh2 "
                                   "event %" PRIu64 ".%d", seq, i);
            r->user = S("admin");
            r->src_ip = S("198.51.100.7");
            r->src_port = 52144;
            r->outcome = S("failure");
            r->action = S("ssh_login");
            r->syslog_severity = 6;
        } else if (i % 3 == 1) {
            r->source = S("auth");
            snprintf(msgs[i], 160, "alice : TTY=pts/0 ; USER=root ; COMMAND=/usr/bin/systemctl event %" PRIu64 ".%d",
                     seq, i);
            r->program = S("sudo");
            r->user = S("alice");
            r->src_ip = S("bogus-address");
            r->outcome = S("success");
            r->action = S("sudo");
            r->syslog_severity = 5;
            r->n_fields = 1;
            r->fields = &fp;
        } else {
            r->source = S("syslog");
            r->path = S("/var/log/syslog");
            snprintf(msgs[i], 160, "kernel: Out of memory: Killed process 4242 (java) event %" PRIu64 ".%d", seq, i);
            r->program = S("kernel");
            r->pid = 0;
            r->syslog_severity = 3;
        }
        r->message = msgs[i];
        rp[i] = r;
    }
    Serviceradar__Agent__V1__LogsBatch lb;
    serviceradar__agent__v1__logs_batch__init(&lb);
    lb.hostname = S("bastion");
    lb.n_records = (size_t)n;
    lb.records = rp;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = S(agent);
    b.epoch = epoch;
    b.seq = seq;
    b.created_unix_ms = now;
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    b.logs = &lb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    free(msgs);
    free(rp);
    free(recs);
    *ret_len = len;
    return buf;
}

static void publish_logs(fx *f, const char *agent, uint64_t epoch, uint64_t seq, int n, const char *msgid) {
    size_t len;
    uint8_t *buf = pack_logs(agent, epoch, seq, n, &len);
    char id[128];
    if (!msgid) {
        snprintf(id, sizeof(id), "%s:%" PRIu64 ":%" PRIu64, agent, epoch, seq);
        msgid = id;
    }
    publish(f, SR_SUBJECT_LOGS, agent, msgid, buf, len);
    free(buf);
}

static void test_log_batches(void **state) {
    fx *f = *state;
    start_ingest(f, 2, 1, 64);
    const int batches = 20, records = 30;
    for (int i = 1; i <= batches; i++)
        publish_logs(f, "agent-l", 77, (uint64_t)i, records, NULL);
    /* the same batch again under another message id, garbage, no identity, a metrics payload */
    publish_logs(f, "agent-l", 77, 3, records, "agent-l:77:3:again");
    static const char junk[] = "\xff\xfe not protobuf";
    publish(f, SR_SUBJECT_LOGS, "agent-l", "junk-1", junk, sizeof(junk) - 1);
    size_t len;
    uint8_t *buf = pack_logs("agent-l", 77, 99, 2, &len);
    publish(f, SR_SUBJECT_LOGS, NULL, "noid-1", buf, len);
    free(buf);
    static const uint8_t metrics_payload[] = {0x18, 0x05, 0x52, 0x00}; /* seq 5, empty metrics */
    publish(f, SR_SUBJECT_LOGS, "agent-l", "metrics-1", metrics_payload, sizeof(metrics_payload));

    long want = (long)batches * records;
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM events", want, DEADLINE_MS);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM dead_letters WHERE stream = 'LOGS'", 3, DEADLINE_MS);
    wait_drained(f, SR_STREAM_LOGS, SR_CONSUMER_LOGS);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events"), want);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(DISTINCT id) FROM events"), want);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM ingest_batches WHERE agent_id = 'agent-l'"), batches);
    assert_int_equal(atomic_load(&f->stats.duplicates_skipped), 1);
    /* mappings */
    long per = (long)batches * (records / 3);
    assert_int_equal(srtest_pg_long(f->pg,
                                    "SELECT count(*) FROM events WHERE source_type = 'auth' AND severity = 2 AND "
                                       "severity_text = 'info' AND outcome = 'failure' AND action = 'ssh_login' AND "
                                       "src_ip = '198.51.100.7'::inet AND user_name = 'admin' AND "
                                       "fields->>'src_port' = '52144' AND fields->>'facility' = '10' AND "
                                       "fields->>'log.path' = '/var/log/auth.log' AND agent_id = 'agent-l' AND "
                                       "host = 'bastion' AND program = 'sshd' AND pid >= 800"),
                     per);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE action = 'sudo' AND severity = 2 AND "
                                       "severity_text = 'notice' AND src_ip IS NULL AND "
                                       "fields @> '{\"src_ip\":\"bogus-address\"}' AND "
                                       "fields @> '{\"sudo.command\":\"/usr/bin/systemctl restart nginx\"}'"),
                     per);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE source_type = 'syslog' AND severity = 4 "
                                       "AND severity_text = 'err' AND pid IS NULL"),
                     per);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events WHERE time > now() - interval '2 minutes' AND "
                                       "time < now()"),
                     want);
    /* full text: the address whole, a sudo command path whole, a record found by its words */
    assert_int_equal(query_long1(f->pg, "SELECT count(*) FROM events WHERE search @@ $1::tsquery", "'198.51.100.7'"),
                     per);
    assert_int_equal(query_long1(f->pg, "SELECT count(*) FROM events WHERE search @@ $1::tsquery",
                                 "'/usr/bin/systemctl'"),
                     per);
    assert_int_equal(query_long1(f->pg, "SELECT count(*) FROM events WHERE search @@ $1::tsquery",
                                 "'killed' & 'java' & '7.2'"),
                     1);
    /* dead letters with reasons */
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%Sr-Agent-Id%'"), 1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%not a valid%'"), 1);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%not logs%' AND "
                                       "headers->>'Nats-Msg-Id' = 'metrics-1'"),
                     1);
}

static void test_abrupt_stop_and_restart(void **state) {
    fx *f = *state;
    samples s;
    samples_load(&s);
    const int batches = 120, records = 50;
    for (int i = 1; i <= batches; i++)
        publish_logs(f, "agent-k", 9, (uint64_t)i, records, NULL);
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < s.n; i++)
            publish(f, SR_SUBJECT_FALCO, NULL, NULL, s.lines[i], strlen(s.lines[i]));
    long want = (long)batches * records + 4 * (long)s.n;
    start_ingest(f, 1, 1, 4);
    int64_t deadline = sr_mono_ms() + DEADLINE_MS;
    while (sr_mono_ms() < deadline && srtest_pg_long(f->pg, "SELECT count(*) FROM events") == 0)
        sr_sleep_ms(5);
    sr_ingest_abort(f->ing);
    long mid = srtest_pg_long(f->pg, "SELECT count(*) FROM events");
    print_message("aborted with %ld of %ld rows, %" PRIu64 " messages acknowledged\n", mid, want,
                  atomic_load(&f->stats.messages_acked));
    assert_true(mid > 0);
    f->ing = sr_ingest_free(f->ing);

    /* restart: the unacknowledged messages come back after the ack wait and are skipped */
    start_ingest(f, 2, 1, 64);
    srtest_pg_wait_long(f->pg, "SELECT count(*) FROM events", want, DEADLINE_MS);
    wait_drained(f, SR_STREAM_LOGS, SR_CONSUMER_LOGS);
    wait_drained(f, SR_STREAM_SECURITY, SR_CONSUMER_FALCO);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM events"), want);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(DISTINCT id) FROM events"), want);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(DISTINCT (source_type, message, time)) FROM events WHERE "
                                       "source_type <> 'falco_alert'"),
                     (long)batches * records);
    assert_int_equal(srtest_pg_long(f->pg, "SELECT count(*) FROM dead_letters"), 0);
    samples_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_falco_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abrupt_stop_and_restart, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return r;
}
