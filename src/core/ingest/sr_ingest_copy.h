/* PostgreSQL binary COPY encoding of metric rows into a reusable, capped byte buffer (no
 * allocation per point once the buffer has grown), and the series id cache that turns
 * (agent_id, name, dim) into metric_series.id for the narrow rows (time, series_id, value). */
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
/* Appends one (time, agent_id, name, dim, value) tuple per point of u: the wide row of the
 * `metrics` view. 0, -ENOBUFS (cap) or -ENOMEM; on failure b->len is unchanged. */
int sr_copybuf_append_upload(sr_copybuf *b, const sr_ingest_upload *u);
/* Appends one (time, series_id, value) tuple per point of u for COPY metric_points; ids[i] is the
 * series of u->points[i]. Same results as sr_copybuf_append_upload. */
int sr_copybuf_append_series(sr_copybuf *b, const sr_ingest_upload *u, const int64_t *ids);

/* (agent_id, name, dim) -> metric_series.id, open addressing, at most max entries: when a put
 * would pass the cap the cache is emptied first (ids are looked up again, nothing is lost).
 * Holds only ids of committed metric_series rows. Not thread-safe (one per worker). */
typedef struct sr_series_cache sr_series_cache;

int sr_series_cache_new(size_t max, sr_series_cache **ret);
sr_series_cache *sr_series_cache_free(sr_series_cache *c);
size_t sr_series_cache_count(const sr_series_cache *c);
void sr_series_cache_clear(sr_series_cache *c);
/* 1 and *ret_id when present, 0 when not. dim may be NULL (""). */
int sr_series_cache_get(const sr_series_cache *c, const char *agent, size_t agent_len, const char *name,
                        const char *dim, int64_t *ret_id);
/* 0, or -ENOMEM. Replaces the id of a present key. */
int sr_series_cache_put(sr_series_cache *c, const char *agent, size_t agent_len, const char *name, const char *dim,
                        int64_t id);
