/* sr_transport: Control stream and spool uploads to the gateway. See sr_transport.h and
 * docs/internals/grpc.md. Library code: nothing is logged, failures are counted. */
#include "sr_transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>

#include <grpc/status.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_time.h"
#include "sr_transport_cmd.h"

#define PATH_CONTROL "/serviceradar.agent.v1.AgentGateway/Control"
#define PATH_UPLOAD "/serviceradar.agent.v1.AgentGateway/Upload"
#define SR_TRANSPORT_PROTOCOL_VERSION 1
#define SR_TRANSPORT_MAX_CAPS 64
#define SR_TRANSPORT_MAX_RECORDS 100000

enum { CALL_CONTROL, CALL_UPLOAD, CALL_N };

struct sr_transport {
    sr_transport_config cfg; /* strings below are our copies */
    char **caps;
    size_t n_caps;
    char os[65], arch[65], kernel[129];
    sr_spool *spool;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* stop */
    int stopping;
    srg_call *live[CALL_N]; /* calls to cancel on stop */
    sr_transport_stats stats;

    pthread_t control_thread, upload_thread;
    int control_started, upload_started;
};

/* ---- small helpers ---- */

typedef struct {
    uint64_t s;
} rng_t;

static void rng_seed(rng_t *r, const void *salt) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)sr_mono_ms() ^ (uint64_t)(uintptr_t)salt ^ ((uint64_t)sr_now_unix_ms() << 20);
    r->s = seed;
}

/* splitmix64: one state per thread, so no locking */
static uint64_t rng_next(rng_t *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Full jitter: uniform in [0, min(max, min * 2^attempt)]. */
static int64_t backoff_ms(const sr_transport *t, rng_t *r, unsigned attempt) {
    int64_t lo = t->cfg.backoff_min_ms, hi = t->cfg.backoff_max_ms;
    int64_t cap = lo;
    for (unsigned i = 0; i < attempt && cap < hi; i++)
        cap *= 2;
    if (cap > hi)
        cap = hi;
    return (int64_t)(rng_next(r) % (uint64_t)(cap + 1));
}

static int is_stopping(sr_transport *t) {
    pthread_mutex_lock(&t->lock);
    int s = t->stopping;
    pthread_mutex_unlock(&t->lock);
    return s;
}

/* Sleeps ms or until stop. Returns 1 when stopping. */
static int sleep_or_stop(sr_transport *t, int64_t ms) {
    struct timespec ts = sr_mono_deadline_ts(ms);
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) == ETIMEDOUT)
            break;
    }
    int s = t->stopping;
    pthread_mutex_unlock(&t->lock);
    return s;
}

/* Makes a call visible to sr_transport_free (which cancels it). -ECANCELED when stopping. */
static int register_call(sr_transport *t, int slot, srg_call *c) {
    pthread_mutex_lock(&t->lock);
    int stopping = t->stopping;
    if (!stopping)
        t->live[slot] = c;
    pthread_mutex_unlock(&t->lock);
    return stopping ? -ECANCELED : 0;
}

static srg_call *unregister_and_free(sr_transport *t, int slot, srg_call *c) {
    pthread_mutex_lock(&t->lock);
    if (t->live[slot] == c)
        t->live[slot] = NULL;
    pthread_mutex_unlock(&t->lock);
    return srg_call_free(c);
}

static int open_channel(sr_transport *t, srg_channel **ret) {
    int64_t maxb = t->cfg.backoff_max_ms;
    srg_channel_options o = {
        .server_name = t->cfg.server_name,
        .reconnect_min_ms = (int)t->cfg.backoff_min_ms,
        .reconnect_max_ms = maxb > INT32_MAX ? INT32_MAX : (int)maxb,
    };
    return srg_channel_new_ex(t->cfg.gateway, &t->cfg.tls, &o, ret);
}

static int call_timeout(const sr_transport *t) {
    return t->cfg.call_timeout_ms > INT32_MAX ? INT32_MAX : (int)t->cfg.call_timeout_ms;
}

/* ---- control stream ---- */

static int send_agent_msg(sr_transport *t, srg_call *c, Serviceradar__Agent__V1__AgentMessage *m) {
    return srg_call_send_msg(c, &m->base, call_timeout(t));
}

static int send_hello(sr_transport *t, srg_call *c) {
    Serviceradar__Agent__V1__Hello h;
    serviceradar__agent__v1__hello__init(&h);
    h.agent_id = (char *)(uintptr_t)(t->cfg.agent_id ? t->cfg.agent_id : "");
    h.hostname = (char *)(uintptr_t)(t->cfg.hostname ? t->cfg.hostname : "");
    h.agent_version = (char *)(uintptr_t)(t->cfg.agent_version ? t->cfg.agent_version : "");
    h.protocol_version = SR_TRANSPORT_PROTOCOL_VERSION;
    h.n_capabilities = t->n_caps;
    h.capabilities = t->caps;
    h.os = t->os;
    h.arch = t->arch;
    h.kernel = t->kernel;
    Serviceradar__Agent__V1__AgentMessage m;
    serviceradar__agent__v1__agent_message__init(&m);
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HELLO;
    m.hello = &h;
    return send_agent_msg(t, c, &m);
}

static int send_heartbeat(sr_transport *t, srg_call *c) {
    sr_spool_stats ss;
    sr_spool_get_stats(t->spool, &ss);
    Serviceradar__Agent__V1__Heartbeat hb;
    serviceradar__agent__v1__heartbeat__init(&hb);
    hb.time_unix_ms = sr_now_unix_ms();
    hb.spool_bytes = ss.bytes;
    hb.spool_records = ss.records;
    Serviceradar__Agent__V1__AgentMessage m;
    serviceradar__agent__v1__agent_message__init(&m);
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT;
    m.heartbeat = &hb;
    return send_agent_msg(t, c, &m);
}

static int handle_command(sr_transport *t, srg_call *c, const Serviceradar__Agent__V1__Command *cmd) {
    Serviceradar__Agent__V1__CommandAck ack;
    serviceradar__agent__v1__command_ack__init(&ack);
    ack.command_id = cmd->command_id;
    Serviceradar__Agent__V1__AgentMessage m;
    serviceradar__agent__v1__agent_message__init(&m);
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK;
    m.ack = &ack;
    int r = send_agent_msg(t, c, &m);
    if (r < 0)
        return r;

    sr_transport_cmd_result res;
    sr_transport_cmd_run(cmd, sr_now_unix_ms(), &res);
    Serviceradar__Agent__V1__CommandResult cr;
    serviceradar__agent__v1__command_result__init(&cr);
    cr.command_id = cmd->command_id;
    cr.ok = res.ok;
    cr.output = res.output;
    cr.error = res.error;
    cr.finished_unix_ms = sr_now_unix_ms();
    m.msg_case = SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT;
    m.result = &cr;
    r = send_agent_msg(t, c, &m);
    if (r < 0)
        return r;
    pthread_mutex_lock(&t->lock);
    t->stats.commands_run++;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static void set_connected(sr_transport *t, int up) {
    pthread_mutex_lock(&t->lock);
    t->stats.control_connected = up;
    pthread_mutex_unlock(&t->lock);
}

/* Receives one GatewayMessage. 1, 0 (end of stream), -ETIMEDOUT or another negative errno. */
static int recv_gateway_msg(srg_call *c, int timeout_ms, Serviceradar__Agent__V1__GatewayMessage **ret) {
    _cleanup_free_ uint8_t *buf = NULL;
    size_t len = 0;
    int r = srg_call_recv(c, timeout_ms, &buf, &len);
    if (r <= 0)
        return r;
    r = sr_transport_decode_gateway_msg(buf, len, ret);
    return r < 0 ? r : 1;
}

/* One Control session: returns when the stream ends or fails. *was_up is set once the
 * gateway answered Hello. */
static int control_session(sr_transport *t, int *was_up) {
    srg_channel *ch = NULL;
    srg_call *c = NULL;
    Serviceradar__Agent__V1__GatewayMessage *gm = NULL;
    int r = open_channel(t, &ch);
    if (r < 0)
        return r;
    r = srg_call_start(ch, PATH_CONTROL, 0, &c);
    if (r < 0)
        goto out;
    r = register_call(t, CALL_CONTROL, c);
    if (r < 0)
        goto out;
    r = send_hello(t, c);
    if (r < 0)
        goto out;
    r = recv_gateway_msg(c, call_timeout(t), &gm);
    if (r <= 0) {
        r = r == 0 ? -ECONNRESET : r;
        goto out;
    }
    if (gm->msg_case != SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_HELLO_ACK) {
        r = -EPROTO;
        goto out;
    }
    int64_t interval = t->cfg.heartbeat_ms;
    if (gm->hello_ack->heartbeat_interval_s > 0)
        interval = (int64_t)gm->hello_ack->heartbeat_interval_s * 1000;
    protobuf_c_message_free_unpacked(&gm->base, NULL);
    gm = NULL;
    *was_up = 1;
    set_connected(t, 1);

    int64_t next_hb = sr_mono_ms(); /* a first heartbeat at once: spool figures show up early */
    for (;;) {
        int64_t now = sr_mono_ms();
        if (now >= next_hb) {
            r = send_heartbeat(t, c);
            if (r < 0)
                goto out;
            next_hb += interval;
            if (next_hb <= now)
                next_hb = now + interval;
        }
        int64_t wait = next_hb - sr_mono_ms();
        if (wait < 0)
            wait = 0;
        r = recv_gateway_msg(c, wait > INT32_MAX ? INT32_MAX : (int)wait, &gm);
        if (r == -ETIMEDOUT)
            continue;
        if (r <= 0) {
            r = r == 0 ? -ECONNRESET : r;
            goto out;
        }
        if (gm->msg_case == SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND) {
            r = handle_command(t, c, gm->command);
            if (r < 0)
                goto out;
        }
        protobuf_c_message_free_unpacked(&gm->base, NULL);
        gm = NULL;
    }
out:
    if (gm)
        protobuf_c_message_free_unpacked(&gm->base, NULL);
    set_connected(t, 0);
    if (c)
        unregister_and_free(t, CALL_CONTROL, c);
    srg_channel_free(ch);
    return r;
}

static void *control_main(void *arg) {
    sr_transport *t = arg;
    rng_t rng = {0};
    rng_seed(&rng, &t);
    unsigned attempt = 0;
    while (!is_stopping(t)) {
        int was_up = 0;
        (void)control_session(t, &was_up);
        if (is_stopping(t))
            break;
        if (was_up)
            attempt = 0;
        pthread_mutex_lock(&t->lock);
        t->stats.reconnects++;
        pthread_mutex_unlock(&t->lock);
        if (sleep_or_stop(t, backoff_ms(t, &rng, attempt)))
            break;
        if (attempt < 32)
            attempt++;
    }
    return NULL;
}

/* ---- uploads ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    uint64_t *seqs;
    size_t *offs, *lens;
    size_t n, ncap;
    int err;
} upload_set;

static void upload_set_clear(upload_set *u) {
    free(u->data);
    free(u->seqs);
    free(u->offs);
    free(u->lens);
    memset(u, 0, sizeof(*u));
}

static int collect(uint64_t seq, const uint8_t *data, size_t len, void *userdata) {
    upload_set *u = userdata;
    if (u->n == u->ncap) {
        size_t nc = u->ncap ? u->ncap * 2 : 16;
        uint64_t *s = realloc(u->seqs, nc * sizeof(*s));
        if (s)
            u->seqs = s;
        size_t *o = realloc(u->offs, nc * sizeof(*o));
        if (o)
            u->offs = o;
        size_t *l = realloc(u->lens, nc * sizeof(*l));
        if (l)
            u->lens = l;
        if (!s || !o || !l) {
            u->err = -ENOMEM;
            return 1;
        }
        u->ncap = nc;
    }
    if (u->len + len > u->cap) {
        size_t nc = u->cap ? u->cap : 4096;
        while (nc < u->len + len)
            nc *= 2;
        uint8_t *d = realloc(u->data, nc);
        if (!d) {
            u->err = -ENOMEM;
            return 1;
        }
        u->data = d;
        u->cap = nc;
    }
    if (len)
        memcpy(u->data + u->len, data, len);
    u->seqs[u->n] = seq;
    u->offs[u->n] = u->len;
    u->lens[u->n] = len;
    u->len += len;
    u->n++;
    return 0;
}

static int in_set(const upload_set *u, uint64_t seq) {
    for (size_t i = 0; i < u->n; i++)
        if (u->seqs[i] == seq)
            return 1;
    return 0;
}

/* One Upload call over what the spool holds. The number of records acknowledged (>0), 0 when
 * the spool was empty, or a negative errno. */
static int upload_once(sr_transport *t, srg_channel *ch) {
    upload_set u = {0};
    srg_call *c = NULL;
    Serviceradar__Agent__V1__UploadAck *ack = NULL;
    int r = sr_spool_peek(t->spool, t->cfg.upload_max_records, (size_t)t->cfg.upload_max_bytes, collect, &u);
    if (r < 0)
        goto out;
    if (u.err < 0) {
        r = u.err;
        goto out;
    }
    if (u.n == 0) {
        r = 0;
        goto out;
    }
    r = srg_call_start(ch, PATH_UPLOAD, t->cfg.call_timeout_ms, &c);
    if (r < 0)
        goto out;
    r = register_call(t, CALL_UPLOAD, c);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < u.n; i++) {
        r = srg_call_send(c, u.data + u.offs[i], u.lens[i], call_timeout(t));
        if (r < 0)
            goto out;
    }
    r = srg_call_close_send(c);
    if (r < 0)
        goto out;
    r = srg_call_recv_msg(c, &serviceradar__agent__v1__upload_ack__descriptor, call_timeout(t),
                          (ProtobufCMessage **)&ack);
    if (r <= 0) {
        r = r == 0 ? -ECONNRESET : r;
        goto out;
    }
    int code = GRPC_STATUS_UNKNOWN;
    r = srg_call_status(c, call_timeout(t), &code, NULL, 0);
    if (r < 0)
        goto out;
    if (code != GRPC_STATUS_OK) {
        r = -EPROTO;
        goto out;
    }
    uint64_t acked = 0;
    for (size_t i = 0; i < ack->n_acked_seqs; i++) {
        uint64_t seq = ack->acked_seqs[i];
        if (!in_set(&u, seq))
            continue; /* not ours to acknowledge */
        r = sr_spool_ack(t->spool, seq);
        if (r < 0)
            goto out;
        acked++;
    }
    pthread_mutex_lock(&t->lock);
    t->stats.batches_acked += acked;
    pthread_mutex_unlock(&t->lock);
    r = acked > 0 ? (acked > INT32_MAX ? INT32_MAX : (int)acked) : -EPROTO;
out:
    if (ack)
        protobuf_c_message_free_unpacked(&ack->base, NULL);
    if (c)
        unregister_and_free(t, CALL_UPLOAD, c);
    upload_set_clear(&u);
    return r;
}

static void *upload_main(void *arg) {
    sr_transport *t = arg;
    rng_t rng = {0};
    rng_seed(&rng, &t);
    srg_channel *ch = NULL;
    unsigned attempt = 0;
    for (;;) {
        int pending = sr_spool_wait(t->spool, -1);
        if (is_stopping(t))
            break;
        if (pending <= 0)
            continue;
        int r = ch ? 0 : open_channel(t, &ch);
        if (r == 0)
            r = upload_once(t, ch);
        if (r > 0 || r == 0) {
            if (r > 0) {
                pthread_mutex_lock(&t->lock);
                t->stats.uploads_ok++;
                pthread_mutex_unlock(&t->lock);
            }
            attempt = 0;
            continue;
        }
        pthread_mutex_lock(&t->lock);
        t->stats.uploads_failed++;
        pthread_mutex_unlock(&t->lock);
        ch = srg_channel_free(ch); /* start over on a fresh connection */
        if (sleep_or_stop(t, backoff_ms(t, &rng, attempt)))
            break;
        if (attempt < 32)
            attempt++;
    }
    srg_channel_free(ch);
    return NULL;
}

/* ---- lifecycle ---- */

static char *dup_or_null(const char *s, int *err) {
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *err = -ENOMEM;
    return d;
}

static void free_config_copies(sr_transport *t) {
    free((char *)(uintptr_t)t->cfg.gateway);
    free((char *)(uintptr_t)t->cfg.server_name);
    free((char *)(uintptr_t)t->cfg.tls.ca_file);
    free((char *)(uintptr_t)t->cfg.tls.cert_file);
    free((char *)(uintptr_t)t->cfg.tls.key_file);
    free((char *)(uintptr_t)t->cfg.agent_id);
    free((char *)(uintptr_t)t->cfg.hostname);
    free((char *)(uintptr_t)t->cfg.agent_version);
    for (size_t i = 0; i < t->n_caps; i++)
        free(t->caps[i]);
    free(t->caps);
}

static void copy_lower(char *dst, size_t dstlen, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < dstlen; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[i] = '\0';
}

int sr_transport_start(const sr_transport_config *cfg, sr_spool *spool, sr_transport **ret) {
    int err = 0;
    if (!cfg || !spool || !ret || !cfg->gateway || !cfg->tls.ca_file || !cfg->tls.cert_file || !cfg->tls.key_file)
        return -EINVAL;
    if (cfg->heartbeat_ms < 0 || cfg->backoff_min_ms < 0 || cfg->backoff_max_ms < 0 || cfg->call_timeout_ms < 0 ||
        cfg->upload_max_records > SR_TRANSPORT_MAX_RECORDS)
        return -EINVAL;
    sr_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->spool = spool;
    t->cfg = *cfg;
    t->cfg.gateway = dup_or_null(cfg->gateway, &err);
    t->cfg.server_name = dup_or_null(cfg->server_name, &err);
    t->cfg.tls.ca_file = dup_or_null(cfg->tls.ca_file, &err);
    t->cfg.tls.cert_file = dup_or_null(cfg->tls.cert_file, &err);
    t->cfg.tls.key_file = dup_or_null(cfg->tls.key_file, &err);
    t->cfg.agent_id = dup_or_null(cfg->agent_id, &err);
    t->cfg.hostname = dup_or_null(cfg->hostname, &err);
    t->cfg.agent_version = dup_or_null(cfg->agent_version, &err);
    t->cfg.capabilities = NULL;
    size_t n = 0;
    while (cfg->capabilities && cfg->capabilities[n] && n < SR_TRANSPORT_MAX_CAPS)
        n++;
    t->caps = calloc(n ? n : 1, sizeof(*t->caps));
    if (!t->caps)
        err = -ENOMEM;
    for (size_t i = 0; t->caps && i < n; i++) {
        t->caps[i] = dup_or_null(cfg->capabilities[i], &err);
        t->n_caps = i + 1;
    }
    if (!t->cfg.heartbeat_ms)
        t->cfg.heartbeat_ms = 15000;
    if (!t->cfg.backoff_min_ms)
        t->cfg.backoff_min_ms = 500;
    if (!t->cfg.backoff_max_ms)
        t->cfg.backoff_max_ms = 30000;
    if (t->cfg.backoff_max_ms < t->cfg.backoff_min_ms)
        t->cfg.backoff_max_ms = t->cfg.backoff_min_ms;
    if (!t->cfg.call_timeout_ms)
        t->cfg.call_timeout_ms = 30000;
    if (!t->cfg.upload_max_records)
        t->cfg.upload_max_records = 64;
    if (!t->cfg.upload_max_bytes)
        t->cfg.upload_max_bytes = 3u * 1024 * 1024;

    struct utsname u;
    if (uname(&u) == 0) {
        copy_lower(t->os, sizeof(t->os), u.sysname);
        copy_lower(t->arch, sizeof(t->arch), u.machine);
        copy_lower(t->kernel, sizeof(t->kernel), u.release);
    }

    pthread_mutex_init(&t->lock, NULL);
    (void)sr_mono_cond_init(&t->cond);
    if (err < 0) {
        sr_transport_free(t);
        return err;
    }
    int r = -pthread_create(&t->control_thread, NULL, control_main, t);
    if (r < 0) {
        sr_transport_free(t);
        return r;
    }
    t->control_started = 1;
    r = -pthread_create(&t->upload_thread, NULL, upload_main, t);
    if (r < 0) {
        sr_transport_free(t);
        return r;
    }
    t->upload_started = 1;
    *ret = t;
    return 0;
}

void sr_transport_get_stats(sr_transport *t, sr_transport_stats *ret) {
    if (!t || !ret)
        return;
    pthread_mutex_lock(&t->lock);
    *ret = t->stats;
    pthread_mutex_unlock(&t->lock);
}

sr_transport *sr_transport_free(sr_transport *t) {
    if (!t)
        return NULL;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    for (int i = 0; i < CALL_N; i++)
        if (t->live[i])
            srg_call_cancel(t->live[i]);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    sr_spool_wakeup(t->spool);
    if (t->control_started)
        pthread_join(t->control_thread, NULL);
    if (t->upload_started)
        pthread_join(t->upload_thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free_config_copies(t);
    free(t);
    return NULL;
}
