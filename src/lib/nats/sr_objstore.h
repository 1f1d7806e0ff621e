/* NATS Object Store (ADR-20) on nats.c's JetStream API, wire compatible with nats.go and the
 * nats CLI. A bucket is the stream OBJ_<bucket>; an object is chunks on $O.<bucket>.C.<nuid>
 * and a JSON ObjectInfo on $O.<bucket>.M.<base64url(name)>. See docs/internals/objstore.md.
 *
 * Every call waits at most the store's timeout per server request (-ETIMEDOUT). Errors are
 * 0 or a negative errno, with a message in err. Not thread-safe: one store per thread. */
#pragma once
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#define SR_OBJSTORE_NAME_MAX 255                  /* bytes of an object name */
#define SR_OBJSTORE_CHUNK_DEFAULT (128u * 1024u)  /* as nats.go */
#define SR_OBJSTORE_CHUNK_MAX (8u * 1024u * 1024u) /* largest chunk written or accepted */
#define SR_OBJSTORE_META_MAX (64u * 1024u)        /* largest meta message accepted */

typedef struct sr_objstore sr_objstore;

typedef struct {
    const char *description; /* stream description when creating; may be NULL */
    int64_t max_bytes;       /* 0: unlimited */
    int replicas;            /* 0: 1 */
    int64_t timeout_ms;      /* per server request; 0: 5000 */
} sr_objstore_config;

typedef struct {
    char name[SR_OBJSTORE_NAME_MAX + 1];
    char nuid[32];
    uint64_t size;
    uint32_t chunks;
    char digest[64];      /* "SHA-256=<base64url>" */
    int64_t mtime_ns;     /* server time of the meta message; local time in a put result */
    char description[256]; /* truncated at a character boundary when longer */
} sr_objstore_info;

/* Binds to bucket, creating its stream when missing and create is nonzero (cfg applies then;
 * cfg may be NULL). -ENOENT when missing and create is 0; -EINVAL on a bad bucket name. */
int sr_objstore_open(jsCtx *js, const char *bucket, int create, const sr_objstore_config *cfg, sr_objstore **ret,
                     char *err, size_t errlen);
sr_objstore *sr_objstore_free(sr_objstore *os);

/* Streams a file into the store under name, one chunk in memory (chunk_size 0: 128 KiB,
 * at most SR_OBJSTORE_CHUNK_MAX). Replaces an existing object; its chunks are purged only
 * after the new meta is stored. On failure the partial chunks are purged (best effort). */
int sr_objstore_put_file(sr_objstore *os, const char *name, const char *path, const char *description,
                         size_t chunk_size, sr_objstore_info *ret, char *err, size_t errlen);

/* -ENOENT when absent or deleted; -EBADMSG when the meta is malformed; -ENOTSUP for links. */
int sr_objstore_info_get(sr_objstore *os, const char *name, sr_objstore_info *ret, char *err, size_t errlen);

/* Reads the object chunk by chunk into cb (a nonzero return stops with -ECANCELED). Verifies
 * chunk count, size and digest at the end: -EBADMSG on mismatch, after the chunks were
 * delivered, so callers must not trust the data until 0 is returned. */
int sr_objstore_get(sr_objstore *os, const char *name, int (*cb)(void *ud, const void *data, size_t len), void *ud,
                    sr_objstore_info *ret, char *err, size_t errlen);

/* Writes the object to path atomically (temp file in the same directory, fsync, rename) and
 * only when it verifies; on any error no file is left behind. */
int sr_objstore_get_file(sr_objstore *os, const char *name, const char *path, sr_objstore_info *ret, char *err,
                         size_t errlen);

/* Marks the object deleted (rollup meta) and purges its chunks. -ENOENT when absent. */
int sr_objstore_delete(sr_objstore *os, const char *name, char *err, size_t errlen);
