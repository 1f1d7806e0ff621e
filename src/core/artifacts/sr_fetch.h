/* One HTTP(S) GET over libcurl for artifact downloads (docs/internals/dbsync.md): redirects are
 * followed here, not by libcurl, so credentials (a bearer token or basic auth) go only to the
 * origin (scheme, host, port) of the first URL; plain http only when allowed; the body is either
 * kept in memory (bounded) or streamed to a file descriptor with its SHA-256 computed on the way
 * and its size capped; a stalled transfer times out; a cancel flag aborts within a second.
 *
 * The process must have called curl_global_init() before. Nothing here logs. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_FETCH_REDIRECTS_MAX 5
#define SR_FETCH_ERRBODY_MAX 1024 /* bytes of a non-2xx body kept for messages */

typedef struct {
    const char *ca_file;      /* PEM bundle trusted in addition to the system's; NULL or "": none */
    int64_t stall_ms;         /* connect timeout, and abort when no byte moved for this long; 0: 60 s */
    bool allow_http;          /* plain http:// (first URL, redirects, token realms); else https only */
    const atomic_int *cancel; /* when set and nonzero: abort with -ECANCELED */
    /* called as the body arrives (2xx responses only): bytes so far and the announced total (0
     * when unknown); a nonzero return aborts the transfer with that (negative) value */
    int (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
} sr_fetch_opts;

typedef struct {
    const char *url;
    const char *accept;   /* Accept header value; NULL: none */
    const char *bearer;   /* Authorization: Bearer <bearer> to the first URL's origin; NULL: none */
    const char *username; /* basic auth to the first URL's origin; NULL: none */
    const char *password;
    int fd;               /* >= 0: a 2xx body is written here; < 0: kept in memory */
    uint64_t max_bytes;   /* cap on a 2xx body: -EFBIG above it */
} sr_fetch_req;

typedef struct {
    long status;              /* of the last response (after redirects) */
    char content_type[128];   /* its Content-Type, parameters cut */
    char challenge[4096];     /* its WWW-Authenticate (the first one) */
    char url[2048];           /* the URL that answered */
    unsigned requests;        /* requests made, redirects included */
    char *body;               /* 2xx in memory mode: the body, NUL-terminated; otherwise up to
                                 SR_FETCH_ERRBODY_MAX bytes of a non-2xx body, printable */
    size_t body_len;
    uint64_t bytes;           /* 2xx body bytes received */
    unsigned char sha256[32]; /* of the 2xx body */
} sr_fetch_resp;

/* Returns 0 when a response arrived, whatever its status (see ret->status); a negative errno
 * when none did: -ECANCELED, -EFBIG, -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (name not
 * resolved), -EPROTO (TLS or certificate failure), -EPERM (a redirect to a refused scheme),
 * -ELOOP (too many redirects), -EIO. *ret is initialised in every case: release it with
 * sr_fetch_resp_done. */
int sr_fetch(const sr_fetch_opts *o, const sr_fetch_req *rq, sr_fetch_resp *ret, char *err, size_t errlen);
void sr_fetch_resp_done(sr_fetch_resp *r);

/* "scheme://host:port" of url (lowercase host, default port filled in). 0 or -EINVAL. */
int sr_fetch_origin(const char *url, char *out, size_t outlen);
/* Lowercase hex of a SHA-256 into out (65 bytes). */
void sr_fetch_hex(const unsigned char sha256[32], char out[65]);
