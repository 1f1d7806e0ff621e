#include "sr_series_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    int64_t id;
    size_t agent_len, name_len, dim_len;
    char key[]; /* agent, name, dim, back to back, no terminators */
} series_entry;

struct sr_series_cache {
    series_entry **slots; /* NULL = empty */
    size_t cap;           /* power of two; count <= cap / 2 */
    size_t count, max;
};

static uint64_t fnv1a(uint64_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t series_hash(const char *agent, size_t agent_len, const char *name, size_t name_len, const char *dim,
                            size_t dim_len) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv1a(h, agent, agent_len);
    h = fnv1a(h ^ 0xff, name, name_len); /* separators: no two key triples hash the same bytes */
    h = fnv1a(h ^ 0xfe, dim, dim_len);
    return h ^ (h >> 29);
}

static int entry_is(const series_entry *e, uint64_t h, const char *agent, size_t agent_len, const char *name,
                    size_t name_len, const char *dim, size_t dim_len) {
    return e->hash == h && e->agent_len == agent_len && e->name_len == name_len && e->dim_len == dim_len &&
           memcmp(e->key, agent, agent_len) == 0 && memcmp(e->key + agent_len, name, name_len) == 0 &&
           memcmp(e->key + agent_len + name_len, dim, dim_len) == 0;
}

int sr_series_cache_new(size_t max, sr_series_cache **ret) {
    sr_series_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->max = max < 16 ? 16 : max;
    c->cap = 1024;
    c->slots = calloc(c->cap, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return -ENOMEM;
    }
    *ret = c;
    return 0;
}

void sr_series_cache_clear(sr_series_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i]);
        c->slots[i] = NULL;
    }
    c->count = 0;
}

sr_series_cache *sr_series_cache_free(sr_series_cache *c) {
    if (!c)
        return NULL;
    if (c->slots)
        sr_series_cache_clear(c);
    free(c->slots);
    free(c);
    return NULL;
}

size_t sr_series_cache_count(const sr_series_cache *c) { return c ? c->count : 0; }

static size_t find_slot(series_entry *const *slots, size_t cap, uint64_t h, const char *agent, size_t agent_len,
                        const char *name, size_t name_len, const char *dim, size_t dim_len) {
    size_t i = (size_t)h & (cap - 1);
    while (slots[i] && !entry_is(slots[i], h, agent, agent_len, name, name_len, dim, dim_len))
        i = (i + 1) & (cap - 1);
    return i;
}

int sr_series_cache_get(const sr_series_cache *c, const char *agent, size_t agent_len, const char *name,
                        const char *dim, int64_t *ret_id) {
    if (!dim)
        dim = "";
    size_t name_len = strlen(name), dim_len = strlen(dim);
    uint64_t h = series_hash(agent, agent_len, name, name_len, dim, dim_len);
    size_t i = find_slot(c->slots, c->cap, h, agent, agent_len, name, name_len, dim, dim_len);
    if (!c->slots[i])
        return 0;
    *ret_id = c->slots[i]->id;
    return 1;
}

static int grow(sr_series_cache *c) {
    size_t cap = c->cap * 2;
    series_entry **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        series_entry *e = c->slots[i];
        if (!e)
            continue;
        size_t j = (size_t)e->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

int sr_series_cache_put(sr_series_cache *c, const char *agent, size_t agent_len, const char *name, const char *dim,
                        int64_t id) {
    if (!dim)
        dim = "";
    size_t name_len = strlen(name), dim_len = strlen(dim);
    uint64_t h = series_hash(agent, agent_len, name, name_len, dim, dim_len);
    size_t i = find_slot(c->slots, c->cap, h, agent, agent_len, name, name_len, dim, dim_len);
    if (c->slots[i]) {
        c->slots[i]->id = id;
        return 0;
    }
    if (c->count >= c->max)
        sr_series_cache_clear(c);
    else if ((c->count + 1) * 2 > c->cap && grow(c) < 0)
        return -ENOMEM;
    series_entry *e = malloc(sizeof(*e) + agent_len + name_len + dim_len);
    if (!e)
        return -ENOMEM;
    e->hash = h;
    e->id = id;
    e->agent_len = agent_len;
    e->name_len = name_len;
    e->dim_len = dim_len;
    memcpy(e->key, agent, agent_len);
    memcpy(e->key + agent_len, name, name_len);
    memcpy(e->key + agent_len + name_len, dim, dim_len);
    i = find_slot(c->slots, c->cap, h, agent, agent_len, name, name_len, dim, dim_len);
    c->slots[i] = e;
    c->count++;
    return 0;
}
