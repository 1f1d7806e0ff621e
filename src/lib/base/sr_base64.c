#include "sr_base64.h"

#include <errno.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t sr_base64url_size(size_t n, bool padded) { return (padded ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3) + 1; }

int sr_base64url_encode(const void *in, size_t n, bool padded, char *out, size_t outlen) {
    if (sr_base64url_size(n, padded) > outlen)
        return -ENOBUFS;
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = alphabet[(v >> 6) & 63];
        else if (padded)
            out[o++] = '=';
        if (i + 2 < n)
            out[o++] = alphabet[v & 63];
        else if (padded)
            out[o++] = '=';
    }
    out[o] = '\0';
    return 0;
}
