/* PostgreSQL binary COPY encoding of metric rows (time, agent_id, name, dim, value) into a
 * reusable, capped byte buffer: no allocation per point once the buffer has grown. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_ingest_decode.h"

typedef struct {
    unsigned char *data;
    size_t len, cap, max;
} sr_copybuf;

/* max: the buffer never grows past it (appends fail with -ENOBUFS). */
void sr_copybuf_init(sr_copybuf *b, size_t max);
void sr_copybuf_reset(sr_copybuf *b);
void sr_copybuf_done(sr_copybuf *b);
/* The fixed 19-byte header and the 2-byte trailer of the binary COPY format. */
int sr_copybuf_header(sr_copybuf *b);
int sr_copybuf_trailer(sr_copybuf *b);
/* Appends one tuple per point of u. 0, -ENOBUFS (cap) or -ENOMEM; on failure b->len is
 * unchanged. */
int sr_copybuf_append_upload(sr_copybuf *b, const sr_ingest_upload *u);
