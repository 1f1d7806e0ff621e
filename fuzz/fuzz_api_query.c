/* Fuzz target: the core API's request-target parser and metrics query validation
 * (src/core/api/sr_api_query.c), fed the raw request target a client sends. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_api_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SR_API_URI_MAX + 64)
        return 0;
    char *uri = malloc(size + 1);
    sr_api_target *t = malloc(sizeof(*t));
    if (!uri || !t)
        goto out;
    memcpy(uri, data, size);
    uri[size] = '\0';
    char err[SR_API_ERR_MAX];
    if (sr_api_target_parse(uri, t, err, sizeof(err)) == 0) {
        sr_api_metrics_query q;
        if (sr_api_metrics_query_resolve(t, 1714557600000LL, &q, err, sizeof(err)) == 0) {
            if (q.from_ms >= q.to_ms || q.step_s < 1 || q.to_ms - q.from_ms > SR_API_MAX_RANGE_MS)
                abort();
            if ((q.to_ms - q.from_ms + q.step_s * 1000 - 1) / (q.step_s * 1000) > SR_API_MAX_BUCKETS)
                abort();
        }
        /* a valid time must survive formatting and parsing back */
        int64_t ms, back;
        char buf[40];
        if (t->has_from && sr_api_time_parse(t->from, &ms) == 0) {
            if (sr_api_time_format(ms, buf, sizeof(buf)) != 0 || sr_api_time_parse(buf, &back) != 0 || back != ms)
                abort();
        }
        if (t->route == SR_ROUTE_STATIC && (strstr(t->path, "/../") || strstr(t->path, "/./")))
            abort();
    }
out:
    free(uri);
    free(t);
    return 0;
}
