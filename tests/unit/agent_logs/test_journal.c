/* The journald source of sr_logtail over real journal files: systemd-journal-remote writes them
 * from Journal Export Format; the tailer reads them with sd-journal, and every spooled batch is
 * decoded and validated with the gateway's rules. Covers the field mapping, the auth semantics
 * of an sshd entry, files added while running, restart from the persisted cursor with no loss
 * and no duplicate, the first run at the tail, and sr_logparse_message / sr_logjournal_source.
 * A missing systemd-journal-remote fails the test. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_logtail.h"
#include "sr_logtail_journal.h"
#include "sr_logtail_pack.h"
#include "sr_spool.h"
#include "sr_telemetry.h"
#include "sr_time.h"
#include "srtest.h"
#include "srtest_logs.h"

#define MAXR 256
#define T0_US INT64_C(1700000000000000) /* 2023-11-14T22:13:20Z */

typedef struct {
    char *source, *path, *raw, *message, *program, *hostname, *user, *src_ip, *outcome, *action;
    uint32_t pid, src_port;
    int32_t severity, facility;
    int64_t time_ms;
} jrec;

typedef struct {
    char dir[256], jdir[300], state[300], spooldir[300];
    sr_spool *spool;
    sr_logtail_spool_target target;
    sr_logtail *t;
    jrec r[MAXR];
    size_t n;
    uint64_t seqs[MAXR];
    size_t nseqs;
    int files; /* journal files written */
} fx;

static const char *journal_remote(void) {
    static const char *const cands[] = {"/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

/* Writes <jdir>/tN.journal from Journal Export Format text. */
static void write_journal(fx *f, const char *export_text) {
    const char *bin = journal_remote();
    if (!bin)
        fail_msg("systemd-journal-remote is not installed (scripts/deps.sh installs systemd-journal-remote)");
    char out[400];
    snprintf(out, sizeof(out), "--output=%s/t%d.journal", f->jdir, f->files++);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[0], 0);
        close(pfd[0]);
        close(pfd[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execl(bin, bin, out, "-", (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    size_t len = strlen(export_text);
    assert_int_equal(write(pfd[1], export_text, len), (ssize_t)len);
    close(pfd[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("systemd-journal-remote %s failed (status %d)", out, status);
}

/* One entry in Journal Export Format; i orders entries (time and monotonic clock). */
static size_t entry(char *buf, size_t cap, int i, const char *ident, int pid, int prio, int fac, const char *msg) {
    int n = snprintf(buf, cap,
                     "__REALTIME_TIMESTAMP=%lld\n__MONOTONIC_TIMESTAMP=%lld\n"
                     "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\n"
                     "SYSLOG_IDENTIFIER=%s\n_PID=%d\nPRIORITY=%d\nSYSLOG_FACILITY=%d\nMESSAGE=%s\n\n",
                     (long long)(T0_US + (int64_t)i * 1000000), (long long)(1000000 + (int64_t)i * 1000000), ident, pid,
                     prio, fac, msg);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Entries "event N" for N in [from, to) from a plain daemon. */
static void write_events(fx *f, int from, int to) {
    char *buf = malloc(64 * 1024);
    assert_non_null(buf);
    size_t n = 0;
    for (int i = from; i < to; i++) {
        char msg[64];
        snprintf(msg, sizeof(msg), "event %d", i);
        n += entry(buf + n, 64 * 1024 - n, i, "demo", 300, 5, 3, msg);
    }
    write_journal(f, buf);
    free(buf);
}

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    snprintf(f->jdir, sizeof(f->jdir), "%s/journal", f->dir);
    snprintf(f->state, sizeof(f->state), "%s/logs.state", f->dir);
    snprintf(f->spooldir, sizeof(f->spooldir), "%s/spool", f->dir);
    assert_int_equal(mkdir(f->jdir, 0700), 0);
    assert_int_equal(sr_spool_open(f->spooldir, 64 << 20, &f->spool), 0);
    f->target = (sr_logtail_spool_target){.spool = f->spool, .agent_id = "agent-1", .hostname = "h",
                                          .max_bytes = 32 << 20};
    *state = f;
    return 0;
}

static void rec_free(jrec *r) {
    char **s[] = {&r->source, &r->path, &r->raw, &r->message, &r->program, &r->hostname,
                  &r->user, &r->src_ip, &r->outcome, &r->action};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        free(*s[i]);
}

static void stop(fx *f) { f->t = sr_logtail_free(f->t); }

static int teardown(void **state) {
    fx *f = *state;
    stop(f);
    sr_spool_free(f->spool);
    for (size_t i = 0; i < f->n; i++)
        rec_free(&f->r[i]);
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

static void start(fx *f, bool from_start) {
    sr_logtail_config c = {.n_files = 0, .state_path = f->state, .from_start = from_start, .flush_ms = 1000,
                           .max_batch_records = 3, .emit = sr_logtail_spool_emit, .userdata = &f->target,
                           .journal = SR_LOGTAIL_JOURNAL_ON, .journal_dir = f->jdir};
    char err[256];
    int r = sr_logtail_new(&c, &f->t, err, sizeof(err));
    if (r < 0)
        fail_msg("sr_logtail_new: %s", err);
}

static char *dup_s(const char *s) {
    char *d = strdup(s ? s : "");
    assert_non_null(d);
    return d;
}

static int collect(uint64_t seq, const uint8_t *data, size_t len, void *ud) {
    fx *f = ud;
    sr_telemetry_decoder *d = NULL;
    const sr_upload_batch *b = srtest_logs_decode(&d, seq, data, len);
    for (size_t i = 0; i < b->logs->n_records; i++) {
        const Serviceradar__Agent__V1__LogRecord *l = b->logs->records[i];
        assert_true(f->n < MAXR);
        f->r[f->n++] = (jrec){.source = dup_s(l->source), .path = dup_s(l->path), .raw = dup_s(l->raw),
                             .message = dup_s(l->message), .program = dup_s(l->program),
                             .hostname = dup_s(l->hostname), .user = dup_s(l->user), .src_ip = dup_s(l->src_ip),
                             .outcome = dup_s(l->outcome), .action = dup_s(l->action), .pid = l->pid,
                             .src_port = l->src_port, .severity = l->syslog_severity, .facility = l->facility,
                             .time_ms = l->time_unix_ms};
    }
    sr_telemetry_decoder_free(d);
    assert_true(f->nseqs < MAXR);
    f->seqs[f->nseqs++] = seq;
    return 0;
}

/* Polls (forcing flushes by time) and moves every spooled batch into f->r. */
static void pump(fx *f) {
    char err[256];
    static int64_t mono = 1000000;
    for (int i = 0; i < 3; i++) {
        (void)sr_logtail_poll(f->t, mono, sr_now_unix_ms(), err, sizeof(err));
        if (err[0])
            fail_msg("poll: %s", err);
        mono += 2000;
    }
    f->nseqs = 0;
    (void)sr_spool_peek(f->spool, 100000, SIZE_MAX, collect, f);
    for (size_t i = 0; i < f->nseqs; i++)
        assert_int_equal(sr_spool_ack(f->spool, f->seqs[i]), 0);
}

/* The messages received since index from are exactly "event a" .. "event b-1". */
static void expect_events(fx *f, size_t from, int a, int b) {
    if (f->n - from != (size_t)(b - a))
        fail_msg("expected %d records, got %zu", b - a, f->n - from);
    for (int i = a; i < b; i++) {
        char want[64];
        snprintf(want, sizeof(want), "event %d", i);
        assert_string_equal(f->r[from + (size_t)(i - a)].message, want);
        assert_string_equal(f->r[from + (size_t)(i - a)].source, "journald");
        assert_string_equal(f->r[from + (size_t)(i - a)].path, "journald");
    }
}

static void test_fields_restart_no_loss_no_duplicate(void **state) {
    fx *f = *state;
    char buf[4096];
    size_t n = entry(buf, sizeof(buf), 0, "sshd", 77, 6, 10,
                     "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2");
    n += entry(buf + n, sizeof(buf) - n, 1, "sudo", 88, 5, 10,
               "    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id");
    n += entry(buf + n, sizeof(buf) - n, 2, "demo", 300, 5, 3, "event 2");
    write_journal(f, buf);

    start(f, true);
    pump(f);
    assert_int_equal(f->n, 3);
    const jrec *r = &f->r[0];
    assert_string_equal(r->source, "auth");
    assert_string_equal(r->path, "journald");
    assert_string_equal(r->program, "sshd");
    assert_int_equal(r->pid, 77);
    assert_string_equal(r->hostname, "web1");
    assert_int_equal(r->severity, 6);
    assert_int_equal(r->facility, 10);
    assert_int_equal(r->time_ms, T0_US / 1000);
    assert_string_equal(r->message, "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2");
    assert_string_equal(r->raw, "2023-11-14T22:13:20.000+00:00 web1 sshd[77]: Failed password for invalid user "
                                "admin from 203.0.113.5 port 4242 ssh2");
    assert_string_equal(r->user, "admin");
    assert_string_equal(r->src_ip, "203.0.113.5");
    assert_int_equal(r->src_port, 4242);
    assert_string_equal(r->outcome, "failure");
    assert_string_equal(r->action, "ssh_login");
    r = &f->r[1];
    assert_string_equal(r->source, "auth");
    assert_string_equal(r->action, "sudo");
    assert_string_equal(r->outcome, "success");
    assert_string_equal(r->user, "alice");
    expect_events(f, 2, 2, 3);

    pump(f); /* nothing new */
    assert_int_equal(f->n, 3);

    /* a journal file added while reading (journald rotating, or a remote host appearing) */
    write_events(f, 3, 8);
    pump(f);
    expect_events(f, 2, 2, 8);

    /* stop, more entries, restart: resumes after the persisted cursor */
    stop(f);
    _cleanup_free_ char *st = NULL;
    size_t stlen = 0;
    assert_int_equal(sr_file_read_all(f->state, 4096, &st, &stlen), 0);
    assert_non_null(strstr(st, "\njournal s="));
    write_events(f, 8, 12);
    start(f, true); /* the cursor wins over from_start */
    pump(f);
    expect_events(f, 2, 2, 12);
    stop(f);
    start(f, true);
    pump(f);
    assert_int_equal(f->n, 12);
}

static void test_first_run_at_tail(void **state) {
    fx *f = *state;
    write_events(f, 0, 4);
    start(f, false);
    pump(f);
    assert_int_equal(f->n, 0);
    stop(f); /* a restart before any batch neither repeats nor skips */
    start(f, false);
    pump(f);
    assert_int_equal(f->n, 0);
    write_events(f, 4, 6);
    pump(f);
    expect_events(f, 0, 4, 6);
}

static void test_journal_on_fails_when_missing(void **state) {
    fx *f = *state;
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/none", f->dir);
    sr_logtail_config c = {.state_path = f->state, .flush_ms = 1000, .max_batch_records = 3,
                           .emit = sr_logtail_spool_emit, .userdata = &f->target,
                           .journal = SR_LOGTAIL_JOURNAL_ON, .journal_dir = missing};
    char err[256] = "";
    assert_true(sr_logtail_new(&c, &f->t, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "journal"));
    /* auto: the tailer starts and the first poll says why the journal is not read */
    c.journal = SR_LOGTAIL_JOURNAL_AUTO;
    assert_int_equal(sr_logtail_new(&c, &f->t, err, sizeof(err)), 0);
    (void)sr_logtail_poll(f->t, 1, sr_now_unix_ms(), err, sizeof(err));
    assert_non_null(strstr(err, "journal not read"));
    (void)sr_logtail_poll(f->t, 2, sr_now_unix_ms(), err, sizeof(err));
    assert_string_equal(err, "");
}

static void test_source_rule(void **state) {
    (void)state;
    assert_string_equal(sr_logjournal_source("sshd", 3), "auth");
    assert_string_equal(sr_logjournal_source("/usr/sbin/sshd", -1), "auth");
    assert_string_equal(sr_logjournal_source("systemd-logind", 3), "auth");
    assert_string_equal(sr_logjournal_source("cron", 10), "auth");
    assert_string_equal(sr_logjournal_source("cron", 4), "auth");
    assert_string_equal(sr_logjournal_source("cron", 9), "journald");
    assert_string_equal(sr_logjournal_source("", -1), "journald");
    assert_true(sr_logjournal_supported());
}

static void test_logparse_message(void **state) {
    (void)state;
    sr_logparse *p = NULL;
    assert_int_equal(sr_logparse_new(NULL, &p), 0);
    sr_logparse_record *rec = malloc(sizeof(*rec)), *back = malloc(sizeof(*back));
    assert_non_null(rec);
    assert_non_null(back);
    sr_logparse_header h = {.time_unix_ms = 1700000000123, .has_time = true, .hostname = "db\xff", .program = "su(pam_unix)",
                            .pid = 9, .severity = 5, .facility = 99};
    const char *m = "session opened for user root by alice(uid=1000)\n";
    sr_logparse_message(p, &h, m, strlen(m), 1, rec);
    assert_string_equal(rec->hostname, "db\xef\xbf\xbd");
    assert_string_equal(rec->program, "su");
    assert_string_equal(sr_logparse_field_get(rec, "pam.module"), "pam_unix");
    assert_string_equal(rec->message, "session opened for user root by alice(uid=1000)");
    assert_string_equal(rec->action, "pam_session");
    assert_string_equal(rec->user, "root");
    assert_int_equal(rec->facility, -1);
    assert_int_equal(rec->severity, 5);
    assert_int_equal(rec->time_unix_ms, 1700000000123);
    /* raw parses back to the same header */
    sr_logparse_line(p, rec->raw, rec->raw_len, 1, back);
    assert_int_equal(back->time_unix_ms, 1700000000123);
    assert_string_equal(back->hostname, rec->hostname);
    assert_string_equal(back->program, "su");
    assert_int_equal(back->pid, 9);
    assert_string_equal(back->message, rec->message);

    /* an oversized message: message and raw bounded, marked */
    size_t big = 3 * SR_LOGPARSE_RAW_MAX;
    char *long_msg = malloc(big);
    assert_non_null(long_msg);
    memset(long_msg, 'x', big);
    h = (sr_logparse_header){.program = "demo", .severity = -1, .facility = -1};
    sr_logparse_message(p, &h, long_msg, big, 1700000000000, rec);
    assert_int_equal(strlen(rec->message), SR_LOGPARSE_RAW_MAX);
    assert_true(rec->raw_len <= SR_LOGPARSE_RAW_MAX);
    assert_int_equal(strlen(rec->raw), rec->raw_len);
    assert_string_equal(sr_logparse_field_get(rec, "log.truncated"), "true");
    assert_false(rec->has_time);
    assert_int_equal(rec->time_unix_ms, 1700000000000);
    free(long_msg);
    free(rec);
    free(back);
    sr_logparse_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields_restart_no_loss_no_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_run_at_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_on_fails_when_missing, setup, teardown),
        cmocka_unit_test(test_source_rule),
        cmocka_unit_test(test_logparse_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
