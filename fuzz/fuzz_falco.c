/* Fuzz target: what the Falco events worker does with one security.falco.alerts message short
 * of the database: decode the JSON alert (sr_falco_decode) and encode its event as one COPY
 * text line. Input: the message payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sr_falco.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sr_event_scratch s;
    sr_event_scratch_init(&s);
    sr_falco_alert a;
    char reason[256];
    if (sr_falco_decode((const char *)data, size, INT64_C(1767225600000), &s, &a, reason, sizeof(reason)) == 0) {
        if (a.ev.severity < SR_SEV_INFO || a.ev.severity > SR_SEV_CRITICAL || !a.ev.rule || !a.ev.message)
            abort();
        sr_falco_event_id(a.ev.time_us, size, a.ev.id);
        sr_evbuf out;
        sr_evbuf_init(&out, 16u * 1024 * 1024);
        if (sr_event_encode(&out, &a.ev, &s) == 0) {
            size_t tabs = 0;
            for (size_t k = 0; k + 1 < out.len; k++) {
                if (out.data[k] == '\n')
                    abort();
                tabs += out.data[k] == '\t';
            }
            if (tabs != 17 || out.data[out.len - 1] != '\n')
                abort();
        }
        sr_evbuf_done(&out);
    }
    sr_falco_alert_clear(&a);
    sr_event_scratch_done(&s);
    return 0;
}
