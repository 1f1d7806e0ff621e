/* sr_logtail_pack: log batches -> packed UploadBatch{logs} -> spool. */
#include "sr_logtail_pack.h"

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_TIME_MS INT64_C(946684800000)      /* 2000-01-01 */
#define MAX_AHEAD_MS (INT64_C(12) * 3600 * 1000) /* the gateway allows 1 day; keep clear of clock skew */
#define EXTRA_FIELDS 3                          /* log.truncated, log.original_bytes, log.parsed_time_ms */

typedef Serviceradar__Agent__V1__LogRecord log_record;
typedef Serviceradar__Agent__V1__LogRecord__FieldsEntry field_entry;

static char *cs(const char *s) { return (char *)(uintptr_t)s; } /* protobuf-c wants char * */

int sr_logtail_pack(const sr_logtail_pack_info *info, const sr_logtail_batch *b, uint8_t **ret_buf, size_t *ret_len) {
    size_t n = sr_logtail_batch_count(b);
    if (info->seq == 0 || n == 0)
        return -EINVAL;
    const size_t per = SR_LOGPARSE_FIELDS_MAX + EXTRA_FIELDS;
    _cleanup_free_ log_record *rv = calloc(n, sizeof(*rv));
    _cleanup_free_ log_record **rp = calloc(n, sizeof(*rp));
    _cleanup_free_ field_entry *fv = calloc(n * per, sizeof(*fv));
    _cleanup_free_ field_entry **fp = calloc(n * per, sizeof(*fp));
    _cleanup_free_ char *nums = calloc(n, 2 * 24); /* decimal strings of the extra fields */
    if (!rv || !rp || !fv || !fp || !nums)
        return -ENOMEM;
    /* entries are decoded one at a time into the batch's scratch record, but every string it
     * points to lives in the batch's text, which stays put until the batch is cleared */
    for (size_t i = 0; i < n; i++) {
        sr_logtail_entry e;
        sr_logtail_batch_entry(b, i, &e);
        const sr_logparse_record *r = e.rec;
        log_record *lr = &rv[i];
        serviceradar__agent__v1__log_record__init(lr);
        char *num = nums + i * 48;
        int64_t t = r->has_time ? r->time_unix_ms : e.read_unix_ms;
        size_t nf = 0;
        field_entry *f = fv + i * per;
        field_entry **fpp = fp + i * per;
        if (t < MIN_TIME_MS || t > info->created_unix_ms + MAX_AHEAD_MS) {
            snprintf(num + 24, 24, "%" PRId64, t);
            serviceradar__agent__v1__log_record__fields_entry__init(&f[nf]);
            f[nf].key = cs("log.parsed_time_ms");
            f[nf].value = num + 24;
            nf++;
            t = e.read_unix_ms;
        }
        lr->time_unix_ms = t;
        lr->source = cs(e.source);
        lr->path = cs(e.path);
        lr->raw = cs(r->raw);
        lr->hostname = cs(r->hostname);
        lr->program = cs(r->program);
        lr->pid = r->pid;
        lr->syslog_severity = r->severity;
        lr->facility = r->facility;
        lr->message = cs(r->message);
        lr->user = cs(r->user);
        lr->src_ip = cs(r->src_ip);
        lr->src_port = r->src_port;
        lr->outcome = cs(r->outcome);
        lr->action = cs(r->action);
        lr->offset = e.offset;
        for (size_t k = 0; k < r->n_fields; k++) {
            serviceradar__agent__v1__log_record__fields_entry__init(&f[nf]);
            f[nf].key = cs(r->fields[k].key);
            f[nf].value = cs(r->fields[k].value);
            nf++;
        }
        if (e.cut) {
            snprintf(num, 24, "%" PRIu64, e.original_bytes);
            serviceradar__agent__v1__log_record__fields_entry__init(&f[nf]);
            f[nf].key = cs("log.original_bytes");
            f[nf].value = num;
            nf++;
            if (!sr_logparse_field_get(r, "log.truncated")) {
                serviceradar__agent__v1__log_record__fields_entry__init(&f[nf]);
                f[nf].key = cs("log.truncated");
                f[nf].value = cs("true");
                nf++;
            }
        }
        for (size_t k = 0; k < nf; k++)
            fpp[k] = &f[k];
        lr->n_fields = nf;
        lr->fields = fpp;
        rp[i] = lr;
    }
    Serviceradar__Agent__V1__LogsBatch lb;
    serviceradar__agent__v1__logs_batch__init(&lb);
    lb.hostname = cs(info->hostname ? info->hostname : "");
    lb.n_records = n;
    lb.records = rp;
    Serviceradar__Agent__V1__UploadBatch ub;
    serviceradar__agent__v1__upload_batch__init(&ub);
    ub.agent_id = cs(info->agent_id ? info->agent_id : "");
    ub.epoch = info->epoch;
    ub.seq = info->seq;
    ub.created_unix_ms = info->created_unix_ms;
    ub.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    ub.logs = &lb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&ub);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    serviceradar__agent__v1__upload_batch__pack(&ub, buf);
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

int sr_logtail_spool_emit(const sr_logtail_batch *b, void *userdata) {
    sr_logtail_spool_target *tg = userdata;
    sr_spool_stats st;
    sr_spool_get_stats(tg->spool, &st);
    if (st.bytes >= tg->max_bytes)
        return tg->last_err = -ENOSPC;
    uint64_t seq;
    int r = sr_spool_next_seq(tg->spool, &seq);
    if (r < 0)
        return tg->last_err = r;
    sr_logtail_pack_info info = {.agent_id = tg->agent_id, .epoch = sr_spool_epoch(tg->spool), .seq = seq,
                                 .created_unix_ms = sr_now_unix_ms(), .hostname = tg->hostname};
    _cleanup_free_ uint8_t *buf = NULL;
    size_t len = 0;
    r = sr_logtail_pack(&info, b, &buf, &len);
    if (r < 0)
        return tg->last_err = r;
    if (st.bytes + len > tg->max_bytes)
        return tg->last_err = -ENOSPC; /* the seq is skipped; seqs need only increase */
    r = sr_spool_append(tg->spool, seq, buf, len);
    return tg->last_err = r;
}
