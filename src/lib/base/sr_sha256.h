/* sr_sha256: SHA-256 of a whole file, read in 1 MiB blocks (OpenSSL's libcrypto). */
#pragma once
#include <stdint.h>

#define SR_SHA256_LEN 32

/* Digest and size of the regular file at path (a symlink is not followed: -ELOOP). Outputs are
 * written only on success. 0, or a negative errno. */
int sr_sha256_file(const char *path, unsigned char digest[SR_SHA256_LEN], uint64_t *ret_size);
