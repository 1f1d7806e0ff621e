/* srg: blocking wrapper over the gRPC C core. See srg.h and docs/internals/grpc.md.
 *
 * Every call owns a pluck completion queue; each operation kind has its own tag, so that a
 * receiving thread, a sending thread and a status waiter can pluck concurrently. Every batch
 * that was accepted by grpc_call_start_batch is plucked before the call is released. */
#include "srg.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/status.h>
#include <grpc/support/time.h>

#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_time.h"

#define SRG_PEM_MAX (1024 * 1024)
#define SRG_METHOD_MAX 1024
#define SRG_DEFAULT_MAX_RECV (4 * 1024 * 1024)
#define SRG_DEFAULT_MAX_CALLS 1024
#define SRG_REJECT_TIMEOUT_MS 1000
#define SRG_FINISH_TIMEOUT_MS 10000
#define SRG_SERVER_POLL_MS 500

struct srg_call {
    grpc_call *call;
    grpc_completion_queue *cq;
    int is_server;
    atomic_int cancelled;

    /* one tag per operation kind; the addresses are the tags */
    char tag_md, tag_rmd, tag_recv, tag_send, tag_status, tag_close, tag_finish, tag_half;
    int md_pending;     /* client: SEND_INITIAL_METADATA batch outstanding */
    int md_sent;        /* server: initial metadata went out with a send or the status */
    int recv_pending;   /* RECV_MESSAGE batch outstanding (timed-out receive) */
    atomic_int recv_md_asked; /* client: RECV_INITIAL_METADATA requested (by recv or status) */
    int rmd_pending;    /* client: srg_call_status's own RECV_INITIAL_METADATA outstanding */
    int recv_eos;       /* end of stream seen */
    int status_pending; /* client: RECV_STATUS_ON_CLIENT outstanding */
    int status_done;
    int close_pending;  /* server: RECV_CLOSE_ON_SERVER outstanding */
    int finished;       /* server: status sent (or attempted) */

    grpc_byte_buffer *recv_bb;
    grpc_metadata_array recv_md;
    grpc_metadata_array trailing_md;
    grpc_status_code status;
    grpc_slice status_details;
    int server_cancelled;

    /* server side */
    srg_server *server;
    srg_handler handler;
    grpc_call_details details;
    grpc_metadata_array request_md;
    char *method;
    char *peer_cn;
    char *peer_pem;
};

/* A handler thread; kept after the handler returns until the thread is joined. */
typedef struct srg_worker {
    pthread_t thread;
    srg_call *call;
    struct srg_worker *next;
} srg_worker;

struct srg_server {
    grpc_server *srv;
    grpc_completion_queue *cq;
    int port;
    srg_method *methods; /* copies of the paths */
    size_t n_methods;
    void *userdata;
    unsigned max_calls;

    pthread_t thread;
    int thread_started;
    char shutdown_tag;
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* live count changes, shutdown progress */
    int stopping;         /* no new requests */
    int shutdown_done;    /* the shutdown tag came back */
    int stopped;          /* srg_server_shutdown completed */
    srg_call *pending;    /* the outstanding generic request */
    srg_worker *zombies;  /* handler returned, thread to join */
    unsigned n_live;
};

struct srg_channel {
    grpc_channel *ch;
};

/* ---- global ---- */

void srg_global_init(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    grpc_init();
}

void srg_global_shutdown(void) {
    grpc_shutdown();
    for (int i = 0; i < 2000 && grpc_is_initialized(); i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- helpers ---- */

static gpr_timespec deadline_in(int64_t ms) {
    if (ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Plucks tag. 0 with *ok set, or -ETIMEDOUT (the batch stays outstanding). */
static int pluck(srg_call *c, void *tag, int64_t timeout_ms, int *ok) {
    grpc_event ev = grpc_completion_queue_pluck(c->cq, tag, deadline_in(timeout_ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT)
        return -ETIMEDOUT;
    if (ev.type != GRPC_OP_COMPLETE) {
        *ok = 0;
        return 0;
    }
    *ok = ev.success;
    return 0;
}

static int start_batch(srg_call *c, const grpc_op *ops, size_t n, void *tag) {
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    switch (e) {
    case GRPC_CALL_OK:
        return 0;
    case GRPC_CALL_ERROR_TOO_MANY_OPERATIONS:
        return -EBUSY;
    case GRPC_CALL_ERROR_ALREADY_FINISHED:
        return -ECANCELED;
    default:
        return -EINVAL;
    }
}

static char *slice_strdup(grpc_slice s, size_t cap) {
    size_t len = GRPC_SLICE_LENGTH(s);
    if (len > cap)
        len = cap;
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, GRPC_SLICE_START_PTR(s), len);
    p[len] = '\0';
    return p;
}

static char *auth_property(grpc_auth_context *ctx, const char *name, size_t cap) {
    grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    if (!p || !p->value)
        return NULL;
    size_t len = p->value_length;
    if (len > cap)
        return NULL;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    memcpy(s, p->value, len);
    s[len] = '\0';
    if (strlen(s) != len) { /* embedded NUL: not a usable identity */
        free(s);
        return NULL;
    }
    return s;
}

static srg_call *call_alloc(int is_server) {
    srg_call *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->is_server = is_server;
    atomic_init(&c->cancelled, 0);
    atomic_init(&c->recv_md_asked, 0);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    if (!c->cq) {
        free(c);
        return NULL;
    }
    grpc_metadata_array_init(&c->recv_md);
    grpc_metadata_array_init(&c->trailing_md);
    grpc_metadata_array_init(&c->request_md);
    grpc_call_details_init(&c->details);
    c->status_details = grpc_empty_slice();
    return c;
}

/* Cancels what is still live, plucks every outstanding batch and frees everything. */
static void call_release(srg_call *c) {
    if (!c)
        return;
    if (c->call) {
        int need_cancel = c->is_server ? c->close_pending : !c->status_done;
        if (need_cancel || c->recv_pending || c->md_pending)
            grpc_call_cancel(c->call, NULL);
        int ok = 0;
        if (c->md_pending)
            (void)pluck(c, &c->tag_md, -1, &ok);
        if (c->recv_pending) {
            (void)pluck(c, &c->tag_recv, -1, &ok);
            c->recv_pending = 0;
        }
        if (c->rmd_pending)
            (void)pluck(c, &c->tag_rmd, -1, &ok);
        if (c->status_pending)
            (void)pluck(c, &c->tag_status, -1, &ok);
        if (c->close_pending)
            (void)pluck(c, &c->tag_close, -1, &ok);
        grpc_call_unref(c->call);
    }
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    grpc_metadata_array_destroy(&c->recv_md);
    grpc_metadata_array_destroy(&c->trailing_md);
    grpc_metadata_array_destroy(&c->request_md);
    grpc_call_details_destroy(&c->details);
    grpc_slice_unref(c->status_details);
    if (c->cq) {
        grpc_completion_queue_shutdown(c->cq);
        grpc_completion_queue_destroy(c->cq);
    }
    free(c->method);
    free(c->peer_cn);
    free(c->peer_pem);
    free(c);
}

static grpc_arg int_arg(const char *key, int v) {
    grpc_arg a;
    memset(&a, 0, sizeof(a));
    a.type = GRPC_ARG_INTEGER;
    a.key = (char *)(uintptr_t)key;
    a.value.integer = v;
    return a;
}

static grpc_arg str_arg(const char *key, const char *v) {
    grpc_arg a;
    memset(&a, 0, sizeof(a));
    a.type = GRPC_ARG_STRING;
    a.key = (char *)(uintptr_t)key;
    a.value.string = (char *)(uintptr_t)v;
    return a;
}

static int clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

typedef struct {
    char *ca, *cert, *key;
    size_t key_len;
} pem_set;

static void pem_set_clear(pem_set *p) {
    free(p->ca);
    free(p->cert);
    if (p->key) {
        explicit_bzero(p->key, p->key_len);
        free(p->key);
    }
    memset(p, 0, sizeof(*p));
}

static int pem_set_load(const srg_tls *tls, int need_ca, pem_set *p) {
    size_t len;
    int r;
    memset(p, 0, sizeof(*p));
    if (!tls || !tls->cert_file || !tls->key_file || (need_ca && !tls->ca_file))
        return -EINVAL;
    if (tls->ca_file) {
        r = sr_file_read_all(tls->ca_file, SRG_PEM_MAX, &p->ca, &len);
        if (r < 0)
            goto fail;
    }
    r = sr_file_read_all(tls->cert_file, SRG_PEM_MAX, &p->cert, &len);
    if (r < 0)
        goto fail;
    r = sr_file_read_all(tls->key_file, SRG_PEM_MAX, &p->key, &p->key_len);
    if (r < 0)
        goto fail;
    return 0;
fail:
    pem_set_clear(p);
    return r;
}

/* ---- calls: both sides ---- */

const char *srg_call_peer_identity(const srg_call *c) { return c ? c->peer_cn : NULL; }
const char *srg_call_peer_cert_pem(const srg_call *c) { return c ? c->peer_pem : NULL; }
const char *srg_call_method(const srg_call *c) { return c ? c->method : NULL; }

void srg_call_cancel(srg_call *c) {
    if (!c || !c->call)
        return;
    atomic_store(&c->cancelled, 1);
    grpc_call_cancel(c->call, NULL);
}

int srg_call_recv(srg_call *c, int timeout_ms, uint8_t **ret_buf, size_t *ret_len) {
    int ok = 0, r;
    if (!c || !ret_buf || !ret_len)
        return -EINVAL;
    if (c->recv_eos)
        return 0;
    if (!c->recv_pending) {
        if (atomic_load(&c->cancelled))
            return -ECANCELED;
        grpc_op ops[2];
        size_t n = 0;
        memset(ops, 0, sizeof(ops));
        int want_md = !c->is_server && !atomic_exchange(&c->recv_md_asked, 1);
        if (want_md) {
            ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
            ops[n].data.recv_initial_metadata.recv_initial_metadata = &c->recv_md;
            n++;
        }
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n].data.recv_message.recv_message = &c->recv_bb;
        n++;
        r = start_batch(c, ops, n, &c->tag_recv);
        if (r < 0) {
            if (want_md)
                atomic_store(&c->recv_md_asked, 0);
            return r;
        }
        c->recv_pending = 1;
    }
    r = pluck(c, &c->tag_recv, timeout_ms, &ok);
    if (r < 0)
        return r;
    c->recv_pending = 0;
    grpc_byte_buffer *bb = c->recv_bb;
    c->recv_bb = NULL;
    if (!ok) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return -ECANCELED;
    }
    if (!bb) {
        /* a cancelled call also ends the message stream: on the server, tell the two apart by
         * the close operation, which has completed by then when the client cancelled */
        if (c->is_server && c->close_pending) {
            int cok = 0;
            if (pluck(c, &c->tag_close, 0, &cok) == 0) {
                c->close_pending = 0;
                if (c->server_cancelled)
                    atomic_store(&c->cancelled, 1);
            }
        }
        if (atomic_load(&c->cancelled))
            return -ECANCELED;
        c->recv_eos = 1;
        return 0;
    }
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb)) {
        grpc_byte_buffer_destroy(bb);
        return -EBADMSG;
    }
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(bb);
    size_t len = GRPC_SLICE_LENGTH(s);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        grpc_slice_unref(s);
        return -ENOMEM;
    }
    if (len)
        memcpy(buf, GRPC_SLICE_START_PTR(s), len);
    grpc_slice_unref(s);
    *ret_buf = buf;
    *ret_len = len;
    return 1;
}

int srg_call_send(srg_call *c, const uint8_t *buf, size_t len, int timeout_ms) {
    int ok = 0, r;
    if (!c || (!buf && len))
        return -EINVAL;
    if (atomic_load(&c->cancelled))
        return -ECANCELED;
    if (c->is_server && c->finished)
        return -EALREADY;
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (c->is_server && !c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
    r = start_batch(c, ops, n, &c->tag_send);
    if (r < 0) {
        grpc_byte_buffer_destroy(bb);
        return r;
    }
    if (c->is_server)
        c->md_sent = 1;
    r = pluck(c, &c->tag_send, timeout_ms, &ok);
    if (r == -ETIMEDOUT) {
        /* a stalled send cannot be taken back: cancel, then collect the batch */
        srg_call_cancel(c);
        (void)pluck(c, &c->tag_send, -1, &ok);
        grpc_byte_buffer_destroy(bb);
        return -ETIMEDOUT;
    }
    grpc_byte_buffer_destroy(bb);
    return ok ? 0 : -ECANCELED;
}

int srg_call_send_msg(srg_call *c, const ProtobufCMessage *m, int timeout_ms) {
    if (!m)
        return -EINVAL;
    size_t len = protobuf_c_message_get_packed_size(m);
    _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    protobuf_c_message_pack(m, buf);
    return srg_call_send(c, buf, len, timeout_ms);
}

int srg_call_recv_msg(srg_call *c, const ProtobufCMessageDescriptor *d, int timeout_ms, ProtobufCMessage **ret) {
    _cleanup_free_ uint8_t *buf = NULL;
    size_t len = 0;
    if (!d || !ret)
        return -EINVAL;
    int r = srg_call_recv(c, timeout_ms, &buf, &len);
    if (r <= 0)
        return r;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m)
        return -EBADMSG;
    *ret = m;
    return 1;
}

/* ---- server side ---- */

static int finish_with_timeout(srg_call *c, int grpc_status, const char *message, int64_t timeout_ms) {
    int ok = 0, r;
    if (!c || !c->is_server)
        return -EINVAL;
    if (c->finished)
        return -EALREADY;
    c->finished = 1;
    grpc_slice details = grpc_slice_from_copied_string(message ? message : "");
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)grpc_status;
    ops[n].data.send_status_from_server.status_details = &details;
    n++;
    r = start_batch(c, ops, n, &c->tag_finish);
    if (r < 0) {
        grpc_slice_unref(details);
        return r;
    }
    c->md_sent = 1;
    r = pluck(c, &c->tag_finish, timeout_ms, &ok);
    if (r == -ETIMEDOUT) {
        srg_call_cancel(c);
        (void)pluck(c, &c->tag_finish, -1, &ok);
        ok = 0;
    }
    grpc_slice_unref(details);
    return ok ? 0 : -ECANCELED;
}

int srg_call_finish(srg_call *c, int grpc_status, const char *message) {
    return finish_with_timeout(c, grpc_status, message, SRG_FINISH_TIMEOUT_MS);
}

static int server_request(srg_server *s) {
    srg_call *c = call_alloc(1);
    if (!c)
        return -ENOMEM;
    c->server = s;
    grpc_call_error e =
        grpc_server_request_call(s->srv, &c->call, &c->details, &c->request_md, c->cq, s->cq, c);
    if (e != GRPC_CALL_OK) {
        call_release(c);
        return -EIO;
    }
    s->pending = c;
    return 0;
}

static void *handler_main(void *arg) {
    srg_worker *w = arg;
    srg_call *c = w->call;
    srg_server *s = c->server;
    c->handler(c, s->userdata);
    if (!c->finished)
        (void)srg_call_finish(c, GRPC_STATUS_INTERNAL, "handler did not finish the call");
    call_release(c);
    w->call = NULL;
    pthread_mutex_lock(&s->lock);
    s->n_live--;
    w->next = s->zombies;
    s->zombies = w;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void reap_zombies(srg_server *s) {
    pthread_mutex_lock(&s->lock);
    srg_worker *w = s->zombies;
    s->zombies = NULL;
    pthread_mutex_unlock(&s->lock);
    while (w) {
        srg_worker *next = w->next;
        pthread_join(w->thread, NULL);
        free(w);
        w = next;
    }
}

/* Answers a call on the serving thread without a handler (unknown method, overload). */
static void server_reject(srg_call *c, int code, const char *msg) {
    (void)finish_with_timeout(c, code, msg, SRG_REJECT_TIMEOUT_MS);
    call_release(c);
}

static void server_dispatch(srg_server *s, srg_call *c) {
    int r;
    c->method = slice_strdup(c->details.method, SRG_METHOD_MAX);
    grpc_auth_context *ctx = grpc_call_auth_context(c->call);
    if (ctx) {
        c->peer_cn = auth_property(ctx, GRPC_X509_CN_PROPERTY_NAME, 1024);
        c->peer_pem = auth_property(ctx, GRPC_X509_PEM_CERT_PROPERTY_NAME, 64 * 1024);
        grpc_auth_context_release(ctx);
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->server_cancelled;
    if (start_batch(c, &op, 1, &c->tag_close) == 0)
        c->close_pending = 1;

    if (!c->method) {
        server_reject(c, GRPC_STATUS_INTERNAL, "out of memory");
        return;
    }
    c->handler = NULL;
    for (size_t i = 0; i < s->n_methods; i++) {
        if (strcmp(s->methods[i].path, c->method) == 0) {
            c->handler = s->methods[i].handler;
            break;
        }
    }
    if (!c->handler) {
        server_reject(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
        return;
    }
    srg_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        server_reject(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    w->call = c;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        free(w);
        server_reject(c, GRPC_STATUS_UNAVAILABLE, "server shutting down");
        return;
    }
    if (s->n_live >= s->max_calls) {
        pthread_mutex_unlock(&s->lock);
        free(w);
        server_reject(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "too many concurrent calls");
        return;
    }
    r = pthread_create(&w->thread, NULL, handler_main, w);
    if (r != 0) {
        pthread_mutex_unlock(&s->lock);
        free(w);
        server_reject(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "could not start a handler thread");
        return;
    }
    s->n_live++;
    pthread_mutex_unlock(&s->lock);
}

static void *server_main(void *arg) {
    srg_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int done = s->shutdown_done && !s->pending;
        pthread_mutex_unlock(&s->lock);
        if (done)
            break;
        grpc_event ev = grpc_completion_queue_next(s->cq, deadline_in(SRG_SERVER_POLL_MS), NULL);
        reap_zombies(s);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &s->shutdown_tag) {
            pthread_mutex_lock(&s->lock);
            s->shutdown_done = 1;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        srg_call *c = ev.tag;
        pthread_mutex_lock(&s->lock);
        if (s->pending == c)
            s->pending = NULL;
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (!ev.success) {
            /* the request was failed by the shutdown; no call came with it */
            call_release(c);
            continue;
        }
        if (!stopping) {
            /* keep one generic request pending at all times, or calls hang; on failure the
             * next loop turn tries again */
            pthread_mutex_lock(&s->lock);
            if (!s->stopping && !s->pending)
                (void)server_request(s);
            pthread_mutex_unlock(&s->lock);
        }
        server_dispatch(s, c);
        pthread_mutex_lock(&s->lock);
        if (!s->stopping && !s->pending)
            (void)server_request(s);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

int srg_server_start(const srg_server_options *o, srg_server **ret) {
    pem_set pem;
    int r;
    if (!o || !o->address || !ret || (o->n_methods && !o->methods))
        return -EINVAL;
    for (size_t i = 0; i < o->n_methods; i++)
        if (!o->methods[i].path || !o->methods[i].handler)
            return -EINVAL;
    r = pem_set_load(&o->tls, 1, &pem);
    if (r < 0)
        return r;

    srg_server *s = calloc(1, sizeof(*s));
    if (!s) {
        pem_set_clear(&pem);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    (void)sr_mono_cond_init(&s->cond);
    s->userdata = o->userdata;
    s->max_calls = o->max_calls ? o->max_calls : SRG_DEFAULT_MAX_CALLS;
    s->stopped = 1; /* until fully started: srg_server_free must not shut a half-built server */
    s->methods = calloc(o->n_methods ? o->n_methods : 1, sizeof(*s->methods));
    if (!s->methods) {
        r = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < o->n_methods; i++) {
        s->methods[i].handler = o->methods[i].handler;
        s->methods[i].path = strdup(o->methods[i].path);
        if (!s->methods[i].path) {
            r = -ENOMEM;
            goto fail;
        }
        s->n_methods = i + 1;
    }

    grpc_arg args[] = {
        int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                clamp_int(o->max_recv_bytes ? o->max_recv_bytes : SRG_DEFAULT_MAX_RECV)),
        int_arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000),
        int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1),
        int_arg(GRPC_ARG_KEEPALIVE_TIME_MS, 60000),
        int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000),
    };
    grpc_channel_args cargs = {.num_args = SR_ARRAY_SIZE(args), .args = args};
    s->srv = grpc_server_create(&cargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    if (!s->srv || !s->cq) {
        r = -ENOMEM;
        goto fail;
    }
    grpc_server_register_completion_queue(s->srv, s->cq, NULL);

    grpc_ssl_pem_key_cert_pair pair = {.private_key = pem.key, .cert_chain = pem.cert};
    grpc_server_credentials *creds = grpc_ssl_server_credentials_create_ex(
        pem.ca, &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
    if (!creds) {
        r = -EINVAL;
        goto fail;
    }
    s->port = grpc_server_add_http2_port(s->srv, o->address, creds);
    grpc_server_credentials_release(creds);
    pem_set_clear(&pem);
    if (s->port <= 0) {
        r = -EADDRNOTAVAIL;
        goto fail;
    }
    grpc_server_start(s->srv);
    r = server_request(s);
    if (r < 0)
        goto fail_started;
    r = -pthread_create(&s->thread, NULL, server_main, s);
    if (r < 0)
        goto fail_started;
    s->thread_started = 1;
    s->stopped = 0;
    *ret = s;
    return 0;

fail_started:
    /* started but no serving thread: shut down inline */
    grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->srv);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        if (ev.tag == &s->shutdown_tag)
            break;
        call_release(ev.tag);
        s->pending = NULL;
    }
    if (s->pending) {
        call_release(s->pending);
        s->pending = NULL;
    }
fail:
    pem_set_clear(&pem);
    (void)srg_server_free(s);
    return r;
}

int srg_server_port(const srg_server *s) { return s ? s->port : -EINVAL; }

static void cond_wait_ms(srg_server *s, int64_t ms) {
    struct timespec ts = sr_mono_deadline_ts(ms);
    pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

void srg_server_shutdown(srg_server *s, int grace_ms) {
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->stopped || s->stopping) {
        /* already done, or another thread is doing it: wait for it */
        while (!s->stopped)
            cond_wait_ms(s, 100);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);

    grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
    int64_t start_ms = sr_mono_ms();
    pthread_mutex_lock(&s->lock);
    for (;;) {
        int64_t left = grace_ms - (sr_mono_ms() - start_ms);
        if (s->n_live == 0 || left <= 0)
            break;
        cond_wait_ms(s, left);
    }
    pthread_mutex_unlock(&s->lock);
    grpc_server_cancel_all_calls(s->srv);

    if (s->thread_started) {
        pthread_join(s->thread, NULL);
        s->thread_started = 0;
    }
    /* every call was cancelled: handlers blocked in send/recv return now */
    pthread_mutex_lock(&s->lock);
    while (s->n_live > 0)
        cond_wait_ms(s, 100);
    pthread_mutex_unlock(&s->lock);
    reap_zombies(s);

    pthread_mutex_lock(&s->lock);
    s->stopped = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

srg_server *srg_server_free(srg_server *s) {
    if (!s)
        return NULL;
    srg_server_shutdown(s, 0);
    if (s->srv)
        grpc_server_destroy(s->srv);
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN)
                break;
        }
        grpc_completion_queue_destroy(s->cq);
    }
    for (size_t i = 0; i < s->n_methods; i++)
        free((char *)(uintptr_t)s->methods[i].path);
    free(s->methods);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

/* ---- client ---- */

int srg_channel_new(const char *target, const srg_tls *tls, const char *server_name, srg_channel **ret) {
    srg_channel_options o = {.server_name = server_name};
    return srg_channel_new_ex(target, tls, &o, ret);
}

int srg_channel_new_ex(const char *target, const srg_tls *tls, const srg_channel_options *o, srg_channel **ret) {
    static const srg_channel_options defaults = {0};
    pem_set pem;
    if (!target || !ret)
        return -EINVAL;
    if (!o)
        o = &defaults;
    int r = pem_set_load(tls, 1, &pem);
    if (r < 0)
        return r;
    srg_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        pem_set_clear(&pem);
        return -ENOMEM;
    }
    grpc_ssl_pem_key_cert_pair pair = {.private_key = pem.key, .cert_chain = pem.cert};
    grpc_channel_credentials *creds = grpc_ssl_credentials_create_ex(pem.ca, &pair, NULL, NULL);
    pem_set_clear(&pem);
    if (!creds) {
        free(ch);
        return -EINVAL;
    }
    int keepalive = o->keepalive_ms == 0 ? 30000 : o->keepalive_ms;
    grpc_arg args[10];
    size_t n = 0;
    args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                        clamp_int(o->max_recv_bytes ? o->max_recv_bytes : SRG_DEFAULT_MAX_RECV));
    args[n++] = int_arg(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args[n++] = int_arg(GRPC_ARG_ENABLE_RETRIES, 0); /* callers retry; streams cannot be replayed */
    /* GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone: the core also uses it as the minimum
     * connect timeout (20 s), and a small one fails TLS handshakes on slow hosts */
    args[n++] = int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, o->reconnect_min_ms > 0 ? o->reconnect_min_ms : 1000);
    args[n++] = int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, o->reconnect_max_ms > 0 ? o->reconnect_max_ms : 30000);
    if (keepalive > 0) {
        args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive);
        args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive < 20000 ? keepalive : 20000);
    }
    if (o->server_name)
        args[n++] = str_arg(GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, o->server_name);
    grpc_channel_args cargs = {.num_args = n, .args = args};
    ch->ch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    if (!ch->ch) {
        free(ch);
        return -EINVAL;
    }
    *ret = ch;
    return 0;
}

srg_channel *srg_channel_free(srg_channel *ch) {
    if (!ch)
        return NULL;
    if (ch->ch)
        grpc_channel_destroy(ch->ch);
    free(ch);
    return NULL;
}

int srg_call_start(srg_channel *ch, const char *method, int64_t deadline_ms, srg_call **ret) {
    if (!ch || !method || !ret || deadline_ms < 0)
        return -EINVAL;
    srg_call *c = call_alloc(0);
    if (!c)
        return -ENOMEM;
    c->method = strdup(method);
    if (!c->method) {
        call_release(c);
        return -ENOMEM;
    }
    gpr_timespec deadline = deadline_ms == 0 ? gpr_inf_future(GPR_CLOCK_REALTIME) : deadline_in(deadline_ms);
    grpc_slice m = grpc_slice_from_copied_string(method);
    c->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    if (!c->call) {
        call_release(c);
        return -EIO;
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    int r = start_batch(c, &op, 1, &c->tag_md);
    if (r < 0) {
        c->status_done = 1; /* nothing started: nothing to cancel */
        call_release(c);
        return r;
    }
    c->md_pending = 1;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &c->trailing_md;
    op.data.recv_status_on_client.status = &c->status;
    op.data.recv_status_on_client.status_details = &c->status_details;
    r = start_batch(c, &op, 1, &c->tag_status);
    if (r < 0) {
        call_release(c);
        return r;
    }
    c->status_pending = 1;
    *ret = c;
    return 0;
}

int srg_call_close_send(srg_call *c) {
    int ok = 0;
    if (!c || c->is_server)
        return -EINVAL;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    int r = start_batch(c, &op, 1, &c->tag_half);
    if (r < 0)
        return r;
    (void)pluck(c, &c->tag_half, -1, &ok);
    return ok ? 0 : -ECANCELED;
}

int srg_call_status(srg_call *c, int timeout_ms, int *ret_code, char *msg, size_t msglen) {
    int ok = 0;
    if (!c || c->is_server)
        return -EINVAL;
    if (c->status_pending) {
        /* the core holds the status back until initial metadata has been received */
        if (!atomic_exchange(&c->recv_md_asked, 1)) {
            grpc_op op;
            memset(&op, 0, sizeof(op));
            op.op = GRPC_OP_RECV_INITIAL_METADATA;
            op.data.recv_initial_metadata.recv_initial_metadata = &c->recv_md;
            if (start_batch(c, &op, 1, &c->tag_rmd) == 0)
                c->rmd_pending = 1;
        }
        int r = pluck(c, &c->tag_status, timeout_ms, &ok);
        if (r < 0)
            return r;
        c->status_pending = 0;
        c->status_done = 1;
        if (!ok)
            c->status = GRPC_STATUS_UNKNOWN;
    }
    if (ret_code)
        *ret_code = (int)c->status;
    if (msg && msglen)
        snprintf(msg, msglen, "%.*s", (int)GRPC_SLICE_LENGTH(c->status_details),
                 (const char *)GRPC_SLICE_START_PTR(c->status_details));
    return 0;
}

srg_call *srg_call_free(srg_call *c) {
    if (!c)
        return NULL;
    call_release(c);
    return NULL;
}
