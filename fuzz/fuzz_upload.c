/* Fuzz target: an Upload message as the gateway sees it. Arbitrary bytes are counted at the
 * wire level (points, log records and their fields), unpacked as UploadBatch and validated
 * against a certificate identity, with a decoder reused across inputs (as a gateway call reuses
 * it across batches). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sr_telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sr_telemetry_decoder *dec; /* reused like a call's decoder; freed at exit */
    if (!dec && sr_telemetry_decoder_new(&dec) < 0)
        return 0;
    char err[256];
    size_t n;
    (void)sr_telemetry_count_points(data, size, &n);
    size_t records = 0, fields = 0;
    (void)sr_telemetry_count_records(data, size, &records, &fields);
    const sr_upload_batch *b = NULL;
    if (sr_telemetry_decode(dec, data, size, "agent-1", 0, &b, err, sizeof(err)) == 0) {
        char id[SR_TELEMETRY_MSG_ID_MAX];
        (void)sr_telemetry_msg_id("agent-1", b->epoch, b->seq, id, sizeof(id));
        /* the wire count bounds the decoded batch (a oneof switching back and forth drops
         * earlier records, so it may hold fewer) */
        if (b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS &&
            (b->logs->n_records > records || records > SR_TELEMETRY_MAX_LOG_RECORDS))
            abort();
        (void)sr_telemetry_check_log_times(b, INT64_C(1767225600000), err, sizeof(err));
    }
    /* a small configured limit takes another path through the checks */
    (void)sr_telemetry_decode(dec, data, size, NULL, 3, &b, err, sizeof(err));
    return 0;
}
