/* Fuzz target: what a metrics worker does with one telemetry.metrics.edge message short of the
 * database: decode + validate, series ids through a sr_series_cache (a miss gets the next id, as
 * metric_series would give it), then the binary COPY encoding of the narrow metric_points rows;
 * and what an events worker does with one logs.edge message: decode + validate, one event per
 * record (fields, search vector) and its COPY text line.
 * Input: the Sr-Agent-Id header value up to the first '\n' (an empty first line means no
 * header), then the packed UploadBatch. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_event.h"
#include "sr_ingest_copy.h"
#include "sr_ingest_decode.h"
#include "sr_series_cache.h"

#define ROW_BYTES 38 /* 2 (field count) + 3 × (4 length + 8 value) */

/* As the worker's resolve_series, with ids made up instead of read back from metric_series. */
static int resolve(sr_series_cache *c, size_t max, const sr_ingest_upload *u, int64_t *ids) {
    if (sr_series_cache_count(c) + u->n_points > max)
        sr_series_cache_clear(c);
    int64_t next = 1;
    for (size_t i = 0; i < u->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *pt = u->points[i];
        if (sr_series_cache_get(c, u->agent_id, u->agent_id_len, pt->name, pt->dim, &ids[i]))
            continue;
        ids[i] = next++;
        int r = sr_series_cache_put(c, u->agent_id, u->agent_id_len, pt->name, pt->dim, ids[i]);
        if (r < 0)
            return r;
        int64_t back = 0;
        if (!sr_series_cache_get(c, u->agent_id, u->agent_id_len, pt->name, pt->dim, &back) || back != ids[i])
            abort(); /* a key just put must be found with its id */
        if (sr_series_cache_count(c) > max)
            abort(); /* the cap holds */
    }
    return 0;
}

static void encode(const sr_ingest_upload *u, const int64_t *ids) {
    sr_copybuf b;
    sr_copybuf_init(&b, 64u * 1024 * 1024);
    if (sr_copybuf_header(&b) == 0) {
        size_t before = b.len;
        int r = sr_copybuf_append_series(&b, u, ids);
        if ((r == 0 && b.len != before + u->n_points * ROW_BYTES) || (r < 0 && b.len != before))
            abort();
        (void)sr_copybuf_trailer(&b);
    }
    sr_copybuf_done(&b);
}

/* As the events worker: every record becomes one COPY line, or the message is refused whole. */
static void encode_logs(const sr_ingest_logs *u) {
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_evbuf out;
    sr_evbuf_init(&out, 64u * 1024 * 1024);
    for (size_t i = 0; i < u->n_records; i++) {
        sr_event ev;
        if (sr_event_from_log(u->records[i], u->hostname, u->agent_id, u->epoch, u->seq, i, &s, &ev) < 0)
            break;
        size_t before = out.len;
        int r = sr_event_encode(&out, &ev, &s);
        if (r < 0) {
            if (out.len != before)
                abort(); /* a failed encode leaves the buffer as it was */
            break;
        }
        /* exactly one line: 17 tabs, one newline at the end */
        size_t tabs = 0;
        for (size_t k = before; k < out.len - 1; k++) {
            if (out.data[k] == '\n')
                abort();
            tabs += out.data[k] == '\t';
        }
        if (tabs != 17 || out.data[out.len - 1] != '\n')
            abort();
    }
    sr_evbuf_done(&out);
    sr_event_scratch_done(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    char hdr[301];
    const char *agent = NULL;
    size_t off = 0;
    if (nl) {
        size_t hl = (size_t)(nl - data);
        memcpy(hdr, data, hl);
        hdr[hl] = '\0';
        agent = hl && !memchr(hdr, '\0', hl) ? hdr : NULL;
        off = hl + 1;
    }
    sr_telemetry_decoder *d = NULL;
    if (sr_telemetry_decoder_new(&d) < 0)
        return 0;
    sr_ingest_upload u;
    char reason[256];
    if (sr_ingest_decode_upload(data + off, size - off, agent, INT64_C(1767225600000), d, &u, reason,
                                sizeof(reason)) == 0) {
        /* A cap of 16 .. 2048 entries, picked by the batch, so that both the growing of the table
         * and the emptying at the cap run. */
        size_t max = (size_t)16 << (u.seq % 8);
        sr_series_cache *c = NULL;
        int64_t *ids = malloc((u.n_points ? u.n_points : 1) * sizeof(*ids));
        if (ids && sr_series_cache_new(max, &c) == 0 && resolve(c, max, &u, ids) == 0)
            encode(&u, ids);
        sr_series_cache_free(c);
        free(ids);
    }
    sr_ingest_logs l;
    if (sr_ingest_decode_logs(data + off, size - off, agent, INT64_C(1767225600000), d, &l, reason, sizeof(reason)) ==
        0)
        encode_logs(&l);
    sr_telemetry_decoder_free(d);
    return 0;
}
