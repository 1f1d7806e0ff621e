#include "gw_registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "srg.h"

#define GW_REGISTRY_BUCKETS 4096

typedef struct entry {
    struct entry *next;
    uint64_t token;
    srg_call *call;
    char identity[]; /* NUL-terminated */
} entry;

struct gw_registry {
    pthread_mutex_t lock;
    entry *buckets[GW_REGISTRY_BUCKETS];
    size_t count, max;
    uint64_t next_token;
    bool closed;
};

static size_t bucket_of(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)(h % GW_REGISTRY_BUCKETS);
}

int gw_registry_new(size_t max_agents, gw_registry **ret) {
    gw_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    r->max = max_agents ? max_agents : 100000;
    r->next_token = 1;
    *ret = r;
    return 0;
}

gw_registry *gw_registry_free(gw_registry *r) {
    if (!r)
        return NULL;
    for (size_t i = 0; i < GW_REGISTRY_BUCKETS; i++) {
        entry *e = r->buckets[i];
        while (e) {
            entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
    return NULL;
}

int gw_registry_add(gw_registry *r, const char *identity, srg_call *call, uint64_t *ret_token) {
    size_t len = strlen(identity);
    pthread_mutex_lock(&r->lock);
    if (r->closed) {
        pthread_mutex_unlock(&r->lock);
        return -ESHUTDOWN;
    }
    entry **slot = &r->buckets[bucket_of(identity)];
    for (entry *e = *slot; e; e = e->next) {
        if (strcmp(e->identity, identity) == 0) {
            srg_call_cancel(e->call); /* the old handler is still inside its call: safe */
            e->call = call;
            e->token = r->next_token++;
            *ret_token = e->token;
            pthread_mutex_unlock(&r->lock);
            return 1;
        }
    }
    if (r->count >= r->max) {
        pthread_mutex_unlock(&r->lock);
        return -ENOSPC;
    }
    entry *e = malloc(sizeof(*e) + len + 1);
    if (!e) {
        pthread_mutex_unlock(&r->lock);
        return -ENOMEM;
    }
    memcpy(e->identity, identity, len + 1);
    e->call = call;
    e->token = r->next_token++;
    e->next = *slot;
    *slot = e;
    r->count++;
    *ret_token = e->token;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int gw_registry_remove(gw_registry *r, const char *identity, uint64_t token) {
    pthread_mutex_lock(&r->lock);
    for (entry **pp = &r->buckets[bucket_of(identity)]; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (strcmp(e->identity, identity) != 0)
            continue;
        if (e->token != token)
            break;
        *pp = e->next;
        r->count--;
        pthread_mutex_unlock(&r->lock);
        free(e);
        return 0;
    }
    pthread_mutex_unlock(&r->lock);
    return -ESTALE;
}

size_t gw_registry_count(gw_registry *r) {
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void gw_registry_close(gw_registry *r) {
    pthread_mutex_lock(&r->lock);
    r->closed = true;
    for (size_t i = 0; i < GW_REGISTRY_BUCKETS; i++)
        for (entry *e = r->buckets[i]; e; e = e->next)
            srg_call_cancel(e->call);
    pthread_mutex_unlock(&r->lock);
}
