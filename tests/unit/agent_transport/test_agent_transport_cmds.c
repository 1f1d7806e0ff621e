/* Long-running commands of sr_transport (sr_transport_register_command and friends) against an
 * in-process srg stand-in for the gateway over mTLS: a handler runs on its own thread while the
 * Control stream goes on (ping answered meanwhile), a second command of a busy type is refused,
 * progress reaches the gateway, a result finished while the stream is down is sent after the
 * next HelloAck, Hello carries the artifact versions, deadlines and sr_transport_free cancel. */
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

#define MAX_EV 256
#define MAX_PENDING 16

typedef struct {
    char kind; /* 'a' ack, 'p' progress, 'r' result */
    char id[64];
    int ok;
    unsigned percent;
    char text[256]; /* progress message, result output or error */
    int session;    /* which Hello it followed */
} event;

typedef struct {
    char id[64], type[32];
    int64_t deadline_unix_ms;
} pending_cmd;

static struct {
    pthread_mutex_t lock;
    int hellos;
    char hello_art[160]; /* artifact_versions["trivy-db"] of the last Hello */
    size_t hello_n_art;
    event ev[MAX_EV];
    int n_ev;
    pending_cmd pending[MAX_PENDING];
    int n_pending;
} gw;

static char certdir[200];

static const char *cert(const char *name) {
    static char buf[8][300];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%.200s/%.63s", certdir, name);
    return buf[i];
}

static void reset_gw(void) {
    pthread_mutex_lock(&gw.lock);
    gw.hellos = 0;
    gw.hello_art[0] = '\0';
    gw.hello_n_art = 0;
    gw.n_ev = 0;
    gw.n_pending = 0;
    pthread_mutex_unlock(&gw.lock);
}

static void push_command(const char *id, const char *type, int64_t deadline_unix_ms) {
    pthread_mutex_lock(&gw.lock);
    assert_true(gw.n_pending < MAX_PENDING);
    pending_cmd *p = &gw.pending[gw.n_pending++];
    snprintf(p->id, sizeof(p->id), "%s", id);
    snprintf(p->type, sizeof(p->type), "%s", type);
    p->deadline_unix_ms = deadline_unix_ms;
    pthread_mutex_unlock(&gw.lock);
}

static void record(char kind, const char *id, int ok, unsigned percent, const char *text) {
    pthread_mutex_lock(&gw.lock);
    if (gw.n_ev < MAX_EV) {
        event *e = &gw.ev[gw.n_ev++];
        e->kind = kind;
        snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
        e->ok = ok;
        e->percent = percent;
        snprintf(e->text, sizeof(e->text), "%s", text ? text : "");
        e->session = gw.hellos;
    }
    pthread_mutex_unlock(&gw.lock);
}

static void h_control(srg_call *c, void *ud) {
    (void)ud;
    Serviceradar__Agent__V1__AgentMessage *m = NULL;
    int r = srg_call_recv_msg(c, &serviceradar__agent__v1__agent_message__descriptor, 10000, (ProtobufCMessage **)&m);
    if (r != 1 || m->msg_case != SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HELLO) {
        if (r == 1)
            protobuf_c_message_free_unpacked(&m->base, NULL);
        srg_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "hello first");
        return;
    }
    pthread_mutex_lock(&gw.lock);
    gw.hellos++;
    gw.hello_art[0] = '\0';
    gw.hello_n_art = m->hello->n_artifact_versions;
    for (size_t i = 0; i < m->hello->n_artifact_versions; i++)
        if (strcmp(m->hello->artifact_versions[i]->key, "trivy-db") == 0)
            snprintf(gw.hello_art, sizeof(gw.hello_art), "%s", m->hello->artifact_versions[i]->value);
    pthread_mutex_unlock(&gw.lock);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    Serviceradar__Agent__V1__HelloAck ha;
    serviceradar__agent__v1__hello_ack__init(&ha);
    ha.agent_id = (char *)(uintptr_t)srg_call_peer_identity(c);
    Serviceradar__Agent__V1__GatewayMessage gm = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__INIT;
    gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_HELLO_ACK;
    gm.hello_ack = &ha;
    if (srg_call_send_msg(c, &gm.base, 5000) < 0) {
        srg_call_finish(c, GRPC_STATUS_CANCELLED, NULL);
        return;
    }
    for (;;) {
        pending_cmd todo[MAX_PENDING];
        pthread_mutex_lock(&gw.lock);
        int n = gw.n_pending;
        memcpy(todo, gw.pending, sizeof(todo));
        gw.n_pending = 0;
        pthread_mutex_unlock(&gw.lock);
        for (int i = 0; i < n; i++) {
            Serviceradar__Agent__V1__Command cmd;
            serviceradar__agent__v1__command__init(&cmd);
            cmd.command_id = todo[i].id;
            cmd.type = todo[i].type;
            cmd.payload = (char *)(uintptr_t) "{\"x\":1}";
            cmd.deadline_unix_ms = todo[i].deadline_unix_ms;
            gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND;
            gm.command = &cmd;
            (void)srg_call_send_msg(c, &gm.base, 5000);
        }
        r = srg_call_recv_msg(c, &serviceradar__agent__v1__agent_message__descriptor, 20, (ProtobufCMessage **)&m);
        if (r == -ETIMEDOUT)
            continue;
        if (r != 1)
            break;
        switch (m->msg_case) {
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK:
            record('a', m->ack->command_id, 0, 0, NULL);
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_PROGRESS:
            record('p', m->progress->command_id, 0, m->progress->percent, m->progress->message);
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT:
            record('r', m->result->command_id, m->result->ok, 0,
                   m->result->ok ? m->result->output : m->result->error);
            break;
        default:
            break;
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    srg_call_finish(c, r == 0 ? GRPC_STATUS_OK : GRPC_STATUS_CANCELLED, NULL);
}

static void h_upload(srg_call *c, void *ud) {
    (void)ud;
    srg_call_finish(c, GRPC_STATUS_UNAVAILABLE, "not in this test");
}

static const srg_method methods[] = {
    {"/serviceradar.agent.v1.AgentGateway/Control", h_control},
    {"/serviceradar.agent.v1.AgentGateway/Upload", h_upload},
};

static srg_server *start_gateway(int port) {
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    srg_server_options o = {
        .address = addr,
        .tls = {.ca_file = cert("ca.crt"), .cert_file = cert("gateway.crt"), .key_file = cert("gateway.key")},
        .methods = methods,
        .n_methods = SR_ARRAY_SIZE(methods),
    };
    srg_server *s = NULL;
    int64_t end = sr_mono_ms() + 10000; /* a port just closed may be held for a moment */
    int r;
    while ((r = srg_server_start(&o, &s)) < 0 && port != 0 && sr_mono_ms() < end)
        sr_sleep_ms(20);
    assert_int_equal(r, 0);
    return s;
}

/* ---- agent side ---- */

typedef struct {
    pthread_mutex_t mu;
    int release;   /* let the running handler finish */
    int started, finished, saw_cancel;
} slow_state;

static void slow_handler(sr_cmd_ctx *ctx, const char *payload, void *ud) {
    slow_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->started++;
    pthread_mutex_unlock(&s->mu);
    sr_cmd_progress(ctx, 50, "half way");
    int cancelled = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int go = s->release;
        pthread_mutex_unlock(&s->mu);
        if (go)
            break;
        if (sr_cmd_cancelled(ctx)) {
            cancelled = 1;
            break;
        }
        sr_sleep_ms(5);
    }
    if (cancelled) {
        sr_cmd_finish(ctx, 0, NULL, "cancelled");
    } else {
        char out[128];
        snprintf(out, sizeof(out), "{\"payload\":%s}", payload);
        sr_cmd_finish(ctx, 1, out, NULL);
    }
    pthread_mutex_lock(&s->mu);
    s->release = 0;
    s->saw_cancel += cancelled;
    s->finished++;
    pthread_mutex_unlock(&s->mu);
}

/* A handler that forgets to call sr_cmd_finish. */
static void lazy_handler(sr_cmd_ctx *ctx, const char *payload, void *ud) {
    (void)ctx;
    (void)payload;
    (void)ud;
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
        .heartbeat_ms = 200,
        .backoff_min_ms = 50,
        .backoff_max_ms = 300,
        .call_timeout_ms = 5000,
    };
    sr_transport *t = NULL;
    assert_int_equal(sr_transport_start(&cfg, sp, &t), 0);
    return t;
}

/* The index of the first event of kind for id at or after from; -1 when none. */
static int find_event(char kind, const char *id, int from) {
    pthread_mutex_lock(&gw.lock);
    int found = -1;
    for (int i = from; i < gw.n_ev && found < 0; i++)
        if (gw.ev[i].kind == kind && strcmp(gw.ev[i].id, id) == 0)
            found = i;
    pthread_mutex_unlock(&gw.lock);
    return found;
}

static int wait_event(char kind, const char *id, int timeout_ms) {
    int64_t end = sr_mono_ms() + timeout_ms;
    int i;
    while ((i = find_event(kind, id, 0)) < 0 && sr_mono_ms() < end)
        sr_sleep_ms(10);
    if (i < 0)
        fprintf(stderr, "timed out waiting for '%c' of %s\n", kind, id);
    return i;
}

static event get_event(int i) {
    pthread_mutex_lock(&gw.lock);
    event e = gw.ev[i];
    pthread_mutex_unlock(&gw.lock);
    return e;
}

static int count_events(char kind, const char *id) {
    int n = 0;
    pthread_mutex_lock(&gw.lock);
    for (int i = 0; i < gw.n_ev; i++)
        n += gw.ev[i].kind == kind && strcmp(gw.ev[i].id, id) == 0;
    pthread_mutex_unlock(&gw.lock);
    return n;
}

static int wait_int(pthread_mutex_t *mu, const int *v, int want, int timeout_ms) {
    int64_t end = sr_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(mu);
        int cur = *v;
        pthread_mutex_unlock(mu);
        if (cur >= want)
            return 0;
        if (sr_mono_ms() > end)
            return -ETIMEDOUT;
        sr_sleep_ms(10);
    }
}

static void release(slow_state *s) {
    pthread_mutex_lock(&s->mu);
    s->release = 1;
    pthread_mutex_unlock(&s->mu);
}

static int connected(sr_transport *t) {
    sr_transport_stats st;
    sr_transport_get_stats(t, &st);
    return st.control_connected;
}

static void wait_connected(sr_transport *t, int want) {
    int64_t end = sr_mono_ms() + 20000;
    while (connected(t) != want && sr_mono_ms() < end)
        sr_sleep_ms(10);
    assert_int_equal(connected(t), want);
}

/* ---- tests ---- */

static void test_busy_progress_and_ping(void **state) {
    (void)state;
    reset_gw();
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 1024 * 1024, &sp), 0);
    srg_server *s = start_gateway(0);
    sr_transport *t = start_transport(srg_server_port(s), sp);
    slow_state ss = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(sr_transport_register_command(t, "slow", slow_handler, &ss), 0);
    assert_int_equal(sr_transport_register_command(t, "lazy", lazy_handler, NULL), 0);
    wait_connected(t, 1);

    push_command("c1", "slow", 0);
    assert_int_equal(wait_int(&ss.mu, &ss.started, 1, 20000), 0);
    int p = wait_event('p', "c1", 20000);
    assert_true(p >= 0);
    assert_int_equal(get_event(p).percent, 50);
    assert_string_equal(get_event(p).text, "half way");

    /* while c1 runs: a second slow is refused busy; ping is answered at once */
    push_command("c2", "slow", 0);
    push_command("c3", "ping", 0);
    int r2 = wait_event('r', "c2", 20000), r3 = wait_event('r', "c3", 20000);
    assert_true(r2 >= 0 && r3 >= 0);
    assert_false(get_event(r2).ok);
    assert_non_null(strstr(get_event(r2).text, "busy"));
    assert_true(get_event(r3).ok);
    assert_non_null(strstr(get_event(r3).text, "\"pong\":true"));
    assert_int_equal(find_event('r', "c1", 0), -1);

    release(&ss);
    int r1 = wait_event('r', "c1", 20000);
    assert_true(r1 >= 0);
    assert_true(get_event(r1).ok);
    assert_string_equal(get_event(r1).text, "{\"payload\":{\"x\":1}}");
    for (const char *const *id = (const char *const[]){"c1", "c2", "c3", NULL}; *id; id++) {
        assert_int_equal(count_events('a', *id), 1);
        assert_int_equal(count_events('r', *id), 1);
        assert_true(find_event('a', *id, 0) < find_event('r', *id, 0));
    }

    /* the type is free again once c1 finished */
    assert_int_equal(wait_int(&ss.mu, &ss.finished, 1, 20000), 0);
    push_command("c4", "slow", 0);
    assert_int_equal(wait_int(&ss.mu, &ss.started, 2, 20000), 0);
    release(&ss);
    int r4 = wait_event('r', "c4", 20000);
    assert_true(r4 >= 0);
    assert_true(get_event(r4).ok);

    /* a handler that returns without a result still answers */
    push_command("c5", "lazy", 0);
    int r5 = wait_event('r', "c5", 20000);
    assert_true(r5 >= 0);
    assert_false(get_event(r5).ok);
    assert_string_equal(get_event(r5).text, "the command handler returned without a result");

    sr_transport_stats st;
    sr_transport_get_stats(t, &st);
    assert_int_equal(st.commands_run, 5);
    assert_int_equal(ss.saw_cancel, 0);
    t = sr_transport_free(t);
    s = srg_server_free(s);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
}

static void test_result_queued_while_down(void **state) {
    (void)state;
    reset_gw();
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 1024 * 1024, &sp), 0);
    srg_server *s = start_gateway(0);
    int port = srg_server_port(s);
    sr_transport *t = start_transport(port, sp);
    slow_state ss = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(sr_transport_register_command(t, "slow", slow_handler, &ss), 0);
    assert_int_equal(sr_transport_set_artifact_version(t, "trivy-db", "sha256:aa"), 0);
    assert_int_equal(sr_transport_set_artifact_version(t, "other", "v1"), 0);
    wait_connected(t, 1);
    /* the version set after start shows up in the next Hello only: reconnect once */
    s = srg_server_free(s);
    wait_connected(t, 0);
    reset_gw();
    s = start_gateway(port);
    wait_connected(t, 1);
    pthread_mutex_lock(&gw.lock);
    assert_string_equal(gw.hello_art, "sha256:aa");
    assert_int_equal(gw.hello_n_art, 2);
    pthread_mutex_unlock(&gw.lock);

    push_command("q1", "slow", 0);
    assert_int_equal(wait_int(&ss.mu, &ss.started, 1, 20000), 0);
    assert_true(wait_event('a', "q1", 20000) >= 0);

    /* the gateway goes away; the handler finishes while the stream is down */
    s = srg_server_free(s);
    wait_connected(t, 0);
    assert_int_equal(sr_transport_set_artifact_version(t, "trivy-db", "sha256:bb"), 0);
    assert_int_equal(sr_transport_set_artifact_version(t, "other", NULL), 0);
    release(&ss);
    assert_int_equal(wait_int(&ss.mu, &ss.finished, 1, 20000), 0);
    sr_cmd_progress(NULL, 1, "ignored");

    reset_gw();
    s = start_gateway(port);
    int r = wait_event('r', "q1", 30000);
    assert_true(r >= 0);
    event e = get_event(r);
    assert_true(e.ok);
    assert_int_equal(e.session, 1); /* after the new Hello */
    assert_int_equal(count_events('r', "q1"), 1);
    pthread_mutex_lock(&gw.lock);
    assert_int_equal(gw.hellos, 1);
    assert_string_equal(gw.hello_art, "sha256:bb");
    assert_int_equal(gw.hello_n_art, 1);
    pthread_mutex_unlock(&gw.lock);

    t = sr_transport_free(t);
    s = srg_server_free(s);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
}

static void test_deadline_and_cancel_on_free(void **state) {
    (void)state;
    reset_gw();
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 1024 * 1024, &sp), 0);
    srg_server *s = start_gateway(0);
    sr_transport *t = start_transport(srg_server_port(s), sp);
    slow_state ss = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(sr_transport_register_command(t, "slow", slow_handler, &ss), 0);
    wait_connected(t, 1);

    /* a deadline that passes makes sr_cmd_cancelled true */
    push_command("d1", "slow", sr_now_unix_ms() + 300);
    int r = wait_event('r', "d1", 20000);
    assert_true(r >= 0);
    assert_false(get_event(r).ok);
    assert_string_equal(get_event(r).text, "cancelled");
    assert_int_equal(ss.saw_cancel, 1);

    /* a running handler sees the stop and is joined by sr_transport_free */
    push_command("d2", "slow", 0);
    assert_int_equal(wait_int(&ss.mu, &ss.started, 2, 20000), 0);
    int64_t t0 = sr_mono_ms();
    t = sr_transport_free(t);
    assert_true(sr_mono_ms() - t0 < 20000); /* generous: prompt, not a speed check */
    assert_int_equal(ss.finished, 2);
    assert_int_equal(ss.saw_cancel, 2);

    s = srg_server_free(s);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
}

static void test_argument_errors(void **state) {
    (void)state;
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_spool *sp = NULL;
    assert_int_equal(sr_spool_open(dir, 1024 * 1024, &sp), 0);
    sr_transport *t = start_transport(srtest_free_port(), sp);
    slow_state ss = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(sr_transport_register_command(t, "slow", slow_handler, &ss), 0);
    assert_int_equal(sr_transport_register_command(t, "slow", slow_handler, &ss), -EEXIST);
    assert_int_equal(sr_transport_register_command(t, "ping", slow_handler, &ss), -EEXIST);
    assert_int_equal(sr_transport_register_command(t, "", slow_handler, &ss), -EINVAL);
    assert_int_equal(sr_transport_register_command(t, "x", NULL, &ss), -EINVAL);
    assert_int_equal(sr_transport_register_command(NULL, "x", slow_handler, &ss), -EINVAL);

    assert_int_equal(sr_transport_set_artifact_version(t, "", "v"), -EINVAL);
    assert_int_equal(sr_transport_set_artifact_version(t, "a", ""), -EINVAL);
    char name[32];
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        assert_int_equal(sr_transport_set_artifact_version(t, name, "v"), 0);
    }
    assert_int_equal(sr_transport_set_artifact_version(t, "one-too-many", "v"), -ENOSPC);
    assert_int_equal(sr_transport_set_artifact_version(t, "a3", "v2"), 0); /* replace */
    assert_int_equal(sr_transport_set_artifact_version(t, "a3", NULL), 0);
    assert_int_equal(sr_transport_set_artifact_version(t, "one-too-many", "v"), 0);

    const sr_transport_config *cfg = sr_transport_config_of(t);
    assert_non_null(cfg);
    assert_non_null(strstr(cfg->gateway, "127.0.0.1:"));
    assert_string_equal(cfg->tls.cert_file, cert("agent-1.crt"));
    assert_int_equal(cfg->call_timeout_ms, 5000);
    assert_null(sr_transport_config_of(NULL));
    assert_null(sr_cmd_id(NULL));
    assert_int_equal(sr_cmd_cancelled(NULL), 1);
    sr_cmd_finish(NULL, 1, NULL, NULL);

    t = sr_transport_free(t);
    sp = sr_spool_free(sp);
    srtest_rmtree(dir);
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
        cmocka_unit_test(test_busy_progress_and_ping),
        cmocka_unit_test(test_result_queued_while_down),
        cmocka_unit_test(test_deadline_and_cancel_on_free),
        cmocka_unit_test(test_argument_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
