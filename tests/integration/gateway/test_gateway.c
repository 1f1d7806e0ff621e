/* Integration tests for the agent gateway: a real nats-server with JetStream, real gRPC over
 * mutual TLS (certificates from tests/support/gencerts.sh), and the real agent-gateway binary
 * as a process (in-process client and server channels share gRPC threads, which a real
 * deployment never does). */
#include <arpa/inet.h>
#include <errno.h>
#include <grpc/status.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/time.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <nats/nats.h>

#include "gw_gateway.h"
#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srg.h"
#include "srtest.h"

#define S(x) ((char *)(uintptr_t)(x))
#define MAX_MSG 65536

typedef struct {
    char dir[256];
    srtest_nats nats;
    natsConnection *nc;
    jsCtx *js;
    pid_t gw_pid; /* build/bin/agent-gateway */
    int port;
    char target[64];
} env;

static env E; /* one environment for the whole group (set up once) */

static void path_of(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", E.dir, name); }

static int setup(void **state) {
    (void)state;
    assert_int_equal(srtest_tmpdir(E.dir, sizeof(E.dir)), 0);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash %s %s agent-1 agent-2 agent-3 >/dev/null", SR_GENCERTS, E.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(srtest_nats_start(&E.nats), 0);

    assert_int_equal(natsConnection_ConnectTo(&E.nc, E.nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&E.js, E.nc, NULL), NATS_OK);
    /* the core normally creates these streams */
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "TELEMETRY";
    sc.Subjects = (const char *[]){"telemetry.>"};
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Duplicates = (int64_t)120 * 1000000000;
    jsErrCode jerr = 0;
    assert_int_equal(js_AddStream(NULL, E.js, &sc, NULL, &jerr), NATS_OK);
    jsStreamConfig_Init(&sc);
    sc.Name = "LOGS";
    sc.Subjects = (const char *[]){"logs.>"};
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Duplicates = (int64_t)120 * 1000000000;
    assert_int_equal(js_AddStream(NULL, E.js, &sc, NULL, &jerr), NATS_OK);
    jsStreamConfig_Init(&sc);
    sc.Name = "AGENTS";
    sc.Subjects = (const char *[]){"agents.status"};
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    assert_int_equal(js_AddStream(NULL, E.js, &sc, NULL, &jerr), NATS_OK);

    E.port = srtest_free_port();
    assert_true(E.port > 0);
    char conf[512];
    path_of(conf, sizeof(conf), "gateway.conf");
    FILE *f = fopen(conf, "we");
    assert_non_null(f);
    fprintf(f,
            "listen = 127.0.0.1:%d\n"
            "tls.ca_file = %s/ca.crt\n"
            "tls.cert_file = %s/gateway.crt\n"
            "tls.key_file = %s/gateway.key\n"
            "tls.crl_file = %s/ca.crl\n"
            "nats.url = %s\n"
            "gateway.id = gw-test\n"
            "max_message_bytes = 64k\n"
            "heartbeat_interval = 5s\n"
            "publish_timeout = 5s\n"
            "shutdown_grace = 2s\n",
            E.port, E.dir, E.dir, E.dir, E.dir, E.nats.url);
    fclose(f);
    E.gw_pid = fork();
    assert_true(E.gw_pid >= 0);
    if (E.gw_pid == 0) {
        execl(SR_GATEWAY_BIN, "agent-gateway", "-c", conf, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(srtest_wait_port(E.port, 10000), 0);
    snprintf(E.target, sizeof(E.target), "127.0.0.1:%d", E.port);
    srg_global_init();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    srg_global_shutdown();
    /* graceful stop: SIGTERM, exit status 0 */
    int st = -1;
    kill(E.gw_pid, SIGTERM);
    int64_t end = sr_mono_ms() + 20000;
    pid_t w = 0;
    while ((w = waitpid(E.gw_pid, &st, WNOHANG)) == 0 && sr_mono_ms() < end)
        sr_sleep_ms(20);
    if (w == 0) {
        kill(E.gw_pid, SIGKILL);
        waitpid(E.gw_pid, &st, 0);
    }
    jsCtx_Destroy(E.js);
    natsConnection_Destroy(E.nc);
    srtest_nats_stop(&E.nats, 0);
    srtest_rmtree(E.nats.dir);
    srtest_rmtree(E.dir);
    if (w == 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "agent-gateway did not exit 0 on SIGTERM (status %d)\n", st);
        return -1;
    }
    return 0;
}

/* ---- client helpers ---- */

static srg_channel *channel_for(const char *cert, const char *ca) {
    char c[512], k[512], a[512];
    snprintf(c, sizeof(c), "%s/%s.crt", E.dir, cert);
    snprintf(k, sizeof(k), "%s/%s.key", E.dir, cert);
    snprintf(a, sizeof(a), "%s/%s", E.dir, ca ? ca : "ca.crt");
    srg_tls tls = {.ca_file = a, .cert_file = c, .key_file = k};
    srg_channel *ch = NULL;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    assert_int_equal(srg_channel_new(E.target, &tls, "localhost", &ch), 0);
    pthread_mutex_unlock(&mu);
    return ch;
}

typedef struct {
    uint8_t *buf;
    size_t len;
} packed;

static packed make_batch(const char *agent_id, uint64_t epoch, uint64_t seq, size_t npoints, double value) {
    Serviceradar__Agent__V1__MetricPoint *pts = calloc(npoints ? npoints : 1, sizeof(*pts));
    Serviceradar__Agent__V1__MetricPoint **pp = calloc(npoints ? npoints : 1, sizeof(*pp));
    assert_non_null(pts);
    assert_non_null(pp);
    for (size_t i = 0; i < npoints; i++) {
        serviceradar__agent__v1__metric_point__init(&pts[i]);
        pts[i].name = S("cpu.usage_pct");
        pts[i].dim = S("total");
        pts[i].value = value;
        pts[i].time_unix_ms = 1700000000000 + (int64_t)seq * 1000;
        pp[i] = &pts[i];
    }
    Serviceradar__Agent__V1__MetricsBatch m;
    serviceradar__agent__v1__metrics_batch__init(&m);
    m.hostname = S("host-test");
    m.n_points = npoints;
    m.points = pp;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = S(agent_id);
    b.epoch = epoch;
    b.seq = seq;
    b.created_unix_ms = sr_now_unix_ms();
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    b.metrics = &m;
    packed p;
    p.len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    p.buf = malloc(p.len);
    assert_non_null(p.buf);
    serviceradar__agent__v1__upload_batch__pack(&b, p.buf);
    free(pts);
    free(pp);
    return p;
}

/* A logs batch of n records; tweak (when set) edits record 0 before packing. */
static packed make_logs(const char *agent_id, uint64_t epoch, uint64_t seq, size_t n,
                        void (*tweak)(Serviceradar__Agent__V1__LogRecord *)) {
    Serviceradar__Agent__V1__LogRecord *recs = calloc(n ? n : 1, sizeof(*recs));
    Serviceradar__Agent__V1__LogRecord **rp = calloc(n ? n : 1, sizeof(*rp));
    assert_non_null(recs);
    assert_non_null(rp);
    for (size_t i = 0; i < n; i++) {
        serviceradar__agent__v1__log_record__init(&recs[i]);
        recs[i].time_unix_ms = sr_now_unix_ms() - 1000;
        recs[i].source = S("auth");
        recs[i].path = S("/var/log/auth.log");
        recs[i].raw = S("Jun  1 10:00:00 host-test sshd[811]: Accepted publickey for alice from 192.0.2.4 port 1 ssh2");
        recs[i].program = S("sshd");
        recs[i].pid = 811;
        recs[i].syslog_severity = 6;
        recs[i].facility = 10;
        recs[i].message = S("Accepted publickey for alice from 192.0.2.4 port 1 ssh2");
        recs[i].user = S("alice");
        recs[i].src_ip = S("192.0.2.4");
        recs[i].outcome = S("success");
        recs[i].action = S("ssh_login");
        rp[i] = &recs[i];
    }
    if (tweak && n > 0)
        tweak(&recs[0]);
    Serviceradar__Agent__V1__LogsBatch l;
    serviceradar__agent__v1__logs_batch__init(&l);
    l.hostname = S("host-test");
    l.n_records = n;
    l.records = rp;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = S(agent_id);
    b.epoch = epoch;
    b.seq = seq;
    b.created_unix_ms = sr_now_unix_ms();
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    b.logs = &l;
    packed p;
    p.len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    p.buf = malloc(p.len);
    assert_non_null(p.buf);
    serviceradar__agent__v1__upload_batch__pack(&b, p.buf);
    free(recs);
    free(rp);
    return p;
}

typedef struct {
    int code;
    char msg[512];
    Serviceradar__Agent__V1__UploadAck *ack;
} upload_result;

/* Streams n raw messages on one Upload call, half-closes, reads the ack and the status. */
static upload_result upload_raw(const char *cert, const char *ca, const packed *msgs, size_t n) {
    upload_result res = {.code = -1};
    srg_channel *ch = channel_for(cert, ca);
    srg_call *call = NULL;
    assert_int_equal(srg_call_start(ch, GW_SERVICE "Upload", 20000, &call), 0);
    for (size_t i = 0; i < n; i++)
        if (srg_call_send(call, msgs[i].buf, msgs[i].len, 10000) < 0)
            break;
    (void)srg_call_close_send(call);
    ProtobufCMessage *m = NULL;
    if (srg_call_recv_msg(call, &serviceradar__agent__v1__upload_ack__descriptor, 20000, &m) == 1)
        res.ack = (Serviceradar__Agent__V1__UploadAck *)m;
    assert_int_equal(srg_call_status(call, 20000, &res.code, res.msg, sizeof(res.msg)), 0);
    srg_call_free(call);
    srg_channel_free(ch);
    return res;
}

static void result_clear(upload_result *r) {
    if (r->ack)
        protobuf_c_message_free_unpacked(&r->ack->base, NULL);
    r->ack = NULL;
}

static uint64_t stream_msgs(const char *stream) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, E.js, stream, NULL, &jerr), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static uint64_t next_epoch(void) {
    static uint64_t e = 1000; /* unique per test so duplicates never cross tests */
    return ++e + (uint64_t)sr_now_unix_ms() * 1000;
}

/* ---- Upload ---- */

static void test_upload_lands_in_stream(void **state) {
    (void)state;
    uint64_t before = stream_msgs("TELEMETRY");
    uint64_t epoch = next_epoch();
    packed b[3];
    for (int i = 0; i < 3; i++)
        b[i] = make_batch(i == 1 ? "" : "agent-1", epoch, (uint64_t)i + 1, 5, 42.5);
    int64_t t0 = sr_now_unix_ms();
    upload_result r = upload_raw("agent-1", NULL, b, 3);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    assert_non_null(r.ack);
    assert_int_equal(r.ack->n_acked_seqs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r.ack->acked_seqs[i], i + 1);
    assert_int_equal(r.ack->accepted, 3);
    assert_int_equal(r.ack->duplicates, 0);
    assert_int_equal(stream_msgs("TELEMETRY"), before + 3);

    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetLastMsg(&m, E.js, "TELEMETRY", "telemetry.metrics.edge", NULL, &jerr), NATS_OK);
    const char *v = NULL;
    char want[128];
    snprintf(want, sizeof(want), "agent-1:%" PRIu64 ":3", epoch);
    assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_OK);
    assert_string_equal(v, want);
    assert_int_equal(natsMsgHeader_Get(m, "Sr-Agent-Id", &v), NATS_OK);
    assert_string_equal(v, "agent-1");
    assert_int_equal(natsMsgHeader_Get(m, "Sr-Received-Ms", &v), NATS_OK);
    int64_t recv_ms = -1;
    assert_int_equal(sr_parse_i64(v, 0, INT64_MAX, &recv_ms), 0);
    assert_true(recv_ms >= t0 && recv_ms <= sr_now_unix_ms());
    /* payload is the exact bytes the agent sent */
    assert_int_equal((size_t)natsMsg_GetDataLength(m), b[2].len);
    assert_memory_equal(natsMsg_GetData(m), b[2].buf, b[2].len);
    natsMsg_Destroy(m);
    result_clear(&r);
    for (int i = 0; i < 3; i++)
        free(b[i].buf);
}

static void test_upload_duplicate(void **state) {
    (void)state;
    uint64_t epoch = next_epoch();
    packed b = make_batch("agent-1", epoch, 1, 3, 1.0);
    uint64_t before = stream_msgs("TELEMETRY");
    upload_result r1 = upload_raw("agent-1", NULL, &b, 1);
    assert_int_equal(r1.code, GRPC_STATUS_OK);
    assert_int_equal(r1.ack->duplicates, 0);
    upload_result r2 = upload_raw("agent-1", NULL, &b, 1);
    assert_int_equal(r2.code, GRPC_STATUS_OK);
    assert_non_null(r2.ack);
    assert_int_equal(r2.ack->n_acked_seqs, 1);
    assert_int_equal(r2.ack->acked_seqs[0], 1);
    assert_int_equal(r2.ack->accepted, 1);
    assert_int_equal(r2.ack->duplicates, 1);
    assert_int_equal(stream_msgs("TELEMETRY"), before + 1);
    result_clear(&r1);
    result_clear(&r2);
    free(b.buf);
}

static void test_upload_many_batches(void **state) {
    (void)state;
    enum { N = 64 };
    uint64_t epoch = next_epoch();
    packed b[N];
    for (int i = 0; i < N; i++)
        b[i] = make_batch("agent-1", epoch, (uint64_t)i + 1, 100, (double)i);
    uint64_t before = stream_msgs("TELEMETRY");
    upload_result r = upload_raw("agent-1", NULL, b, N);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    assert_int_equal(r.ack->n_acked_seqs, N);
    assert_int_equal(r.ack->accepted, N);
    assert_int_equal(stream_msgs("TELEMETRY"), before + N);
    result_clear(&r);
    for (int i = 0; i < N; i++)
        free(b[i].buf);
}

/* Metrics and logs in one call: each batch goes to its own stream with the same headers. */
static void test_upload_logs(void **state) {
    (void)state;
    uint64_t epoch = next_epoch();
    uint64_t tele = stream_msgs("TELEMETRY"), logs = stream_msgs("LOGS");
    packed b[3] = {make_batch("agent-1", epoch, 1, 2, 1.0), make_logs("agent-1", epoch, 2, 50, NULL),
                   make_logs("", epoch, 3, 1, NULL)};
    int64_t t0 = sr_now_unix_ms();
    upload_result r = upload_raw("agent-1", NULL, b, 3);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    assert_non_null(r.ack);
    assert_int_equal(r.ack->n_acked_seqs, 3);
    assert_int_equal(r.ack->accepted, 3);
    assert_int_equal(stream_msgs("TELEMETRY"), tele + 1);
    assert_int_equal(stream_msgs("LOGS"), logs + 2);
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetLastMsg(&m, E.js, "LOGS", "logs.edge", NULL, &jerr), NATS_OK);
    const char *v = NULL;
    char want[128];
    snprintf(want, sizeof(want), "agent-1:%" PRIu64 ":3", epoch);
    assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_OK);
    assert_string_equal(v, want);
    assert_int_equal(natsMsgHeader_Get(m, "Sr-Agent-Id", &v), NATS_OK);
    assert_string_equal(v, "agent-1");
    assert_int_equal(natsMsgHeader_Get(m, "Sr-Received-Ms", &v), NATS_OK);
    int64_t recv_ms = -1;
    assert_int_equal(sr_parse_i64(v, 0, INT64_MAX, &recv_ms), 0);
    assert_true(recv_ms >= t0 && recv_ms <= sr_now_unix_ms());
    assert_int_equal((size_t)natsMsg_GetDataLength(m), b[2].len);
    assert_memory_equal(natsMsg_GetData(m), b[2].buf, b[2].len);
    natsMsg_Destroy(m);
    result_clear(&r);
    /* the same logs batch again: acknowledged, flagged duplicate, stored once */
    r = upload_raw("agent-1", NULL, &b[1], 1);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    assert_int_equal(r.ack->duplicates, 1);
    assert_int_equal(stream_msgs("LOGS"), logs + 2);
    result_clear(&r);
    for (int i = 0; i < 3; i++)
        free(b[i].buf);
}

static void bad_source(Serviceradar__Agent__V1__LogRecord *r) { r->source = S("kernel"); }
static void old_time(Serviceradar__Agent__V1__LogRecord *r) { r->time_unix_ms = 1000; }
static void bad_severity(Serviceradar__Agent__V1__LogRecord *r) { r->syslog_severity = 9; }
static void bad_utf8(Serviceradar__Agent__V1__LogRecord *r) { r->user = S("al\xffice"); }
static void long_raw(Serviceradar__Agent__V1__LogRecord *r) {
    static char raw[8194];
    memset(raw, 'r', sizeof(raw) - 1);
    raw[sizeof(raw) - 1] = '\0';
    r->raw = raw;
}
static void many_fields(Serviceradar__Agent__V1__LogRecord *r) {
    static Serviceradar__Agent__V1__LogRecord__FieldsEntry fe[65];
    static Serviceradar__Agent__V1__LogRecord__FieldsEntry *fp[65];
    static char keys[65][8];
    for (int i = 0; i < 65; i++) {
        serviceradar__agent__v1__log_record__fields_entry__init(&fe[i]);
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        fe[i].key = keys[i];
        fe[i].value = S("v");
        fp[i] = &fe[i];
    }
    r->n_fields = 65;
    r->fields = fp;
}

static void test_upload_logs_invalid(void **state) {
    (void)state;
    static const struct {
        void (*tweak)(Serviceradar__Agent__V1__LogRecord *);
        const char *want;
    } cases[] = {
        {bad_source, "source \"kernel\" is not auth, syslog or journald"},
        {old_time, "record 0: time 1000 out of range"},
        {bad_severity, "syslog_severity 9 is not in -1..7"},
        {bad_utf8, "record 0: user is not valid UTF-8"},
        {long_raw, "record 0: raw is 8193 bytes (limit 8192)"},
        {many_fields, "65 fields (limit 64)"},
    };
    uint64_t epoch = next_epoch();
    uint64_t logs = stream_msgs("LOGS");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        packed b[2] = {make_logs("agent-1", epoch, 2 * i + 1, 3, NULL),
                       make_logs("agent-1", epoch, 2 * i + 2, 3, cases[i].tweak)};
        upload_result r = upload_raw("agent-1", NULL, b, 2);
        if (r.code != GRPC_STATUS_INVALID_ARGUMENT || !strstr(r.msg, cases[i].want))
            fail_msg("case %zu: status %d \"%s\", want INVALID_ARGUMENT \"%s\"", i, r.code, r.msg, cases[i].want);
        assert_null(r.ack);
        assert_non_null(strstr(r.msg, "batch 2"));
        result_clear(&r);
        free(b[0].buf);
        free(b[1].buf);
    }
    /* a failed call publishes at most the valid batches before the bad one, acknowledges none */
    assert_true(stream_msgs("LOGS") <= logs + sizeof(cases) / sizeof(cases[0]));
}

/* A well-behaved agent-2 uploading in a loop while the bad calls run: a separate process
 * (as a real agent is), this test binary re-executed with --bystander. It uploads until the
 * stop file exists (and at least 3 times), then prints "ok=N failed=M". */
static int bystander_main(const char *target, const char *dir, const char *stopfile) {
    snprintf(E.target, sizeof(E.target), "%s", target);
    snprintf(E.dir, sizeof(E.dir), "%s", dir);
    srg_global_init();
    int ok = 0, failed = 0;
    uint64_t epoch = (uint64_t)sr_now_unix_ms() * 1000 + 77;
    int64_t end = sr_mono_ms() + 60000; /* never outlive a parent that died */
    for (uint64_t seq = 1; (access(stopfile, F_OK) != 0 && sr_mono_ms() < end) || seq < 4; seq++) {
        packed b = make_batch("agent-2", epoch, seq, 20, 3.0);
        upload_result r = upload_raw("agent-2", NULL, &b, 1);
        if (r.code == GRPC_STATUS_OK && r.ack && r.ack->n_acked_seqs == 1 && r.ack->acked_seqs[0] == seq)
            ok++;
        else
            failed++;
        result_clear(&r);
        free(b.buf);
    }
    srg_global_shutdown();
    printf("ok=%d failed=%d\n", ok, failed);
    return 0;
}

typedef struct {
    pid_t pid;
    FILE *out;
    char stopfile[300];
} bystander;

static void bystander_start(bystander *bs) {
    snprintf(bs->stopfile, sizeof(bs->stopfile), "%s/bystander.stop", E.dir);
    unlink(bs->stopfile);
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    bs->pid = fork();
    assert_true(bs->pid >= 0);
    if (bs->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        dup2(fds[1], STDOUT_FILENO);
        execl("/proc/self/exe", "test_gateway_integration", "--bystander", E.target, E.dir, bs->stopfile,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    bs->out = fdopen(fds[0], "r");
    assert_non_null(bs->out);
}

static void bystander_stop(bystander *bs, int *ok, int *failed) {
    FILE *f = fopen(bs->stopfile, "we");
    assert_non_null(f);
    fclose(f);
    *ok = *failed = -1;
    assert_int_equal(fscanf(bs->out, "ok=%d failed=%d", ok, failed), 2);
    fclose(bs->out);
    int st = 0;
    assert_int_equal(waitpid(bs->pid, &st, 0), bs->pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_upload_errors(void **state) {
    (void)state;
    bystander bs = {0};
    bystander_start(&bs);
    uint64_t epoch = next_epoch();
    uint64_t before = stream_msgs("TELEMETRY");

    /* malformed protobuf after a valid batch: nothing acknowledged */
    packed good = make_batch("agent-1", epoch, 1, 2, 1.0);
    packed junk = {(uint8_t *)S("\xff\xff\xff\xff\x0f\x01"), 6};
    packed two[2] = {good, junk};
    upload_result r = upload_raw("agent-1", NULL, two, 2);
    assert_int_equal(r.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_null(r.ack);
    assert_non_null(strstr(r.msg, "batch 2"));
    assert_non_null(strstr(r.msg, "not a valid UploadBatch"));

    /* validation failure names the problem and the seq */
    packed bad = make_batch("agent-1", epoch, 9, 1, NAN);
    r = upload_raw("agent-1", NULL, &bad, 1);
    assert_int_equal(r.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r.msg, "seq 9"));
    assert_non_null(strstr(r.msg, "not finite"));
    free(bad.buf);
    packed seq0 = make_batch("agent-1", epoch, 0, 1, 1.0);
    r = upload_raw("agent-1", NULL, &seq0, 1);
    assert_int_equal(r.code, GRPC_STATUS_INVALID_ARGUMENT);
    free(seq0.buf);

    /* identity mismatch */
    packed other = make_batch("agent-2", epoch, 2, 1, 1.0);
    r = upload_raw("agent-1", NULL, &other, 1);
    assert_int_equal(r.code, GRPC_STATUS_PERMISSION_DENIED);
    assert_null(r.ack);
    free(other.buf);

    /* over max_message_bytes (64k in this test) */
    packed big = make_batch("agent-1", epoch, 3, 3000, 1.0);
    assert_true(big.len > MAX_MSG);
    r = upload_raw("agent-1", NULL, &big, 1);
    assert_int_equal(r.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_null(r.ack);
    free(big.buf);

    int ok = 0, failed = 0;
    bystander_stop(&bs, &ok, &failed);
    assert_true(ok >= 3);
    assert_int_equal(failed, 0);
    /* only the valid first batch of the malformed call and agent-2's batches reached the stream */
    assert_int_equal(stream_msgs("TELEMETRY"), before + 1 + (uint64_t)ok);
    free(good.buf);
}

static void test_revoked_refused(void **state) {
    (void)state;
    packed b = make_batch("", next_epoch(), 1, 1, 1.0);
    uint64_t before = stream_msgs("TELEMETRY");
    upload_result r = upload_raw("revoked", NULL, &b, 1);
    assert_int_equal(r.code, GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(r.msg, "revoked"));
    assert_null(r.ack);
    assert_int_equal(stream_msgs("TELEMETRY"), before);
    free(b.buf);
}

static void test_unknown_ca_refused(void **state) {
    (void)state;
    packed b = make_batch("", next_epoch(), 1, 1, 1.0);
    uint64_t before = stream_msgs("TELEMETRY");
    upload_result r = upload_raw("stranger", NULL, &b, 1); /* CN=agent-1, signed by another CA */
    assert_int_not_equal(r.code, GRPC_STATUS_OK);
    assert_null(r.ack);
    assert_int_equal(stream_msgs("TELEMETRY"), before);
    free(b.buf);
}

/* Speaks cleartext HTTP/2 (what a plaintext gRPC client sends) and expects no HTTP/2 answer. */
static void test_plaintext_refused(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                  "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* empty SETTINGS */
    assert_int_equal(send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(preface) - 1));
    uint8_t buf[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
        if (n <= 0)
            break; /* closed (or reset) */
        got += (size_t)n;
        if (got == sizeof(buf))
            break;
    }
    close(fd);
    /* an HTTP/2 server answers with a SETTINGS frame (type 4 at byte 3); a TLS server closes,
     * possibly after an alert record (0x15) */
    if (got >= 9)
        assert_int_not_equal(buf[3], 0x04);
    if (got > 0)
        assert_int_equal(buf[0], 0x15);
}

/* Before the core has stored any Trivy DB, the gateway has nothing to serve (the full
 * distribution path is tests/integration/artifact_dist). */
static void test_download_before_any_db(void **state) {
    (void)state;
    srg_channel *ch = channel_for("agent-1", NULL);
    srg_call *call = NULL;
    assert_int_equal(srg_call_start(ch, GW_SERVICE "Download", 10000, &call), 0);
    Serviceradar__Agent__V1__ArtifactRequest req;
    serviceradar__agent__v1__artifact_request__init(&req);
    req.name = S("trivy-db");
    (void)srg_call_send_msg(call, &req.base, 5000);
    (void)srg_call_close_send(call);
    int code = -1;
    char msg[256] = "";
    assert_int_equal(srg_call_status(call, 10000, &code, msg, sizeof(msg)), 0);
    assert_int_equal(code, GRPC_STATUS_NOT_FOUND);
    assert_string_equal(msg, "trivy-db (current) is not available on this gateway");
    srg_call_free(call);
    srg_channel_free(ch);
}

/* ---- Control ---- */

static json_t *next_json(natsSubscription *sub, int timeout_ms) {
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, timeout_ms) != NATS_OK)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, &jerr);
    natsMsg_Destroy(m);
    return j;
}

/* Waits for an agents.status event of kind for agent. */
static json_t *wait_event(natsSubscription *sub, const char *event, const char *agent) {
    int64_t end = sr_mono_ms() + 10000;
    while (sr_mono_ms() < end) {
        json_t *j = next_json(sub, 500);
        if (!j)
            continue;
        if (strcmp(json_string_value(json_object_get(j, "event")), event) == 0 &&
            strcmp(json_string_value(json_object_get(j, "agent_id")), agent) == 0)
            return j;
        json_decref(j);
    }
    return NULL;
}

static srg_call *control_open(srg_channel *ch, const char *agent_id) {
    srg_call *call = NULL;
    assert_int_equal(srg_call_start(ch, GW_SERVICE "Control", 60000, &call), 0);
    Serviceradar__Agent__V1__Hello h;
    serviceradar__agent__v1__hello__init(&h);
    h.agent_id = S(agent_id);
    h.hostname = S("host-ctl");
    h.agent_version = S("0.1.0");
    h.protocol_version = 1;
    char *caps[] = {S("metrics")};
    h.capabilities = caps;
    h.n_capabilities = 1;
    h.os = S("linux");
    h.arch = S("x86_64");
    h.kernel = S("6.1");
    Serviceradar__Agent__V1__AgentMessage am;
    serviceradar__agent__v1__agent_message__init(&am);
    am.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HELLO;
    am.hello = &h;
    assert_int_equal(srg_call_send_msg(call, &am.base, 5000), 0);
    ProtobufCMessage *m = NULL;
    assert_int_equal(srg_call_recv_msg(call, &serviceradar__agent__v1__gateway_message__descriptor, 10000, &m), 1);
    Serviceradar__Agent__V1__GatewayMessage *gm = (Serviceradar__Agent__V1__GatewayMessage *)m;
    assert_int_equal(gm->msg_case, SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_HELLO_ACK);
    assert_string_equal(gm->hello_ack->agent_id, "agent-3");
    assert_int_equal(gm->hello_ack->heartbeat_interval_s, 5);
    assert_true(gm->hello_ack->server_time_unix_ms > 0);
    protobuf_c_message_free_unpacked(m, NULL);
    return call;
}

static void test_control_commands(void **state) {
    (void)state;
    natsSubscription *status = NULL, *results = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&status, E.nc, "agents.status"), NATS_OK);
    assert_int_equal(natsConnection_SubscribeSync(&results, E.nc, "commands.results.agent-3"), NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(E.nc, 5000), NATS_OK);

    srg_channel *ch = channel_for("agent-3", NULL);
    srg_call *call = control_open(ch, "agent-3");
    json_t *ev = wait_event(status, "hello", "agent-3");
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "hostname")), "host-ctl");
    assert_string_equal(json_string_value(json_object_get(ev, "gateway")), "gw-test");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "capabilities"), 0)), "metrics");
    json_decref(ev);

    /* heartbeat -> event */
    Serviceradar__Agent__V1__Heartbeat hb;
    serviceradar__agent__v1__heartbeat__init(&hb);
    hb.time_unix_ms = sr_now_unix_ms();
    hb.spool_bytes = 1234;
    hb.spool_records = 5;
    Serviceradar__Agent__V1__AgentMessage am;
    serviceradar__agent__v1__agent_message__init(&am);
    am.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT;
    am.heartbeat = &hb;
    assert_int_equal(srg_call_send_msg(call, &am.base, 5000), 0);
    ev = wait_event(status, "heartbeat", "agent-3");
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(ev, "spool_bytes")), 1234);
    json_decref(ev);

    /* a command published by the core reaches the agent */
    static const char cmd[] = "{\"command_id\":\"c-1\",\"type\":\"ping\",\"payload\":\"{}\","
                              "\"issued_unix_ms\":1,\"deadline_unix_ms\":99999999999999}";
    assert_int_equal(natsConnection_PublishString(E.nc, "commands.agent.agent-3", cmd), NATS_OK);
    ProtobufCMessage *m = NULL;
    assert_int_equal(srg_call_recv_msg(call, &serviceradar__agent__v1__gateway_message__descriptor, 10000, &m), 1);
    Serviceradar__Agent__V1__GatewayMessage *gm = (Serviceradar__Agent__V1__GatewayMessage *)m;
    assert_int_equal(gm->msg_case, SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND);
    assert_string_equal(gm->command->command_id, "c-1");
    assert_string_equal(gm->command->type, "ping");
    assert_string_equal(gm->command->payload, "{}");
    assert_int_equal(gm->command->deadline_unix_ms, 99999999999999);
    protobuf_c_message_free_unpacked(m, NULL);

    /* ack then result go up to commands.results.<id> */
    Serviceradar__Agent__V1__CommandAck ack;
    serviceradar__agent__v1__command_ack__init(&ack);
    ack.command_id = S("c-1");
    serviceradar__agent__v1__agent_message__init(&am);
    am.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK;
    am.ack = &ack;
    assert_int_equal(srg_call_send_msg(call, &am.base, 5000), 0);
    Serviceradar__Agent__V1__CommandResult res;
    serviceradar__agent__v1__command_result__init(&res);
    res.command_id = S("c-1");
    res.ok = 1;
    res.output = S("{\"pong\":true}");
    res.finished_unix_ms = 1234567;
    serviceradar__agent__v1__agent_message__init(&am);
    am.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT;
    am.result = &res;
    assert_int_equal(srg_call_send_msg(call, &am.base, 5000), 0);

    json_t *j = next_json(results, 10000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "ack");
    assert_string_equal(json_string_value(json_object_get(j, "command_id")), "c-1");
    assert_string_equal(json_string_value(json_object_get(j, "agent_id")), "agent-3");
    json_decref(j);
    j = next_json(results, 10000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "result");
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "output")), "{\"pong\":true}");
    assert_int_equal(json_integer_value(json_object_get(j, "time_unix_ms")), 1234567);
    json_decref(j);

    /* a second stream from the same identity replaces the first, without a disconnect */
    srg_channel *ch2 = channel_for("agent-3", NULL);
    srg_call *call2 = control_open(ch2, "");
    int code = -1;
    char msg[256];
    assert_int_equal(srg_call_status(call, 10000, &code, msg, sizeof(msg)), 0);
    assert_int_not_equal(code, GRPC_STATUS_OK);
    ev = wait_event(status, "hello", "agent-3");
    assert_non_null(ev);
    json_decref(ev);
    /* commands now go to the new stream */
    assert_int_equal(natsConnection_PublishString(E.nc, "commands.agent.agent-3",
                                                  "{\"command_id\":\"c-2\",\"type\":\"ping\",\"payload\":{}}"),
                     NATS_OK);
    assert_int_equal(srg_call_recv_msg(call2, &serviceradar__agent__v1__gateway_message__descriptor, 10000, &m), 1);
    gm = (Serviceradar__Agent__V1__GatewayMessage *)m;
    assert_string_equal(gm->command->command_id, "c-2");
    protobuf_c_message_free_unpacked(m, NULL);

    /* end of stream -> disconnect (and no disconnect was sent for the replaced stream) */
    assert_int_equal(srg_call_close_send(call2), 0);
    assert_int_equal(srg_call_status(call2, 10000, &code, msg, sizeof(msg)), 0);
    assert_int_equal(code, GRPC_STATUS_OK);
    ev = wait_event(status, "disconnect", "agent-3");
    assert_non_null(ev);
    json_decref(ev);
    /* exactly one disconnect */
    json_t *extra = wait_event(status, "disconnect", "agent-3");
    assert_null(extra);

    srg_call_free(call);
    srg_call_free(call2);
    srg_channel_free(ch);
    srg_channel_free(ch2);
    natsSubscription_Destroy(status);
    natsSubscription_Destroy(results);
}

static void test_control_requires_hello(void **state) {
    (void)state;
    srg_channel *ch = channel_for("agent-3", NULL);
    srg_call *call = NULL;
    assert_int_equal(srg_call_start(ch, GW_SERVICE "Control", 10000, &call), 0);
    Serviceradar__Agent__V1__Heartbeat hb;
    serviceradar__agent__v1__heartbeat__init(&hb);
    Serviceradar__Agent__V1__AgentMessage am;
    serviceradar__agent__v1__agent_message__init(&am);
    am.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT;
    am.heartbeat = &hb;
    assert_int_equal(srg_call_send_msg(call, &am.base, 5000), 0);
    int code = -1;
    char msg[256] = "";
    assert_int_equal(srg_call_status(call, 10000, &code, msg, sizeof(msg)), 0);
    assert_int_equal(code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "Hello"));
    srg_call_free(call);
    srg_channel_free(ch);
}

/* Last: revokes agent-2 with the openssl CLI and checks the gateway reloads the CRL. */
static void test_crl_reload(void **state) {
    (void)state;
    packed b = make_batch("", next_epoch(), 1, 1, 1.0);
    upload_result r = upload_raw("agent-2", NULL, &b, 1);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    result_clear(&r);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl ca -config crldb/ca.cnf -revoke agent-2.crt >/dev/null 2>&1 && "
             "openssl ca -config crldb/ca.cnf -gencrl -out ca.crl.new >/dev/null 2>&1 && "
             "touch -d '+2 seconds' ca.crl.new && mv ca.crl.new ca.crl",
             E.dir);
    assert_int_equal(system(cmd), 0);
    r = upload_raw("agent-2", NULL, &b, 1);
    assert_int_equal(r.code, GRPC_STATUS_UNAUTHENTICATED);
    /* agent-1 is unaffected */
    packed b1 = make_batch("", next_epoch(), 1, 1, 1.0);
    upload_result r1 = upload_raw("agent-1", NULL, &b1, 1);
    assert_int_equal(r1.code, GRPC_STATUS_OK);
    result_clear(&r1);
    free(b.buf);
    free(b1.buf);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--bystander") == 0)
        return bystander_main(argv[2], argv[3], argv[4]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_lands_in_stream),
        cmocka_unit_test(test_upload_duplicate),
        cmocka_unit_test(test_upload_many_batches),
        cmocka_unit_test(test_upload_logs),
        cmocka_unit_test(test_upload_logs_invalid),
        cmocka_unit_test(test_upload_errors),
        cmocka_unit_test(test_revoked_refused),
        cmocka_unit_test(test_unknown_ca_refused),
        cmocka_unit_test(test_plaintext_refused),
        cmocka_unit_test(test_download_before_any_db),
        cmocka_unit_test(test_control_commands),
        cmocka_unit_test(test_control_requires_hello),
        cmocka_unit_test(test_crl_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
