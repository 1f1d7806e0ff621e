/* Unit tests: gateway command / result / status JSON and the configuration table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw_command.h"
#include "gw_config.h"

#define S(x) ((char *)(uintptr_t)(x))

static int parse(const char *json, gw_command *c, char *err) {
    return gw_command_parse(json, strlen(json), c, err, 256);
}

static void test_command_parse(void **state) {
    (void)state;
    gw_command c;
    char err[256] = "";
    assert_int_equal(parse("{\"command_id\":\"c-1\",\"type\":\"ping\",\"payload\":\"{}\",\"issued_unix_ms\":5,"
                           "\"deadline_unix_ms\":9,\"extra\":1}",
                           &c, err),
                     0);
    assert_string_equal(c.command_id, "c-1");
    assert_string_equal(c.type, "ping");
    assert_string_equal(c.payload, "{}");
    assert_int_equal(c.issued_unix_ms, 5);
    assert_int_equal(c.deadline_unix_ms, 9);
    Serviceradar__Agent__V1__Command m;
    gw_command_to_proto(&c, &m);
    assert_string_equal(m.command_id, "c-1");
    assert_int_equal(m.deadline_unix_ms, 9);
    gw_command_clear(&c);
    /* inline payload object, absent payload */
    assert_int_equal(parse("{\"command_id\":\"c\",\"type\":\"t\",\"payload\":{\"a\":[1,2]}}", &c, err), 0);
    assert_string_equal(c.payload, "{\"a\":[1,2]}");
    gw_command_clear(&c);
    assert_int_equal(parse("{\"command_id\":\"c\",\"type\":\"t\"}", &c, err), 0);
    assert_string_equal(c.payload, "{}");
    gw_command_clear(&c);
}

static void test_command_reject(void **state) {
    (void)state;
    gw_command c;
    char err[256] = "";
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"type\":\"ping\"}",
        "{\"command_id\":\"\",\"type\":\"ping\"}",
        "{\"command_id\":5,\"type\":\"ping\"}",
        "{\"command_id\":\"c\"}",
        "{\"command_id\":\"c\",\"type\":\"t\",\"payload\":5}",
        "{\"command_id\":\"c\",\"type\":\"t\",\"deadline_unix_ms\":-1}",
        "{\"command_id\":\"c\",\"type\":\"t\",\"issued_unix_ms\":\"x\"}",
        "{\"command_id\":\"c\",\"command_id\":\"d\",\"type\":\"t\"}",
        "{\"command_id\":\"a\\u0000b\",\"type\":\"t\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = parse(bad[i], &c, err);
        if (r == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    char id[400];
    snprintf(id, sizeof(id), "{\"command_id\":\"%0200d\",\"type\":\"t\"}", 1);
    assert_int_equal(parse(id, &c, err), -E2BIG);
    char *big = malloc(GW_COMMAND_MAX_JSON + 2);
    assert_non_null(big);
    memset(big, ' ', GW_COMMAND_MAX_JSON + 1);
    big[GW_COMMAND_MAX_JSON + 1] = '\0';
    assert_int_equal(gw_command_parse(big, GW_COMMAND_MAX_JSON + 1, &c, err, sizeof(err)), -E2BIG);
    free(big);
}

static json_t *load(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_result_json(void **state) {
    (void)state;
    Serviceradar__Agent__V1__CommandProgress p;
    serviceradar__agent__v1__command_progress__init(&p);
    p.command_id = S("c-9");
    p.percent = 250;
    p.message = S("half way \xc3\xa9");
    Serviceradar__Agent__V1__AgentMessage m;
    serviceradar__agent__v1__agent_message__init(&m);
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_PROGRESS;
    m.progress = &p;
    char *js = NULL;
    size_t len = 0;
    assert_int_equal(gw_result_json("agent-1", &m, 77, &js, &len), 0);
    json_t *j = load(js);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "progress");
    assert_string_equal(json_string_value(json_object_get(j, "command_id")), "c-9");
    assert_string_equal(json_string_value(json_object_get(j, "agent_id")), "agent-1");
    assert_int_equal(json_integer_value(json_object_get(j, "percent")), 100);
    assert_int_equal(json_integer_value(json_object_get(j, "time_unix_ms")), 77);
    json_decref(j);
    free(js);
    p.message = S("bad \xff");
    assert_int_equal(gw_result_json("agent-1", &m, 77, &js, &len), -EINVAL);
    p.command_id = S("");
    p.message = S("");
    assert_int_equal(gw_result_json("agent-1", &m, 77, &js, &len), -EINVAL);
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT;
    assert_int_equal(gw_result_json("agent-1", &m, 77, &js, &len), -ENOMSG);
}

static void test_status_json(void **state) {
    (void)state;
    Serviceradar__Agent__V1__Hello h;
    serviceradar__agent__v1__hello__init(&h);
    h.hostname = S("host");
    char *caps[] = {S("metrics")};
    h.capabilities = caps;
    h.n_capabilities = 1;
    char err[256];
    assert_int_equal(gw_hello_check(&h, err, sizeof(err)), 0);
    char *js = NULL;
    size_t len = 0;
    assert_int_equal(gw_status_json(GW_EVENT_HELLO, "agent-1", "gw", &h, NULL, 5, &js, &len), 0);
    json_t *j = load(js);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "hello");
    assert_string_equal(json_string_value(json_object_get(j, "gateway")), "gw");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "capabilities"), 0)), "metrics");
    json_decref(j);
    free(js);
    Serviceradar__Agent__V1__Heartbeat hb;
    serviceradar__agent__v1__heartbeat__init(&hb);
    hb.spool_bytes = UINT64_MAX;
    assert_int_equal(gw_status_json(GW_EVENT_HEARTBEAT, "agent-1", "gw", NULL, &hb, 5, &js, &len), 0);
    j = load(js);
    assert_int_equal(json_integer_value(json_object_get(j, "spool_bytes")), INT64_MAX);
    assert_null(json_object_get(j, "hostname"));
    json_decref(j);
    free(js);
    assert_int_equal(gw_status_json(GW_EVENT_HELLO, "agent-1", "gw", NULL, NULL, 5, &js, &len), -EINVAL);
    h.os = S("\xc0\xaf");
    assert_int_equal(gw_hello_check(&h, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "os"));
}

static void test_config(void **state) {
    (void)state;
    gw_config c;
    char err[256] = "";
    assert_int_equal(gw_config_init(&c), 0);
    assert_string_equal(c.listen, "127.0.0.1:50052");
    assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
    assert_int_equal(c.heartbeat_interval_ms, 15000);
    assert_int_equal(c.max_message_bytes, 4 * 1024 * 1024);
    assert_int_equal(c.max_points_per_batch, 10000);
    assert_int_equal(gw_config_finalize(&c, err, sizeof(err)), -EINVAL); /* tls files required */
    assert_non_null(strstr(err, "tls.ca_file"));
    static const char file[] = "tls.ca_file = /a\ntls.cert_file = /b\ntls.key_file = /c\nheartbeat_interval = 30s\n";
    assert_int_equal(sr_config_parse(&gw_config_table, &c, "t", file, sizeof(file) - 1, err, sizeof(err)), 0);
    assert_int_equal(gw_config_finalize(&c, err, sizeof(err)), 0);
    assert_true(c.gateway_id[0] != '\0'); /* host name */
    assert_int_equal(c.heartbeat_interval_ms, 30000);
    assert_true(sr_config_set(&gw_config_table, &c, "max_points_per_batch", "10001", err, sizeof(err)) < 0);
    assert_int_equal(sr_config_set(&gw_config_table, &c, "log_level", "loud", err, sizeof(err)), 0);
    assert_int_equal(gw_config_finalize(&c, err, sizeof(err)), -EINVAL);
    gw_config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_parse), cmocka_unit_test(test_command_reject),
        cmocka_unit_test(test_result_json),   cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
