/* sr_scan_parts: one scan document -> ScanPart UploadBatches in the spool. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_scan.h"
#include "sr_time.h"

typedef struct {
    const sr_scan_doc_info *info;
    uint64_t epoch;
    Serviceradar__Agent__V1__ScanPart *part;
} pack_ctx;

static int pack_part(uint64_t seq, uint8_t **ret_buf, size_t *ret_len, void *userdata) {
    pack_ctx *pc = userdata;
    Serviceradar__Agent__V1__UploadBatch b;
    serviceradar__agent__v1__upload_batch__init(&b);
    b.agent_id = (char *)(uintptr_t)pc->info->agent_id;
    b.epoch = pc->epoch;
    b.seq = seq;
    b.created_unix_ms = sr_now_unix_ms();
    b.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
    b.scan = pc->part;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    serviceradar__agent__v1__upload_batch__pack(&b, buf);
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

/* Bytes a part costs beyond its data: the batch and part fields (target, names and versions are
 * bounded by the contract), the spool's record header. */
#define PART_OVERHEAD 2048u

int sr_scan_spool_fits(sr_spool *spool, uint64_t limit, uint64_t bytes) {
    if (!spool)
        return -EINVAL;
    uint64_t parts = (bytes + SR_SCAN_PART_MAX - 1) / SR_SCAN_PART_MAX;
    sr_spool_stats st;
    sr_spool_get_stats(spool, &st);
    return st.bytes + bytes + parts * PART_OVERHEAD > limit ? -ENOSPC : 0;
}

static char *str_or_empty(const char *s) {
    return (char *)(uintptr_t)(s ? s : "");
}

int sr_scan_spool_document(sr_spool *spool, const sr_scan_doc_info *info, const char *doc, size_t len,
                           uint32_t *ret_parts) {
    if (!spool || !info || !doc || len == 0 || !info->scan_id || !info->target || !info->kind)
        return -EINVAL;
    uint64_t count = (len + SR_SCAN_PART_MAX - 1) / SR_SCAN_PART_MAX;
    if (count > 65536 || len > (UINT64_C(1) << 30))
        return -EMSGSIZE;
    if (info->spool_max_bytes) {
        int r = sr_scan_spool_fits(spool, info->spool_max_bytes, len);
        if (r < 0)
            return r;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)doc, len, digest);

    Serviceradar__Agent__V1__ScanPart p;
    serviceradar__agent__v1__scan_part__init(&p);
    p.scan_id = str_or_empty(info->scan_id);
    p.target = str_or_empty(info->target);
    p.kind = str_or_empty(info->kind);
    p.count = (uint32_t)count;
    p.total_size = len;
    p.total_sha256.data = digest;
    p.total_sha256.len = sizeof(digest);
    p.started_unix_ms = info->started_unix_ms;
    p.finished_unix_ms = info->finished_unix_ms;
    p.db_version = str_or_empty(info->db_version);
    p.scanner_version = str_or_empty(info->scanner_version);
    p.target_name = str_or_empty(info->target_name);
    p.targets_in_run = info->targets_in_run;
    pack_ctx pc = {.info = info, .epoch = sr_spool_epoch(spool), .part = &p};
    for (uint64_t i = 0; i < count; i++) {
        size_t off = (size_t)(i * SR_SCAN_PART_MAX);
        size_t n = len - off < SR_SCAN_PART_MAX ? len - off : SR_SCAN_PART_MAX;
        p.index = (uint32_t)i;
        p.data.data = (uint8_t *)(uintptr_t)(doc + off);
        p.data.len = n;
        int r = sr_spool_append_packed(spool, pack_part, &pc, NULL);
        if (r < 0)
            return r;
    }
    if (ret_parts)
        *ret_parts = (uint32_t)count;
    return 0;
}
