/* Fuzz target: an Upload message as the gateway sees it. Arbitrary bytes are counted at the
 * wire level, unpacked as UploadBatch and validated against a certificate identity, with a
 * decoder reused across inputs (as a gateway call reuses it across batches). */
#include <stddef.h>
#include <stdint.h>

#include "sr_telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sr_telemetry_decoder *dec; /* reused like a call's decoder; freed at exit */
    if (!dec && sr_telemetry_decoder_new(&dec) < 0)
        return 0;
    char err[256];
    size_t n;
    (void)sr_telemetry_count_points(data, size, &n);
    const sr_upload_batch *b = NULL;
    if (sr_telemetry_decode(dec, data, size, "agent-1", 0, &b, err, sizeof(err)) == 0) {
        char id[SR_TELEMETRY_MSG_ID_MAX];
        (void)sr_telemetry_msg_id("agent-1", b->epoch, b->seq, id, sizeof(id));
    }
    /* a small configured limit takes another path through the checks */
    (void)sr_telemetry_decode(dec, data, size, NULL, 3, &b, err, sizeof(err));
    return 0;
}
