#include "sr_telemetry.h"

#include "sr_utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

/* Checks one string field; 0 or -EINVAL with err filled. */
static int check_string(const char *s, size_t max, bool required, uint64_t seq, const char *what, size_t idx,
                        bool indexed, char *err, size_t errlen) {
    char where[48] = "";
    if (indexed)
        snprintf(where, sizeof(where), "point %zu: ", idx);
    size_t len = s ? strlen(s) : 0;
    if (required && len == 0) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is empty", seq, where, what);
        return -EINVAL;
    }
    if (len > max) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is %zu bytes (limit %zu)", seq, where, what, len, max);
        return -EINVAL;
    }
    if (len > 0 && !sr_utf8_valid(s, len)) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is not valid UTF-8", seq, where, what);
        return -EINVAL;
    }
    return 0;
}

int sr_telemetry_validate(const sr_upload_batch *b, const char *identity, size_t max_points, char *err,
                          size_t errlen) {
    if (max_points == 0 || max_points > SR_TELEMETRY_MAX_POINTS)
        max_points = SR_TELEMETRY_MAX_POINTS;
    if (!b) {
        snprintf(err, errlen, "missing batch");
        return -EINVAL;
    }
    const char *aid = b->agent_id ? b->agent_id : "";
    if (identity && aid[0] != '\0' && strcmp(aid, identity) != 0) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": agent_id \"%.*s\" does not match the certificate identity \"%s\"",
                 b->seq, 64, aid, identity);
        return -EPERM;
    }
    if (b->seq == 0) {
        snprintf(err, errlen, "batch seq 0: seq must be greater than 0");
        return -EINVAL;
    }
    if (b->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS || !b->metrics) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": payload is missing (expected metrics)", b->seq);
        return -EINVAL;
    }
    const Serviceradar__Agent__V1__MetricsBatch *m = b->metrics;
    if (m->n_points > max_points) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %zu points (limit %zu)", b->seq, m->n_points, max_points);
        return -EINVAL;
    }
    int r = check_string(m->hostname, SR_TELEMETRY_MAX_HOSTNAME_BYTES, false, b->seq, "hostname", 0, false, err,
                         errlen);
    if (r < 0)
        return r;
    for (size_t i = 0; i < m->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *p = m->points[i];
        if (!p) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": point %zu is missing", b->seq, i);
            return -EINVAL;
        }
        r = check_string(p->name, SR_TELEMETRY_MAX_NAME_BYTES, true, b->seq, "metric name", i, true, err, errlen);
        if (r < 0)
            return r;
        r = check_string(p->dim, SR_TELEMETRY_MAX_DIM_BYTES, false, b->seq, "dim", i, true, err, errlen);
        if (r < 0)
            return r;
        if (!isfinite(p->value)) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": point %zu (%s): value is not finite", b->seq, i, p->name);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- wire-level point count ---- */

static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -EBADMSG;
        uint8_t c = buf[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return -EBADMSG;
}

/* Walks one message level. For each field number `want` of wire type LEN, calls back with
 * its contents (when cb is set) or counts it. */
static int walk(const uint8_t *buf, size_t len, uint32_t want, size_t *count,
                int (*cb)(const uint8_t *, size_t, size_t *), size_t *cb_count) {
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag) < 0)
            return -EBADMSG;
        uint64_t field = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (field == 0)
            return -EBADMSG;
        switch (wt) {
        case 0:
            if (read_varint(buf, len, &pos, &v) < 0)
                return -EBADMSG;
            break;
        case 1:
            if (len - pos < 8)
                return -EBADMSG;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4)
                return -EBADMSG;
            pos += 4;
            break;
        case 2:
            if (read_varint(buf, len, &pos, &v) < 0 || v > len - pos)
                return -EBADMSG;
            if (field == want) {
                if (cb) {
                    int r = cb(buf + pos, (size_t)v, cb_count);
                    if (r < 0)
                        return r;
                } else {
                    (*count)++;
                }
            }
            pos += (size_t)v;
            break;
        default: /* groups (3, 4) and reserved types: not in our schema */
            return -EBADMSG;
        }
    }
    return 0;
}

static int count_in_metrics(const uint8_t *buf, size_t len, size_t *count) {
    return walk(buf, len, 2 /* MetricsBatch.points */, count, NULL, NULL);
}

int sr_telemetry_count_points(const uint8_t *buf, size_t len, size_t *ret_points) {
    size_t n = 0;
    if (!buf && len > 0)
        return -EINVAL;
    /* UploadBatch.metrics (10); repeated occurrences merge, so count them all. */
    int r = walk(buf, len, 10, NULL, count_in_metrics, &n);
    if (r < 0)
        return r;
    *ret_points = n;
    return 0;
}

/* ---- arena-backed decoder ---- */

#define ARENA_MIN_CHUNK (64 * 1024)
#define ARENA_ALIGN 16

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned storage */
} arena_chunk;

struct sr_telemetry_decoder {
    arena_chunk *chunks; /* head: the chunk being filled */
    size_t total;        /* bytes handed out since the last reset */
    bool failed;         /* an allocation failed during this decode */
    ProtobufCAllocator alloc;
};

static void *arena_alloc(void *data, size_t size) {
    sr_telemetry_decoder *d = data;
    size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size)
        goto fail;
    arena_chunk *c = d->chunks;
    if (!c || c->size - c->used < need) {
        size_t sz = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
        if (c && sz < c->size * 2)
            sz = c->size * 2;
        arena_chunk *n = malloc(sizeof(*n) + sz);
        if (!n)
            goto fail;
        n->next = c;
        n->size = sz;
        n->used = 0;
        d->chunks = c = n;
    }
    /* c is the chunk just allocated or one with room: never NULL here */
    // cppcheck-suppress nullPointerRedundantCheck
    void *p = (char *)c->data + c->used;
    // cppcheck-suppress nullPointerRedundantCheck
    c->used += need;
    d->total += need;
    return p;
fail:
    d->failed = true;
    return NULL;
}

static void arena_free(void *data, void *ptr) {
    (void)data;
    (void)ptr; /* released with the whole arena */
}

/* Keeps a single chunk big enough for the last decode, frees the rest. */
static void arena_reset(sr_telemetry_decoder *d) {
    arena_chunk *c = d->chunks;
    if (c && c->next) {
        size_t want = d->total > c->size ? d->total : c->size;
        while (c) {
            arena_chunk *n = c->next;
            free(c);
            c = n;
        }
        d->chunks = malloc(sizeof(arena_chunk) + want);
        if (d->chunks) {
            d->chunks->next = NULL;
            d->chunks->size = want;
        }
        c = d->chunks;
    }
    if (c)
        c->used = 0;
    d->total = 0;
    d->failed = false;
}

int sr_telemetry_decoder_new(sr_telemetry_decoder **ret) {
    sr_telemetry_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->alloc.alloc = arena_alloc;
    d->alloc.free = arena_free;
    d->alloc.allocator_data = d;
    *ret = d;
    return 0;
}

sr_telemetry_decoder *sr_telemetry_decoder_free(sr_telemetry_decoder *d) {
    if (!d)
        return NULL;
    arena_chunk *c = d->chunks;
    while (c) {
        arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(d);
    return NULL;
}

int sr_telemetry_decode(sr_telemetry_decoder *d, const uint8_t *buf, size_t len, const char *identity,
                        size_t max_points, const sr_upload_batch **ret, char *err, size_t errlen) {
    if (!d || (!buf && len > 0))
        return -EINVAL;
    if (max_points == 0 || max_points > SR_TELEMETRY_MAX_POINTS)
        max_points = SR_TELEMETRY_MAX_POINTS;
    size_t n = 0;
    if (sr_telemetry_count_points(buf, len, &n) < 0) {
        snprintf(err, errlen, "not a valid UploadBatch message");
        return -EBADMSG;
    }
    if (n > max_points) {
        snprintf(err, errlen, "batch has %zu points (limit %zu)", n, max_points);
        return -EINVAL;
    }
    arena_reset(d);
    sr_upload_batch *b = serviceradar__agent__v1__upload_batch__unpack(&d->alloc, len, buf);
    if (!b) {
        if (d->failed)
            return -ENOMEM;
        snprintf(err, errlen, "not a valid UploadBatch message");
        return -EBADMSG;
    }
    int r = sr_telemetry_validate(b, identity, max_points, err, errlen);
    if (r < 0)
        return r;
    *ret = b;
    return 0;
}

int sr_telemetry_msg_id(const char *agent_id, uint64_t epoch, uint64_t seq, char *buf, size_t buflen) {
    if (!agent_id || agent_id[0] == '\0' || strlen(agent_id) > SR_TELEMETRY_MAX_AGENT_ID_BYTES)
        return -EINVAL;
    int n = snprintf(buf, buflen, "%s:%" PRIu64 ":%" PRIu64, agent_id, epoch, seq);
    if (n < 0 || (size_t)n >= buflen)
        return -ENOBUFS;
    return 0;
}
