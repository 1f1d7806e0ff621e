#include "sr_agent_batch.h"

#include "sr_cleanup.h"
#include "serviceradar/agent/v1/agent.pb-c.h"

#include <errno.h>
#include <stdlib.h>

int sr_agent_batch_pack(const sr_agent_batch_info *info, const sr_points *pts, uint8_t **ret_buf, size_t *ret_len) {
    if (info->seq == 0 || pts->n == 0)
        return -EINVAL;
    _cleanup_free_ Serviceradar__Agent__V1__MetricPoint *pv = calloc(pts->n, sizeof(*pv));
    _cleanup_free_ Serviceradar__Agent__V1__MetricPoint **pp = calloc(pts->n, sizeof(*pp));
    if (!pv || !pp)
        return -ENOMEM;
    for (size_t i = 0; i < pts->n; i++) {
        serviceradar__agent__v1__metric_point__init(&pv[i]);
        pv[i].name = (char *)(uintptr_t)pts->v[i].name;
        pv[i].dim = (char *)(uintptr_t)pts->v[i].dim;
        pv[i].value = pts->v[i].value;
        pv[i].time_unix_ms = pts->v[i].time_unix_ms;
        pp[i] = &pv[i];
    }
    Serviceradar__Agent__V1__MetricsBatch mb;
    serviceradar__agent__v1__metrics_batch__init(&mb);
    mb.hostname = (char *)(uintptr_t)(info->hostname ? info->hostname : "");
    mb.n_points = pts->n;
    mb.points = pp;
    Serviceradar__Agent__V1__UploadBatch ub;
    serviceradar__agent__v1__upload_batch__init(&ub);
    ub.agent_id = (char *)(uintptr_t)(info->agent_id ? info->agent_id : "");
    ub.epoch = info->epoch;
    ub.seq = info->seq;
    ub.created_unix_ms = info->created_unix_ms;
    ub.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    ub.metrics = &mb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&ub);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    serviceradar__agent__v1__upload_batch__pack(&ub, buf);
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}
