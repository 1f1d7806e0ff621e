#include "gw_gateway.h"

#include <errno.h>
#include <grpc/status.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_artifact.h"
#include "gw_command.h"
#include "gw_crl.h"
#include "gw_nats.h"
#include "gw_registry.h"
#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_log.h"
#include "sr_telemetry.h"
#include "sr_time.h"
#include "srg.h"

#define GW_UPLOAD_RECV_TIMEOUT_MS 60000 /* idle time allowed between two batches of an upload */
#define GW_UPLOAD_MAX_BATCHES 100000    /* batches in one Upload call */
#define GW_SEND_TIMEOUT_MS 10000
#define GW_HELLO_TIMEOUT_MS 30000
#define GW_CMD_POLL_MS 200
#define GW_CMD_PENDING_MSGS 1024
#define GW_CMD_PENDING_BYTES (16 * 1024 * 1024)
#define GW_MAX_IDENTITY 255
#define GW_CRL_WARN_INTERVAL_MS 60000
#define GW_SUBJECT_SCANS "scan.trivy.results" /* ScanPart payloads (stream SCANS) */

struct gw_gateway {
    const gw_config *cfg;
    gw_crl *crl;
    gw_nats *nats;
    gw_registry *registry;
    srg_server *server;
    gw_artifact *artifact; /* NULL when artifact.enabled is off */
    atomic_bool stopped;
    pthread_mutex_t stop_lock;
    _Atomic int64_t crl_warned_ms;
    _Atomic uint64_t uploads_ok, uploads_failed, batches, duplicates, points, records;
};

typedef Serviceradar__Agent__V1__AgentMessage agent_msg;
typedef Serviceradar__Agent__V1__GatewayMessage gateway_msg;

static void agent_msg_freep(agent_msg **m) {
    if (*m)
        protobuf_c_message_free_unpacked(&(*m)->base, NULL);
}

/* ---- identity and revocation ---- */

/* Agent ids (contracts.md): [A-Za-z0-9._-]{1,64}, no leading or trailing dot and no "..", so
 * commands.agent.<id> is always a valid subject and the id is safe in a message id. */
static bool identity_usable(const char *id) {
    size_t len = strlen(id);
    if (len == 0 || len > 64 || id[0] == '.' || id[len - 1] == '.' || strstr(id, ".."))
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* Finishes the call and returns -EACCES when the peer may not call us. */
static int authorize(gw_gateway *g, srg_call *call, const char *method, const char **ret_id) {
    const char *id = srg_call_peer_identity(call);
    if (!id || id[0] == '\0') {
        sr_warn("refused %s call: no client certificate identity", method);
        srg_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, "a client certificate with a common name is required");
        return -EACCES;
    }
    if (!identity_usable(id)) {
        sr_warn("refused %s call: certificate common name \"%.64s\" is not usable as an agent id", method, id);
        srg_call_finish(call, GRPC_STATUS_PERMISSION_DENIED, "certificate common name is not usable as an agent id");
        return -EACCES;
    }
    if (g->crl) {
        int r = gw_crl_refresh(g->crl);
        if (r == 1) {
            sr_info("reloaded crl %s", g->cfg->tls_crl_file);
        } else if (r < 0) {
            int64_t now = sr_mono_ms(), last = atomic_load(&g->crl_warned_ms);
            if (last == 0 || now - last >= GW_CRL_WARN_INTERVAL_MS) {
                atomic_store(&g->crl_warned_ms, now);
                sr_warn("could not reload crl %s: %s (the previous list stays in force)", g->cfg->tls_crl_file,
                        strerror(-r));
            }
        }
        r = gw_crl_check(g->crl, srg_call_peer_cert_pem(call));
        if (r == -EKEYREVOKED) {
            sr_warn("refused %s call from %s: certificate is revoked", method, id);
            srg_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, "certificate is revoked");
            return -EACCES;
        }
        if (r < 0) {
            sr_warn("refused %s call from %s: could not check revocation: %s", method, id, strerror(-r));
            srg_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, "could not check the certificate against the crl");
            return -EACCES;
        }
    }
    *ret_id = id;
    return 0;
}

/* ---- Upload ---- */

typedef struct {
    uint64_t *v;
    size_t n, cap;
} seq_list;

static int seq_push(seq_list *l, uint64_t seq) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint64_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = seq;
    return 0;
}

static int grpc_status_for(int r) {
    switch (r) {
    case -EPERM:
        return GRPC_STATUS_PERMISSION_DENIED;
    case -ENOMEM:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default:
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
}

static void handle_upload(srg_call *call, void *userdata) {
    gw_gateway *g = userdata;
    const char *id = NULL;
    if (authorize(g, call, "upload", &id) < 0)
        return;

    sr_telemetry_decoder *dec = NULL;
    gw_pubset *pub = NULL;
    seq_list seqs = {0};
    uint64_t points = 0, records = 0;
    int status = GRPC_STATUS_OK;
    char msg[512] = "";
    uint8_t *buf = NULL;

    if (sr_telemetry_decoder_new(&dec) < 0 || gw_pubset_new(g->nats, &pub) < 0) {
        status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(msg, sizeof(msg), "out of memory");
        goto finish;
    }
    for (size_t nth = 1;; nth++) {
        size_t len = 0;
        free(buf);
        buf = NULL;
        int r = srg_call_recv(call, GW_UPLOAD_RECV_TIMEOUT_MS, &buf, &len);
        if (r == 0)
            break;
        if (r == -ETIMEDOUT) {
            status = GRPC_STATUS_DEADLINE_EXCEEDED;
            snprintf(msg, sizeof(msg), "no batch received for %d s", GW_UPLOAD_RECV_TIMEOUT_MS / 1000);
            goto finish;
        }
        if (r < 0) {
            /* cancelled by the client, broken, or over max_message_bytes (gRPC already
             * answered RESOURCE_EXHAUSTED) */
            status = GRPC_STATUS_CANCELLED;
            snprintf(msg, sizeof(msg), "upload stream broke: %s", strerror(-r));
            goto finish;
        }
        if (nth > GW_UPLOAD_MAX_BATCHES) {
            status = GRPC_STATUS_RESOURCE_EXHAUSTED;
            snprintf(msg, sizeof(msg), "more than %d batches in one upload", GW_UPLOAD_MAX_BATCHES);
            goto finish;
        }
        int64_t received = sr_now_unix_ms();
        const sr_upload_batch *b = NULL;
        char verr[384] = "";
        r = sr_telemetry_decode(dec, buf, len, id, (size_t)g->cfg->max_points_per_batch, &b, verr, sizeof(verr));
        if (r == 0)
            r = sr_telemetry_check_log_times(b, received, verr, sizeof(verr));
        if (r < 0) {
            status = grpc_status_for(r);
            snprintf(msg, sizeof(msg), "batch %zu of the upload: %s", nth, verr);
            goto finish;
        }
        /* sr_telemetry_decode accepts exactly one of the three payloads */
        bool is_logs = b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
        bool is_scan = b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN;
        const char *subject = is_scan ? GW_SUBJECT_SCANS : is_logs ? GW_SUBJECT_LOGS : GW_SUBJECT_METRICS;
        char msg_id[SR_TELEMETRY_MSG_ID_MAX];
        r = sr_telemetry_msg_id(id, b->epoch, b->seq, msg_id, sizeof(msg_id));
        if (r == 0)
            r = seq_push(&seqs, b->seq);
        if (r == 0)
            r = gw_pubset_add(pub, subject, buf, len, msg_id, id, received);
        if (r < 0) {
            status = r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_UNAVAILABLE;
            snprintf(msg, sizeof(msg), "could not publish batch seq %" PRIu64 ": %s", b->seq,
                     r == -ENOMEM ? "out of memory" : "nats is not available");
            goto finish;
        }
        if (is_logs)
            records += b->logs->n_records;
        else if (!is_scan)
            points += b->metrics->n_points;
    }

    gw_pubset_result res;
    gw_pubset_wait(pub, g->cfg->publish_timeout_ms, &res);
    if (res.failed > 0 || res.acked != seqs.n) {
        status = GRPC_STATUS_UNAVAILABLE;
        snprintf(msg, sizeof(msg), "%u of %zu batches not acknowledged by jetstream: %s", res.failed, seqs.n,
                 res.error[0] ? res.error : "unknown error");
        goto finish;
    }
    Serviceradar__Agent__V1__UploadAck ack;
    serviceradar__agent__v1__upload_ack__init(&ack);
    ack.n_acked_seqs = seqs.n;
    ack.acked_seqs = seqs.v;
    ack.accepted = (uint32_t)seqs.n;
    ack.duplicates = res.duplicates;
    int r = srg_call_send_msg(call, &ack.base, GW_SEND_TIMEOUT_MS);
    if (r < 0) {
        status = GRPC_STATUS_CANCELLED;
        snprintf(msg, sizeof(msg), "could not send the upload ack: %s", strerror(-r));
        goto finish;
    }
    atomic_fetch_add(&g->batches, seqs.n);
    atomic_fetch_add(&g->duplicates, res.duplicates);
    atomic_fetch_add(&g->points, points);
    atomic_fetch_add(&g->records, records);
    sr_debug("upload from %s: %zu batches, %" PRIu64 " points, %" PRIu64 " log records, %u duplicates", id, seqs.n,
             points, records, res.duplicates);

finish:
    free(buf);
    if (status != GRPC_STATUS_OK) {
        atomic_fetch_add(&g->uploads_failed, 1);
        if (status == GRPC_STATUS_CANCELLED)
            sr_info("upload from %s ended: %s", id, msg);
        else
            sr_warn("upload from %s failed: %s", id, msg);
    } else {
        atomic_fetch_add(&g->uploads_ok, 1);
    }
    srg_call_finish(call, status, status == GRPC_STATUS_OK ? NULL : msg);
    gw_pubset_free(pub); /* waits for acknowledgements still in flight after a failure */
    sr_telemetry_decoder_free(dec);
    free(seqs.v);
}

/* ---- Control ---- */

typedef struct {
    gw_gateway *g;
    srg_call *call;
    const char *id;
    natsSubscription *sub;
    gw_artifact_agent *art; /* artifact updates due to this agent; NULL without distribution */
    atomic_bool stop;
} control_ctx;

static void publish_status(gw_gateway *g, gw_event_kind kind, const char *id, const Serviceradar__Agent__V1__Hello *h,
                           const Serviceradar__Agent__V1__Heartbeat *hb) {
    _cleanup_free_ char *json = NULL;
    size_t len = 0;
    int r = gw_status_json(kind, id, g->cfg->gateway_id, h, hb, sr_now_unix_ms(), &json, &len);
    if (r == 0)
        r = gw_nats_publish(g->nats, GW_SUBJECT_STATUS, json, len);
    if (r < 0)
        sr_warn("could not publish agent status for %s: %s", id, strerror(-r));
}

/* Sends one command down the stream; on failure cancels the call. 0 or a negative errno. */
static int forward_command(control_ctx *cc, const gw_command *cmd) {
    Serviceradar__Agent__V1__Command pc;
    gw_command_to_proto(cmd, &pc);
    gateway_msg gm;
    serviceradar__agent__v1__gateway_message__init(&gm);
    gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND;
    gm.command = &pc;
    int r = srg_call_send_msg(cc->call, &gm.base, GW_SEND_TIMEOUT_MS);
    if (r < 0) {
        sr_warn("could not send command %s to %s: %s", cmd->command_id, cc->id, strerror(-r));
        srg_call_cancel(cc->call);
        return r;
    }
    sr_info("sent command %s (%s) to %s", cmd->command_id, cmd->type, cc->id);
    return 0;
}

/* Forwards commands.agent.<id> (and artifact updates due to the agent) down the stream until
 * told to stop or the call breaks. This thread is the only sender after HelloAck. */
static void *command_forwarder(void *arg) {
    control_ctx *cc = arg;
    while (!atomic_load(&cc->stop)) {
        gw_command ac;
        if (gw_artifact_agent_next_command(cc->art, &ac) == 1) {
            int ar = forward_command(cc, &ac);
            gw_command_clear(&ac);
            if (ar < 0)
                break;
        }
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, cc->sub, GW_CMD_POLL_MS);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            if (s == NATS_SLOW_CONSUMER) {
                sr_warn("commands for %s were dropped: too many pending", cc->id);
                continue;
            }
            if (!atomic_load(&cc->stop))
                sr_warn("command subscription for %s failed: %s", cc->id, natsStatus_GetText(s));
            break;
        }
        gw_command cmd;
        char err[256];
        int r = gw_command_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &cmd, err, sizeof(err));
        natsMsg_Destroy(m);
        if (r < 0) {
            sr_warn("dropped a command for %s: %s", cc->id, err);
            continue;
        }
        r = forward_command(cc, &cmd);
        gw_command_clear(&cmd);
        if (r < 0)
            break;
    }
    return NULL;
}

static void relay_result(gw_gateway *g, const char *id, const agent_msg *m) {
    _cleanup_free_ char *json = NULL;
    size_t len = 0;
    int r = gw_result_json(id, m, sr_now_unix_ms(), &json, &len);
    if (r < 0) {
        sr_warn("dropped a command response from %s: %s", id,
                r == -EINVAL ? "missing command id or invalid text" : strerror(-r));
        return;
    }
    char subject[sizeof(GW_SUBJECT_RESULTS) + GW_MAX_IDENTITY];
    snprintf(subject, sizeof(subject), GW_SUBJECT_RESULTS "%s", id);
    r = gw_nats_publish(g->nats, subject, json, len);
    if (r < 0)
        sr_warn("could not relay a command response from %s: %s", id, strerror(-r));
}

static void handle_control(srg_call *call, void *userdata) {
    gw_gateway *g = userdata;
    const char *id = NULL;
    if (authorize(g, call, "control", &id) < 0)
        return;

    __attribute__((cleanup(agent_msg_freep))) agent_msg *first = NULL;
    int r = srg_call_recv_msg(call, &serviceradar__agent__v1__agent_message__descriptor, GW_HELLO_TIMEOUT_MS,
                              (ProtobufCMessage **)&first);
    if (r != 1 || first->msg_case != SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HELLO || !first->hello) {
        if (r == 1 || r == -EBADMSG)
            srg_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT, "the first message on a control stream must be Hello");
        else
            srg_call_finish(call, GRPC_STATUS_CANCELLED, "control stream ended before Hello");
        sr_warn("refused control stream from %s: no Hello first", id);
        return;
    }
    const Serviceradar__Agent__V1__Hello *hello = first->hello;
    char err[256];
    if (hello->agent_id && hello->agent_id[0] && strcmp(hello->agent_id, id) != 0) {
        snprintf(err, sizeof(err), "hello: agent_id \"%.64s\" does not match the certificate identity \"%s\"",
                 hello->agent_id, id);
        sr_warn("refused control stream from %s: %s", id, err);
        srg_call_finish(call, GRPC_STATUS_PERMISSION_DENIED, err);
        return;
    }
    if (gw_hello_check(hello, err, sizeof(err)) < 0) {
        sr_warn("refused control stream from %s: %s", id, err);
        srg_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT, err);
        return;
    }

    control_ctx cc = {.g = g, .call = call, .id = id};
    uint64_t token = 0;
    bool registered = false, thread_started = false;
    pthread_t fwd;
    int status = GRPC_STATUS_OK;
    char msg[256] = "";

    char subject[sizeof(GW_SUBJECT_COMMANDS) + GW_MAX_IDENTITY];
    snprintf(subject, sizeof(subject), GW_SUBJECT_COMMANDS "%s", id);
    natsStatus s = natsConnection_SubscribeSync(&cc.sub, gw_nats_conn(g->nats), subject);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(cc.sub, GW_CMD_PENDING_MSGS, GW_CMD_PENDING_BYTES);
    if (s == NATS_OK) /* the subscription is live on the server before the agent hears HelloAck */
        s = natsConnection_FlushTimeout(gw_nats_conn(g->nats), 5000);
    if (s != NATS_OK) {
        status = GRPC_STATUS_UNAVAILABLE;
        snprintf(msg, sizeof(msg), "could not subscribe to commands: %s", natsStatus_GetText(s));
        goto done;
    }

    r = gw_registry_add(g->registry, id, call, &token);
    if (r < 0) {
        status = r == -ESHUTDOWN ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(msg, sizeof(msg), "could not register the agent: %s", strerror(-r));
        goto done;
    }
    registered = true;
    if (r == 1)
        sr_info("control stream from %s replaces an older one", id);

    Serviceradar__Agent__V1__HelloAck ha;
    serviceradar__agent__v1__hello_ack__init(&ha);
    ha.agent_id = (char *)(uintptr_t)id;
    ha.gateway_version = (char *)(uintptr_t)SR_VERSION;
    ha.heartbeat_interval_s = (uint32_t)(g->cfg->heartbeat_interval_ms / 1000);
    ha.server_time_unix_ms = sr_now_unix_ms();
    gateway_msg gm;
    serviceradar__agent__v1__gateway_message__init(&gm);
    gm.msg_case = SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_HELLO_ACK;
    gm.hello_ack = &ha;
    r = srg_call_send_msg(call, &gm.base, GW_SEND_TIMEOUT_MS);
    if (r < 0) {
        status = GRPC_STATUS_CANCELLED;
        snprintf(msg, sizeof(msg), "could not send HelloAck: %s", strerror(-r));
        goto done;
    }
    sr_info("agent %s connected (host %s, version %s)", id, hello->hostname ? hello->hostname : "",
            hello->agent_version ? hello->agent_version : "");
    publish_status(g, GW_EVENT_HELLO, id, hello, NULL);
    if (g->artifact && gw_artifact_agent_new(g->artifact, id, hello, &cc.art) < 0) {
        status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(msg, sizeof(msg), "out of memory");
        goto done;
    }

    if (pthread_create(&fwd, NULL, command_forwarder, &cc) != 0) {
        status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(msg, sizeof(msg), "could not start the command thread");
        goto done;
    }
    thread_started = true;

    /* three missed heartbeats end the stream */
    int idle_ms = (int)(g->cfg->heartbeat_interval_ms * 3 + 5000);
    for (;;) {
        agent_msg *m = NULL;
        r = srg_call_recv_msg(call, &serviceradar__agent__v1__agent_message__descriptor, idle_ms,
                              (ProtobufCMessage **)&m);
        if (r == 0) {
            snprintf(msg, sizeof(msg), "agent closed the stream");
            break;
        }
        if (r == -ETIMEDOUT) {
            status = GRPC_STATUS_DEADLINE_EXCEEDED;
            snprintf(msg, sizeof(msg), "no heartbeat for %d s", idle_ms / 1000);
            break;
        }
        if (r == -EBADMSG) {
            status = GRPC_STATUS_INVALID_ARGUMENT;
            snprintf(msg, sizeof(msg), "a control message does not decode");
            break;
        }
        if (r < 0) {
            status = GRPC_STATUS_CANCELLED;
            snprintf(msg, sizeof(msg), "stream broke or was cancelled");
            break;
        }
        switch (m->msg_case) {
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_HEARTBEAT:
            publish_status(g, GW_EVENT_HEARTBEAT, id, NULL, m->heartbeat);
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT:
            gw_artifact_agent_result(cc.art, m->result);
            relay_result(g, id, m);
            break;
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK:
        case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_PROGRESS:
            relay_result(g, id, m);
            break;
        default:
            sr_debug("ignored an unexpected control message from %s", id);
            break;
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }

done:
    atomic_store(&cc.stop, true);
    if (thread_started) {
        if (status != GRPC_STATUS_OK)
            srg_call_cancel(call); /* wakes a forwarder blocked in a send */
        pthread_join(fwd, NULL);
    }
    cc.art = gw_artifact_agent_free(cc.art);
    if (cc.sub) {
        natsSubscription_Unsubscribe(cc.sub);
        natsSubscription_Destroy(cc.sub);
    }
    bool replaced = registered && gw_registry_remove(g->registry, id, token) == -ESTALE;
    srg_call_finish(call, status, status == GRPC_STATUS_OK ? NULL : msg);
    if (replaced) {
        sr_info("agent %s: older control stream closed (replaced)", id);
    } else if (thread_started) {
        sr_info("agent %s disconnected: %s", id, msg);
        publish_status(g, GW_EVENT_DISCONNECT, id, NULL, NULL);
    } else {
        sr_warn("control stream from %s failed: %s", id, msg);
    }
}

/* ---- Download ---- */

static void handle_download(srg_call *call, void *userdata) {
    gw_gateway *g = userdata;
    const char *id = NULL;
    if (authorize(g, call, "download", &id) < 0)
        return;
    if (!g->artifact) {
        srg_call_finish(call, GRPC_STATUS_UNIMPLEMENTED, GW_DOWNLOAD_UNAVAILABLE);
        return;
    }
    gw_artifact_download(g->artifact, call, id);
}

/* ---- lifecycle ---- */

static const srg_method methods[] = {
    {GW_SERVICE "Control", handle_control},
    {GW_SERVICE "Upload", handle_upload},
    {GW_SERVICE "Download", handle_download},
};

int gw_gateway_start(const gw_config *cfg, gw_gateway **ret, char *err, size_t errlen) {
    gw_gateway *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->cfg = cfg;
    pthread_mutex_init(&g->stop_lock, NULL);
    int r = 0;
    if (cfg->tls_crl_file[0]) {
        r = gw_crl_new(cfg->tls_ca_file, cfg->tls_crl_file, &g->crl);
        if (r < 0) {
            snprintf(err, errlen, "could not load crl %s: %s", cfg->tls_crl_file,
                     r == -EKEYREJECTED ? "signature does not verify against the ca"
                     : r == -EBADMSG    ? "not a crl (or the ca file holds no certificate)"
                                        : strerror(-r));
            goto fail;
        }
    }
    r = gw_registry_new((size_t)cfg->max_calls, &g->registry);
    if (r < 0) {
        snprintf(err, errlen, "could not create the agent registry: %s", strerror(-r));
        goto fail;
    }
    char nerr[256] = "";
    char name[300];
    snprintf(name, sizeof(name), "agent-gateway %s", cfg->gateway_id);
    gw_nats_options no = {.url = cfg->nats_url,
                          .creds_file = cfg->nats_creds_file,
                          .user = cfg->nats_user,
                          .password = cfg->nats_password,
                          .name = name};
    r = gw_nats_connect(&no, &g->nats, nerr, sizeof(nerr));
    if (r < 0) {
        snprintf(err, errlen, "could not connect to nats %s: %s", cfg->nats_url, nerr);
        goto fail;
    }
    if (cfg->artifact_enabled) {
        r = gw_artifact_start(cfg, gw_nats_conn(g->nats), &g->artifact, err, errlen);
        if (r < 0)
            goto fail;
    }
    srg_server_options so = {
        .address = cfg->listen,
        .tls = {.ca_file = cfg->tls_ca_file, .cert_file = cfg->tls_cert_file, .key_file = cfg->tls_key_file},
        .methods = methods,
        .n_methods = sizeof(methods) / sizeof(methods[0]),
        .userdata = g,
        .max_recv_bytes = (size_t)cfg->max_message_bytes,
        .max_calls = (unsigned)cfg->max_calls,
    };
    r = srg_server_start(&so, &g->server);
    if (r < 0) {
        snprintf(err, errlen, "could not start the grpc server on %s: %s", cfg->listen, strerror(-r));
        goto fail;
    }
    *ret = g;
    return 0;
fail:
    atomic_store(&g->stopped, true);
    gw_gateway_free(g);
    return r;
}

int gw_gateway_port(const gw_gateway *g) { return srg_server_port(g->server); }

void gw_gateway_stop(gw_gateway *g) {
    pthread_mutex_lock(&g->stop_lock);
    if (!atomic_exchange(&g->stopped, true)) {
        /* control streams never end on their own: close them first so each publishes its
         * disconnect, then give uploads the grace period */
        if (g->registry)
            gw_registry_close(g->registry);
        gw_artifact_stop(g->artifact); /* downloads end at once: agents resume later */
        if (g->server)
            srg_server_shutdown(g->server, (int)g->cfg->shutdown_grace_ms);
        g->artifact = gw_artifact_free(g->artifact); /* every handler is gone */
        g->nats = gw_nats_free(g->nats, 5000);
    }
    pthread_mutex_unlock(&g->stop_lock);
}

gw_gateway *gw_gateway_free(gw_gateway *g) {
    if (!g)
        return NULL;
    gw_gateway_stop(g);
    g->server = srg_server_free(g->server);
    g->artifact = gw_artifact_free(g->artifact);
    g->nats = gw_nats_free(g->nats, 0);
    gw_registry_free(g->registry);
    gw_crl_free(g->crl);
    pthread_mutex_destroy(&g->stop_lock);
    free(g);
    return NULL;
}

void gw_gateway_stats(gw_gateway *g, gw_stats *ret) {
    ret->uploads_ok = atomic_load(&g->uploads_ok);
    ret->uploads_failed = atomic_load(&g->uploads_failed);
    ret->batches_published = atomic_load(&g->batches);
    ret->duplicates = atomic_load(&g->duplicates);
    ret->points = atomic_load(&g->points);
    ret->records = atomic_load(&g->records);
    ret->control_streams = g->registry ? gw_registry_count(g->registry) : 0;
}
