#include "sr_ingest_copy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

void sr_copybuf_init(sr_copybuf *b, size_t max) {
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void sr_copybuf_reset(sr_copybuf *b) { b->len = 0; }

void sr_copybuf_done(sr_copybuf *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int reserve(sr_copybuf *b, size_t more) {
    if (more > b->max || b->len > b->max - more)
        return -ENOBUFS;
    size_t need = b->len + more;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    unsigned char *d = realloc(b->data, cap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

static inline unsigned char *put16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}
static inline unsigned char *put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}
static inline unsigned char *put64(unsigned char *p, uint64_t v) {
    p = put32(p, (uint32_t)(v >> 32));
    return put32(p, (uint32_t)v);
}
int sr_copybuf_header(sr_copybuf *b) {
    static const unsigned char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    int r = reserve(b, 19);
    if (r < 0)
        return r;
    unsigned char *p = b->data + b->len;
    memcpy(p, sig, sizeof(sig));
    p = put32(p + sizeof(sig), 0); /* flags */
    put32(p, 0);                   /* header extension length */
    b->len += 19;
    return 0;
}

int sr_copybuf_trailer(sr_copybuf *b) {
    int r = reserve(b, 2);
    if (r < 0)
        return r;
    put16(b->data + b->len, 0xffff);
    b->len += 2;
    return 0;
}

int sr_copybuf_append_series(sr_copybuf *b, const sr_ingest_upload *u, const int64_t *ids) {
    /* 2 (field count) + 3 × (4 length + 8 value) per row */
    if (u->n_points > SIZE_MAX / 38)
        return -ENOBUFS;
    size_t need = u->n_points * 38;
    int r = reserve(b, need);
    if (r < 0)
        return r;
    unsigned char *p = b->data + b->len;
    for (size_t i = 0; i < u->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *pt = u->points[i];
        int64_t us = pt->time_unix_ms * 1000 - PG_EPOCH_OFFSET_US;
        uint64_t bits;
        memcpy(&bits, &pt->value, sizeof(bits));
        p = put16(p, 3);
        p = put32(p, 8);
        p = put64(p, (uint64_t)us);
        p = put32(p, 8);
        p = put64(p, (uint64_t)ids[i]);
        p = put32(p, 8);
        p = put64(p, bits);
    }
    b->len += need;
    return 0;
}
