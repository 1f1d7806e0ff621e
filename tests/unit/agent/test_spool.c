/* sr_spool: order, durability across reopen, acknowledgement, the size cap, torn and
 * corrupt data, and one appending thread against one draining thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_crc32c.h"
#include "sr_spool.h"
#include "sr_time.h"
#include "srtest.h"

typedef struct {
    char dir[256];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

static char *spool_dir(fixture *f) {
    static char buf[300]; /* test-only scratch */
    snprintf(buf, sizeof(buf), "%s/spool", f->dir);
    return buf;
}

typedef struct {
    uint64_t seqs[4096];
    char data[4096][64];
    size_t n;
} visit_log;

static int record_visit(uint64_t seq, const uint8_t *data, size_t len, void *ud) {
    visit_log *v = ud;
    if (v->n < 4096) {
        v->seqs[v->n] = seq;
        size_t c = len < 63 ? len : 63;
        memcpy(v->data[v->n], data, c);
        v->data[v->n][c] = '\0';
        v->n++;
    }
    return 0;
}

static void append_str(sr_spool *s, const char *str, uint64_t *ret_seq) {
    uint64_t seq;
    assert_int_equal(sr_spool_next_seq(s, &seq), 0);
    assert_int_equal(sr_spool_append(s, seq, (const uint8_t *)str, strlen(str)), 0);
    if (ret_seq)
        *ret_seq = seq;
}

/* Sorted segment file paths. */
static size_t list_segments(const char *dir, char paths[][512], size_t max) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0)
            snprintf(paths[n++], 512, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(paths, n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static off_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void test_crc32c(void **state) {
    (void)state;
    assert_int_equal(sr_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(sr_crc32c(sr_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_order_and_ack(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_int_not_equal(sr_spool_epoch(s), 0);
    uint64_t a, b, c;
    append_str(s, "one", &a);
    append_str(s, "two", &b);
    append_str(s, "three", &c);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    assert_int_equal(c, 3);

    visit_log *v = calloc(1, sizeof(*v));
    assert_int_equal(sr_spool_peek(s, 10, 1 << 20, record_visit, v), 3);
    assert_int_equal(v->seqs[0], 1);
    assert_string_equal(v->data[0], "one");
    assert_string_equal(v->data[2], "three");

    /* max_records and max_bytes bound a peek; the first record always comes */
    v->n = 0;
    assert_int_equal(sr_spool_peek(s, 2, 1 << 20, record_visit, v), 2);
    v->n = 0;
    assert_int_equal(sr_spool_peek(s, 10, 1, record_visit, v), 1);

    assert_int_equal(sr_spool_ack(s, 1), 0);
    assert_int_equal(sr_spool_ack(s, 1), 0);   /* again: fine */
    assert_int_equal(sr_spool_ack(s, 999), 0); /* unknown: fine */
    v->n = 0;
    assert_int_equal(sr_spool_peek(s, 10, 1 << 20, record_visit, v), 2);
    assert_int_equal(v->seqs[0], 2);

    /* out of order: 3 first, then 2 */
    assert_int_equal(sr_spool_ack(s, 3), 0);
    v->n = 0;
    assert_int_equal(sr_spool_peek(s, 10, 1 << 20, record_visit, v), 1);
    assert_int_equal(v->seqs[0], 2);
    assert_int_equal(sr_spool_ack(s, 2), 0);
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.next_seq, 4);
    assert_int_equal(sr_spool_wait(s, 0), 0);

    /* seqs must increase; oversized records are refused */
    assert_int_equal(sr_spool_append(s, 3, (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(sr_spool_append(s, 0, (const uint8_t *)"x", 1), -EINVAL);
    uint8_t *big = calloc(1, 2 << 20);
    assert_int_equal(sr_spool_append(s, 10, big, 2 << 20), -EMSGSIZE);
    free(big);
    free(v);
    s = sr_spool_free(s);
    assert_null(s);
    assert_null(sr_spool_free(NULL));
}

static void test_restart(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    uint64_t epoch = sr_spool_epoch(s);
    for (int i = 0; i < 5; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "r%d", i + 1);
        append_str(s, buf, NULL);
    }
    assert_int_equal(sr_spool_ack(s, 1), 0);
    assert_int_equal(sr_spool_ack(s, 2), 0);
    assert_int_equal(sr_spool_ack(s, 4), 0); /* out of order: not durable, resent after restart */
    uint64_t handed;
    assert_int_equal(sr_spool_next_seq(s, &handed), 0); /* handed out, never appended */
    assert_int_equal(handed, 6);
    sr_spool_free(s);

    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_true(sr_spool_epoch(s) == epoch);
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.next_seq, 7);
    visit_log *v = calloc(1, sizeof(*v));
    assert_int_equal(sr_spool_peek(s, 10, 1 << 20, record_visit, v), 3);
    assert_int_equal(v->seqs[0], 3);
    assert_string_equal(v->data[0], "r3");
    assert_int_equal(v->seqs[1], 4);
    assert_int_equal(v->seqs[2], 5);
    assert_int_equal(sr_spool_wait(s, 0), 1);
    uint64_t seq;
    assert_int_equal(sr_spool_next_seq(s, &seq), 0);
    assert_int_equal(seq, 7);
    for (uint64_t q = 3; q <= 5; q++)
        assert_int_equal(sr_spool_ack(s, q), 0);
    sr_spool_free(s);

    /* everything acknowledged: nothing comes back, seqs go on */
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_true(sr_spool_epoch(s) == epoch);
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.next_seq, 8);
    free(v);
    sr_spool_free(s);
}

static void test_cap_drops_oldest(void **state) {
    fixture *f = *state;
    const uint64_t max = 64 * 1024;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), max, &s), 0);
    uint8_t rec[1000];
    const int n = 300;
    for (int i = 0; i < n; i++) {
        memset(rec, 'a' + i % 26, sizeof(rec));
        uint64_t seq;
        assert_int_equal(sr_spool_next_seq(s, &seq), 0);
        assert_int_equal(sr_spool_append(s, seq, rec, sizeof(rec)), 0);
        sr_spool_stats st;
        sr_spool_get_stats(s, &st);
        assert_true(st.bytes <= max);
    }
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_true(st.dropped_records > 0);
    assert_int_equal(st.records + st.dropped_records, n);
    assert_int_equal(st.dropped_bytes, st.dropped_records * (16 + sizeof(rec)));
    visit_log *v = calloc(1, sizeof(*v));
    assert_int_equal(sr_spool_peek(s, 4096, SIZE_MAX, record_visit, v), (int)st.records);
    /* the newest survive, in order, without gaps */
    assert_int_equal(v->seqs[v->n - 1], n);
    for (size_t i = 1; i < v->n; i++)
        assert_int_equal(v->seqs[i], v->seqs[i - 1] + 1);
    free(v);
    sr_spool_free(s);

    /* reopening with a smaller cap drops more */
    assert_int_equal(sr_spool_open(spool_dir(f), 16 * 1024, &s), 0);
    sr_spool_get_stats(s, &st);
    assert_true(st.bytes <= 16 * 1024);
    assert_true(st.records > 0);
    sr_spool_free(s);
}

static void test_torn_tail(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    append_str(s, "alpha", NULL);
    append_str(s, "beta", NULL);
    append_str(s, "gamma", NULL);
    sr_spool_free(s);

    char (*segs)[512] = calloc(16, 512);
    assert_int_equal(list_segments(spool_dir(f), segs, 16), 1);
    off_t good = file_size(segs[0]);
    /* a record header promising 100 bytes, followed by only 7 */
    int fd = open(segs[0], O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t torn[16 + 7] = {100, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0, 'p', 'a', 'r', 't', 'i', 'a', 'l'};
    assert_int_equal(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
    close(fd);

    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_int_equal(file_size(segs[0]), good);
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.next_seq, 4);
    append_str(s, "delta", NULL);
    sr_spool_free(s);

    /* a few stray bytes (shorter than a header) are cut too, and the new record stays */
    fd = open(segs[0], O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "xyz", 3), 3);
    close(fd);
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    visit_log *v = calloc(1, sizeof(*v));
    assert_int_equal(sr_spool_peek(s, 10, 1 << 20, record_visit, v), 4);
    assert_string_equal(v->data[3], "delta");
    free(v);
    free(segs);
    sr_spool_free(s);
}

static void flip_byte(const char *path, off_t off) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* With a 64 KiB cap a segment holds 8 KiB: 1000-byte records make several segments. */
static void fill(sr_spool *s, int n) {
    uint8_t rec[1000];
    for (int i = 0; i < n; i++) {
        memset(rec, 'a' + i % 26, sizeof(rec));
        uint64_t seq;
        assert_int_equal(sr_spool_next_seq(s, &seq), 0);
        assert_int_equal(sr_spool_append(s, seq, rec, sizeof(rec)), 0);
    }
}

static void test_corrupt_middle_at_open(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 64 * 1024, &s), 0);
    fill(s, 20);
    sr_spool_free(s);
    char (*segs)[512] = calloc(16, 512);
    size_t nseg = list_segments(spool_dir(f), segs, 16);
    assert_true(nseg >= 3);
    /* data of the 2nd record of the first segment: header 16, record 1016, header 16 */
    flip_byte(segs[0], 16 + 1016 + 16 + 500);
    off_t first_size = file_size(segs[0]);

    assert_int_equal(sr_spool_open(spool_dir(f), 64 * 1024, &s), 0);
    assert_int_equal(file_size(segs[0]), first_size); /* not the tail: left alone */
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.dropped_records, 1);
    int per_seg = (8 * 1024 - 16) / 1016;
    assert_int_equal(st.records, 20 - (per_seg - 1));
    visit_log *v = calloc(1, sizeof(*v));
    assert_int_equal(sr_spool_peek(s, 100, SIZE_MAX, record_visit, v), (int)st.records);
    assert_int_equal(v->seqs[0], 1);
    assert_int_equal(v->seqs[1], (uint64_t)per_seg + 1);
    /* acknowledging everything reclaims the damaged segment */
    for (size_t i = 0; i < v->n; i++)
        assert_int_equal(sr_spool_ack(s, v->seqs[i]), 0);
    free(v);
    sr_spool_free(s);
    assert_true(access(segs[0], F_OK) < 0);
    free(segs);
}

static void test_corrupt_while_running(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 64 * 1024, &s), 0);
    fill(s, 20);
    char (*segs)[512] = calloc(16, 512);
    size_t nseg = list_segments(spool_dir(f), segs, 16);
    assert_true(nseg >= 3);
    flip_byte(segs[0], 16 + 1016 + 16 + 3);           /* 2nd record of the first segment */
    flip_byte(segs[nseg - 1], 16 + 8);                 /* seq of the active segment's first record */
    visit_log *v = calloc(1, sizeof(*v));
    int visited = sr_spool_peek(s, 100, SIZE_MAX, record_visit, v);
    assert_true(visited > 0);
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_true(st.dropped_records >= 2);
    assert_int_equal(st.records, (uint64_t)visited);
    for (size_t i = 1; i < v->n; i++)
        assert_true(v->seqs[i] > v->seqs[i - 1]);
    /* appending after corruption in the active segment goes to a fresh segment */
    fill(s, 1);
    sr_spool_get_stats(s, &st);
    uint64_t records = st.records;
    sr_spool_free(s);
    assert_int_equal(sr_spool_open(spool_dir(f), 64 * 1024, &s), 0);
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, records);
    free(v);
    free(segs);
    sr_spool_free(s);
}

static void test_lost_meta(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    uint64_t epoch = sr_spool_epoch(s);
    append_str(s, "kept", NULL);
    append_str(s, "kept too", NULL);
    sr_spool_free(s);
    char meta[512];
    snprintf(meta, sizeof(meta), "%s/meta", spool_dir(f));
    flip_byte(meta, 20);
    flip_byte(meta, 64 + 20);
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_true(sr_spool_epoch(s) != epoch); /* a new epoch: seqs may not collide with the old */
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.next_seq, 3);
    sr_spool_free(s);
}

static void test_wait_wakeup(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 1 << 20, &s), 0);
    assert_int_equal(sr_spool_wait(s, 0), 0);
    assert_int_equal(sr_spool_wait(s, 20), 0);
    sr_spool_wakeup(s);
    int64_t t0 = sr_mono_ms();
    assert_int_equal(sr_spool_wait(s, 60000), 0); /* returns at once: the wakeup is kept */
    assert_true(sr_mono_ms() - t0 < 30000);
    append_str(s, "x", NULL);
    assert_int_equal(sr_spool_wait(s, -1), 1);
    sr_spool_free(s);
}

typedef struct {
    sr_spool *s;
    int n;
    int rc;
} producer_arg;

static void *producer(void *p) {
    producer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        uint64_t seq;
        char buf[64];
        if (sr_spool_next_seq(a->s, &seq) < 0) {
            a->rc = -1;
            break;
        }
        int len = snprintf(buf, sizeof(buf), "payload-%llu", (unsigned long long)seq);
        if (sr_spool_append(a->s, seq, (const uint8_t *)buf, (size_t)len) < 0) {
            a->rc = -2;
            break;
        }
    }
    return NULL;
}

typedef struct {
    uint64_t last;
    int bad;
    uint64_t seen[64];
    size_t n;
} drain_state;

static int drain_visit(uint64_t seq, const uint8_t *data, size_t len, void *ud) {
    drain_state *d = ud;
    char want[64];
    int wl = snprintf(want, sizeof(want), "payload-%llu", (unsigned long long)seq);
    if (seq <= d->last || (size_t)wl != len || memcmp(want, data, len) != 0)
        d->bad++;
    d->last = seq;
    if (d->n < 64)
        d->seen[d->n++] = seq;
    return 0;
}

static void test_concurrent(void **state) {
    fixture *f = *state;
    sr_spool *s = NULL;
    assert_int_equal(sr_spool_open(spool_dir(f), 8 << 20, &s), 0);
    producer_arg pa = {s, 400, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer, &pa), 0);
    drain_state d = {0};
    uint64_t acked = 0;
    int64_t deadline = sr_mono_ms() + 60000;
    while (acked < 400 && sr_mono_ms() < deadline) {
        if (sr_spool_wait(s, 1000) != 1)
            continue;
        d.n = 0;
        int r = sr_spool_peek(s, 16, 1 << 20, drain_visit, &d);
        assert_true(r >= 0);
        for (size_t i = 0; i < d.n; i++)
            assert_int_equal(sr_spool_ack(s, d.seen[i]), 0);
        acked += d.n;
    }
    pthread_join(th, NULL);
    assert_int_equal(pa.rc, 0);
    assert_int_equal(d.bad, 0);
    assert_int_equal(acked, 400);
    sr_spool_stats st;
    sr_spool_get_stats(s, &st);
    assert_int_equal(st.records, 0);
    sr_spool_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_order_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
