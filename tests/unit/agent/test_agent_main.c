/* The serviceradar-agent executable: --once against /proc, --check-config, the generated sample
 * file, and the daemon filling its spool on schedule and stopping cleanly on SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_file.h"
#include "sr_parse.h"
#include "sr_spool.h"
#include "sr_time.h"
#include "srtest.h"

#if !defined(SR_AGENT_BIN) || !defined(SR_GENCERTS) || !defined(SR_SOURCE_DIR)
#error "SR_AGENT_BIN, SR_GENCERTS and SR_SOURCE_DIR must be defined"
#endif

typedef struct {
    char dir[256];
    char conf[320];
} fixture;

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    snprintf(f->conf, sizeof(f->conf), "%s/agent.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

/* Runs a command line, returns its exit status and (malloc'ed) stdout. */
static int run_capture(const char *cmd, char **out) {
    FILE *p = popen(cmd, "re");
    assert_non_null(p);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - 1 - len, p)) > 0)
        len += n;
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint64_t meminfo_total_bytes(void) {
    char *buf = NULL;
    size_t len;
    assert_int_equal(sr_file_read_all("/proc/meminfo", 1 << 20, &buf, &len), 0);
    char *p = strstr(buf, "MemTotal:");
    assert_non_null(p);
    p += strlen("MemTotal:");
    while (*p == ' ')
        p++;
    char num[32];
    size_t i = 0;
    while (p[i] >= '0' && p[i] <= '9' && i < sizeof(num) - 1) {
        num[i] = p[i];
        i++;
    }
    num[i] = '\0';
    uint64_t kb;
    assert_int_equal(sr_parse_u64(num, &kb), 0);
    free(buf);
    return kb * 1024;
}

static void test_once(void **state) {
    fixture *f = *state;
    write_text(f->conf, "proc_root = /proc\nmetrics.per_cpu = false\n");
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' --once -c '%s'", SR_AGENT_BIN, f->conf);
    assert_int_equal(run_capture(cmd, &out), 0);
    char want[128];
    snprintf(want, sizeof(want), "{\"name\":\"mem.total_bytes\",\"dim\":\"\",\"value\":%llu,",
             (unsigned long long)meminfo_total_bytes());
    if (!strstr(out, want))
        fail_msg("no \"%s\" in:\n%s", want, out);
    assert_non_null(strstr(out, "{\"name\":\"cpu.usage_pct\",\"dim\":\"total\""));
    assert_null(strstr(out, "\"dim\":\"cpu0\""));
    assert_non_null(strstr(out, "{\"name\":\"load.1\""));
    /* every line is one JSON object */
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(line[0] == '{' && nl[-1] == '}');
        line = nl + 1;
    }
    free(out);
}

static void test_check_config(void **state) {
    fixture *f = *state;
    char cmd[1024], *out = NULL;
    write_text(f->conf, "interval = 30s\n");
    snprintf(cmd, sizeof(cmd), "'%s' --check-config -c '%s' 2>&1", SR_AGENT_BIN, f->conf);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "interval = 30000ms"));
    assert_non_null(strstr(out, "configuration ok"));
    free(out);

    write_text(f->conf, "# ok\ninterval = 2h\n");
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "agent.conf:2"));
    assert_non_null(strstr(out, "interval"));
    free(out);

    write_text(f->conf, "gateway.address = nowhere\n");
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "gateway.address"));
    free(out);

    snprintf(cmd, sizeof(cmd), "'%s' --check-config -c '%s/missing.conf' 2>&1", SR_AGENT_BIN, f->dir);
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "could not read config file"));
    free(out);

    snprintf(cmd, sizeof(cmd), "'%s' --version", SR_AGENT_BIN);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "serviceradar-agent " SR_VERSION));
    free(out);
}

static void test_sample_file_is_generated(void **state) {
    (void)state;
    char cmd[1024], *out = NULL, *want = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' --print-default-config", SR_AGENT_BIN);
    assert_int_equal(run_capture(cmd, &out), 0);
    size_t len;
    assert_int_equal(sr_file_read_all(SR_SOURCE_DIR "/deploy/agent/serviceradar-agent.conf.example", 1 << 20, &want,
                                      &len),
                     0);
    if (strcmp(out, want) != 0)
        fail_msg("deploy/agent/serviceradar-agent.conf.example is stale: regenerate it with "
                 "`serviceradar-agent --print-default-config`");
    free(out);
    free(want);
}

typedef struct {
    uint64_t epoch;
    const char *agent_id;
    uint64_t last_seq;
    int batches, bad;
    int has_mem;
} spool_check;

static int check_batch(uint64_t seq, const uint8_t *data, size_t len, void *ud) {
    spool_check *c = ud;
    Serviceradar__Agent__V1__UploadBatch *b = serviceradar__agent__v1__upload_batch__unpack(NULL, len, data);
    if (!b) {
        c->bad++;
        return 0;
    }
    if (b->seq != seq || seq <= c->last_seq || b->epoch != c->epoch || strcmp(b->agent_id, c->agent_id) != 0 ||
        b->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS ||
        strcmp(b->metrics->hostname, "test-host") != 0)
        c->bad++;
    for (size_t i = 0; i < b->metrics->n_points; i++)
        if (strcmp(b->metrics->points[i]->name, "mem.total_bytes") == 0)
            c->has_mem++;
    c->last_seq = seq;
    c->batches++;
    serviceradar__agent__v1__upload_batch__free_unpacked(b, NULL);
    return 0;
}

static void test_daemon_spools_and_stops(void **state) {
    fixture *f = *state;
    char cmd[1024], conf[2048], log[400], spool[400];
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s/certs' agent-1 >/dev/null", SR_GENCERTS, f->dir);
    assert_int_equal(system(cmd), 0);
    int port = srtest_free_port();
    assert_true(port > 0);
    snprintf(conf, sizeof(conf),
             "gateway.address = 127.0.0.1:%d\n"
             "tls.ca_file = %s/certs/ca.crt\n"
             "tls.cert_file = %s/certs/agent-1.crt\n"
             "tls.key_file = %s/certs/agent-1.key\n"
             "data_dir = %s/data\n"
             "interval = 1s\n"
             "hostname = test-host\n"
             "log_level = debug\n",
             port, f->dir, f->dir, f->dir, f->dir);
    write_text(f->conf, conf);
    snprintf(log, sizeof(log), "%s/agent.log", f->dir);
    snprintf(spool, sizeof(spool), "%s/data/spool", f->dir);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execl(SR_AGENT_BIN, SR_AGENT_BIN, "-c", f->conf, (char *)NULL);
        _exit(127);
    }
    /* the first batch is collected at start, the next ones every second */
    int64_t deadline = sr_mono_ms() + 20000;
    int seen = 0;
    while (!seen && sr_mono_ms() < deadline) {
        char *text = NULL;
        size_t len;
        if (sr_file_read_all(log, 1 << 20, &text, &len) == 0) {
            seen = strstr(text, "spooled batch 3:") != NULL;
            free(text);
        }
        if (!seen)
            sr_sleep_ms(50); /* polling a file with a deadline */
    }
    assert_true(seen);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    deadline = sr_mono_ms() + 20000;
    pid_t w = 0;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && sr_mono_ms() < deadline)
        sr_sleep_ms(20);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("agent did not stop within 20 s of SIGTERM");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool, 1 << 30, &s), 0);
    spool_check c = {.epoch = sr_spool_epoch(s), .agent_id = "agent-1"};
    int n = sr_spool_peek(s, 1000, SIZE_MAX, check_batch, &c);
    assert_true(n >= 3);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.has_mem, c.batches);
    sr_spool_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
        cmocka_unit_test(test_sample_file_is_generated),
        cmocka_unit_test_setup_teardown(test_daemon_spools_and_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
