/* Fuzz target: the artifact_update payload (from the gateway) and the agent's artifact state
 * files, which share one parser; a parsed document must format and parse back the same. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sr_artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sr_artifact_doc d, back;
    char err[256], buf[512];
    if (sr_artifact_parse_doc((const char *)data, size, &d, err, sizeof(err)) != 0)
        return 0;
    if (sr_artifact_format_doc(&d, 1, buf, sizeof(buf)) != 0 ||
        sr_artifact_parse_doc(buf, strlen(buf), &back, err, sizeof(err)) != 0 ||
        strcmp(d.version, back.version) != 0 || strcmp(d.hex, back.hex) != 0 ||
        memcmp(d.digest, back.digest, sizeof(d.digest)) != 0 || d.size != back.size || d.offset != back.offset)
        __builtin_trap();
    return 0;
}
