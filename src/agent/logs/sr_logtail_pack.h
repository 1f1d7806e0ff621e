/* sr_logtail_pack: a batch of log records -> UploadBatch{logs} (the spool's record format), and
 * the emit callback that appends it to the agent's spool with back-pressure. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_logtail.h"
#include "sr_spool.h"

typedef struct {
    const char *agent_id;
    uint64_t epoch, seq;
    int64_t created_unix_ms;
    const char *hostname;
} sr_logtail_pack_info;

/* Packs every entry of b into a malloc'ed buffer (caller frees). A record time outside
 * [2000-01-01, created + 12 h] (what the gateway would refuse) is replaced by the read time and
 * kept in the field "log.parsed_time_ms". Returns 0, -EINVAL (seq 0, empty batch) or -ENOMEM. */
int sr_logtail_pack(const sr_logtail_pack_info *info, const sr_logtail_batch *b, uint8_t **ret_buf, size_t *ret_len);

typedef struct {
    sr_spool *spool;
    const char *agent_id;
    const char *hostname;
    uint64_t max_bytes; /* logs are appended only while the spool holds at most this many bytes */
    int last_err;       /* the last append error (0 when the last one succeeded) */
} sr_logtail_spool_target;

/* sr_logtail_emit_fn for an sr_logtail_spool_target: packs and appends one UploadBatch.
 * -ENOSPC when the spool holds more than max_bytes (or would with this batch): the tailer keeps
 * the batch and reads nothing more until there is room, so logs never push data out of the spool. */
int sr_logtail_spool_emit(const sr_logtail_batch *b, void *userdata);
