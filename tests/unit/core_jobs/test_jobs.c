/* The job runner's configuration checks, the built-in registry against the core's
 * configuration, which stored resolution answers a metrics query, and the jobs route. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sr_api_query.h"
#include "sr_jobs.h"
#include "sr_jobs_builtin.h"

#define DAY_MS (86400LL * 1000)

static int noop(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)run;
    (void)params;
    (void)msg;
    (void)msglen;
    (void)err;
    (void)errlen;
    return 0;
}

static void expect_bad(const sr_jobs_config *cfg, const char *want) {
    char err[256] = "";
    assert_int_equal(sr_jobs_config_check(cfg, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_config_check(void **state) {
    (void)state;
    const sr_jobs_def a = {"a_job", 60000, noop}, b = {"b_job", 60000, noop};
    sr_jobs_entry e[2] = {{&a, 0}, {&b, 5000}};
    sr_jobs_config cfg = {.jobs = e, .n = 2};
    char err[256];
    assert_int_equal(sr_jobs_config_check(&cfg, err, sizeof(err)), 0);

    cfg.n = 0;
    expect_bad(&cfg, "between 1 and");
    cfg.n = 2;

    const sr_jobs_def upper = {"Bad", 60000, noop}, empty = {"", 60000, noop}, nofn = {"x", 60000, NULL};
    const sr_jobs_def longname = {"a123456789012345678901234567890123456789012345678901234567890123", 60000, noop};
    const sr_jobs_def *bad[] = {&upper, &empty, &nofn, &longname};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e[1].def = bad[i];
        expect_bad(&cfg, "name must match");
    }
    e[1].def = &a;
    expect_bad(&cfg, "registered twice");
    e[1].def = &b;

    e[1].interval_ms = 999;
    expect_bad(&cfg, "b_job: interval");
    e[1].interval_ms = 367 * DAY_MS;
    expect_bad(&cfg, "b_job: interval");
    e[1].interval_ms = -1;
    expect_bad(&cfg, "b_job: interval");
    e[1].interval_ms = 0;

    cfg.lease_ms = 10;
    expect_bad(&cfg, "lease at least");
    cfg.lease_ms = 0;
    char owner[200];
    memset(owner, 'o', sizeof(owner) - 1);
    owner[sizeof(owner) - 1] = '\0';
    cfg.owner = owner;
    expect_bad(&cfg, "owner longer");
}

static void test_builtin_matches_config(void **state) {
    (void)state;
    sr_core_config c;
    assert_int_equal(sr_core_config_defaults(&c), 0);
    sr_jobs_builtin_setup s;
    sr_jobs_builtin_setup_init(&s, &c);
    char err[256];
    if (sr_jobs_config_check(&s.config, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(s.config.n, SR_JOBS_BUILTIN_N);
    static const char *const names[SR_JOBS_BUILTIN_N] = {
        "metrics_rollup",         "metrics_retention",  "events_retention",    "ingest_batches_retention",
        "dead_letters_retention", "commands_retention", "search_stats_refresh", "events_trgm_index",
        "scan_parts_retention"};
    for (size_t i = 0; i < SR_JOBS_BUILTIN_N; i++) {
        assert_string_equal(s.entries[i].def->name, names[i]);
        /* the configuration's defaults are the registry's: they cannot drift apart */
        assert_int_equal(s.entries[i].interval_ms, s.entries[i].def->default_interval_ms);
    }
    assert_int_equal(s.params.metrics_raw_days, 30);
    assert_int_equal(s.params.metrics_rollup_days, 400);
    assert_int_equal(s.params.events_days, 90);
    assert_int_equal(s.params.ingest_batches_days, 7);
    assert_int_equal(s.params.dead_letters_days, 30);
    assert_int_equal(s.params.commands_days, 30);
    assert_int_equal(s.params.events_trgm_closed_ms, 3600000);
    assert_int_equal(s.params.events_trgm_max_chunks, 4);
    assert_int_equal(s.params.scan_parts_age_ms, 24 * 3600000);
    assert_int_equal(s.config.lease_ms, 600000);
    assert_ptr_equal(s.config.params, &s.params);

    /* cross-field checks of the retention keys */
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    c.retention_metrics_rollup_days = 10;
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "retention.metrics_rollup_days"));
    c.retention_metrics_rollup_days = 400;
    c.retention_ingest_batches_days = 6;
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nats.telemetry_max_age"));
    sr_core_config_free(&c);
}

static void test_resolution(void **state) {
    (void)state;
    const int64_t b = 1000 * DAY_MS; /* raw points kept from here on */
    const struct {
        int64_t from, to;
        int has;
        sr_api_resolution want;
    } cases[] = {
        {b - 60 * DAY_MS, b + DAY_MS, 0, SR_API_RES_RAW}, /* nothing dropped: raw everywhere */
        {b, b + 3600000, 1, SR_API_RES_RAW},
        {b + 1, b + 3600000, 1, SR_API_RES_RAW},
        {b - 1, b + 3600000, 1, SR_API_RES_MIXED},
        {b - 60 * DAY_MS, b + 30 * DAY_MS, 1, SR_API_RES_MIXED},
        {b - 60 * DAY_MS, b, 1, SR_API_RES_ROLLUP},
        {b - 60 * DAY_MS, b - DAY_MS, 1, SR_API_RES_ROLLUP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sr_api_metrics_query q = {.from_ms = cases[i].from, .to_ms = cases[i].to, .step_s = 60};
        sr_api_resolution r = sr_api_metrics_resolution(&q, cases[i].has, b);
        if (r != cases[i].want)
            fail_msg("case %zu: resolution %d, want %d", i, (int)r, (int)cases[i].want);
    }
    assert_string_equal(sr_api_resolution_name(SR_API_RES_RAW), "raw");
    assert_string_equal(sr_api_resolution_name(SR_API_RES_ROLLUP), "rollup_1h");
    assert_string_equal(sr_api_resolution_name(SR_API_RES_MIXED), "mixed");
}

static void test_jobs_route(void **state) {
    (void)state;
    sr_api_target t;
    char err[SR_API_ERR_MAX];
    assert_int_equal(sr_api_target_parse("/api/v1/jobs", &t, err, sizeof(err)), 0);
    assert_int_equal(t.route, SR_ROUTE_JOBS);
    assert_int_equal(sr_api_target_parse("/api/v1/jobs?x=1", &t, err, sizeof(err)), 0);
    assert_int_equal(t.route, SR_ROUTE_JOBS);
    assert_int_equal(sr_api_target_parse("/api/v1/jobs/metrics_rollup", &t, err, sizeof(err)), 0);
    assert_int_equal(t.route, SR_ROUTE_API_UNKNOWN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_builtin_matches_config),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_jobs_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
