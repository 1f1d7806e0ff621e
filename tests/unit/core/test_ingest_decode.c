/* Decode + validate of telemetry.metrics.edge messages and the binary COPY encoding of the
 * narrow metric_points rows. UTF-8 rules: tests/unit/base/test_utf8.c. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_ingest_copy.h"
#include "sr_ingest_decode.h"

#define NOW INT64_C(1767225600000) /* 2026-01-01 */

typedef struct {
    Serviceradar__Agent__V1__UploadBatch b;
    Serviceradar__Agent__V1__MetricsBatch m;
    Serviceradar__Agent__V1__MetricPoint p[3];
    Serviceradar__Agent__V1__MetricPoint *pp[3];
} fixture;

static void build(fixture *f, const char *agent) {
    serviceradar__agent__v1__upload_batch__init(&f->b);
    serviceradar__agent__v1__metrics_batch__init(&f->m);
    static const char *names[] = {"cpu.usage_pct", "mem.used_bytes", "disk.used_pct"};
    static const char *dims[] = {"total", "", "/"};
    for (int i = 0; i < 3; i++) {
        serviceradar__agent__v1__metric_point__init(&f->p[i]);
        f->p[i].name = (char *)(uintptr_t)names[i];
        f->p[i].dim = (char *)(uintptr_t)dims[i];
        f->p[i].value = 1.5 * (i + 1);
        f->p[i].time_unix_ms = NOW - 1000 + i;
        f->pp[i] = &f->p[i];
    }
    f->m.hostname = (char *)(uintptr_t) "host-1";
    f->m.n_points = 3;
    f->m.points = f->pp;
    f->b.agent_id = (char *)(uintptr_t)agent;
    f->b.epoch = UINT64_C(0xfedcba9876543210);
    f->b.seq = 7;
    f->b.created_unix_ms = NOW;
    f->b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    f->b.metrics = &f->m;
}

static uint8_t *pack(fixture *f, size_t *len) {
    *len = serviceradar__agent__v1__upload_batch__get_packed_size(&f->b);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    serviceradar__agent__v1__upload_batch__pack(&f->b, buf);
    return buf;
}

static int decode(fixture *f, const char *hdr, sr_ingest_upload *u, char *reason) {
    sr_telemetry_decoder *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&d), 0);
    size_t len;
    uint8_t *buf = pack(f, &len);
    int r = sr_ingest_decode_upload(buf, len, hdr, NOW, d, u, reason, 256);
    if (r == 0) { /* check while the decoder still owns the result */
        assert_int_equal(u->n_points, 3);
        assert_string_equal(u->points[1]->name, "mem.used_bytes");
    }
    free(buf);
    sr_telemetry_decoder_free(d);
    return r;
}

static void test_valid(void **state) {
    (void)state;
    fixture f;
    build(&f, "agent-1");
    sr_ingest_upload u;
    char reason[256] = "";
    assert_int_equal(decode(&f, "agent-1", &u, reason), 0);
    assert_int_equal(u.seq, 7);
    assert_true(u.epoch == UINT64_C(0xfedcba9876543210));
    assert_int_equal(u.agent_id_len, 7);
    assert_int_equal(u.max_time_ms, NOW - 1000 + 2);
    /* an empty agent_id field is accepted: the header is the identity */
    build(&f, "");
    assert_int_equal(decode(&f, "agent-1", &u, reason), 0);
}

static void test_rejects(void **state) {
    (void)state;
    fixture f;
    sr_ingest_upload u;
    char reason[256];

    build(&f, "agent-1");
    assert_int_equal(decode(&f, NULL, &u, reason), -EBADMSG);
    assert_non_null(strstr(reason, "Sr-Agent-Id"));

    assert_int_equal(decode(&f, "agent-2", &u, reason), -EBADMSG); /* field differs from header */

    build(&f, "agent-1");
    f.b.seq = 0;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    build(&f, "agent-1");
    f.b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD__NOT_SET;
    f.b.metrics = NULL;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    build(&f, "agent-1");
    f.p[1].value = NAN;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);
    assert_non_null(strstr(reason, "finite"));

    build(&f, "agent-1");
    f.p[2].value = INFINITY;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    build(&f, "agent-1");
    f.p[0].time_unix_ms = NOW + 2 * 86400000LL; /* too far in the future */
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);
    assert_non_null(strstr(reason, "time"));

    build(&f, "agent-1");
    f.p[0].time_unix_ms = 0;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    build(&f, "agent-1");
    f.p[0].name = (char *)(uintptr_t) "";
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    build(&f, "agent-1");
    char bad[] = {'c', 'p', 'u', (char)0xff, 0};
    f.p[0].dim = bad;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    char longname[200];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    build(&f, "agent-1");
    f.p[0].name = longname;
    assert_int_equal(decode(&f, "agent-1", &u, reason), -EBADMSG);

    /* a header that is not UTF-8 */
    build(&f, "");
    char badhdr[] = {'a', (char)0xc0, (char)0x80, 0};
    assert_int_equal(decode(&f, badhdr, &u, reason), -EBADMSG);
}

static void test_garbage(void **state) {
    (void)state;
    sr_telemetry_decoder *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(&d), 0);
    sr_ingest_upload u;
    char reason[256];
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    assert_int_equal(sr_ingest_decode_upload(junk, sizeof(junk), "a", NOW, d, &u, reason, sizeof(reason)), -EBADMSG);
    assert_int_equal(sr_ingest_decode_upload("", 0, "a", NOW, d, &u, reason, sizeof(reason)), -EBADMSG);
    sr_telemetry_decoder_free(d);
}

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_copy_encoding(void **state) {
    (void)state;
    Serviceradar__Agent__V1__MetricPoint p[2];
    for (int i = 0; i < 2; i++)
        serviceradar__agent__v1__metric_point__init(&p[i]);
    p[0].name = (char *)(uintptr_t) "load.1";
    p[0].dim = (char *)(uintptr_t) "";
    p[0].value = 0.5;
    p[0].time_unix_ms = 946684800000LL + 1; /* PostgreSQL epoch + 1 ms */
    p[1].name = (char *)(uintptr_t) "load.5";
    p[1].value = -2.0;
    p[1].time_unix_ms = 946684800000LL + 4295000LL; /* over 2^32 microseconds */
    const Serviceradar__Agent__V1__MetricPoint *pts[2] = {&p[0], &p[1]};
    const int64_t ids[2] = {INT64_C(0x0102030405), 7};
    sr_ingest_upload u = {.agent_id = "ag", .agent_id_len = 2, .points = pts, .n_points = 2};
    sr_copybuf b;
    sr_copybuf_init(&b, 1 << 20);
    assert_int_equal(sr_copybuf_header(&b), 0);
    assert_int_equal(b.len, 19);
    assert_memory_equal(b.data, "PGCOPY\n\377\r\n\0", 11);
    assert_int_equal(rd32(b.data + 11), 0); /* flags */
    assert_int_equal(rd32(b.data + 15), 0); /* header extension */
    assert_int_equal(sr_copybuf_append_series(&b, &u, ids), 0);
    assert_int_equal(b.len, 19 + 2 * 38);
    /* (time, series_id, value): field count, then length + big-endian value for each */
    const unsigned char *t = b.data + 19;
    assert_int_equal(t[0] << 8 | t[1], 3);
    assert_int_equal(rd32(t + 2), 8);
    assert_int_equal(rd32(t + 6), 0);
    assert_int_equal(rd32(t + 10), 1000); /* microseconds */
    assert_int_equal(rd32(t + 14), 8);
    assert_int_equal(rd32(t + 18), 0x01);
    assert_int_equal(rd32(t + 22), 0x02030405);
    assert_int_equal(rd32(t + 26), 8);
    assert_int_equal(rd32(t + 30), 0x3fe00000); /* 0.5 */
    assert_int_equal(rd32(t + 34), 0);
    t += 38;
    assert_int_equal(t[0] << 8 | t[1], 3);
    assert_int_equal(rd32(t + 6), 1); /* 4,295,000,000 us = 2^32 + 32,704 */
    assert_int_equal(rd32(t + 10), 32704);
    assert_int_equal(rd32(t + 18), 0);
    assert_int_equal(rd32(t + 22), 7);
    assert_int_equal(rd32(t + 30), 0xc0000000); /* -2.0 */
    assert_int_equal(rd32(t + 34), 0);
    assert_int_equal(sr_copybuf_trailer(&b), 0);
    assert_int_equal(b.len, 19 + 2 * 38 + 2);
    assert_int_equal(b.data[b.len - 2], 0xff);
    assert_int_equal(b.data[b.len - 1], 0xff);

    /* reset keeps the memory and starts over */
    sr_copybuf_reset(&b);
    assert_int_equal(b.len, 0);
    sr_copybuf_done(&b);

    /* the cap is honoured and leaves the buffer unchanged */
    sr_copybuf_init(&b, 19 + 38 + 37);
    assert_int_equal(sr_copybuf_header(&b), 0);
    assert_int_equal(sr_copybuf_append_series(&b, &u, ids), -ENOBUFS);
    assert_int_equal(b.len, 19);
    u.n_points = 1;
    assert_int_equal(sr_copybuf_append_series(&b, &u, ids), 0);
    assert_int_equal(b.len, 19 + 38);
    sr_copybuf_done(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_copy_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
