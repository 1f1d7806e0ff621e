/* Unit tests: the ScanPart rules the gateway and the core share (sr_telemetry), one broken rule
 * at a time, and the core's decode of a scan.trivy.results message (sr_ingest_decode_scan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_ingest_decode.h"
#include "sr_telemetry.h"

#define S(x) ((char *)(uintptr_t)(x))
#define NOW_MS INT64_C(1767225600000) /* 2026-01-01 */

static uint8_t DATA[SR_TELEMETRY_SCAN_MAX_PART_BYTES + 1];
static uint8_t SHA[33];

static void valid_part(Serviceradar__Agent__V1__ScanPart *p) {
    serviceradar__agent__v1__scan_part__init(p);
    p->scan_id = S("0123456789abcdef0123456789abcdef");
    p->target = S("host");
    p->kind = S("report");
    p->index = 1;
    p->count = 3;
    p->data.data = DATA;
    p->data.len = 1000;
    p->total_size = 2500;
    p->total_sha256.data = SHA;
    p->total_sha256.len = 32;
    p->started_unix_ms = NOW_MS - 60000;
    p->finished_unix_ms = NOW_MS - 1000;
    p->db_version = S("sha256:4e3c");
    p->scanner_version = S("trivy v0.74.0");
    p->target_name = S("web-01");
    p->targets_in_run = 4;
}

static void batch_of(sr_upload_batch *b, Serviceradar__Agent__V1__ScanPart *p) {
    serviceradar__agent__v1__upload_batch__init(b);
    b->agent_id = S("agent-1");
    b->epoch = 7;
    b->seq = 42;
    b->payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
    b->scan = p;
}

static void expect(Serviceradar__Agent__V1__ScanPart *p, int want, const char *part) {
    sr_upload_batch b;
    batch_of(&b, p);
    char err[384] = "";
    int r = sr_telemetry_validate(&b, "agent-1", 0, err, sizeof(err));
    if (r != want || (part && !strstr(err, part)))
        fail_msg("%d \"%s\", expected %d with \"%s\"", r, err, want, part ? part : "");
}

static void test_valid(void **state) {
    (void)state;
    Serviceradar__Agent__V1__ScanPart p;
    valid_part(&p);
    expect(&p, 0, NULL);
    p.target = S("container:3f2a9c1b7e4d.web_1-x");
    p.kind = S("sbom");
    p.index = 0;
    p.count = 1;
    p.total_size = 1000;
    expect(&p, 0, NULL);
    valid_part(&p);
    p.count = SR_TELEMETRY_SCAN_MAX_PARTS;
    p.index = SR_TELEMETRY_SCAN_MAX_PARTS - 1;
    p.total_size = SR_TELEMETRY_SCAN_MAX_TOTAL_BYTES;
    p.data.len = SR_TELEMETRY_SCAN_MAX_PART_BYTES;
    p.db_version = S("");
    p.target_name = NULL;
    p.targets_in_run = 0;
    expect(&p, 0, NULL);
}

static void test_rules(void **state) {
    (void)state;
    Serviceradar__Agent__V1__ScanPart p;
    char cid[200];
    const char *const bad_ids[] = {"", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde",
                                   "0123456789abcdef0123456789abcdef0", "0123456789abcdeg0123456789abcdef"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        valid_part(&p);
        p.scan_id = S(bad_ids[i]);
        expect(&p, -EINVAL, "scan_id is not 32 lowercase hex");
    }
    valid_part(&p);
    p.scan_id = NULL;
    expect(&p, -EINVAL, "scan_id");
    const char *const bad_targets[] = {"", "Host", "container:", "container:a/b", "container:a b", "vm:1",
                                       "host "};
    for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
        valid_part(&p);
        p.target = S(bad_targets[i]);
        expect(&p, -EINVAL, "scan target is not");
    }
    valid_part(&p);
    memset(cid, 'a', sizeof(cid));
    memcpy(cid, "container:", 10);
    cid[10 + 128] = '\0';
    p.target = cid;
    expect(&p, 0, NULL);
    cid[10 + 128] = 'a';
    cid[10 + 129] = '\0';
    expect(&p, -EINVAL, "scan target");
    valid_part(&p);
    p.kind = S("spdx");
    expect(&p, -EINVAL, "scan kind");
    valid_part(&p);
    p.count = 0;
    p.index = 0;
    expect(&p, -EINVAL, "count 0 is not in 1..65536");
    valid_part(&p);
    p.count = SR_TELEMETRY_SCAN_MAX_PARTS + 1;
    expect(&p, -EINVAL, "is not in 1..65536");
    valid_part(&p);
    p.index = 3;
    expect(&p, -EINVAL, "index 3 is not below count 3");
    valid_part(&p);
    p.data.len = 0;
    expect(&p, -EINVAL, "data is 0 bytes");
    valid_part(&p);
    p.data.len = SR_TELEMETRY_SCAN_MAX_PART_BYTES + 1;
    p.total_size = SR_TELEMETRY_SCAN_MAX_PART_BYTES + 10;
    expect(&p, -EINVAL, "data is 524289 bytes");
    valid_part(&p);
    p.total_size = SR_TELEMETRY_SCAN_MAX_TOTAL_BYTES + 1;
    expect(&p, -EINVAL, "total_size");
    valid_part(&p);
    p.total_size = 999; /* smaller than this part */
    expect(&p, -EINVAL, "total_size 999");
    valid_part(&p);
    p.data.len = 1;
    p.total_size = 2; /* fewer bytes than parts */
    expect(&p, -EINVAL, "total_size 2");
    valid_part(&p);
    p.total_sha256.len = 31;
    expect(&p, -EINVAL, "total_sha256 is 31 bytes");
    valid_part(&p);
    p.total_sha256.len = 33;
    expect(&p, -EINVAL, "total_sha256 is 33 bytes");
    char longv[SR_TELEMETRY_SCAN_MAX_NAME_BYTES + 2];
    memset(longv, 'v', sizeof(longv));
    longv[SR_TELEMETRY_SCAN_MAX_VERSION_BYTES + 1] = '\0';
    valid_part(&p);
    p.scanner_version = longv;
    expect(&p, -EINVAL, "scanner_version is 129 bytes");
    valid_part(&p);
    p.db_version = longv;
    expect(&p, -EINVAL, "db_version is 129 bytes");
    longv[SR_TELEMETRY_SCAN_MAX_VERSION_BYTES + 1] = 'v';
    longv[SR_TELEMETRY_SCAN_MAX_NAME_BYTES + 1] = '\0';
    valid_part(&p);
    p.target_name = longv;
    expect(&p, -EINVAL, "target_name is 513 bytes");
    valid_part(&p);
    p.target_name = S("bad \xc3\x28 utf-8");
    expect(&p, -EINVAL, "target_name is not valid UTF-8");
    valid_part(&p);
    p.targets_in_run = SR_TELEMETRY_SCAN_MAX_TARGETS + 1;
    expect(&p, -EINVAL, "targets_in_run");
    valid_part(&p);
    p.finished_unix_ms = p.started_unix_ms - 1;
    expect(&p, -EINVAL, "scan times out of range");
    valid_part(&p);
    p.started_unix_ms = -5;
    expect(&p, -EINVAL, "scan times out of range");
    valid_part(&p);
    p.started_unix_ms = 0;
    p.finished_unix_ms = 1000;
    expect(&p, -EINVAL, "scan times out of range");

    /* identity and seq still apply */
    valid_part(&p);
    sr_upload_batch b;
    batch_of(&b, &p);
    char err[256];
    b.agent_id = S("agent-2");
    assert_int_equal(sr_telemetry_validate(&b, "agent-1", 0, err, sizeof(err)), -EPERM);
    b.agent_id = S("");
    b.seq = 0;
    assert_int_equal(sr_telemetry_validate(&b, "agent-1", 0, err, sizeof(err)), -EINVAL);
    b.seq = 1;
    b.scan = NULL;
    assert_int_equal(sr_telemetry_validate(&b, "agent-1", 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "expected metrics, logs or scan"));
}

static void test_target_valid(void **state) {
    (void)state;
    assert_true(sr_telemetry_scan_target_valid("host"));
    assert_true(sr_telemetry_scan_target_valid("container:abc"));
    assert_false(sr_telemetry_scan_target_valid("container:"));
    assert_false(sr_telemetry_scan_target_valid(NULL));
    assert_false(sr_telemetry_scan_target_valid("hostx"));
}

/* The core decodes the packed message; a future finish time is clamped to now. */
static void test_core_decode(void **state) {
    (void)state;
    Serviceradar__Agent__V1__ScanPart p;
    valid_part(&p);
    p.finished_unix_ms = NOW_MS + 5000;
    sr_upload_batch b;
    batch_of(&b, &p);
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    sr_telemetry_decoder *dec = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&dec), 0);
    sr_ingest_scan s;
    char why[256] = "";
    assert_int_equal(sr_ingest_decode_scan(buf, len, "agent-1", NOW_MS, dec, &s, why, sizeof(why)), 0);
    assert_string_equal(s.agent_id, "agent-1");
    assert_int_equal(s.epoch, 7);
    assert_int_equal(s.seq, 42);
    assert_int_equal(s.finished_ms, NOW_MS);
    assert_string_equal(s.part->scan_id, "0123456789abcdef0123456789abcdef");
    assert_int_equal(s.part->data.len, 1000);
    assert_int_equal(s.part->total_sha256.len, 32);
    /* a header that differs from the batch's agent_id, a missing header */
    assert_int_equal(sr_ingest_decode_scan(buf, len, "agent-9", NOW_MS, dec, &s, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "does not match"));
    assert_int_equal(sr_ingest_decode_scan(buf, len, NULL, NOW_MS, dec, &s, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "missing Sr-Agent-Id"));
    /* a broken rule */
    p.kind = S("nope");
    free(buf);
    len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    assert_int_equal(sr_ingest_decode_scan(buf, len, "agent-1", NOW_MS, dec, &s, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "scan kind"));
    free(buf);
    /* a logs payload is not a scan part */
    Serviceradar__Agent__V1__LogsBatch l;
    serviceradar__agent__v1__logs_batch__init(&l);
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    b.logs = &l;
    len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    buf = malloc(len);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    assert_int_equal(sr_ingest_decode_scan(buf, len, "agent-1", NOW_MS, dec, &s, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "payload is not a scan part"));
    free(buf);
    sr_telemetry_decoder_free(dec);
}

int main(void) {
    memset(SHA, 0xab, sizeof(SHA));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_target_valid),
        cmocka_unit_test(test_core_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
