/* PostgreSQL binary COPY encoding of the narrow metric_points rows (time, series_id, value)
 * into a reusable, capped byte buffer (no allocation per point once the buffer has grown). The
 * series ids come from sr_series_cache (sr_series_cache.h). */
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
/* Appends one (time, series_id, value) tuple per point of u for COPY metric_points; ids[i] is the
 * series of u->points[i]. 0, -ENOBUFS (cap) or -ENOMEM; on failure b->len is unchanged. */
int sr_copybuf_append_series(sr_copybuf *b, const sr_ingest_upload *u, const int64_t *ids);
