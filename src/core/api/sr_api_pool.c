#include "sr_api_pool.h"

#include "sr_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SR_API_POOL_MAX 64

/* At most size connections exist; lent counts those handed out (connected or about to
 * connect); idle holds the connected ones not in use. */
struct sr_api_pool {
    char *conninfo;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int size;
    int lent;
    int n_idle;
    PGconn *idle[];
};

static const char q_session_setup[] = "SET statement_timeout = '15s'";

int sr_api_pool_new(const char *conninfo, int size, sr_api_pool **ret) {
    if (!conninfo || size < 1 || size > SR_API_POOL_MAX || !ret)
        return -EINVAL;
    sr_api_pool *p = calloc(1, sizeof(*p) + (size_t)size * sizeof(PGconn *));
    if (!p)
        return -ENOMEM;
    p->conninfo = strdup(conninfo);
    if (!p->conninfo) {
        free(p);
        return -ENOMEM;
    }
    int r = sr_mono_cond_init(&p->cond);
    if (r < 0) {
        free(p->conninfo);
        free(p);
        return r;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->size = size;
    *ret = p;
    return 0;
}

sr_api_pool *sr_api_pool_free(sr_api_pool *pool) {
    if (!pool)
        return NULL;
    for (int i = 0; i < pool->n_idle; i++)
        PQfinish(pool->idle[i]);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool->conninfo);
    free(pool);
    return NULL;
}

static void copy_pq_error(PGconn *c, char *err, size_t errlen) {
    if (!err || errlen == 0)
        return;
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strcspn(m, "\n");
    (void)snprintf(err, errlen, "%.*s", (int)n, m);
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static PGconn *connect_db(const char *conninfo, char *err, size_t errlen) {
    /* later keywords win: the caller's conninfo overrides these defaults */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", "serviceradar-core-api", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        copy_pq_error(c, err, errlen);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    PGresult *r = PQexec(c, q_session_setup);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        copy_pq_error(c, err, errlen);
        PQfinish(c);
        return NULL;
    }
    return c;
}

int sr_api_pool_acquire(sr_api_pool *pool, int timeout_ms, PGconn **ret, char *err, size_t errlen) {
    struct timespec deadline = sr_mono_deadline_ts(timeout_ms);
    pthread_mutex_lock(&pool->lock);
    while (pool->lent >= pool->size) {
        if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            if (err && errlen)
                (void)snprintf(err, errlen, "no database connection free");
            return -ETIMEDOUT;
        }
    }
    pool->lent++;
    PGconn *c = pool->n_idle > 0 ? pool->idle[--pool->n_idle] : NULL;
    pthread_mutex_unlock(&pool->lock);

    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
    }
    if (!c)
        c = connect_db(pool->conninfo, err, errlen);
    if (!c) {
        pthread_mutex_lock(&pool->lock);
        pool->lent--;
        pthread_cond_signal(&pool->cond);
        pthread_mutex_unlock(&pool->lock);
        return -ECONNREFUSED;
    }
    *ret = c;
    return 0;
}

void sr_api_pool_release(sr_api_pool *pool, PGconn *conn) {
    if (!pool || !conn)
        return;
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PQfinish(conn);
        conn = NULL;
    }
    pthread_mutex_lock(&pool->lock);
    pool->lent--;
    if (conn && pool->n_idle < pool->size) {
        pool->idle[pool->n_idle++] = conn;
        conn = NULL;
    }
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    PQfinish(conn); /* NULL-safe; only when the pool was full, which cannot happen */
}
