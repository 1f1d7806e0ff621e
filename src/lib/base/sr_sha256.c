#include "sr_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "sr_cleanup.h"

#define READ_BLOCK (1024 * 1024)

int sr_sha256_file(const char *path, unsigned char digest[SR_SHA256_LEN], uint64_t *ret_size) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    _cleanup_free_ unsigned char *buf = malloc(READ_BLOCK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint64_t size = 0;
    int r = 0;
    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            r = -EIO;
            goto out;
        }
        size += (uint64_t)n;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, d, &len) != 1 || len != SR_SHA256_LEN) {
        r = -EIO;
        goto out;
    }
    for (unsigned i = 0; i < SR_SHA256_LEN; i++)
        digest[i] = d[i];
    *ret_size = size;
out:
    EVP_MD_CTX_free(md);
    return r;
}
