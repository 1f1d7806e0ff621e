/* sr_transport against an in-process srg gateway stand-in (Upload acks every seq; Control
 * answers Hello and sends a ping and an unknown command) and a real on-disk spool. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/status.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_spool.h"
#include "sr_time.h"
#include "sr_transport.h"
#include "srg.h"
#include "srtest.h"

#define MAX_SEQ 4096

typedef struct {
    pthread_mutex_t lock;
    uint64_t epoch;
    unsigned delivered[MAX_SEQ]; /* per seq: times it came in an Upload that was acked */
    unsigned uploads;
    int bad_identity;
    int bad_batch;
    /* control */
    int hellos;
    char hello_hostname[64], hello_os[32], hello_version[32], hello_cap0[32];
    unsigned hello_proto;
    int heartbeats;
    int acks_c1, acks_c2;
    int result_c1, result_c2;
    int c1_ok, c2_ok;
    char c1_output[256], c2_error[256];
    int ack_before_result;
} gw_state;

static gw_state gw;
static char certdir[200];

static const char *cert(const char *name) {
    static char buf[16][300];
    static int i;
    i = (i + 1) % 16;
    snprintf(buf[i], sizeof(buf[i]), "%.200s/%.63s", certdir, name);
    return buf[i];
}

/* ---- gateway stand-in ---- */

static void h_upload(srg_call *c, void *ud) {
    gw_state *g = ud;
    const char *id = srg_call_peer_identity(c);
    uint64_t seqs[256];
    size_t n = 0;
    if (!id || strcmp(id, "agent-1") != 0) {
        pthread_mutex_lock(&g->lock);
        g->bad_identity++;
        pthread_mutex_unlock(&g->lock);
        srg_call_finish(c, GRPC_STATUS_PERMISSION_DENIED, "identity");
        return;
    }
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = srg_call_recv(c, 10000, &buf, &len);
        if (r < 0) {
            srg_call_finish(c, GRPC_STATUS_ABORTED, "recv");
            return;
        }
        if (r == 0)
            break;
        Serviceradar__Agent__V1__UploadBatch *b = serviceradar__agent__v1__upload_batch__unpack(NULL, len, buf);
        free(buf);
        if (!b || b->seq == 0 || b->seq >= MAX_SEQ || strcmp(b->agent_id, "agent-1") != 0 || n == 256 ||
            b->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS) {
            pthread_mutex_lock(&g->lock);
            g->bad_batch++;
            pthread_mutex_unlock(&g->lock);
            if (b)
                serviceradar__agent__v1__upload_batch__free_unpacked(b, NULL);
            srg_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "bad batch");
            return;
        }
        pthread_mutex_lock(&g->lock);
        g->epoch = b->epoch;
        pthread_mutex_unlock(&g->lock);
        seqs[n++] = b->seq;
        serviceradar__agent__v1__upload_batch__free_unpacked(b, NULL);
    }
    Serviceradar__Agent__V1__UploadAck ack = SERVICERADAR__AGENT__V1__UPLOAD_ACK__INIT;
    ack.n_acked_seqs = n;
    ack.acked_seqs = seqs;
    ack.accepted = (uint32_t)n;
    if (srg_call_send_msg(c, &ack.base, 5000) == 0 && srg_call_finish(c, GRPC_STATUS_OK, NULL) == 0) {
        pthread_mutex_lock(&g->lock);
        for (size_t i = 0; i < n; i++)
            g->delivered[seqs[i]]++;
        g->uploads++;
        pthread_mutex_unlock(&g->lock);
    }
}

static void send_command(srg_call *c, const char *id, const char *type) {
    Serviceradar__Agent__V1__Command cmd;
    serviceradar__agent__v1__command__init(&cmd);
    cmd.command_id = (char *)(uintptr_t)id;
    cmd.type = (char *)(uintptr_t)type;
    cmd.payload = (char *)(uintptr_t) "{}";
    Serviceradar__Agent__V1__GatewayMessage gm = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__INIT;
    gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND;
    gm.command = &cmd;
    srg_call_send_msg(c, &gm.base, 5000);
}

static void copy_str(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void h_control(srg_call *c, void *ud) {
    gw_state *g = ud;
    Serviceradar__Agent__V1__AgentMessage *m = NULL;
    int r = srg_call_recv_msg(c, &serviceradar__agent__v1__agent_message__descriptor, 10000, (ProtobufCMessage **)&m);
    if (r != 1 || m->msg_case != SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HELLO) {
        if (r == 1)
            protobuf_c_message_free_unpacked(&m->base, NULL);
        srg_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "hello first");
        return;
    }
    pthread_mutex_lock(&g->lock);
    g->hellos++;
    copy_str(g->hello_hostname, sizeof(g->hello_hostname), m->hello->hostname);
    copy_str(g->hello_os, sizeof(g->hello_os), m->hello->os);
    copy_str(g->hello_version, sizeof(g->hello_version), m->hello->agent_version);
    copy_str(g->hello_cap0, sizeof(g->hello_cap0), m->hello->n_capabilities ? m->hello->capabilities[0] : "");
    g->hello_proto = m->hello->protocol_version;
    pthread_mutex_unlock(&g->lock);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    Serviceradar__Agent__V1__HelloAck ha;
    serviceradar__agent__v1__hello_ack__init(&ha);
    ha.agent_id = (char *)(uintptr_t)srg_call_peer_identity(c);
    Serviceradar__Agent__V1__GatewayMessage gm = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__INIT;
    gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_HELLO_ACK;
    gm.hello_ack = &ha;
    srg_call_send_msg(c, &gm.base, 5000);
    send_command(c, "c1", "ping");
    send_command(c, "c2", "bogus");

    while ((r = srg_call_recv_msg(c, &serviceradar__agent__v1__agent_message__descriptor, -1,
                                  (ProtobufCMessage **)&m)) == 1) {
        pthread_mutex_lock(&g->lock);
        switch (m->msg_case) {
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT:
            g->heartbeats++;
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK:
            if (strcmp(m->ack->command_id, "c1") == 0)
                g->acks_c1++;
            else if (strcmp(m->ack->command_id, "c2") == 0)
                g->acks_c2++;
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT:
            if (strcmp(m->result->command_id, "c1") == 0) {
                g->ack_before_result += g->acks_c1 > g->result_c1;
                g->result_c1++;
                g->c1_ok = m->result->ok;
                copy_str(g->c1_output, sizeof(g->c1_output), m->result->output);
            } else if (strcmp(m->result->command_id, "c2") == 0) {
                g->ack_before_result += g->acks_c2 > g->result_c2;
                g->result_c2++;
                g->c2_ok = m->result->ok;
                copy_str(g->c2_error, sizeof(g->c2_error), m->result->error);
            }
            break;
        default:
            break;
        }
        pthread_mutex_unlock(&g->lock);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    srg_call_finish(c, r == 0 ? GRPC_STATUS_OK : GRPC_STATUS_CANCELLED, NULL);
}

static const srg_method methods[] = {
    {"/serviceradar.agent.v1.AgentGateway/Upload", h_upload},
    {"/serviceradar.agent.v1.AgentGateway/Control", h_control},
};

static srg_server *start_gateway(int port) {
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    srg_server_options o = {
        .address = addr,
        .tls = {.ca_file = cert("ca.crt"), .cert_file = cert("gateway.crt"), .key_file = cert("gateway.key")},
        .methods = methods,
        .n_methods = SR_ARRAY_SIZE(methods),
        .userdata = &gw,
    };
    srg_server *s = NULL;
    /* a fixed port may still be held for a moment by the listener just closed */
    int64_t end = sr_mono_ms() + 10000;
    int r;
    while ((r = srg_server_start(&o, &s)) < 0 && port != 0 && sr_mono_ms() < end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r < 0)
        fprintf(stderr, "could not start the gateway stand-in on %s: %s\n", addr, strerror(-r));
    assert_int_equal(r, 0);
    return s;
}

/* ---- agent side ---- */

static void spool_batches(sr_spool *sp, int n) {
    for (int i = 0; i < n; i++) {
        uint64_t seq;
        assert_int_equal(sr_spool_next_seq(sp, &seq), 0);
        Serviceradar__Agent__V1__MetricPoint pt;
        serviceradar__agent__v1__metric_point__init(&pt);
        pt.name = (char *)(uintptr_t) "cpu.usage_pct";
        pt.dim = (char *)(uintptr_t) "total";
        pt.value = (double)i;
        pt.time_unix_ms = sr_now_unix_ms();
        Serviceradar__Agent__V1__MetricPoint *pts[1] = {&pt};
        Serviceradar__Agent__V1__MetricsBatch mb;
        serviceradar__agent__v1__metrics_batch__init(&mb);
        mb.hostname = (char *)(uintptr_t) "host-a";
        mb.n_points = 1;
        mb.points = pts;
        Serviceradar__Agent__V1__UploadBatch b;
        serviceradar__agent__v1__upload_batch__init(&b);
        b.agent_id = (char *)(uintptr_t) "agent-1";
        b.epoch = sr_spool_epoch(sp);
        b.seq = seq;
        b.created_unix_ms = sr_now_unix_ms();
        b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
        b.metrics = &mb;
        uint8_t buf[512];
        size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
        assert_true(len <= sizeof(buf));
        serviceradar__agent__v1__upload_batch__pack(&b, buf);
        assert_int_equal(sr_spool_append(sp, seq, buf, len), 0);
    }
}

static const char *const caps[] = {"metrics", NULL};

static sr_transport *start_transport(int port, sr_spool *sp) {
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    sr_transport_config cfg = {
        .gateway = target,
        .tls = {.ca_file = cert("ca.crt"), .cert_file = cert("agent-1.crt"), .key_file = cert("agent-1.key")},
        .agent_id = "agent-1",
        .hostname = "host-a",
        .agent_version = "9.9.9",
        .capabilities = caps,
        .heartbeat_ms = 100,
        .backoff_min_ms = 50,
        .backoff_max_ms = 400,
        .call_timeout_ms = 5000,
        .upload_max_records = 8,
        .upload_max_bytes = 64 * 1024,
    };
    sr_transport *t = NULL;
    assert_int_equal(sr_transport_start(&cfg, sp, &t), 0);
    return t;
}

/* Polls cond(arg) every 10 ms until it holds or timeout_ms passes. */
static int poll_until(int (*cond)(void *), void *arg, int timeout_ms) {
    int64_t end = sr_mono_ms() + timeout_ms;
    while (sr_mono_ms() < end) {
        if (cond(arg))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (cond(arg))
        return 0;
    pthread_mutex_lock(&gw.lock);
    fprintf(stderr, "timed out: gateway saw %u uploads, %d hellos, %d heartbeats, results %d/%d\n", gw.uploads,
            gw.hellos, gw.heartbeats, gw.result_c1, gw.result_c2);
    pthread_mutex_unlock(&gw.lock);
    return -ETIMEDOUT;
}

static void print_stats(const char *what, sr_transport *t) {
    sr_transport_stats ts;
    sr_transport_get_stats(t, &ts);
    fprintf(stderr, "%s: connected %d uploads ok %llu failed %llu acked %llu reconnects %llu commands %llu\n", what,
            ts.control_connected, (unsigned long long)ts.uploads_ok, (unsigned long long)ts.uploads_failed,
            (unsigned long long)ts.batches_acked, (unsigned long long)ts.reconnects,
            (unsigned long long)ts.commands_run);
}

typedef struct {
    uint64_t first, last;
} seq_range;

static int all_delivered(void *arg) {
    seq_range *r = arg;
    pthread_mutex_lock(&gw.lock);
    int ok = 1;
    for (uint64_t s = r->first; s <= r->last; s++)
        ok &= gw.delivered[s] >= 1;
    pthread_mutex_unlock(&gw.lock);
    return ok;
}

static int commands_answered(void *arg) {
    (void)arg;
    pthread_mutex_lock(&gw.lock);
    int ok = gw.result_c1 >= 1 && gw.result_c2 >= 1 && gw.heartbeats >= 3;
    pthread_mutex_unlock(&gw.lock);
    return ok;
}

typedef struct {
    sr_spool *sp;
    sr_transport *t;
    uint64_t acked;
} spool_arg;

static int spool_empty(void *arg) {
    spool_arg *a = arg;
    sr_spool_stats ss;
    sr_spool_get_stats(a->sp, &ss);
    sr_transport_stats ts;
    sr_transport_get_stats(a->t, &ts);
    return ss.records == 0 && ts.batches_acked >= a->acked;
}

static int failed_while_down(void *arg) {
    sr_transport *t = arg;
    sr_transport_stats ts;
    sr_transport_get_stats(t, &ts);
    return ts.reconnects >= 2 && ts.uploads_failed >= 2;
}

static void reset_gateway_state(void) {
    pthread_mutex_lock(&gw.lock);
    memset((char *)&gw + sizeof(gw.lock), 0, sizeof(gw) - sizeof(gw.lock));
    pthread_mutex_unlock(&gw.lock);
}

static void check_exactly_once(uint64_t first, uint64_t last) {
    pthread_mutex_lock(&gw.lock);
    unsigned bad = 0;
    for (uint64_t s = 1; s < MAX_SEQ; s++) {
        unsigned want = (s >= first && s <= last) ? 1 : 0;
        bad += gw.delivered[s] != want;
    }
    int bad_batch = gw.bad_batch, bad_id = gw.bad_identity;
    pthread_mutex_unlock(&gw.lock);
    assert_int_equal(bad, 0);
    assert_int_equal(bad_batch, 0);
    assert_int_equal(bad_id, 0);
}

/* ---- tests ---- */

static void test_uploads_and_commands(void **state) {
    (void)state;
    reset_gateway_state();
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 16u * 1024 * 1024, &sp), 0);
    srg_server *s = start_gateway(0);
    int port = srg_server_port(s);

    spool_batches(sp, 50);
    sr_transport *t = start_transport(port, sp);
    seq_range r1 = {1, 50};
    assert_int_equal(poll_until(all_delivered, &r1, 20000), 0);
    assert_int_equal(poll_until(commands_answered, NULL, 20000), 0);

    /* more while connected */
    spool_batches(sp, 30);
    seq_range r2 = {1, 80};
    assert_int_equal(poll_until(all_delivered, &r2, 20000), 0);
    spool_arg sa = {.sp = sp, .t = t, .acked = 80};
    assert_int_equal(poll_until(spool_empty, &sa, 20000), 0);
    check_exactly_once(1, 80);

    pthread_mutex_lock(&gw.lock);
    gw_state g = gw;
    pthread_mutex_unlock(&gw.lock);
    fprintf(stderr, "gateway saw %d hellos, %d heartbeats, %u uploads\n", g.hellos, g.heartbeats, g.uploads);
    assert_int_equal(g.hellos, 1);
    assert_string_equal(g.hello_hostname, "host-a");
    assert_string_equal(g.hello_os, "linux");
    assert_string_equal(g.hello_version, "9.9.9");
    assert_string_equal(g.hello_cap0, "metrics");
    assert_int_equal(g.hello_proto, 1);
    assert_int_equal(g.acks_c1, 1);
    assert_int_equal(g.acks_c2, 1);
    assert_int_equal(g.ack_before_result, 2);
    assert_true(g.c1_ok);
    assert_non_null(strstr(g.c1_output, "{\"pong\":true,\"agent_time_unix_ms\":"));
    assert_false(g.c2_ok);
    assert_string_equal(g.c2_error, "unknown command type \"bogus\"");

    sr_transport_stats ts;
    sr_transport_get_stats(t, &ts);
    print_stats("after uploads and commands", t);
    assert_int_equal(ts.control_connected, 1);
    assert_int_equal(ts.batches_acked, 80);
    assert_int_equal(ts.commands_run, 2);
    assert_true(ts.uploads_ok >= 10); /* 8 records per call at most */
    assert_int_equal(ts.uploads_failed, 0);

    /* stop with the control stream live: prompt, and the gateway sees the stream end */
    t = sr_transport_free(t);
    s = srg_server_free(s);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
}

static void test_gateway_down_first(void **state) {
    (void)state;
    reset_gateway_state();
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 16u * 1024 * 1024, &sp), 0);
    int port = srtest_free_port();
    assert_true(port > 0);

    spool_batches(sp, 40);
    sr_transport *t = start_transport(port, sp);
    assert_int_equal(poll_until(failed_while_down, t, 20000), 0);
    sr_transport_stats ts;
    sr_transport_get_stats(t, &ts);
    assert_int_equal(ts.control_connected, 0);
    assert_int_equal(ts.batches_acked, 0);

    spool_batches(sp, 10); /* still spooling while down */
    srg_server *s = start_gateway(port);
    seq_range r = {1, 50};
    assert_int_equal(poll_until(all_delivered, &r, 30000), 0);
    spool_arg sa = {.sp = sp, .t = t, .acked = 50};
    assert_int_equal(poll_until(spool_empty, &sa, 20000), 0);
    assert_int_equal(poll_until(commands_answered, NULL, 20000), 0);
    check_exactly_once(1, 50);

    /* the gateway goes away and comes back: the control stream reconnects */
    sr_transport_get_stats(t, &ts);
    uint64_t reconnects = ts.reconnects;
    s = srg_server_free(s);
    reset_gateway_state();
    s = start_gateway(port);
    spool_batches(sp, 5);
    seq_range r3 = {51, 55};
    assert_int_equal(poll_until(all_delivered, &r3, 30000), 0);
    assert_int_equal(poll_until(commands_answered, NULL, 30000), 0);
    sr_transport_get_stats(t, &ts);
    assert_true(ts.reconnects > reconnects);
    check_exactly_once(51, 55);

    t = sr_transport_free(t);
    s = srg_server_free(s);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
}

static void test_stop_while_down_is_prompt(void **state) {
    (void)state;
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 1024 * 1024, &sp), 0);
    int port = srtest_free_port();
    spool_batches(sp, 3);
    sr_transport_config cfg = {
        .gateway = "127.0.0.1:1",
        .tls = {.ca_file = cert("ca.crt"), .cert_file = cert("agent-1.crt"), .key_file = cert("agent-1.key")},
        .backoff_min_ms = 60000,
        .backoff_max_ms = 60000,
    };
    (void)port;
    sr_transport *t = NULL;
    assert_int_equal(sr_transport_start(&cfg, sp, &t), 0);
    assert_int_equal(poll_until(failed_while_down, t, 200), -ETIMEDOUT); /* long backoff: few tries */
    int64_t t0 = sr_mono_ms();
    t = sr_transport_free(t);
    /* a 60 s backoff must not hold the stop (generous bound, not a speed check) */
    assert_true(sr_mono_ms() - t0 < 20000);
    sr_spool_stats ss;
    sr_spool_get_stats(sp, &ss);
    assert_int_equal(ss.records, 3);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);

    sr_transport *bad = NULL;
    sr_transport_config none = {0};
    assert_int_equal(sr_transport_start(&none, sp, &bad), -EINVAL);
    assert_null(sr_transport_free(NULL));
}

static int group_setup(void **state) {
    (void)state;
    pthread_mutex_init(&gw.lock, NULL);
    if (srtest_tmpdir(certdir, sizeof(certdir)) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execl("/bin/bash", "bash", SR_GENCERTS, certdir, "agent-1", (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "could not make test certificates with %s\n", SR_GENCERTS);
        return -1;
    }
    srg_global_init();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    srg_global_shutdown();
    srtest_rmtree(certdir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uploads_and_commands),
        cmocka_unit_test(test_gateway_down_first),
        cmocka_unit_test(test_stop_while_down_is_prompt),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
