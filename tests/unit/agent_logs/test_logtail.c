/* sr_logtail in temporary directories: appends, partial lines, rename rotation, copytruncate,
 * restart from the offsets file with no loss and no duplicate, an oversized line, and
 * back-pressure from a full spool. Every spooled batch is decoded and validated with the
 * gateway's rules (sr_telemetry_decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_logtail.h"
#include "sr_logtail_pack.h"
#include "sr_spool.h"
#include "sr_telemetry.h"
#include "sr_time.h"
#include "srtest.h"
#include "srtest_logs.h"

#define MAXL 4096

typedef struct {
    char dir[256], log[300], state[300], spooldir[300];
    sr_spool *spool;
    sr_logtail_spool_target target;
    sr_logtail *t;
    /* lines seen in spooled batches, in order */
    char *lines[MAXL];
    uint64_t offsets[MAXL];
    size_t n;
    uint64_t seqs[MAXL];
    size_t nseqs;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    snprintf(f->log, sizeof(f->log), "%s/auth.log", f->dir);
    snprintf(f->state, sizeof(f->state), "%s/logs.state", f->dir);
    snprintf(f->spooldir, sizeof(f->spooldir), "%s/spool", f->dir);
    assert_int_equal(sr_spool_open(f->spooldir, 64 << 20, &f->spool), 0);
    f->target = (sr_logtail_spool_target){.spool = f->spool, .agent_id = "agent-1", .hostname = "h",
                                          .max_bytes = 32 << 20};
    *state = f;
    return 0;
}

static void stop(fx *f) { f->t = sr_logtail_free(f->t); }

static int teardown(void **state) {
    fx *f = *state;
    stop(f);
    sr_spool_free(f->spool);
    for (size_t i = 0; i < f->n; i++)
        free(f->lines[i]);
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

static void start(fx *f, bool from_start, size_t max_records) {
    sr_logtail_file files[] = {{f->log, "auth"}};
    sr_logtail_config c = {.files = files, .n_files = 1, .state_path = f->state, .from_start = from_start,
                           .flush_ms = 1000, .max_batch_records = max_records, .emit = sr_logtail_spool_emit,
                           .userdata = &f->target};
    char err[256];
    int r = sr_logtail_new(&c, &f->t, err, sizeof(err));
    if (r < 0)
        fail_msg("sr_logtail_new: %s", err);
}

static void append(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int collect(uint64_t seq, const uint8_t *data, size_t len, void *ud) {
    fx *f = ud;
    sr_telemetry_decoder *d = NULL;
    const sr_upload_batch *b = srtest_logs_decode(&d, seq, data, len);
    for (size_t i = 0; i < b->logs->n_records; i++) {
        assert_true(f->n < MAXL);
        assert_string_equal(b->logs->records[i]->source, "auth");
        f->offsets[f->n] = b->logs->records[i]->offset;
        f->lines[f->n++] = strdup(b->logs->records[i]->raw);
    }
    sr_telemetry_decoder_free(d);
    assert_true(f->nseqs < MAXL);
    f->seqs[f->nseqs++] = seq;
    return 0;
}

/* Polls (forcing flushes by time) and moves every spooled batch into f->lines. */
static void pump(fx *f) {
    char err[256];
    static int64_t mono = 1000000; /* test clock, monotonic across calls */
    for (int i = 0; i < 3; i++) {
        (void)sr_logtail_poll(f->t, mono, sr_now_unix_ms(), err, sizeof(err));
        mono += 2000;
    }
    f->nseqs = 0;
    (void)sr_spool_peek(f->spool, 100000, SIZE_MAX, collect, f);
    for (size_t i = 0; i < f->nseqs; i++)
        assert_int_equal(sr_spool_ack(f->spool, f->seqs[i]), 0);
}

static void expect_lines(fx *f, const char *const *want, size_t n) {
    if (f->n != n) {
        for (size_t i = 0; i < f->n; i++)
            fprintf(stderr, "got[%zu] %s\n", i, f->lines[i]);
        fail_msg("%zu lines, expected %zu", f->n, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f->lines[i], want[i]);
}

static void test_append_and_partial(void **state) {
    fx *f = *state;
    append(f->log, "old line before the first start\n");
    start(f, false, 100); /* first run: starts at the end */
    pump(f);
    assert_int_equal(f->n, 0);
    append(f->log, "Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\nsecond ");
    pump(f);
    const char *w1[] = {"Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2"};
    expect_lines(f, w1, 1);
    assert_int_equal(f->offsets[0], 32);
    append(f->log, "half\r\n");
    pump(f);
    const char *w2[] = {w1[0], "second half"};
    expect_lines(f, w2, 2);
}

static void test_first_run_skips_fragment_and_new_files_from_start(void **state) {
    fx *f = *state;
    append(f->log, "complete\nunfinished");
    start(f, false, 100);
    pump(f);
    append(f->log, " rest\nnext\n");
    pump(f);
    const char *w[] = {"next"};
    expect_lines(f, w, 1);
    /* a file that appears while running is read from its beginning */
    stop(f);
    unlink(f->log);
    start(f, false, 100);
    pump(f);
    append(f->log, "a\nb\n");
    pump(f);
    const char *w2[] = {"next", "a", "b"};
    expect_lines(f, w2, 3);
}

static void test_rename_rotation(void **state) {
    fx *f = *state;
    start(f, true, 100);
    append(f->log, "one\n");
    pump(f);
    char rotated[400];
    snprintf(rotated, sizeof(rotated), "%s.1", f->log);
    assert_int_equal(rename(f->log, rotated), 0);
    append(rotated, "two (late write to the old file)\nthree-unterminated");
    append(f->log, "four\n");
    pump(f);
    pump(f);
    const char *w[] = {"one", "two (late write to the old file)", "three-unterminated", "four"};
    expect_lines(f, w, 4);
}

static void test_copytruncate(void **state) {
    fx *f = *state;
    start(f, true, 100);
    append(f->log, "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbb\n");
    pump(f);
    assert_int_equal(truncate(f->log, 0), 0);
    append(f->log, "c\n");
    pump(f);
    const char *w[] = {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbb", "c"};
    expect_lines(f, w, 3);
}

static void test_restart_no_loss_no_duplicate(void **state) {
    fx *f = *state;
    start(f, true, 2);
    append(f->log, "l1\nl2\nl3\nl4\nl5");
    pump(f);
    stop(f); /* l5 unfinished: not emitted, its offset not passed */
    append(f->log, "\nl6\n");
    start(f, false, 2);
    pump(f);
    const char *w[] = {"l1", "l2", "l3", "l4", "l5", "l6"};
    expect_lines(f, w, 6);
    /* rotated while stopped: the rest of the old inode, then the new file */
    stop(f);
    append(f->log, "l7\n");
    char rotated[400];
    snprintf(rotated, sizeof(rotated), "%s.1", f->log);
    assert_int_equal(rename(f->log, rotated), 0);
    append(f->log, "l8\n");
    start(f, false, 2);
    pump(f);
    pump(f);
    const char *w2[] = {"l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"};
    expect_lines(f, w2, 8);
    /* a corrupt offsets file is an error that names it, not a silent restart */
    stop(f);
    append(f->state, "garbage\n");
    sr_logtail_file files[] = {{f->log, "auth"}};
    sr_logtail_config c = {.files = files, .n_files = 1, .state_path = f->state, .flush_ms = 1000,
                           .max_batch_records = 2, .emit = sr_logtail_spool_emit, .userdata = &f->target};
    char err[256];
    assert_int_equal(sr_logtail_new(&c, &f->t, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, f->state));
}

static void test_oversized_line(void **state) {
    fx *f = *state;
    start(f, true, 100);
    size_t n = 3 * SR_LOGPARSE_RAW_MAX + 17;
    char *big = malloc(n + 2);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\n';
    big[n + 1] = '\0';
    append(f->log, big);
    append(f->log, "after\n");
    pump(f);
    assert_int_equal(f->n, 2);
    assert_int_equal(strlen(f->lines[0]), SR_LOGPARSE_RAW_MAX);
    assert_string_equal(f->lines[1], "after");
    assert_int_equal(f->offsets[1], n + 1);
    free(big);
    sr_logtail_stats st;
    sr_logtail_get_stats(f->t, &st);
    assert_int_equal(st.cut_lines, 1);
}

static void test_backpressure(void **state) {
    fx *f = *state;
    f->target.max_bytes = 1; /* the spool counts as full for logs */
    start(f, true, 100);
    append(f->log, "p1\np2\n");
    pump(f);
    assert_int_equal(f->n, 0);
    assert_int_equal(f->target.last_err, -ENOSPC);
    /* nothing is lost across a restart while blocked: the offsets did not move */
    stop(f);
    start(f, false, 100);
    append(f->log, "p3\n");
    pump(f);
    assert_int_equal(f->n, 0);
    f->target.max_bytes = 32 << 20; /* room again */
    pump(f);
    const char *w[] = {"p1", "p2", "p3"};
    expect_lines(f, w, 3);
}

static void test_parse_files(void **state) {
    (void)state;
    sr_logtail_file v[4];
    char err[256];
    char a[] = " /var/log/auth.log , /var/log/secure,/var/log/app.log=auth ,/var/log/messages";
    assert_int_equal(sr_logtail_parse_files(a, v, 4, err, sizeof(err)), 4);
    assert_string_equal(v[0].source, "auth");
    assert_string_equal(v[1].source, "auth");
    assert_string_equal(v[2].path, "/var/log/app.log");
    assert_string_equal(v[2].source, "auth");
    assert_string_equal(v[3].source, "syslog");
    char b[] = "relative.log";
    assert_int_equal(sr_logtail_parse_files(b, v, 4, err, sizeof(err)), -EINVAL);
    char c[] = "/x=journald";
    assert_int_equal(sr_logtail_parse_files(c, v, 4, err, sizeof(err)), -EINVAL);
    char d[] = "/a,/a";
    assert_int_equal(sr_logtail_parse_files(d, v, 4, err, sizeof(err)), -EINVAL);
    char e[] = "/a,/b,/c,/d,/e";
    assert_int_equal(sr_logtail_parse_files(e, v, 4, err, sizeof(err)), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_run_skips_fragment_and_new_files_from_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_no_loss_no_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test(test_parse_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
