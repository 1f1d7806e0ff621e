/* The nats-server supervisor with a real nats-server: start, restart after a crash, stop. */
#include <errno.h>
#include <nats/nats.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_natsup.h"
#include "sr_time.h"
#include "srtest.h"

typedef struct {
    int started, exited;
} events;

static void on_event(void *ud, sr_natsup_event ev, pid_t pid, int status) {
    (void)pid;
    (void)status;
    events *e = ud;
    if (ev == SR_NATSUP_STARTED)
        __atomic_add_fetch(&e->started, 1, __ATOMIC_SEQ_CST);
    else if (ev == SR_NATSUP_EXITED)
        __atomic_add_fetch(&e->exited, 1, __ATOMIC_SEQ_CST);
}

static void check_connect(const char *url) {
    natsConnection *nc = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, url);
    assert_int_equal(s, NATS_OK);
    jsCtx *js = NULL;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsAccountInfo *ai = NULL;
    assert_int_equal(js_GetAccountInfo(&ai, js, NULL, NULL), NATS_OK); /* JetStream is on */
    jsAccountInfo_Destroy(ai);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void test_supervise(void **state) {
    (void)state;
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    events ev = {0};
    sr_natsup_config cfg = {.data_dir = dir, .port = srtest_free_port(), .on_event = on_event, .userdata = &ev};
    sr_natsup *s = NULL;
    int r = sr_natsup_start(&cfg, &s);
    if (r < 0)
        fail_msg("could not start nats-server: %s (set SR_NATS_SERVER)", strerror(-r));
    pid_t first = sr_natsup_pid(s);
    assert_true(first > 0);
    char url[64];
    assert_int_equal(sr_natsup_url(s, url, sizeof(url)), 0);
    check_connect(url);
    struct stat st;
    char path[512];
    snprintf(path, sizeof(path), "%s/nats/nats-server.log", dir);
    assert_int_equal(stat(path, &st), 0);

    /* a crash is noticed and the server comes back on the same port */
    assert_int_equal(kill(first, SIGKILL), 0);
    int64_t deadline = sr_mono_ms() + 15000;
    while (sr_mono_ms() < deadline && !(sr_natsup_restarts(s) == 1 && sr_natsup_pid(s) > 0))
        sr_sleep_ms(20);
    assert_int_equal(sr_natsup_restarts(s), 1);
    pid_t second = sr_natsup_pid(s);
    assert_true(second > 0 && second != first);
    assert_int_equal(srtest_wait_port(cfg.port, 10000), 0);
    check_connect(url);
    assert_int_equal(__atomic_load_n(&ev.exited, __ATOMIC_SEQ_CST), 1);
    assert_int_equal(__atomic_load_n(&ev.started, __ATOMIC_SEQ_CST), 2);

    /* free stops it for good */
    s = sr_natsup_free(s);
    assert_null(s);
    assert_int_equal(kill(second, 0), -1);
    assert_int_equal(errno, ESRCH);
    srtest_rmtree(dir);
}

static void test_missing_binary(void **state) {
    (void)state;
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_natsup_config cfg = {.server_path = "/nonexistent/nats-server", .data_dir = dir, .port = 4222};
    sr_natsup *s = NULL;
    assert_int_equal(sr_natsup_start(&cfg, &s), -ENOENT);
    assert_null(s);
    srtest_rmtree(dir);
}

static void test_port_in_use(void **state) {
    (void)state;
    srtest_nats other;
    assert_int_equal(srtest_nats_start(&other), 0);
    char dir[256];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    sr_natsup_config cfg = {.data_dir = dir, .port = other.port};
    sr_natsup *s = NULL;
    assert_int_equal(sr_natsup_start(&cfg, &s), -EADDRINUSE);
    srtest_nats_stop(&other, 0);
    srtest_rmtree(other.dir);
    srtest_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supervise),
        cmocka_unit_test(test_missing_binary),
        cmocka_unit_test(test_port_in_use),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return r;
}
