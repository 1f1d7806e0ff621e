/* The gateway's Upload path for scan parts: a real nats-server with the SCANS stream, real gRPC
 * over mutual TLS (certificates from tests/support/gencerts.sh) and the real agent-gateway binary
 * as a process. A valid ScanPart is published to scan.trivy.results with the upload headers and
 * acknowledged; parts that break a rule fail the call with INVALID_ARGUMENT and nothing of the
 * call reaches the stream. */
#include <errno.h>
#include <grpc/status.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "gw_gateway.h"
#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_time.h"
#include "srg.h"
#include "srtest.h"

#define S(x) ((char *)(uintptr_t)(x))

static struct {
    char dir[256];
    srtest_nats nats;
    natsConnection *nc;
    jsCtx *js;
    pid_t gw_pid;
    int port;
    char target[64];
} E;

static int setup(void **state) {
    (void)state;
    assert_int_equal(srtest_tmpdir(E.dir, sizeof(E.dir)), 0);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash %s %s agent-1 >/dev/null", SR_GENCERTS, E.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(srtest_nats_start(&E.nats), 0);
    assert_int_equal(natsConnection_ConnectTo(&E.nc, E.nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&E.js, E.nc, NULL), NATS_OK);
    jsStreamConfig sc; /* the core creates it (sr_streams_ensure); same shape */
    jsStreamConfig_Init(&sc);
    sc.Name = "SCANS";
    sc.Subjects = (const char *[]){"scan.>"};
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Duplicates = (int64_t)120 * 1000000000;
    jsErrCode jerr = 0;
    assert_int_equal(js_AddStream(NULL, E.js, &sc, NULL, &jerr), NATS_OK);

    E.port = srtest_free_port();
    char conf[512];
    snprintf(conf, sizeof(conf), "%s/gateway.conf", E.dir);
    FILE *f = fopen(conf, "we");
    assert_non_null(f);
    fprintf(f,
            "listen = 127.0.0.1:%d\ntls.ca_file = %s/ca.crt\ntls.cert_file = %s/gateway.crt\n"
            "tls.key_file = %s/gateway.key\nnats.url = %s\ngateway.id = gw-scan\nmax_message_bytes = 2m\n"
            "publish_timeout = 5s\nshutdown_grace = 2s\n",
            E.port, E.dir, E.dir, E.dir, E.nats.url);
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
    kill(E.gw_pid, SIGTERM);
    int st = 0;
    int64_t end = sr_mono_ms() + 20000;
    pid_t w;
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
    return 0;
}

typedef struct {
    uint8_t *buf;
    size_t len;
} packed;

static uint8_t DATA[600 * 1024];
static uint8_t SHA[32];

static void valid_part(Serviceradar__Agent__V1__ScanPart *p) {
    serviceradar__agent__v1__scan_part__init(p);
    p->scan_id = S("00112233445566778899aabbccddeeff");
    p->target = S("container:3f2a9c1b7e4d");
    p->kind = S("report");
    p->index = 0;
    p->count = 2;
    p->data.data = DATA;
    p->data.len = 4096;
    p->total_size = 8000;
    p->total_sha256.data = SHA;
    p->total_sha256.len = 32;
    p->started_unix_ms = sr_now_unix_ms() - 60000;
    p->finished_unix_ms = sr_now_unix_ms() - 1000;
    p->scanner_version = S("trivy v0.74.0");
    p->target_name = S("nginx:1.27");
    p->targets_in_run = 3;
}

static packed pack(Serviceradar__Agent__V1__ScanPart *p, uint64_t epoch, uint64_t seq) {
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = S("agent-1");
    b.epoch = epoch;
    b.seq = seq;
    b.created_unix_ms = sr_now_unix_ms();
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
    b.scan = p;
    packed r;
    r.len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    r.buf = malloc(r.len);
    assert_non_null(r.buf);
    serviceradar__agent__v1__upload_batch__pack(&b, r.buf);
    return r;
}

typedef struct {
    int code;
    char msg[512];
    size_t acked;
} result;

static result upload(const packed *msgs, size_t n) {
    char c[512], k[512], a[512];
    snprintf(c, sizeof(c), "%s/agent-1.crt", E.dir);
    snprintf(k, sizeof(k), "%s/agent-1.key", E.dir);
    snprintf(a, sizeof(a), "%s/ca.crt", E.dir);
    srg_tls tls = {.ca_file = a, .cert_file = c, .key_file = k};
    srg_channel *ch = NULL;
    assert_int_equal(srg_channel_new(E.target, &tls, "localhost", &ch), 0);
    srg_call *call = NULL;
    assert_int_equal(srg_call_start(ch, GW_SERVICE "Upload", 20000, &call), 0);
    for (size_t i = 0; i < n; i++)
        if (srg_call_send(call, msgs[i].buf, msgs[i].len, 10000) < 0)
            break;
    (void)srg_call_close_send(call);
    result res = {.code = -1};
    ProtobufCMessage *m = NULL;
    if (srg_call_recv_msg(call, &serviceradar__agent__v1__upload_ack__descriptor, 20000, &m) == 1) {
        res.acked = ((Serviceradar__Agent__V1__UploadAck *)m)->n_acked_seqs;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    assert_int_equal(srg_call_status(call, 20000, &res.code, res.msg, sizeof(res.msg)), 0);
    srg_call_free(call);
    srg_channel_free(ch);
    return res;
}

static uint64_t stream_msgs(void) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, E.js, "SCANS", NULL, &jerr), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static void test_valid_part_published(void **state) {
    (void)state;
    uint64_t epoch = (uint64_t)sr_now_unix_ms();
    Serviceradar__Agent__V1__ScanPart p0, p1;
    valid_part(&p0);
    valid_part(&p1);
    p1.index = 1;
    p1.data.len = 8000 - 4096;
    packed m[2] = {pack(&p0, epoch, 1), pack(&p1, epoch, 2)};
    result r = upload(m, 2);
    if (r.code != GRPC_STATUS_OK)
        fail_msg("upload: %d %s", r.code, r.msg);
    assert_int_equal(r.acked, 2);
    assert_int_equal(stream_msgs(), 2);
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetLastMsg(&msg, E.js, "SCANS", "scan.trivy.results", NULL, &jerr), NATS_OK);
    const char *v = NULL;
    char want[128];
    snprintf(want, sizeof(want), "agent-1:%" PRIu64 ":2", epoch);
    assert_int_equal(natsMsgHeader_Get(msg, "Nats-Msg-Id", &v), NATS_OK);
    assert_string_equal(v, want);
    assert_int_equal(natsMsgHeader_Get(msg, "Sr-Agent-Id", &v), NATS_OK);
    assert_string_equal(v, "agent-1");
    assert_int_equal(natsMsgHeader_Get(msg, "Sr-Received-Ms", &v), NATS_OK);
    assert_int_equal((size_t)natsMsg_GetDataLength(msg), m[1].len);
    assert_memory_equal(natsMsg_GetData(msg), m[1].buf, m[1].len);
    natsMsg_Destroy(msg);
    /* the same upload again: JetStream's duplicate window, still acknowledged */
    r = upload(m, 2);
    assert_int_equal(r.code, GRPC_STATUS_OK);
    assert_int_equal(stream_msgs(), 2);
    free(m[0].buf);
    free(m[1].buf);
}

static void test_invalid_parts_refused(void **state) {
    (void)state;
    uint64_t before = stream_msgs();
    static const struct {
        const char *what;
        const char *msg;
    } cases[] = {
        {"scan_id", "scan_id is not 32 lowercase hex"}, {"target", "scan target is not"},
        {"kind", "scan kind"},                          {"index", "is not below count"},
        {"count", "is not in 1..65536"},                {"data", "data is 0 bytes"},
        {"big", "data is 524289 bytes"},                {"total", "total_size"},
        {"sha", "total_sha256 is 20 bytes"},            {"name", "target_name is not valid UTF-8"},
        {"times", "scan times out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Serviceradar__Agent__V1__ScanPart ok, p;
        valid_part(&ok);
        valid_part(&p);
        const char *w = cases[i].what;
        if (strcmp(w, "scan_id") == 0)
            p.scan_id = S("00112233445566778899AABBCCDDEEFF");
        else if (strcmp(w, "target") == 0)
            p.target = S("container:../etc");
        else if (strcmp(w, "kind") == 0)
            p.kind = S("spdx");
        else if (strcmp(w, "index") == 0)
            p.index = 2;
        else if (strcmp(w, "count") == 0)
            p.count = 70000;
        else if (strcmp(w, "data") == 0)
            p.data.len = 0;
        else if (strcmp(w, "big") == 0) {
            p.data.len = 512 * 1024 + 1;
            p.total_size = 600 * 1024;
        } else if (strcmp(w, "total") == 0)
            p.total_size = (UINT64_C(1) << 30) + 1;
        else if (strcmp(w, "sha") == 0)
            p.total_sha256.len = 20;
        else if (strcmp(w, "name") == 0)
            p.target_name = S("\xff\xfe");
        else if (strcmp(w, "times") == 0)
            p.finished_unix_ms = p.started_unix_ms - 1;
        uint64_t epoch = (uint64_t)sr_now_unix_ms() * 100 + i;
        /* a valid part first: the whole call fails, so it is not acknowledged either */
        packed m[2] = {pack(&ok, epoch, 1), pack(&p, epoch, 2)};
        result r = upload(m, 2);
        if (r.code != GRPC_STATUS_INVALID_ARGUMENT || !strstr(r.msg, cases[i].msg))
            fail_msg("%s: status %d \"%s\"", w, r.code, r.msg);
        assert_int_equal(r.acked, 0);
        free(m[0].buf);
        free(m[1].buf);
    }
    /* the valid parts before the bad ones may have been published (the agent retries the whole
     * upload; JetStream's duplicate window absorbs them) but no invalid part ever is */
    uint64_t after = stream_msgs();
    assert_true(after - before <= sizeof(cases) / sizeof(cases[0]));
    for (uint64_t seq = before + 1; seq <= after; seq++) {
        natsMsg *msg = NULL;
        jsErrCode jerr = 0;
        assert_int_equal(js_GetMsg(&msg, E.js, "SCANS", seq, NULL, &jerr), NATS_OK);
        Serviceradar__Agent__V1__UploadBatch *b = serviceradar__agent__v1__upload_batch__unpack(
            NULL, (size_t)natsMsg_GetDataLength(msg), (const uint8_t *)natsMsg_GetData(msg));
        assert_non_null(b);
        assert_int_equal(b->seq, 1);
        protobuf_c_message_free_unpacked(&b->base, NULL);
        natsMsg_Destroy(msg);
    }
}

int main(void) {
    memset(DATA, 'x', sizeof(DATA));
    memset(SHA, 0x5a, sizeof(SHA));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_part_published),
        cmocka_unit_test(test_invalid_parts_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
