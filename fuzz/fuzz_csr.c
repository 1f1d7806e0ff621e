/* Fuzz target: arbitrary bytes as a CSR PEM into sr_pki_sign_csr(), against a CA made once per process
 * in a temporary directory (removed at exit). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_pki.h"

static char ca_dir[256];

static void remove_ca(void) {
    static const char *const files[] = {"ca.key", "ca.crt", "ca.crl", "revoked.txt", "issued.txt"};
    char path[512];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", ca_dir, files[i]);
        unlink(path);
    }
    rmdir(ca_dir);
}

static int make_ca(void) {
    const char *base = getenv("TMPDIR");
    snprintf(ca_dir, sizeof(ca_dir), "%s/fuzz_csr.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(ca_dir))
        return -errno;
    atexit(remove_ca);
    return sr_pki_init_ca(ca_dir, "Fuzz CA", 30);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready = 0;
    if (!ready) {
        if (make_ca() < 0)
            abort();
        ready = 1;
    }
    /* Both modes: the CN forced to an expected one, and the CSR's own CN. */
    static const char *const expected[] = {"fuzz-agent", NULL};
    for (size_t i = 0; i < 2; i++) {
        char *cert = NULL;
        int r = sr_pki_sign_csr(ca_dir, (const char *)data, size, expected[i], 1, &cert);
        if (r == 0) {
            if (!cert || strncmp(cert, "-----BEGIN CERTIFICATE-----", 27) != 0)
                abort();
            free(cert);
        } else if (cert) {
            abort(); /* ret_ is written only on success */
        }
    }
    return 0;
}
