/* Shared by the agent log tests: spooled batches read back through the gateway's own
 * validation (sr_telemetry). Include after <cmocka.h>. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_telemetry.h"
#include "sr_time.h"

/* Decodes spooled batch seq as the gateway would, checks its log times and that it carries
 * logs; the batch lives until sr_telemetry_decoder_free(*d). */
static inline const sr_upload_batch *srtest_logs_decode(sr_telemetry_decoder **d, uint64_t seq, const uint8_t *data,
                                                        size_t len) {
    *d = NULL;
    assert_int_equal(sr_telemetry_decoder_new(d), 0);
    const sr_upload_batch *b = NULL;
    char err[256];
    int r = sr_telemetry_decode(*d, data, len, "agent-1", 0, &b, err, sizeof(err));
    if (r < 0)
        fail_msg("batch %llu refused by the gateway's rules: %s", (unsigned long long)seq, err);
    assert_int_equal(sr_telemetry_check_log_times(b, sr_now_unix_ms(), err, sizeof(err)), 0);
    assert_int_equal(b->payload_case, SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS);
    return b;
}
