/* Agents worker: AGENTS/core-agents events -> hosts, commands.results.> -> commands, and a
 * periodic sweep (hosts silent too long go offline, commands past their deadline expire). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_cleanup.h"
#include "sr_ingest_decode.h"
#include "sr_ingest_int.h"
#include "sr_log.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"

#define AGENTS_BATCH 64
#define AGENTS_WAIT_MS 250
#define RESULTS_PER_ROUND 1000
#define MAX_JSON (64 * 1024)
#define MAX_FIELD 255
#define MAX_CAPABILITIES 64

static const char SQL_HELLO[] =
    "INSERT INTO hosts AS h (agent_id, hostname, agent_version, os, arch, kernel, capabilities, gateway, "
    "first_seen, last_seen, status, status_changed_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), $8, "
    "now(), now(), 'online', now()) "
    "ON CONFLICT (agent_id) DO UPDATE SET hostname = EXCLUDED.hostname, agent_version = EXCLUDED.agent_version, "
    "os = EXCLUDED.os, arch = EXCLUDED.arch, kernel = EXCLUDED.kernel, capabilities = EXCLUDED.capabilities, "
    "gateway = EXCLUDED.gateway, last_seen = now(), status = 'online', "
    "status_changed_at = CASE WHEN h.status <> 'online' THEN now() ELSE h.status_changed_at END";
/* $2: event time in Unix ms (clamped to now). */
static const char SQL_HEARTBEAT[] =
    "INSERT INTO hosts AS h (agent_id, last_seen, status, status_changed_at) "
    "VALUES ($1, LEAST(to_timestamp($2::bigint / 1000.0), now()), 'online', now()) "
    "ON CONFLICT (agent_id) DO UPDATE SET last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen), "
    "status = 'online', "
    "status_changed_at = CASE WHEN h.status <> 'online' THEN now() ELSE h.status_changed_at END";
/* A disconnect older than the host's last sign of life (a stale one from a previous
 * connection) changes nothing. */
static const char SQL_DISCONNECT[] =
    "UPDATE hosts SET status = 'offline', status_changed_at = now() "
    "WHERE agent_id = $1 AND status <> 'offline' AND last_seen <= LEAST(to_timestamp($2::bigint / 1000.0), now())";
static const char SQL_CMD_ACK[] =
    "UPDATE commands SET status = 'acked', updated_at = now() "
    "WHERE command_id = $1 AND agent_id = $2 AND status IN ('pending', 'sent')";
static const char SQL_CMD_PROGRESS[] =
    "UPDATE commands SET status = 'running', result = $3::jsonb, updated_at = now() "
    "WHERE command_id = $1 AND agent_id = $2 AND status IN ('pending', 'sent', 'acked', 'running')";
static const char SQL_CMD_RESULT[] =
    "UPDATE commands SET status = CASE WHEN $4::boolean THEN 'succeeded' ELSE 'failed' END, "
    "result = $3::jsonb, updated_at = now() "
    "WHERE command_id = $1 AND agent_id = $2 AND status IN ('pending', 'sent', 'acked', 'running')";
static const char SQL_SWEEP_HOSTS[] =
    "UPDATE hosts SET status = 'offline', status_changed_at = now() "
    "WHERE status = 'online' AND last_seen < now() - $1::bigint * interval '1 millisecond'";
static const char SQL_SWEEP_COMMANDS[] =
    "UPDATE commands SET status = 'expired', updated_at = now() "
    "WHERE status IN ('pending', 'sent', 'acked', 'running') AND deadline_at < now()";

struct sr_agents_worker {
    sr_ingest *ing;
    pthread_t thread;
    int started;
    jsCtx *js;
    natsSubscription *sub;     /* core-agents pull */
    natsSubscription *results; /* commands.results.> (core NATS) */
    PGconn *pg;
    int64_t backoff_ms;
    int64_t next_sweep_ms;
};

/* A string member, bounded; "" when absent. NULL when present but not a string or too long. */
static const char *str_field(json_t *o, const char *key, int required) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return required ? NULL : "";
    if (!json_is_string(v) || json_string_length(v) > MAX_FIELD)
        return NULL;
    return json_string_value(v);
}

static int64_t time_field(json_t *o) {
    json_t *v = json_object_get(o, "time_unix_ms");
    int64_t now = sr_now_unix_ms();
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return now;
    return json_integer_value(v) > now ? now : (int64_t)json_integer_value(v);
}

/* Outcome of applying one message. */
enum { APPLIED = 0, MALFORMED = 1, DB_DATA = 2, DB_DOWN = 3 };

static int run(sr_agents_worker *w, const char *sql, int n, const char *const *params, char *why, size_t whylen) {
    PGresult *res = PQexecParams(w->pg, sql, n, NULL, params, NULL, NULL, 0);
    int st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return APPLIED;
    }
    sr_pg_errmsg(w->pg, res, why, whylen);
    int data = sr_pg_is_data_error(res);
    PQclear(res);
    return data ? DB_DATA : DB_DOWN;
}

static int apply_status(sr_agents_worker *w, natsMsg *m, char *why, size_t whylen) {
    json_error_t jerr;
    int len = natsMsg_GetDataLength(m);
    if (len <= 0 || len > MAX_JSON) {
        snprintf(why, whylen, "agents.status event of %d bytes (want 1..%d)", len, MAX_JSON);
        return MALFORMED;
    }
    json_t *o = json_loadb(natsMsg_GetData(m), (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        snprintf(why, whylen, "agents.status event is not a JSON object: %s", o ? "" : jerr.text);
        json_decref(o);
        return MALFORMED;
    }
    int r = MALFORMED;
    const char *event = str_field(o, "event", 1);
    const char *agent = str_field(o, "agent_id", 1);
    if (!event || !agent || !*agent || strlen(agent) > SR_INGEST_MAX_AGENT_ID) {
        snprintf(why, whylen, "agents.status event without a valid event or agent_id");
        goto out;
    }
    char when[32];
    snprintf(when, sizeof(when), "%" PRId64, time_field(o));
    if (strcmp(event, "hello") == 0) {
        const char *f[6] = {str_field(o, "hostname", 0), str_field(o, "agent_version", 0), str_field(o, "os", 0),
                            str_field(o, "arch", 0),     str_field(o, "kernel", 0),        str_field(o, "gateway", 0)};
        for (size_t i = 0; i < SR_ARRAY_SIZE(f); i++) {
            if (!f[i]) {
                snprintf(why, whylen, "hello event with a bad string field");
                goto out;
            }
        }
        json_t *caps = json_object_get(o, "capabilities");
        if (caps && (!json_is_array(caps) || json_array_size(caps) > MAX_CAPABILITIES)) {
            snprintf(why, whylen, "hello event with bad capabilities");
            goto out;
        }
        size_t i;
        json_t *c;
        json_array_foreach(caps, i, c) {
            if (!json_is_string(c) || json_string_length(c) > MAX_FIELD) {
                snprintf(why, whylen, "hello event with a bad capability");
                goto out;
            }
        }
        _cleanup_free_ char *capjson = caps ? json_dumps(caps, JSON_COMPACT) : strdup("[]");
        if (!capjson) {
            r = DB_DOWN; /* out of memory: retry later */
            goto out;
        }
        const char *params[8] = {agent, f[0], f[1], f[2], f[3], f[4], capjson, f[5]};
        r = run(w, SQL_HELLO, 8, params, why, whylen);
    } else if (strcmp(event, "heartbeat") == 0) {
        const char *params[2] = {agent, when};
        r = run(w, SQL_HEARTBEAT, 2, params, why, whylen);
    } else if (strcmp(event, "disconnect") == 0) {
        const char *params[2] = {agent, when};
        r = run(w, SQL_DISCONNECT, 2, params, why, whylen);
    } else {
        snprintf(why, whylen, "unknown agents.status event \"%.32s\"", event);
    }
out:
    json_decref(o);
    return r;
}

static int apply_result(sr_agents_worker *w, natsMsg *m, char *why, size_t whylen) {
    const char *subject = natsMsg_GetSubject(m);
    size_t plen = strlen(SR_SUBJECT_COMMAND_RESULTS_PREFIX);
    if (!subject || strncmp(subject, SR_SUBJECT_COMMAND_RESULTS_PREFIX, plen) != 0 || !subject[plen]) {
        snprintf(why, whylen, "command result on an unexpected subject");
        return MALFORMED;
    }
    const char *agent = subject + plen;
    int len = natsMsg_GetDataLength(m);
    if (len <= 0 || len > MAX_JSON) {
        snprintf(why, whylen, "command result of %d bytes (want 1..%d)", len, MAX_JSON);
        return MALFORMED;
    }
    json_error_t jerr;
    json_t *o = json_loadb(natsMsg_GetData(m), (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        snprintf(why, whylen, "command result is not a JSON object: %s", o ? "" : jerr.text);
        json_decref(o);
        return MALFORMED;
    }
    int r = MALFORMED;
    char *doc = NULL;
    const char *id = str_field(o, "command_id", 1);
    const char *kind = str_field(o, "kind", 1);
    if (!id || !*id || !kind) {
        snprintf(why, whylen, "command result without command_id or kind");
        goto out;
    }
    doc = json_dumps(o, JSON_COMPACT);
    if (!doc) {
        r = DB_DOWN;
        goto out;
    }
    if (strcmp(kind, "ack") == 0) {
        const char *params[2] = {id, agent};
        r = run(w, SQL_CMD_ACK, 2, params, why, whylen);
    } else if (strcmp(kind, "progress") == 0) {
        const char *params[3] = {id, agent, doc};
        r = run(w, SQL_CMD_PROGRESS, 3, params, why, whylen);
    } else if (strcmp(kind, "result") == 0) {
        const char *params[4] = {id, agent, doc, json_is_true(json_object_get(o, "ok")) ? "true" : "false"};
        r = run(w, SQL_CMD_RESULT, 4, params, why, whylen);
    } else {
        snprintf(why, whylen, "unknown command result kind \"%.32s\"", kind);
    }
out:
    free(doc);
    json_decref(o);
    return r;
}

/* Parks a message; returns 0, or -EIO when the database is unreachable. */
static int park(sr_agents_worker *w, natsMsg *m, const char *stream, const char *why) {
    PGresult *fail = NULL;
    if (sr_ingest_dead_letter(w->pg, m, stream, why, &fail) == 0) {
        atomic_fetch_add(&w->ing->stats->dead_letters, 1);
        return 0;
    }
    char err[512];
    sr_pg_errmsg(w->pg, fail, err, sizeof(err));
    PQclear(fail);
    sr_warn("agents: could not insert dead letter: %s", err);
    return -EIO;
}

/* Applies one message, parking it when it is malformed or the database rejects its data.
 * Returns 0 when done with it (acknowledge), -EIO when it should be retried. */
static int handle(sr_agents_worker *w, natsMsg *m, const char *stream, int result) {
    char why[512] = "";
    int r = result ? apply_result(w, m, why, sizeof(why)) : apply_status(w, m, why, sizeof(why));
    if (r == APPLIED)
        return 0;
    if (r == DB_DOWN) {
        atomic_fetch_add(&w->ing->stats->db_errors, 1);
        sr_warn("agents: could not apply %s: %s", natsMsg_GetSubject(m), why);
        return -EIO;
    }
    return park(w, m, stream, why);
}

static void sweep(sr_agents_worker *w) {
    int64_t now = sr_mono_ms();
    if (now < w->next_sweep_ms)
        return;
    w->next_sweep_ms = now + w->ing->cfg.sweep_interval_ms;
    char after[32], why[512];
    snprintf(after, sizeof(after), "%" PRId64, w->ing->cfg.offline_after_ms);
    const char *params[1] = {after};
    if (run(w, SQL_SWEEP_HOSTS, 1, params, why, sizeof(why)) != APPLIED)
        sr_warn("agents: could not mark silent hosts offline: %s", why);
    if (run(w, SQL_SWEEP_COMMANDS, 0, NULL, why, sizeof(why)) != APPLIED)
        sr_warn("agents: could not expire commands: %s", why);
}

static void *agents_main(void *arg) {
    sr_agents_worker *w = arg;
    sr_ingest *ing = w->ing;
    while (!atomic_load(&ing->stop)) {
        if (sr_ingest_pg_ensure(ing, &w->pg, &w->backoff_ms, "agents") < 0)
            break;
        sweep(w);
        /* Command results: core NATS, at most once; drain what is queued. */
        for (int i = 0; i < RESULTS_PER_ROUND && !atomic_load(&ing->stop); i++) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, w->results, 1) != NATS_OK)
                break;
            (void)handle(w, m, "", 1);
            natsMsg_Destroy(m);
        }
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, w->sub, AGENTS_BATCH, AGENTS_WAIT_MS, NULL);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            atomic_fetch_add(&ing->stats->nats_errors, 1);
            sr_ingest_wait(ing, 500);
            continue;
        }
        int i = 0;
        for (; i < list.Count; i++) {
            if (handle(w, list.Msgs[i], SR_STREAM_AGENTS, 0) < 0)
                break;
            if (natsMsg_Ack(list.Msgs[i], NULL) != NATS_OK)
                atomic_fetch_add(&ing->stats->nats_errors, 1);
        }
        for (; i < list.Count; i++)
            (void)natsMsg_NakWithDelay(list.Msgs[i], ing->cfg.nak_delay_ms, NULL);
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

sr_agents_worker *sr_agents_worker_free(sr_agents_worker *w) {
    if (!w)
        return NULL;
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->sub) {
        natsSubscription_Unsubscribe(w->sub);
        natsSubscription_Destroy(w->sub);
    }
    if (w->results) {
        natsSubscription_Unsubscribe(w->results);
        natsSubscription_Destroy(w->results);
    }
    jsCtx_Destroy(w->js);
    sr_pg_close(w->pg);
    free(w);
    return NULL;
}

int sr_agents_worker_start(sr_ingest *ing, sr_agents_worker **ret) {
    sr_agents_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->ing = ing;
    int r = 0;
    if (natsConnection_JetStream(&w->js, ing->nc, NULL) != NATS_OK)
        r = -EIO;
    if (r == 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = SR_STREAM_AGENTS;
        so.Consumer = SR_CONSUMER_AGENTS;
        so.ManualAck = true;
        if (js_PullSubscribe(&w->sub, w->js, SR_SUBJECT_AGENTS, SR_CONSUMER_AGENTS, NULL, &so, NULL) != NATS_OK)
            r = -ENOENT;
    }
    if (r == 0 && natsConnection_SubscribeSync(&w->results, ing->nc, SR_SUBJECT_COMMAND_RESULTS) != NATS_OK)
        r = -EIO;
    if (r == 0)
        (void)natsSubscription_SetPendingLimits(w->results, 65536, 64 * 1024 * 1024);
    if (r == 0) {
        r = -pthread_create(&w->thread, NULL, agents_main, w);
        w->started = r == 0;
    }
    if (r < 0) {
        sr_agents_worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}
