/* base64url (RFC 4648 section 5, alphabet A-Z a-z 0-9 - _): SRQL page cursors (unpadded) and NATS
 * Object Store names and digests (padded, as Go's base64.URLEncoding). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Bytes sr_base64url_encode needs for n input bytes, the NUL included. */
size_t sr_base64url_size(size_t n, bool padded);
/* Encodes in[0..n) into out, NUL-terminated. Returns 0, or -ENOBUFS when outlen is short. */
int sr_base64url_encode(const void *in, size_t n, bool padded, char *out, size_t outlen);
