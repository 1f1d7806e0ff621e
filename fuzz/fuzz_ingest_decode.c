/* Fuzz target: the core's decode + validate of a telemetry.metrics.edge message, and the
 * binary COPY encoding of what it accepts. Input: the Sr-Agent-Id header value up to the first
 * '\n' (an empty first line means no header), then the packed UploadBatch. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sr_ingest_copy.h"
#include "sr_ingest_decode.h"

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
        sr_copybuf b;
        sr_copybuf_init(&b, 64u * 1024 * 1024);
        (void)sr_copybuf_header(&b);
        (void)sr_copybuf_append_upload(&b, &u);
        (void)sr_copybuf_trailer(&b);
        sr_copybuf_done(&b);
    }
    sr_telemetry_decoder_free(d);
    return 0;
}
