/* sr_scan_spool_document: a document cut into ScanPart batches in the spool, each a valid
 * UploadBatch, that put back together give the document and its digest; the spool limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_scan.h"
#include "sr_spool.h"
#include "srtest.h"

typedef struct {
    char dir[256];
    sr_spool *spool;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    assert_int_equal(sr_spool_open(f->dir, 64u << 20, &f->spool), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sr_spool_free(f->spool);
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

typedef struct {
    uint8_t *doc;
    size_t len;
    uint32_t parts;
    uint64_t last_seq;
    unsigned char digest[32];
} collected;

static int collect(uint64_t seq, const uint8_t *data, size_t len, void *userdata) {
    collected *c = userdata;
    Serviceradar__Agent__V1__UploadBatch *b = serviceradar__agent__v1__upload_batch__unpack(NULL, len, data);
    assert_non_null(b);
    assert_int_equal(b->seq, seq);
    assert_true(seq > c->last_seq);
    c->last_seq = seq;
    assert_string_equal(b->agent_id, "agent-1");
    assert_int_equal(b->payload_case, SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN);
    const Serviceradar__Agent__V1__ScanPart *p = b->scan;
    assert_string_equal(p->scan_id, "0123456789abcdef0123456789abcdef");
    assert_string_equal(p->target, "container:web01");
    assert_string_equal(p->kind, "report");
    assert_string_equal(p->db_version, "sha256:00");
    assert_string_equal(p->scanner_version, "trivy v0.74.0");
    assert_string_equal(p->target_name, "lxc");
    assert_int_equal(p->targets_in_run, 3);
    assert_int_equal(p->started_unix_ms, 1000);
    assert_int_equal(p->finished_unix_ms, 2000);
    assert_int_equal(p->index, c->parts);
    assert_true(p->data.len >= 1 && p->data.len <= SR_SCAN_PART_MAX);
    assert_int_equal(p->total_sha256.len, 32);
    memcpy(c->digest, p->total_sha256.data, 32);
    c->doc = realloc(c->doc, c->len + p->data.len);
    assert_non_null(c->doc);
    memcpy(c->doc + c->len, p->data.data, p->data.len);
    c->len += p->data.len;
    c->parts++;
    assert_int_equal(p->total_size, 1300000);
    assert_int_equal(p->count, 3);
    serviceradar__agent__v1__upload_batch__free_unpacked(b, NULL);
    return 0;
}

static sr_scan_doc_info info(void) {
    return (sr_scan_doc_info){.agent_id = "agent-1", .scan_id = "0123456789abcdef0123456789abcdef",
                              .target = "container:web01", .target_name = "lxc", .kind = "report",
                              .db_version = "sha256:00", .scanner_version = "trivy v0.74.0",
                              .started_unix_ms = 1000, .finished_unix_ms = 2000, .targets_in_run = 3};
}

static void test_roundtrip(void **state) {
    fixture *f = *state;
    size_t len = 1300000; /* 2 full parts and a partial one */
    char *doc = malloc(len);
    assert_non_null(doc);
    for (size_t i = 0; i < len; i++)
        doc[i] = (char)('a' + (i * 7919) % 26);
    sr_scan_doc_info di = info();
    uint32_t parts = 0;
    assert_int_equal(sr_scan_spool_document(f->spool, &di, doc, len, &parts), 0);
    assert_int_equal(parts, 3);
    collected c = {0};
    assert_int_equal(sr_spool_peek(f->spool, 100, SIZE_MAX, collect, &c), 3);
    assert_int_equal(c.parts, 3);
    assert_int_equal(c.len, len);
    assert_memory_equal(c.doc, doc, len);
    unsigned char want[32];
    SHA256((const unsigned char *)doc, len, want);
    assert_memory_equal(c.digest, want, 32);
    free(c.doc);
    free(doc);
}

static void test_limits(void **state) {
    fixture *f = *state;
    sr_scan_doc_info di = info();
    char doc[1000];
    memset(doc, 'x', sizeof(doc));
    assert_int_equal(sr_scan_spool_document(f->spool, &di, doc, 0, NULL), -EINVAL);
    assert_int_equal(sr_scan_spool_document(f->spool, &di, NULL, 10, NULL), -EINVAL);
    di.scan_id = NULL;
    assert_int_equal(sr_scan_spool_document(f->spool, &di, doc, sizeof(doc), NULL), -EINVAL);
    /* A document that would take the spool past its limit is refused, nothing is appended. */
    di = info();
    di.spool_max_bytes = 512;
    assert_int_equal(sr_scan_spool_document(f->spool, &di, doc, sizeof(doc), NULL), -ENOSPC);
    sr_spool_stats st;
    sr_spool_get_stats(f->spool, &st);
    assert_int_equal(st.records, 0);
    di.spool_max_bytes = 1u << 20;
    uint32_t parts = 0;
    assert_int_equal(sr_scan_spool_document(f->spool, &di, doc, sizeof(doc), &parts), 0);
    assert_int_equal(parts, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
