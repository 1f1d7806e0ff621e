/* The series id cache of a metrics worker: (agent_id, name, dim) -> metric_series.id, so the
 * narrow rows (time, series_id, value) of metric_points can be encoded without asking the
 * database for series it has seen. Pure (no I/O): unit tested and fuzzed. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Open addressing, at most max entries: when a put would pass the cap the cache is emptied
 * first (ids are looked up again, nothing is lost). Holds only ids of committed metric_series
 * rows. Not thread-safe (one per worker). */
typedef struct sr_series_cache sr_series_cache;

/* max below 16 is raised to 16. 0 or -ENOMEM. */
int sr_series_cache_new(size_t max, sr_series_cache **ret);
sr_series_cache *sr_series_cache_free(sr_series_cache *c);
size_t sr_series_cache_count(const sr_series_cache *c);
void sr_series_cache_clear(sr_series_cache *c);
/* 1 and *ret_id when present, 0 when not. dim may be NULL (""). */
int sr_series_cache_get(const sr_series_cache *c, const char *agent, size_t agent_len, const char *name,
                        const char *dim, int64_t *ret_id);
/* 0, or -ENOMEM. Replaces the id of a present key. dim may be NULL (""). */
int sr_series_cache_put(sr_series_cache *c, const char *agent, size_t agent_len, const char *name, const char *dim,
                        int64_t id);
