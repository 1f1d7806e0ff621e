/* Unit tests: monotonic deadlines and condition variables (sr_time). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sr_time.h"

static int64_t ts_ms(struct timespec ts) { return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000; }

static void assert_normalised(struct timespec ts) {
    assert_true(ts.tv_nsec >= 0);
    assert_true(ts.tv_nsec < 1000000000L);
}

static void test_deadline(void **state) {
    (void)state;
    static const int64_t ms[] = {0, 1, 999, 1000, 1001, 1999, 2500, 86400000};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        int64_t before = sr_mono_ms();
        struct timespec d = sr_mono_deadline_ts(ms[i]);
        int64_t after = sr_mono_ms();
        assert_normalised(d);
        assert_true(ts_ms(d) >= before + ms[i]);
        assert_true(ts_ms(d) <= after + ms[i] + 1);
    }
}

static void test_deadline_nonpositive(void **state) {
    (void)state;
    int64_t before = sr_mono_ms();
    struct timespec d = sr_mono_deadline_ts(-1500);
    assert_normalised(d);
    assert_true(ts_ms(d) >= before);
    assert_true(ts_ms(d) <= sr_mono_ms() + 1);
}

/* Many calls: the carry into tv_sec is right whatever the current nanoseconds are. */
static void test_deadline_carry(void **state) {
    (void)state;
    for (int i = 0; i < 20000; i++) {
        struct timespec d = sr_mono_deadline_ts(999);
        assert_normalised(d);
    }
}

static void test_cond_timedwait(void **state) {
    (void)state;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    assert_int_equal(sr_mono_cond_init(&c), 0);
    int64_t t0 = sr_mono_ms();
    struct timespec d = sr_mono_deadline_ts(50);
    pthread_mutex_lock(&m);
    int e;
    do
        e = pthread_cond_timedwait(&c, &m, &d);
    while (e == 0);
    pthread_mutex_unlock(&m);
    assert_int_equal(e, ETIMEDOUT);
    assert_true(sr_mono_ms() - t0 >= 49); /* the wait used the monotonic clock */
    pthread_cond_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline),       cmocka_unit_test(test_deadline_nonpositive),
        cmocka_unit_test(test_deadline_carry), cmocka_unit_test(test_cond_timedwait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
