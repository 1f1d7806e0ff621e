/* The core's configuration table: defaults, validation, file parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sr_core_config.h"

static void test_defaults(void **state) {
    (void)state;
    sr_core_config c;
    assert_int_equal(sr_core_config_defaults(&c), 0);
    char err[256];
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    assert_string_equal(c.nats_url, "");
    assert_int_equal(c.nats_port, 4222);
    assert_int_equal(c.batch_size, 256);
    assert_int_equal(c.batch_wait_ms, 500);
    assert_int_equal(c.ack_wait_ms, 30000);
    assert_true(c.max_ack_pending >= 20000);
    assert_int_equal(c.telemetry_max_age_ms, 7 * 86400000LL);
    assert_int_equal(c.logs_max_age_ms, 7 * 86400000LL);
    assert_int_equal(c.security_max_age_ms, 7 * 86400000LL);
    assert_int_equal(c.logs_max_bytes, 0);
    assert_int_equal(c.events_workers, 2);
    assert_int_equal(c.falco_workers, 1);
    assert_int_equal(c.events_batch_size, 64);
    assert_string_equal(c.http_listen, "127.0.0.1:8080");
    assert_non_null(strstr(c.pg_conninfo, "port=55432"));
    char pki[256];
    assert_int_equal(sr_core_config_pki_dir(&c, pki, sizeof(pki)), 0);
    assert_string_equal(pki, "./.data/core/pki");
    sr_core_config_free(&c);
}

static void test_parse(void **state) {
    (void)state;
    sr_core_config c;
    assert_int_equal(sr_core_config_defaults(&c), 0);
    static const char text[] = "nats.url = \"nats://10.0.0.1:4222\"\n"
                               "ingest.workers = 4\n"
                               "ingest.batch_wait = 250ms\n"
                               "migrations.dir = \"/opt/sr/migrations\"\n"
                               "web.root = \"/opt/sr/web\"\n"
                               "pki.dir = \"/etc/sr/pki\"\n";
    char err[256];
    assert_int_equal(sr_config_parse(&sr_core_config_table, &c, "t", text, strlen(text), err, sizeof(err)), 0);
    assert_string_equal(c.nats_url, "nats://10.0.0.1:4222");
    assert_int_equal(c.ingest_workers, 4);
    assert_int_equal(c.batch_wait_ms, 250);
    assert_string_equal(c.migrations_dir, "/opt/sr/migrations");
    char pki[256];
    assert_int_equal(sr_core_config_pki_dir(&c, pki, sizeof(pki)), 0);
    assert_string_equal(pki, "/etc/sr/pki");
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);

    static const char bad[] = "ingest.workers = 99\n";
    assert_true(sr_config_parse(&sr_core_config_table, &c, "t", bad, strlen(bad), err, sizeof(err)) < 0);
    static const char unknown[] = "no.such.key = 1\n";
    assert_true(sr_config_parse(&sr_core_config_table, &c, "t", unknown, strlen(unknown), err, sizeof(err)) < 0);

    /* events: limits and the pending-acknowledgement check */
    static const char ev[] = "nats.logs_max_bytes = 10G\nnats.security_max_age = 720h\nevents.workers = 8\n"
                             "events.batch_size = 4096\n";
    assert_int_equal(sr_config_parse(&sr_core_config_table, &c, "t", ev, strlen(ev), err, sizeof(err)), 0);
    assert_int_equal(c.logs_max_bytes, 10ULL << 30);
    assert_int_equal(c.security_max_age_ms, 720 * 3600000LL);
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "events.batch_size"));
    static const char ev_ok[] = "events.batch_size = 64\n";
    assert_int_equal(sr_config_parse(&sr_core_config_table, &c, "t", ev_ok, strlen(ev_ok), err, sizeof(err)), 0);
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    static const char ev_bad[] = "events.falco_workers = 0\n";
    assert_true(sr_config_parse(&sr_core_config_table, &c, "t", ev_bad, strlen(ev_bad), err, sizeof(err)) < 0);

    static const char lvl[] = "log.level = \"loud\"\n";
    assert_int_equal(sr_config_parse(&sr_core_config_table, &c, "t", lvl, strlen(lvl), err, sizeof(err)), 0);
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "log.level"));
    sr_core_config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_defaults), cmocka_unit_test(test_parse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
