/* Fuzz target: the trivy_db_update document the gateway reads from KV artifacts/trivy-db. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gw_artifact_update u;
    char err[256];
    if (gw_artifact_parse_update((const char *)data, size, UINT64_C(2) << 30, "artifacts", &u, err, sizeof(err)) == 0) {
        /* what the gateway relies on afterwards */
        if (strlen(u.hex) != 64 || strncmp(u.version, "sha256:", 7) != 0 || strcmp(u.version + 7, u.hex) != 0 ||
            u.size == 0 || !u.bucket[0] || !u.object[0])
            __builtin_trap();
    }
    return 0;
}
