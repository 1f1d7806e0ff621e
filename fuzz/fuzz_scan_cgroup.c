/* Fuzz target: container id from /proc/<pid>/cgroup text. Invariants: a found id is 1..128
 * characters of [A-Za-z0-9._-], NUL-terminated in its buffer, and the runtime is a known name;
 * a buffer too small for an id is never overrun. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_scan_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *id, const char *rt) {
    size_t n = strlen(id);
    if (n == 0 || n > SR_SCAN_ID_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            abort();
    }
    static const char *const known[] = {"docker", "containerd", "crio", "podman", "lxc", "kubepods"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(rt, known[i]) == 0)
            return;
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The text is not NUL-terminated: copy it into an exact-size heap buffer so ASan sees overreads. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    char rt[SR_SCAN_RUNTIME_MAX], id[SR_SCAN_ID_MAX + 1];
    if (sr_scan_container_id(buf, size, rt, sizeof(rt), id, sizeof(id)) == 1)
        check(id, rt);
    char small_id[8];
    if (sr_scan_container_id(buf, size, rt, sizeof(rt), small_id, sizeof(small_id)) == 1 &&
        strlen(small_id) >= sizeof(small_id))
        abort();
    free(buf);
    return 0;
}
