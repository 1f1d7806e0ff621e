/* Agent configuration (merged table with the collectors' entries), batch packing and the
 * certificate identity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_agent_batch.h"
#include "sr_agent_config.h"
#include "sr_agent_identity.h"
#include "srtest.h"

#ifndef SR_GENCERTS
#error "SR_GENCERTS must name tests/support/gencerts.sh"
#endif

/* A collector of our own, so that merging does not depend on which ones are compiled in. */
typedef struct {
    int64_t depth;
    char *label;
} toy_config;

static const sr_config_entry toy_entries[] = {
    {"toy.depth", SR_CFG_INT, offsetof(toy_config, depth), "3", 1, 10, "how deep"},
    {"toy.label", SR_CFG_STRING, offsetof(toy_config, label), "plain", 0, 0, "a label"},
};

static int toy_init(const void *config, const sr_collector_env *env, void **ret) {
    (void)config;
    (void)env;
    *ret = NULL;
    return 0;
}
static int toy_collect(void *state, const sr_collect_time *t, sr_points *out) {
    (void)state;
    return sr_points_add(out, "toy.value", "", 1, t->unix_ms);
}
static void *toy_free(void *state) {
    (void)state;
    return NULL;
}

static const sr_collector toy = {
    .name = "toy",
    .help = "a test collector",
    .config = toy_entries,
    .n_config = 2,
    .config_size = sizeof(toy_config),
    .init = toy_init,
    .collect = toy_collect,
    .free = toy_free,
};
static const sr_collector *const toy_registry[] = {&toy, NULL};

static int parse(sr_agent_settings *s, const char *text, char *err, size_t errlen) {
    return sr_agent_settings_parse(s, "agent.conf", text, strlen(text), err, errlen);
}

static void test_defaults(void **state) {
    (void)state;
    sr_agent_settings *s = NULL;
    assert_int_equal(sr_agent_settings_new(toy_registry, &s), 0);
    const sr_agent_config *c = sr_agent_settings_config(s);
    assert_string_equal(c->gateway, "127.0.0.1:50052");
    assert_string_equal(c->gateway_server_name, "");
    assert_string_equal(c->data_dir, "/var/lib/serviceradar/agent");
    assert_int_equal(c->interval_ms, 15000);
    assert_int_equal(c->heartbeat_ms, 15000);
    assert_int_equal(c->spool_max_bytes, 256u << 20);
    assert_int_equal(c->upload_max_records, 64);
    assert_string_equal(c->proc_root, "/proc");
    assert_string_equal(c->sys_root, "/sys");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(sr_agent_settings_collector_count(s), 1);
    assert_int_equal(sr_agent_settings_collector_enabled(s, 0), 1);
    const toy_config *tc = sr_agent_settings_collector_config(s, 0);
    assert_int_equal(tc->depth, 3);
    assert_string_equal(tc->label, "plain");
    char err[256];
    assert_int_equal(sr_agent_settings_validate(s, err, sizeof(err)), 0);
    assert_null(sr_agent_settings_free(s));
    assert_null(sr_agent_settings_free(NULL));

    /* the compiled-in registry works the same way */
    assert_int_equal(sr_agent_settings_new(NULL, &s), 0);
    sr_agent_settings_free(s);
}

static void test_overrides(void **state) {
    (void)state;
    sr_agent_settings *s = NULL;
    assert_int_equal(sr_agent_settings_new(toy_registry, &s), 0);
    char err[512] = "";
    const char *text = "# comment\n"
                       "gateway.address = \"gw.example:6000\"\n"
                       "interval = 1m\n"
                       "spool.max_bytes = 10M\n"
                       "hostname = edge-7\n"
                       "toy.enabled = false\n"
                       "toy.depth = 7\n"
                       "toy.label = \"fancy\"\n";
    assert_int_equal(parse(s, text, err, sizeof(err)), 0);
    const sr_agent_config *c = sr_agent_settings_config(s);
    assert_string_equal(c->gateway, "gw.example:6000");
    assert_int_equal(c->interval_ms, 60000);
    assert_int_equal(c->spool_max_bytes, 10u << 20);
    assert_string_equal(c->hostname, "edge-7");
    assert_int_equal(sr_agent_settings_collector_enabled(s, 0), 0);
    const toy_config *tc = sr_agent_settings_collector_config(s, 0);
    assert_int_equal(tc->depth, 7);
    assert_string_equal(tc->label, "fancy");

    /* the dump reads back to the same values */
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    sr_agent_settings_dump(s, f);
    fclose(f);
    assert_non_null(strstr(dump, "toy.depth = 7\n"));
    assert_non_null(strstr(dump, "interval = 60000ms\n"));
    sr_agent_settings *s2 = NULL;
    assert_int_equal(sr_agent_settings_new(toy_registry, &s2), 0);
    assert_int_equal(parse(s2, dump, err, sizeof(err)), 0);
    assert_int_equal(sr_agent_settings_config(s2)->interval_ms, 60000);
    assert_string_equal(((const toy_config *)sr_agent_settings_collector_config(s2, 0))->label, "fancy");
    free(dump);
    sr_agent_settings_free(s2);
    sr_agent_settings_free(s);
}

static void test_errors(void **state) {
    (void)state;
    sr_agent_settings *s = NULL;
    assert_int_equal(sr_agent_settings_new(toy_registry, &s), 0);
    char err[512];
    assert_int_equal(parse(s, "interval = 500ms\n", err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "agent.conf:1"));
    assert_non_null(strstr(err, "interval"));
    assert_int_equal(parse(s, "\ninterval = 2h\n", err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "agent.conf:2"));
    assert_int_not_equal(parse(s, "no_such_key = 1\n", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "no_such_key"));
    assert_int_equal(parse(s, "toy.depth = 11\n", err, sizeof(err)), -ERANGE);
    assert_int_not_equal(parse(s, "upload.max_records = many\n", err, sizeof(err)), 0);

    static const char *const bad[] = {
        "gateway.address = localhost\n", "gateway.address = host:0\n", "gateway.address = host:70000\n",
        "gateway.address = ::1:5\n",     "gateway.address = :5\n",      "log_level = loud\n",
        "data_dir = relative/dir\n",     "tls.cert_file = \"\"\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_agent_settings *t = NULL;
        assert_int_equal(sr_agent_settings_new(toy_registry, &t), 0);
        assert_int_equal(parse(t, bad[i], err, sizeof(err)), 0);
        if (sr_agent_settings_validate(t, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        sr_agent_settings_free(t);
    }
    char host[64];
    unsigned port;
    assert_int_equal(sr_agent_split_address("[::1]:50052", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 50052);
    assert_int_equal(sr_agent_split_address("gw:1", host, sizeof(host), &port), 0);
    assert_string_equal(host, "gw");
    sr_agent_settings_free(s);
}

static void test_print_doc(void **state) {
    (void)state;
    sr_agent_settings *s = NULL;
    assert_int_equal(sr_agent_settings_new(toy_registry, &s), 0);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    sr_agent_settings_print_doc(s, f);
    fclose(f);
    assert_non_null(strstr(doc, "#gateway.address = \"127.0.0.1:50052\""));
    assert_non_null(strstr(doc, "#toy.enabled = true"));
    assert_non_null(strstr(doc, "#toy.depth = 3"));
    /* the sample (all commented out) parses to the defaults */
    char err[256];
    assert_int_equal(parse(s, doc, err, sizeof(err)), 0);
    free(doc);
    sr_agent_settings_free(s);
}

static void test_batch_roundtrip(void **state) {
    (void)state;
    sr_points p;
    sr_points_init(&p, 0);
    assert_int_equal(sr_points_add(&p, "mem.total_bytes", "", 1024, 1700000000000), 0);
    assert_int_equal(sr_points_add(&p, "cpu.usage_pct", "cpu0", 12.5, 1700000000000), 0);
    sr_agent_batch_info info = {"agent-1", UINT64_C(0xfedcba9876543210), 42, 1700000000123, "edge-1"};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sr_agent_batch_pack(&info, &p, &buf, &len), 0);
    Serviceradar__Agent__V1__UploadBatch *b = serviceradar__agent__v1__upload_batch__unpack(NULL, len, buf);
    assert_non_null(b);
    assert_string_equal(b->agent_id, "agent-1");
    assert_true(b->epoch == UINT64_C(0xfedcba9876543210));
    assert_int_equal(b->seq, 42);
    assert_int_equal(b->created_unix_ms, 1700000000123);
    assert_int_equal(b->payload_case, SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS);
    assert_string_equal(b->metrics->hostname, "edge-1");
    assert_int_equal(b->metrics->n_points, 2);
    assert_string_equal(b->metrics->points[1]->name, "cpu.usage_pct");
    assert_string_equal(b->metrics->points[1]->dim, "cpu0");
    assert_true(b->metrics->points[1]->value == 12.5);
    assert_int_equal(b->metrics->points[0]->time_unix_ms, 1700000000000);
    serviceradar__agent__v1__upload_batch__free_unpacked(b, NULL);
    free(buf);

    info.seq = 0;
    assert_int_equal(sr_agent_batch_pack(&info, &p, &buf, &len), -EINVAL);
    sr_points_done(&p);
}

static void test_identity(void **state) {
    (void)state;
    char dir[256], cmd[1024], path[512], cn[128];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s' edge-agent-9 >/dev/null", SR_GENCERTS, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/edge-agent-9.crt", dir);
    assert_int_equal(sr_agent_identity_cn(path, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "edge-agent-9");
    assert_int_equal(sr_agent_identity_cn(path, cn, 5), -ENAMETOOLONG);
    snprintf(path, sizeof(path), "%s/edge-agent-9.key", dir); /* a key, not a certificate */
    assert_int_equal(sr_agent_identity_cn(path, cn, sizeof(cn)), -EBADMSG);
    snprintf(path, sizeof(path), "%s/missing.crt", dir);
    assert_int_equal(sr_agent_identity_cn(path, cn, sizeof(cn)), -ENOENT);
    srtest_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_print_doc),
        cmocka_unit_test(test_batch_roundtrip), cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
