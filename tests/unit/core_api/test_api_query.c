/* Unit tests: request-target parsing, time parsing/formatting, metrics query validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_api_query.h"

static sr_api_target *parse_ok(const char *uri) {
    sr_api_target *t = malloc(sizeof(*t));
    assert_non_null(t);
    char err[SR_API_ERR_MAX] = "";
    int r = sr_api_target_parse(uri, t, err, sizeof(err));
    if (r != 0)
        fail_msg("parse %s: %s", uri, err);
    return t;
}

static void parse_err(const char *uri, const char *want) {
    sr_api_target *t = malloc(sizeof(*t));
    assert_non_null(t);
    char err[SR_API_ERR_MAX] = "";
    assert_int_equal(sr_api_target_parse(uri, t, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("parse %s: error '%s' lacks '%s'", uri, err, want);
    free(t);
}

static void test_routes(void **state) {
    (void)state;
    static const struct {
        const char *uri;
        sr_api_route route;
        const char *id;
    } cases[] = {
        {"/healthz", SR_ROUTE_HEALTHZ, ""},
        {"/readyz?x=1", SR_ROUTE_READYZ, ""},
        {"/metrics", SR_ROUTE_METRICS, ""},
        {"/api/v1/openapi.json", SR_ROUTE_OPENAPI, ""},
        {"/api/v1/hosts", SR_ROUTE_HOSTS, ""},
        {"/api/v1/hosts/web-01", SR_ROUTE_HOST, "web-01"},
        {"/api/v1/hosts/web%2D01", SR_ROUTE_HOST, "web-01"},
        {"/api/v1/hosts/h.example.com/metrics?name=cpu.usage_pct", SR_ROUTE_HOST_METRICS, "h.example.com"},
        {"/api/v1/hosts/a_b/metric-names", SR_ROUTE_HOST_METRIC_NAMES, "a_b"},
        {"/api/v1/agents/a1/commands", SR_ROUTE_AGENT_COMMANDS, "a1"},
        {"/api/v1/commands/0f2c6a3e-1111-4222-8333-444455556666", SR_ROUTE_COMMAND,
         "0f2c6a3e-1111-4222-8333-444455556666"},
        {"/api/v1/enroll", SR_ROUTE_ENROLL, ""},
        {"/api", SR_ROUTE_API_UNKNOWN, ""},
        {"/api/", SR_ROUTE_API_UNKNOWN, ""},
        {"/api/v1/hosts/", SR_ROUTE_API_UNKNOWN, ""},
        {"/api/v1/nope", SR_ROUTE_API_UNKNOWN, ""},
        {"/api/v2/hosts", SR_ROUTE_API_UNKNOWN, ""},
        {"/api/v1/hosts/a/b/c/d", SR_ROUTE_API_UNKNOWN, ""},
        {"/", SR_ROUTE_STATIC, ""},
        {"/hosts/web-01", SR_ROUTE_STATIC, ""},
        {"/assets/index-abc.js", SR_ROUTE_STATIC, ""},
        {"/healthz/x", SR_ROUTE_STATIC, ""},
        {"/apix", SR_ROUTE_STATIC, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sr_api_target *t = parse_ok(cases[i].uri);
        if (t->route != cases[i].route)
            fail_msg("%s: route %d, want %d", cases[i].uri, t->route, cases[i].route);
        assert_string_equal(t->id, cases[i].id);
        free(t);
    }
}

static void test_bad_targets(void **state) {
    (void)state;
    parse_err("", "absolute path");
    parse_err("http://x/healthz", "absolute path");
    parse_err("/api/v1/hosts/a%2Fb", "invalid agent_id");
    parse_err("/api/v1/hosts/..", "invalid agent_id");
    parse_err("/api/v1/hosts/.a", "invalid agent_id");
    parse_err("/api/v1/hosts/a..b/metrics", "invalid agent_id");
    parse_err("/api/v1/hosts/a*b", "invalid agent_id");
    parse_err("/api/v1/agents/a%3Eb/commands", "invalid agent_id");
    parse_err("/api/v1/hosts/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "invalid agent_id");
    parse_err("/api/v1/commands/a_b", "invalid command_id");
    parse_err("/x%zz", "encoding");
    parse_err("/x%0", "encoding");
    parse_err("/x%00y", "encoding");
    parse_err("/../etc/passwd", "invalid path");
    parse_err("/%2e%2e/etc/passwd", "invalid path");
    parse_err("/assets/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "invalid path");
    parse_err("/a/./b", "invalid path");
    parse_err("/a/..", "invalid path");
    parse_err("/api/v1/hosts/a/metrics?name=a&name=b", "duplicate parameter: name");
    parse_err("/api/v1/hosts/a/metrics?name=%zz", "percent-encoding in parameter name");
    parse_err("/api/v1/hosts/a/metrics?n%zz=1", "percent-encoding");
    char long_q[600];
    int n = snprintf(long_q, sizeof(long_q), "/api/v1/hosts/a/metrics?name=");
    memset(long_q + n, 'a', 200);
    long_q[n + 200] = '\0';
    parse_err(long_q, "parameter name too long");
    char many[SR_API_QUERY_PARAMS_MAX * 4 + 64];
    n = snprintf(many, sizeof(many), "/healthz?");
    for (int i = 0; i <= SR_API_QUERY_PARAMS_MAX; i++)
        n += snprintf(many + n, sizeof(many) - (size_t)n, "a=&");
    parse_err(many, "too many query parameters");
    char *huge = malloc(SR_API_URI_MAX + 16);
    assert_non_null(huge);
    huge[0] = '/';
    memset(huge + 1, 'x', SR_API_URI_MAX + 1);
    huge[SR_API_URI_MAX + 2] = '\0';
    parse_err(huge, "too long");
    free(huge);
}

static void test_query_params(void **state) {
    (void)state;
    sr_api_target *t = parse_ok("/api/v1/hosts/web-01/metrics?name=disk.used_pct&dim=%2Fhome&from=2024-05-01T10%3A00%3A00Z"
                                "&to=1714561200000&step=1m&unknown=zz&&x");
    assert_int_equal(t->route, SR_ROUTE_HOST_METRICS);
    assert_true(t->has_name && t->has_dim && t->has_from && t->has_to && t->has_step);
    assert_string_equal(t->name, "disk.used_pct");
    assert_string_equal(t->dim, "/home");
    assert_string_equal(t->from, "2024-05-01T10:00:00Z");
    assert_string_equal(t->to, "1714561200000");
    assert_string_equal(t->step, "1m");
    free(t);
    t = parse_ok("/api/v1/hosts/a/metrics?name=x&dim=&dim2=a+b");
    assert_true(t->has_dim);
    assert_string_equal(t->dim, "");
    free(t);
    t = parse_ok("/api/v1/hosts/a/metrics?dim=a+b%20c");
    assert_string_equal(t->dim, "a b c");
    assert_false(t->has_name);
    free(t);
    t = parse_ok("/dir%20x/file+y.js");
    assert_string_equal(t->path, "/dir x/file+y.js");
    free(t);
}

static void test_time(void **state) {
    (void)state;
    int64_t ms;
    assert_int_equal(sr_api_time_parse("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(sr_api_time_parse("2024-05-01T10:00:00Z", &ms), 0);
    assert_int_equal(ms, 1714557600000LL);
    assert_int_equal(sr_api_time_parse("2024-05-01T12:00:00.25+02:00", &ms), 0);
    assert_int_equal(ms, 1714557600250LL);
    assert_int_equal(sr_api_time_parse("2024-05-01t05:30:00.123456789-04:30", &ms), 0);
    assert_int_equal(ms, 1714557600123LL);
    assert_int_equal(sr_api_time_parse("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(sr_api_time_parse("1714557600000", &ms), 0);
    assert_int_equal(ms, 1714557600000LL);
    assert_int_equal(sr_api_time_parse("0", &ms), 0);
    assert_int_equal(ms, 0);
    static const char *const bad[] = {"",
                                      "2023-02-29T00:00:00Z",
                                      "2024-13-01T00:00:00Z",
                                      "2024-05-01T24:00:00Z",
                                      "2024-05-01T10:00:00",
                                      "2024-05-01T10:00:00+0200",
                                      "2024-05-01T10:00:00.Z",
                                      "2024-05-01T10:00:00ZZ",
                                      "2024-5-01T10:00:00Z",
                                      "-1",
                                      "1e3",
                                      "12345678901234567",
                                      "1969-12-31T23:59:59Z",
                                      "now"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sr_api_time_parse(bad[i], &ms) == 0)
            fail_msg("accepted %s", bad[i]);
    char buf[40];
    assert_int_equal(sr_api_time_format(1714557600000LL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2024-05-01T10:00:00Z");
    assert_int_equal(sr_api_time_format(1714557600250LL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2024-05-01T10:00:00.250Z");
    assert_int_equal(sr_api_time_format(951782400000LL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2000-02-29T00:00:00Z");
    assert_int_equal(sr_api_time_format(-1, buf, sizeof(buf)), -ERANGE);
    /* round trip over a range of days */
    for (int64_t d = 0; d < 200000; d += 37) {
        int64_t t = d * 86400000LL + 12345;
        assert_int_equal(sr_api_time_format(t, buf, sizeof(buf)), 0);
        assert_int_equal(sr_api_time_parse(buf, &ms), 0);
        assert_int_equal(ms, t);
    }
}

static int resolve(const char *uri, int64_t now, sr_api_metrics_query *q, char *err, size_t errlen) {
    sr_api_target *t = parse_ok(uri);
    int r = sr_api_metrics_query_resolve(t, now, q, err, errlen);
    free(t);
    return r;
}

static void resolve_err(const char *uri, const char *want) {
    sr_api_metrics_query q;
    char err[SR_API_ERR_MAX] = "";
    assert_int_equal(resolve(uri, 1714557600000LL, &q, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("%s: error '%s' lacks '%s'", uri, err, want);
}

static void test_metrics_query(void **state) {
    (void)state;
    const int64_t now = 1714557600000LL;
    sr_api_metrics_query q;
    char err[SR_API_ERR_MAX];
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=cpu.usage_pct", now, &q, err, sizeof(err)), 0);
    assert_int_equal(q.to_ms, now);
    assert_int_equal(q.from_ms, now - 3600000);
    assert_int_equal(q.step_s, 10);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=0&to=86400000", now, &q, err, sizeof(err)), 0);
    assert_int_equal(q.step_s, 300); /* 86400/360 = 240 -> 300 */
    assert_true(86400 / q.step_s <= 360);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=0&to=34560000000", now, &q, err, sizeof(err)), 0);
    assert_true(34560000 / q.step_s <= 360);
    assert_int_equal(q.step_s % 86400, 0);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=1000&to=2000&step=1", now, &q, err, sizeof(err)), 0);
    assert_int_equal(q.step_s, 1);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=0&to=10000000&step=1s", now, &q, err, sizeof(err)),
                     0);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=0&to=10000001&step=1s", now, &q, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(resolve("/api/v1/hosts/a/metrics?name=x&from=1714557000000", now, &q, err, sizeof(err)), 0);
    assert_int_equal(q.to_ms, now);
    assert_int_equal(q.step_s, 2);

    resolve_err("/api/v1/hosts/a/metrics", "missing parameter: name");
    resolve_err("/api/v1/hosts/a/metrics?name=CPU", "invalid parameter name");
    resolve_err("/api/v1/hosts/a/metrics?name=", "invalid parameter name");
    resolve_err("/api/v1/hosts/a/metrics?name=a-b", "invalid parameter name");
    resolve_err("/api/v1/hosts/a/metrics?name=x&dim=%ff", "not UTF-8");
    resolve_err("/api/v1/hosts/a/metrics?name=x&from=yesterday", "invalid parameter from");
    resolve_err("/api/v1/hosts/a/metrics?name=x&to=2024-05-01", "invalid parameter to");
    resolve_err("/api/v1/hosts/a/metrics?name=x&from=2000&to=1000", "from must be before to");
    resolve_err("/api/v1/hosts/a/metrics?name=x&from=1000&to=1000", "from must be before to");
    resolve_err("/api/v1/hosts/a/metrics?name=x&from=0&to=34560000001&step=1d", "400 days");
    resolve_err("/api/v1/hosts/a/metrics?name=x&step=500ms", "at least 1s");
    resolve_err("/api/v1/hosts/a/metrics?name=x&step=1500ms", "whole number of seconds");
    resolve_err("/api/v1/hosts/a/metrics?name=x&step=fast", "invalid parameter step");
    resolve_err("/api/v1/hosts/a/metrics?name=x&step=99999999999999999999", "invalid parameter step");
    resolve_err("/api/v1/hosts/a/metrics?name=x&step=100000000000h", "step too long");
    resolve_err("/api/v1/hosts/a/metrics?name=x&from=0&to=86400000&step=1s", "too many buckets");
}

static void test_validators(void **state) {
    (void)state;
    assert_true(sr_api_agent_id_valid("web-01.example_com"));
    assert_false(sr_api_agent_id_valid(""));
    assert_false(sr_api_agent_id_valid("a b"));
    assert_false(sr_api_agent_id_valid("a."));
    assert_true(sr_api_command_type_valid("ping"));
    assert_true(sr_api_command_type_valid("collect_now"));
    assert_false(sr_api_command_type_valid("Ping"));
    assert_false(sr_api_command_type_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_true(sr_api_command_type_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_true(sr_api_metric_name_valid("net.rx_bytes_per_s"));
    assert_false(sr_api_metric_name_valid("net rx"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),         cmocka_unit_test(test_bad_targets), cmocka_unit_test(test_query_params),
        cmocka_unit_test(test_time),           cmocka_unit_test(test_metrics_query),
        cmocka_unit_test(test_validators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
