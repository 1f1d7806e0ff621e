#include "gw_nats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_NATS_DELIVERY_THREADS 4
#define GW_PUB_MAX_PENDING 4096 /* async publishes in flight per set before the publisher stalls */
#define GW_PUB_POOL_MAX 64      /* idle publish sets kept for the next Upload calls */

struct gw_nats {
    natsConnection *nc;
    /* Idle publish sets, all acknowledged. Reusing one keeps its JetStream context and the
     * reply subscription the context makes on its first asynchronous publish: a fresh set
     * per call cost a SUB and an UNSUB on the server and a context set-up on both sides. */
    pthread_mutex_t pool_lock;
    gw_pubset *pool[GW_PUB_POOL_MAX];
    size_t pool_n;
};

static void pubset_destroy(gw_pubset *p);

static int set_err(char *err, size_t errlen, const char *what, natsStatus s) {
    snprintf(err, errlen, "%s: %s", what, natsStatus_GetText(s));
    return -EIO;
}

int gw_nats_connect(const gw_nats_options *o, gw_nats **ret, char *err, size_t errlen) {
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s != NATS_OK)
        return set_err(err, errlen, "could not create nats options", s);
    /* acknowledgement callbacks are tiny: share a few delivery threads instead of one per
     * publish set */
    (void)nats_SetMessageDeliveryPoolSize(GW_NATS_DELIVERY_THREADS);
    s = natsOptions_SetURL(opts, o->url); /* accepts a comma separated list */
    if (s == NATS_OK)
        s = natsOptions_UseGlobalMessageDelivery(opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, 1000);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(opts, true, NULL, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(opts, 64 * 1024 * 1024);
    if (s == NATS_OK && o->name)
        s = natsOptions_SetName(opts, o->name);
    if (s == NATS_OK && o->creds_file && o->creds_file[0])
        s = natsOptions_SetUserCredentialsFromFiles(opts, o->creds_file, NULL);
    if (s == NATS_OK && o->user && o->user[0])
        s = natsOptions_SetUserInfo(opts, o->user, o->password ? o->password : "");
    if (s != NATS_OK) {
        natsOptions_Destroy(opts);
        return set_err(err, errlen, "invalid nats options", s);
    }
    gw_nats *n = calloc(1, sizeof(*n));
    if (!n) {
        natsOptions_Destroy(opts);
        return -ENOMEM;
    }
    pthread_mutex_init(&n->pool_lock, NULL);
    s = natsConnection_Connect(&n->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        pthread_mutex_destroy(&n->pool_lock);
        free(n);
        return set_err(err, errlen, nats_GetLastError(&s) ? nats_GetLastError(&s) : "could not connect", s);
    }
    *ret = n;
    return 0;
}

gw_nats *gw_nats_free(gw_nats *n, int timeout_ms) {
    if (!n)
        return NULL;
    /* Upload calls have ended (the gRPC server is shut down first): the pool is all there is. */
    for (size_t i = 0; i < n->pool_n; i++)
        pubset_destroy(n->pool[i]);
    n->pool_n = 0;
    if (n->nc) {
        if (natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED &&
            natsConnection_DrainTimeout(n->nc, timeout_ms) == NATS_OK) {
            /* DrainTimeout returns at once; wait for the connection to close */
            int64_t end = nats_Now() + timeout_ms;
            while (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CLOSED && nats_Now() < end)
                nats_Sleep(10);
        }
        natsConnection_Destroy(n->nc);
    }
    pthread_mutex_destroy(&n->pool_lock);
    free(n);
    return NULL;
}

natsConnection *gw_nats_conn(gw_nats *n) { return n->nc; }

int gw_nats_connected(gw_nats *n) { return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED; }

int gw_nats_publish(gw_nats *n, const char *subject, const void *data, size_t len) {
    if (len > INT32_MAX)
        return -E2BIG;
    natsStatus s = natsConnection_Publish(n->nc, subject, data, (int)len);
    return s == NATS_OK ? 0 : -EIO;
}

/* ---- JetStream publish sets ---- */

struct gw_pubset {
    gw_nats *owner;
    jsCtx *js;
    pthread_mutex_t lock;
    uint32_t sent, acked, duplicates, failed;
    bool used;  /* an async publish was attempted: the context has its reply machinery */
    bool clean; /* nothing in flight: the last wait saw every publish acknowledged */
    char error[160];
};

static void note_failure(gw_pubset *p, const char *text) {
    p->failed++;
    if (p->error[0] == '\0')
        snprintf(p->error, sizeof(p->error), "%s", text);
}

/* Runs on a NATS delivery thread for every acknowledgement (or error / timeout). */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    gw_pubset *p = closure;
    pthread_mutex_lock(&p->lock);
    if (pa) {
        p->acked++;
        if (pa->Duplicate)
            p->duplicates++;
    } else {
        char text[160];
        snprintf(text, sizeof(text), "jetstream did not acknowledge: %s%s%s",
                 pae ? natsStatus_GetText(pae->Err) : "unknown error",
                 pae && pae->ErrText && pae->ErrText[0] ? ": " : "", pae && pae->ErrText ? pae->ErrText : "");
        note_failure(p, text);
    }
    pthread_mutex_unlock(&p->lock);
    natsMsg_Destroy(msg);
}

int gw_pubset_new(gw_nats *n, gw_pubset **ret) {
    pthread_mutex_lock(&n->pool_lock);
    gw_pubset *p = n->pool_n > 0 ? n->pool[--n->pool_n] : NULL;
    pthread_mutex_unlock(&n->pool_lock);
    if (p) {
        *ret = p;
        return 0;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->owner = n;
    p->clean = true;
    pthread_mutex_init(&p->lock, NULL);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = p;
    jo.PublishAsync.MaxPending = GW_PUB_MAX_PENDING;
    jo.PublishAsync.StallWait = 5000;
    if (natsConnection_JetStream(&p->js, n->nc, &jo) != NATS_OK) {
        pubset_destroy(p);
        return -ENOMEM;
    }
    *ret = p;
    return 0;
}

int gw_pubset_add(gw_pubset *p, const char *subject, const void *data, size_t len, const char *msg_id,
                  const char *agent_id, int64_t received_ms) {
    if (len > INT32_MAX)
        return -E2BIG;
    natsMsg *m = NULL;
    char ms[24];
    snprintf(ms, sizeof(ms), "%" PRId64, received_ms);
    natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Sr-Agent-Id", agent_id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Sr-Received-Ms", ms);
    if (s == NATS_OK) {
        pthread_mutex_lock(&p->lock);
        p->sent++;
        p->used = true;
        p->clean = false;
        pthread_mutex_unlock(&p->lock);
        s = js_PublishMsgAsync(p->js, &m, NULL);
        if (s != NATS_OK) {
            char text[160];
            snprintf(text, sizeof(text), "could not publish to jetstream: %s", natsStatus_GetText(s));
            pthread_mutex_lock(&p->lock);
            note_failure(p, text);
            pthread_mutex_unlock(&p->lock);
        }
    }
    natsMsg_Destroy(m); /* NULL when the library took it */
    if (s == NATS_NO_MEMORY)
        return -ENOMEM;
    return s == NATS_OK ? 0 : -EIO;
}

void gw_pubset_wait(gw_pubset *p, int64_t timeout_ms, gw_pubset_result *ret) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout_ms > 0 ? timeout_ms : 1;
    /* nats.c 3.4 crashes in the pending-list call on a context that never published */
    natsStatus s = p->used ? js_PublishAsyncComplete(p->js, &po) : NATS_OK;
    bool complete = s == NATS_OK;
    if (s != NATS_OK) {
        /* take back what is still unacknowledged (late acks are then discarded), then wait
         * for callbacks that are running right now */
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, p->js) == NATS_OK) {
            pthread_mutex_lock(&p->lock);
            for (int i = 0; i < pending.Count; i++)
                note_failure(p, "jetstream did not acknowledge in time");
            pthread_mutex_unlock(&p->lock);
            natsMsgList_Destroy(&pending);
        }
        (void)js_PublishAsyncComplete(p->js, NULL);
    }
    pthread_mutex_lock(&p->lock);
    memset(ret, 0, sizeof(*ret));
    ret->acked = p->acked;
    ret->duplicates = p->duplicates;
    ret->failed = p->failed;
    if (p->acked + p->failed < p->sent && p->failed == 0) {
        ret->failed = p->sent - p->acked;
        snprintf(p->error, sizeof(p->error), "jetstream did not acknowledge in time");
    }
    snprintf(ret->error, sizeof(ret->error), "%s", p->error);
    p->clean = complete && p->failed == 0 && p->acked == p->sent;
    p->sent = p->acked = p->duplicates = p->failed = 0;
    p->error[0] = '\0';
    pthread_mutex_unlock(&p->lock);
}

static void pubset_destroy(gw_pubset *p) {
    if (p->js && p->used) {
        /* no callback may run after the closure is gone */
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, p->js) == NATS_OK)
            natsMsgList_Destroy(&pending);
        (void)js_PublishAsyncComplete(p->js, NULL);
    }
    jsCtx_Destroy(p->js);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* A set whose publishes were all acknowledged goes back to its connection's pool; any other
 * (failed, timed out, not waited for) is destroyed, after waiting for callbacks in flight. */
gw_pubset *gw_pubset_free(gw_pubset *p) {
    if (!p)
        return NULL;
    gw_nats *n = p->owner;
    pthread_mutex_lock(&p->lock);
    bool reuse = p->clean && p->sent == 0 && p->js != NULL;
    pthread_mutex_unlock(&p->lock);
    if (reuse) {
        pthread_mutex_lock(&n->pool_lock);
        if (n->pool_n < GW_PUB_POOL_MAX) {
            n->pool[n->pool_n++] = p;
            p = NULL;
        }
        pthread_mutex_unlock(&n->pool_lock);
        if (!p)
            return NULL;
    }
    pubset_destroy(p);
    return NULL;
}
