/* sr_agent_batch: one collection -> one packed UploadBatch (the spool's record format). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_collector.h"

typedef struct {
    const char *agent_id;
    uint64_t epoch, seq;
    int64_t created_unix_ms;
    const char *hostname;
} sr_agent_batch_info;

/* Packs an UploadBatch{agent_id, epoch, seq, created_unix_ms, metrics{hostname, points}} into a
 * malloc'ed buffer (caller frees). Returns 0, -EINVAL (seq 0, no points) or -ENOMEM. */
int sr_agent_batch_pack(const sr_agent_batch_info *info, const sr_points *pts, uint8_t **ret_buf, size_t *ret_len);
