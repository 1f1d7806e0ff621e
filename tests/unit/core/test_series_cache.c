/* The series id cache: (agent_id, name, dim) -> metric_series.id. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sr_series_cache.h"

static void test_get_put(void **state) {
    (void)state;
    sr_series_cache *c = NULL;
    assert_int_equal(sr_series_cache_new(1000, &c), 0);
    int64_t id = -1;
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cpu", "total", &id), 0);
    assert_int_equal(id, -1); /* not written on a miss */
    assert_int_equal(sr_series_cache_put(c, "a1", 2, "cpu", "total", 10), 0);
    assert_int_equal(sr_series_cache_put(c, "a1", 2, "cpu", "", 11), 0);
    assert_int_equal(sr_series_cache_put(c, "a2", 2, "cpu", "total", 12), 0);
    assert_int_equal(sr_series_cache_count(c), 3);
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cpu", "total", &id), 1);
    assert_int_equal(id, 10);
    assert_int_equal(sr_series_cache_get(c, "a2", 2, "cpu", "total", &id), 1);
    assert_int_equal(id, 12);
    /* a NULL dim is the empty one */
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cpu", NULL, &id), 1);
    assert_int_equal(id, 11);
    /* the agent is taken by length, not up to a terminator */
    assert_int_equal(sr_series_cache_get(c, "a1xyz", 2, "cpu", "total", &id), 1);
    assert_int_equal(id, 10);
    /* the parts are not run together: ("a1", "cp", "utotal") is another key */
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cp", "utotal", &id), 0);
    /* put replaces the id of a present key */
    assert_int_equal(sr_series_cache_put(c, "a1", 2, "cpu", "total", 20), 0);
    assert_int_equal(sr_series_cache_count(c), 3);
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cpu", "total", &id), 1);
    assert_int_equal(id, 20);
    sr_series_cache_clear(c);
    assert_int_equal(sr_series_cache_count(c), 0);
    assert_int_equal(sr_series_cache_get(c, "a1", 2, "cpu", "total", &id), 0);
    assert_null(sr_series_cache_free(c));
    assert_null(sr_series_cache_free(NULL));
    assert_int_equal(sr_series_cache_count(NULL), 0);
}

/* Past the first table size every key is still found with its own id. */
static void test_grow(void **state) {
    (void)state;
    sr_series_cache *c = NULL;
    assert_int_equal(sr_series_cache_new(100000, &c), 0);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(sr_series_cache_put(c, "agent", 5, name, "", i + 1), 0);
    }
    assert_int_equal(sr_series_cache_count(c), 5000);
    for (int i = 0; i < 5000; i++) {
        int64_t id = 0;
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(sr_series_cache_get(c, "agent", 5, name, NULL, &id), 1);
        assert_int_equal(id, i + 1);
    }
    sr_series_cache_free(c);
}

/* A put that would pass the cap empties the cache first, then adds the key. */
static void test_cap(void **state) {
    (void)state;
    sr_series_cache *c = NULL;
    assert_int_equal(sr_series_cache_new(20, &c), 0);
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(sr_series_cache_put(c, "a", 1, name, "d", i + 1), 0);
    }
    assert_int_equal(sr_series_cache_count(c), 20);
    int64_t id = 0;
    /* replacing a present key is not an addition */
    assert_int_equal(sr_series_cache_put(c, "a", 1, "m3", "d", 99), 0);
    assert_int_equal(sr_series_cache_count(c), 20);
    assert_int_equal(sr_series_cache_put(c, "a", 1, "new", "d", 100), 0);
    assert_int_equal(sr_series_cache_count(c), 1);
    assert_int_equal(sr_series_cache_get(c, "a", 1, "m3", "d", &id), 0);
    assert_int_equal(sr_series_cache_get(c, "a", 1, "new", "d", &id), 1);
    assert_int_equal(id, 100);
    sr_series_cache_free(c);

    /* a cap below 16 is raised to 16 */
    assert_int_equal(sr_series_cache_new(0, &c), 0);
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(sr_series_cache_put(c, "a", 1, name, "", i), 0);
    }
    assert_int_equal(sr_series_cache_count(c), 16);
    sr_series_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
