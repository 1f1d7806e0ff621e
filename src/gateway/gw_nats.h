/* NATS side of the gateway: one connection (reconnecting forever), core publishes for
 * events and command results, and JetStream publish sets for uploads.
 *
 * A publish set belongs to one Upload call: its batches are published asynchronously
 * (pipelined, no round trip each) on a JetStream context of its own, and gw_pubset_wait
 * returns once JetStream acknowledged every one of them, or the timeout passed. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

typedef struct gw_nats gw_nats;

typedef struct {
    const char *url;
    const char *creds_file; /* NULL or "" = none */
    const char *user;       /* NULL or "" = none */
    const char *password;
    const char *name;       /* connection name shown by the server */
} gw_nats_options;

/* Connects. When the server is not reachable yet the connection keeps retrying in the
 * background and this still succeeds (publishes fail until it is up). err receives the NATS
 * error text on failure. */
int gw_nats_connect(const gw_nats_options *o, gw_nats **ret, char *err, size_t errlen);
/* Drains (flushes what was published, bounded by timeout_ms) and closes. Accepts NULL. */
gw_nats *gw_nats_free(gw_nats *n, int timeout_ms);
natsConnection *gw_nats_conn(gw_nats *n);
/* 1 when connected now. */
int gw_nats_connected(gw_nats *n);

/* Core NATS publish (no acknowledgement). 0 or -EIO. */
int gw_nats_publish(gw_nats *n, const char *subject, const void *data, size_t len);

typedef struct gw_pubset gw_pubset;

typedef struct {
    uint32_t acked;      /* JetStream acknowledged (duplicates included) */
    uint32_t duplicates; /* acknowledged as duplicate */
    uint32_t failed;     /* errors or no acknowledgement in time */
    char error[160];     /* first failure, for the log and the status message */
} gw_pubset_result;

int gw_pubset_new(gw_nats *n, gw_pubset **ret);
/* Publishes one message with the upload headers. Copies data. 0, -EIO (not sent: the set
 * has failed), -ENOMEM. */
int gw_pubset_add(gw_pubset *p, const char *subject, const void *data, size_t len, const char *msg_id,
                  const char *agent_id, int64_t received_ms);
/* Waits for every acknowledgement (up to timeout_ms), then reports. Messages still
 * unacknowledged at the deadline count as failed. The set can be reused afterwards. */
void gw_pubset_wait(gw_pubset *p, int64_t timeout_ms, gw_pubset_result *ret);
gw_pubset *gw_pubset_free(gw_pubset *p);
