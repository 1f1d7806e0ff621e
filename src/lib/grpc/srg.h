/* srg: a small blocking wrapper over the gRPC C core (grpc/grpc.h, grpc_security.h) with
 * mutual TLS on both sides. One thread per call; protobuf-c for messages.
 *
 * Return values: 0 (or 1 where stated) on success, a negative errno on failure.
 * gRPC status codes (GRPC_STATUS_*, grpc/status.h) appear only where a call's final status
 * is sent or read.
 *
 * Threading: on one call, one thread may be in srg_call_recv while another is in
 * srg_call_send; srg_call_cancel may be called from any thread and wakes both. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef struct srg_server srg_server;
typedef struct srg_channel srg_channel;
typedef struct srg_call srg_call;

typedef struct {
    const char *ca_file;   /* PEM CA bundle that must have signed the peer */
    const char *cert_file; /* our certificate chain, PEM */
    const char *key_file;  /* our private key, PEM */
} srg_tls;

/* grpc_init with SIGINT/SIGTERM blocked in the calling thread's mask (callers handle signals
 * with sigwait or signalfd). srg_global_shutdown waits (bounded) until gRPC has stopped. */
void srg_global_init(void);
void srg_global_shutdown(void);
/* Pair one srg_global_init with one srg_global_shutdown per process (the wait above ends
 * only when no other grpc_init reference is held; it gives up after 10 s). */

/* ---- server ---- */

/* Runs on a thread of its own for each accepted call. It must call srg_call_finish exactly
 * once; if it returns without doing so the wrapper finishes the call with INTERNAL. The call
 * is freed by the wrapper after the handler returns. */
typedef void (*srg_handler)(srg_call *call, void *userdata);

typedef struct {
    const char *path; /* "/serviceradar.agent.v1.AgentGateway/Upload" */
    srg_handler handler;
} srg_method;

typedef struct {
    const char *address;        /* "127.0.0.1:50052"; port 0 picks a free one */
    srg_tls tls;                /* required; clients must present a certificate signed by tls.ca_file */
    const srg_method *methods;  /* unknown methods are answered UNIMPLEMENTED */
    size_t n_methods;
    void *userdata;             /* passed to every handler */
    size_t max_recv_bytes;      /* per message; 0 = 4 MiB. Larger messages fail the call (RESOURCE_EXHAUSTED) */
    unsigned max_calls;         /* concurrent handler threads; 0 = 1024. Beyond it: RESOURCE_EXHAUSTED */
} srg_server_options;

/* Binds, starts the serving thread and returns. */
int srg_server_start(const srg_server_options *o, srg_server **ret);
/* The bound port (useful with port 0). */
int srg_server_port(const srg_server *s);
/* Stops accepting, lets live calls run up to grace_ms, then cancels them and joins every
 * handler thread. Idempotent. */
void srg_server_shutdown(srg_server *s, int grace_ms);
/* Shuts down (grace 0) if needed and frees. Accepts NULL; returns NULL. */
srg_server *srg_server_free(srg_server *s);

/* ---- calls, server side ---- */

/* Common name of the verified client certificate; NULL when there is none. Valid for the
 * life of the call. */
const char *srg_call_peer_identity(const srg_call *c);
/* The client's leaf certificate, PEM (for revocation checks); NULL when none. */
const char *srg_call_peer_cert_pem(const srg_call *c);
/* The method path this call was made to. */
const char *srg_call_method(const srg_call *c);
/* Sends the final status (server side). 0 or a negative errno; a second call is -EALREADY. */
int srg_call_finish(srg_call *c, int grpc_status, const char *message);

/* ---- calls, both sides ---- */

/* Receives one message. Returns 1 with a malloc'ed buffer in *ret_buf (caller frees) and its
 * length, 0 at end of stream (the peer half-closed, or on the client side the server
 * finished), -ETIMEDOUT when timeout_ms (<0: forever) passed first (the receive stays
 * pending: the next srg_call_recv goes on waiting for the same message), -ECANCELED when the
 * call was cancelled or broke. */
int srg_call_recv(srg_call *c, int timeout_ms, uint8_t **ret_buf, size_t *ret_len);
/* Sends one message. 0, -ETIMEDOUT (the call is then cancelled: a stalled send cannot be
 * resumed), -ECANCELED. */
int srg_call_send(srg_call *c, const uint8_t *buf, size_t len, int timeout_ms);
/* protobuf-c conveniences over the two above. recv_msg returns 1 with a message to free with
 * protobuf_c_message_free_unpacked, 0 at end of stream, -EBADMSG when it does not decode. */
int srg_call_send_msg(srg_call *c, const ProtobufCMessage *m, int timeout_ms);
int srg_call_recv_msg(srg_call *c, const ProtobufCMessageDescriptor *d, int timeout_ms, ProtobufCMessage **ret);
/* Cancels the call from any thread; blocked send/recv return -ECANCELED. */
void srg_call_cancel(srg_call *c);

/* ---- client ---- */

/* target: "host:port". server_name: the name to verify in the server certificate (NULL: the
 * host part of target). The channel connects lazily. */
int srg_channel_new(const char *target, const srg_tls *tls, const char *server_name, srg_channel **ret);
typedef struct {
    const char *server_name;    /* as above; NULL: host of target */
    size_t max_recv_bytes;      /* per message from the server; 0 = 4 MiB */
    int reconnect_min_ms;       /* gRPC's own first reconnect delay; 0 = 1000 (the connect
                                 * timeout stays gRPC's 20 s) */
    int reconnect_max_ms;       /* 0 = 30000 */
    int keepalive_ms;           /* HTTP/2 ping interval while calls are live; 0 = 30000, <0 off */
} srg_channel_options;
/* srg_channel_new with options (o may be NULL). Every channel has its own connection
 * (a local subchannel pool), so a fresh channel never inherits another's backoff. */
int srg_channel_new_ex(const char *target, const srg_tls *tls, const srg_channel_options *o, srg_channel **ret);
srg_channel *srg_channel_free(srg_channel *ch);
/* Starts a call (any shape: the wrapper streams both ways; unary is send + close_send + recv).
 * deadline_ms: relative deadline for the whole call; 0 = none. */
int srg_call_start(srg_channel *ch, const char *method, int64_t deadline_ms, srg_call **ret);
/* Half-closes the sending side (client). */
int srg_call_close_send(srg_call *c);
/* Waits for the call's final status (client); code receives a GRPC_STATUS_* value and msg its
 * details. timeout_ms <0: forever. 0 or -ETIMEDOUT. */
int srg_call_status(srg_call *c, int timeout_ms, int *ret_code, char *msg, size_t msglen);
/* Client side: cancels if still live and frees. Accepts NULL; returns NULL. */
srg_call *srg_call_free(srg_call *c);
