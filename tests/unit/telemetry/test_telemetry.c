/* Unit tests: telemetry batch validation, bounded decoding, message ids. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_telemetry.h"

/* protobuf-c fields are char *; the tests point them at literals they never modify. */
#define S(x) ((char *)(uintptr_t)(x))

typedef struct {
    sr_upload_batch b;
    Serviceradar__Agent__V1__MetricsBatch m;
    Serviceradar__Agent__V1__MetricPoint *pts;
    Serviceradar__Agent__V1__MetricPoint **ptrs;
} fixture;

/* A valid batch with n points named cpu.usage_pct/total. */
static fixture *fx_new(size_t n) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    serviceradar__agent__v1__upload_batch__init(&f->b);
    serviceradar__agent__v1__metrics_batch__init(&f->m);
    f->pts = calloc(n ? n : 1, sizeof(*f->pts));
    f->ptrs = calloc(n ? n : 1, sizeof(*f->ptrs));
    assert_non_null(f->pts);
    assert_non_null(f->ptrs);
    for (size_t i = 0; i < n; i++) {
        serviceradar__agent__v1__metric_point__init(&f->pts[i]);
        f->pts[i].name = S("cpu.usage_pct");
        f->pts[i].dim = S("total");
        f->pts[i].value = (double)i;
        f->pts[i].time_unix_ms = 1700000000000 + (int64_t)i;
        f->ptrs[i] = &f->pts[i];
    }
    f->m.hostname = S("host-a");
    f->m.n_points = n;
    f->m.points = f->ptrs;
    f->b.agent_id = S("agent-1");
    f->b.epoch = 42;
    f->b.seq = 7;
    f->b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    f->b.metrics = &f->m;
    return f;
}

static void fx_free(fixture *f) {
    free(f->pts);
    free(f->ptrs);
    free(f);
}

static uint8_t *pack(const sr_upload_batch *b, size_t *len) {
    *len = serviceradar__agent__v1__upload_batch__get_packed_size(b);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(serviceradar__agent__v1__upload_batch__pack(b, buf), *len);
    return buf;
}

static int validate(fixture *f, const char *identity, char *err, size_t errlen) {
    return sr_telemetry_validate(&f->b, identity, 0, err, errlen);
}

static void test_valid(void **state) {
    (void)state;
    fixture *f = fx_new(3);
    char err[256] = "";
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    assert_int_equal(validate(f, NULL, err, sizeof(err)), 0);
    f->b.agent_id = S(""); /* informational field may be empty */
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    f->m.hostname = S("");
    f->pts[0].dim = S("");
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    fx_free(f);
}

static void test_seq_zero(void **state) {
    (void)state;
    fixture *f = fx_new(1);
    char err[256] = "";
    f->b.seq = 0;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "seq"));
    fx_free(f);
}

static void test_missing_payload(void **state) {
    (void)state;
    fixture *f = fx_new(1);
    char err[256] = "";
    f->b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD__NOT_SET;
    f->b.metrics = NULL;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "batch seq 7"));
    assert_non_null(strstr(err, "payload"));
    fx_free(f);
}

static void test_too_many_points(void **state) {
    (void)state;
    char err[256] = "";
    fixture *f = fx_new(SR_TELEMETRY_MAX_POINTS);
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    fx_free(f);
    f = fx_new(SR_TELEMETRY_MAX_POINTS + 1);
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "10001 points"));
    /* a configured lower limit applies */
    f->m.n_points = 11;
    assert_int_equal(sr_telemetry_validate(&f->b, "agent-1", 10, err, sizeof(err)), -EINVAL);
    assert_int_equal(sr_telemetry_validate(&f->b, "agent-1", 11, err, sizeof(err)), 0);
    fx_free(f);
}

static void test_string_limits(void **state) {
    (void)state;
    char err[256] = "";
    char big[300];
    fixture *f = fx_new(2);

    memset(big, 'n', sizeof(big));
    big[SR_TELEMETRY_MAX_NAME_BYTES] = '\0';
    f->pts[1].name = big;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    big[SR_TELEMETRY_MAX_NAME_BYTES] = 'n';
    big[SR_TELEMETRY_MAX_NAME_BYTES + 1] = '\0';
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "point 1"));
    assert_non_null(strstr(err, "metric name is 129 bytes (limit 128)"));
    f->pts[1].name = S("");
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "empty"));
    f->pts[1].name = S("x");

    memset(big, 'd', sizeof(big));
    big[SR_TELEMETRY_MAX_DIM_BYTES] = '\0';
    f->pts[0].dim = big;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    big[SR_TELEMETRY_MAX_DIM_BYTES] = 'd';
    big[SR_TELEMETRY_MAX_DIM_BYTES + 1] = '\0';
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "dim is 257 bytes"));
    f->pts[0].dim = S("total");

    memset(big, 'h', sizeof(big));
    big[SR_TELEMETRY_MAX_HOSTNAME_BYTES] = '\0';
    f->m.hostname = big;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    big[SR_TELEMETRY_MAX_HOSTNAME_BYTES] = 'h';
    big[SR_TELEMETRY_MAX_HOSTNAME_BYTES + 1] = '\0';
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "hostname is 256 bytes"));
    fx_free(f);
}

static void test_utf8(void **state) {
    (void)state;
    char err[256] = "";
    fixture *f = fx_new(1);
    f->pts[0].dim = S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    static const char *const bad[] = {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xc3",
                                      "\xe2\x82"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->pts[0].dim = S(bad[i]);
        assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "UTF-8"));
    }
    fx_free(f);
}

static void test_non_finite(void **state) {
    (void)state;
    char err[256] = "";
    fixture *f = fx_new(3);
    f->pts[2].value = NAN;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "point 2"));
    assert_non_null(strstr(err, "not finite"));
    f->pts[2].value = INFINITY;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    f->pts[2].value = -INFINITY;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EINVAL);
    f->pts[2].value = -1e308;
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), 0);
    fx_free(f);
}

static void test_identity_mismatch(void **state) {
    (void)state;
    char err[256] = "";
    fixture *f = fx_new(1);
    f->b.agent_id = S("agent-2");
    assert_int_equal(validate(f, "agent-1", err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "agent-2"));
    assert_non_null(strstr(err, "agent-1"));
    assert_int_equal(validate(f, NULL, err, sizeof(err)), 0);
    fx_free(f);
}

static void test_decode_roundtrip(void **state) {
    (void)state;
    sr_telemetry_decoder *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&d), 0);
    char err[256] = "";
    /* many decodes of growing and shrinking sizes reuse the arena */
    static const size_t sizes[] = {1, 500, 10000, 3, 10000, 0, 77};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        fixture *f = fx_new(sizes[k]);
        f->b.seq = k + 1;
        size_t len;
        uint8_t *buf = pack(&f->b, &len);
        size_t n = 99;
        assert_int_equal(sr_telemetry_count_points(buf, len, &n), 0);
        assert_int_equal(n, sizes[k]);
        const sr_upload_batch *out = NULL;
        assert_int_equal(sr_telemetry_decode(d, buf, len, "agent-1", 0, &out, err, sizeof(err)), 0);
        assert_non_null(out);
        assert_int_equal(out->seq, k + 1);
        assert_int_equal(out->epoch, 42);
        assert_int_equal(out->metrics->n_points, sizes[k]);
        if (sizes[k] > 0)
            assert_string_equal(out->metrics->points[sizes[k] - 1]->name, "cpu.usage_pct");
        free(buf);
        fx_free(f);
    }
    assert_null(sr_telemetry_decoder_free(d));
    assert_null(sr_telemetry_decoder_free(NULL));
}

static void test_decode_errors(void **state) {
    (void)state;
    sr_telemetry_decoder *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&d), 0);
    char err[256] = "";
    const sr_upload_batch *out = NULL;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    assert_int_equal(sr_telemetry_decode(d, junk, sizeof(junk), "agent-1", 0, &out, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "not a valid UploadBatch"));
    static const uint8_t trunc[] = {0x0a, 0x05, 'a', 'b'}; /* agent_id claims 5 bytes, has 2 */
    assert_int_equal(sr_telemetry_decode(d, trunc, sizeof(trunc), "agent-1", 0, &out, err, sizeof(err)), -EBADMSG);
    assert_null(out);

    /* empty message: decodes, but seq 0 */
    assert_int_equal(sr_telemetry_decode(d, NULL, 0, "agent-1", 0, &out, err, sizeof(err)), -EINVAL);

    /* too many points is refused before the full decode */
    fixture *f = fx_new(SR_TELEMETRY_MAX_POINTS + 1);
    size_t len;
    uint8_t *buf = pack(&f->b, &len);
    assert_int_equal(sr_telemetry_decode(d, buf, len, "agent-1", 0, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "10001 points"));
    free(buf);
    fx_free(f);

    f = fx_new(2);
    f->b.agent_id = S("someone-else");
    buf = pack(&f->b, &len);
    assert_int_equal(sr_telemetry_decode(d, buf, len, "agent-1", 0, &out, err, sizeof(err)), -EPERM);
    free(buf);
    fx_free(f);
    sr_telemetry_decoder_free(d);
}

static void test_msg_id(void **state) {
    (void)state;
    char buf[SR_TELEMETRY_MSG_ID_MAX];
    assert_int_equal(sr_telemetry_msg_id("agent-1", UINT64_MAX, 5, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "agent-1:18446744073709551615:5");
    assert_int_equal(sr_telemetry_msg_id("", 1, 1, buf, sizeof(buf)), -EINVAL);
    char small[8];
    assert_int_equal(sr_telemetry_msg_id("agent-1", 1, 1, small, sizeof(small)), -ENOBUFS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),          cmocka_unit_test(test_seq_zero),
        cmocka_unit_test(test_missing_payload), cmocka_unit_test(test_too_many_points),
        cmocka_unit_test(test_string_limits),  cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_non_finite),     cmocka_unit_test(test_identity_mismatch),
        cmocka_unit_test(test_decode_roundtrip), cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_msg_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
