/* serviceradar-loadgen: simulates many agents uploading metric batches over real gRPC/mTLS to
 * the gateway, then counts in PostgreSQL what arrived (lost, duplicated) and how long each batch
 * took from send to queryable. Used by `make bench-ingest` and by the end-to-end fault tests.
 *
 * Agent i (1..N) authenticates with <certs>/<prefix>-<i>.crt/.key, so its identity is
 * "<prefix>-<i>". Every point is unique (agent, name, dim, time), so duplicates are countable. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srg.h"

#define UPLOAD_METHOD "/serviceradar.agent.v1.AgentGateway/Upload"

typedef struct {
    const char *gateway, *ca, *certs, *prefix, *pg;
    int agents, batches, points, per_call;
    double rate;       /* batches per second per agent; 0 = as fast as possible */
    int64_t time_base; /* ms; point times start here */
    uint64_t epoch;
    int no_verify;
    int64_t settle_ms; /* how long to wait for the last batches to become queryable */
} opts;

typedef struct {
    const opts *o;
    int index;
    char id[64];
    char hostname[64]; /* same text as id, writable for protobuf-c */
    int64_t *sent_ms;  /* [batches+1], send time per seq */
    int64_t *seen_ms;  /* [batches+1], first time queryable */
    int visible;       /* batches seen in the database */
    uint64_t uploads_failed;
    int done;
    int error;
    /* Packing scratch, built once: the load generator shares the CPUs with what it measures. */
    Serviceradar__Agent__V1__MetricPoint *pts;
    Serviceradar__Agent__V1__MetricPoint **pp;
    char (*dims)[16];
    uint8_t *buf;
    size_t buf_cap;
} agent;

static atomic_int stop_flag;
static char metric_name[] = "bench.value"; /* protobuf-c fields are char *, not const */

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&stop_flag, 1);
}

static int pack_init(agent *a) {
    const opts *o = a->o;
    a->pts = calloc((size_t)o->points, sizeof(*a->pts));
    a->pp = calloc((size_t)o->points, sizeof(*a->pp));
    a->dims = calloc((size_t)o->points, sizeof(*a->dims));
    if (!a->pts || !a->pp || !a->dims)
        return -ENOMEM;
    for (int k = 0; k < o->points; k++) {
        serviceradar__agent__v1__metric_point__init(&a->pts[k]);
        snprintf(a->dims[k], sizeof(a->dims[k]), "d%d", k);
        a->pts[k].name = metric_name;
        a->pts[k].dim = a->dims[k];
        a->pp[k] = &a->pts[k];
    }
    return 0;
}

static void pack_done(agent *a) {
    free(a->pts);
    free(a->pp);
    free(a->dims);
    free(a->buf);
    a->pts = NULL;
    a->pp = NULL;
    a->dims = NULL;
    a->buf = NULL;
}

/* Packs batch seq into a->buf (valid until the next call). */
static int pack_batch(agent *a, uint64_t seq, const uint8_t **ret, size_t *ret_len) {
    const opts *o = a->o;
    for (int k = 0; k < o->points; k++) {
        a->pts[k].value = (double)(seq * 1000 + (uint64_t)k);
        a->pts[k].time_unix_ms = o->time_base + (int64_t)seq;
    }
    Serviceradar__Agent__V1__MetricsBatch mb;
    serviceradar__agent__v1__metrics_batch__init(&mb);
    mb.hostname = a->hostname;
    mb.n_points = (size_t)o->points;
    mb.points = a->pp;
    Serviceradar__Agent__V1__UploadBatch ub;
    serviceradar__agent__v1__upload_batch__init(&ub);
    ub.agent_id = a->hostname;
    ub.epoch = o->epoch;
    ub.seq = seq;
    ub.created_unix_ms = sr_now_unix_ms();
    ub.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS;
    ub.metrics = &mb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&ub);
    if (len > a->buf_cap) {
        uint8_t *buf = realloc(a->buf, len);
        if (!buf)
            return -ENOMEM;
        a->buf = buf;
        a->buf_cap = len;
    }
    serviceradar__agent__v1__upload_batch__pack(&ub, a->buf);
    *ret = a->buf;
    *ret_len = len;
    return 0;
}

/* One Upload call carrying seqs [first, last]. Returns 0 when every seq was acknowledged. */
static int upload(agent *a, srg_channel *ch, uint64_t first, uint64_t last) {
    srg_call *call = NULL;
    int r = srg_call_start(ch, UPLOAD_METHOD, 30000, &call);
    if (r < 0)
        return r;
    for (uint64_t s = first; s <= last && r == 0; s++) {
        const uint8_t *buf = NULL;
        size_t len = 0;
        r = pack_batch(a, s, &buf, &len);
        if (r == 0) {
            if (!a->sent_ms[s])
                a->sent_ms[s] = sr_now_unix_ms();
            r = srg_call_send(call, buf, len, 30000);
        }
    }
    if (r == 0)
        r = srg_call_close_send(call);
    ProtobufCMessage *m = NULL;
    if (r == 0) {
        r = srg_call_recv_msg(call, &serviceradar__agent__v1__upload_ack__descriptor, 30000, &m);
        r = r == 1 ? 0 : (r == 0 ? -EPROTO : r);
    }
    int code = -1;
    char msg[256] = "";
    if (srg_call_status(call, 5000, &code, msg, sizeof(msg)) == 0 && code != 0 && r == 0)
        r = -EPROTO;
    if (r == 0) {
        Serviceradar__Agent__V1__UploadAck *ack = (Serviceradar__Agent__V1__UploadAck *)m;
        if (ack->n_acked_seqs != (size_t)(last - first + 1))
            r = -EPROTO;
    }
    if (r < 0 && code > 0)
        sr_warn("upload %s seq %" PRIu64 "-%" PRIu64 " failed: grpc status %d: %s", a->id, first, last, code, msg);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    srg_call_free(call);
    return r;
}

static void *agent_main(void *arg) {
    agent *a = arg;
    const opts *o = a->o;
    char cert[512], key[512];
    snprintf(cert, sizeof(cert), "%s/%s.crt", o->certs, a->id);
    snprintf(key, sizeof(key), "%s/%s.key", o->certs, a->id);
    srg_tls tls = {.ca_file = o->ca, .cert_file = cert, .key_file = key};
    srg_channel *ch = NULL;
    int r = pack_init(a);
    if (r == 0)
        r = srg_channel_new(o->gateway, &tls, NULL, &ch);
    if (r < 0) {
        sr_error("could not create channel for %s: %s", a->id, strerror(-r));
        pack_done(a);
        a->error = r;
        a->done = 1;
        return NULL;
    }
    int64_t start = sr_mono_ms();
    uint64_t seq = 1;
    int64_t backoff = 100;
    while (seq <= (uint64_t)o->batches && !atomic_load(&stop_flag)) {
        uint64_t last = seq + (uint64_t)o->per_call - 1;
        if (last > (uint64_t)o->batches)
            last = (uint64_t)o->batches;
        if (o->rate > 0) { /* pace: batch `seq` is due at start + (seq-1)/rate */
            int64_t due = start + (int64_t)((double)(seq - 1) * 1000.0 / o->rate);
            int64_t now = sr_mono_ms();
            if (due > now)
                sr_sleep_ms(due - now);
            uint64_t ready = (uint64_t)((double)(sr_mono_ms() - start) * o->rate / 1000.0) + 1;
            if (last > ready)
                last = ready < seq ? seq : ready;
        }
        r = upload(a, ch, seq, last);
        if (r == 0) {
            seq = last + 1;
            backoff = 100;
        } else {
            a->uploads_failed++;
            sr_sleep_ms(backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
    }
    srg_channel_free(ch);
    pack_done(a);
    a->done = 1;
    return NULL;
}

typedef struct {
    const opts *o;
    agent *agents;
    atomic_int finished; /* set when all agents are done sending */
    int64_t deadline;    /* mono ms after finished */
} poller;

static int poll_once(PGconn *c, poller *p) {
    const opts *o = p->o;
    char epoch[32], prefix[80];
    snprintf(epoch, sizeof(epoch), "%" PRId64, (int64_t)o->epoch);
    snprintf(prefix, sizeof(prefix), "%s-%%", o->prefix);
    const char *params[2] = {prefix, epoch};
    PGresult *res = PQexecParams(c,
                                 "SELECT agent_id, count(*) FROM ingest_batches WHERE agent_id LIKE $1 AND epoch = "
                                 "$2::bigint GROUP BY agent_id",
                                 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -EIO;
    }
    int64_t now = sr_now_unix_ms();
    int all = 1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        int64_t n = 0;
        if (sr_parse_i64(PQgetvalue(res, i, 1), 0, INT64_MAX, &n) < 0)
            continue;
        for (int k = 0; k < o->agents; k++) {
            agent *a = &p->agents[k];
            if (strcmp(a->id, id) != 0)
                continue;
            while (a->visible < n && a->visible < o->batches) {
                a->visible++;
                a->seen_ms[a->visible] = now;
            }
        }
    }
    for (int k = 0; k < o->agents; k++)
        if (p->agents[k].visible < o->batches)
            all = 0;
    PQclear(res);
    return all;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int64_t count_query(PGconn *c, const char *sql, const char *prefix) {
    const char *params[1] = {prefix};
    PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    int64_t v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        (void)sr_parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v);
    else
        sr_error("could not count rows: %s", PQerrorMessage(c));
    PQclear(res);
    return v;
}

static void usage(void) {
    fputs("usage: serviceradar-loadgen --gateway HOST:PORT --ca CA.crt --certs DIR --pg CONNINFO\n"
          "         [--prefix loadgen] [--agents 16] [--batches 200] [--points 500] [--per-call 8]\n"
          "         [--rate BATCHES_PER_S_PER_AGENT] [--settle 30s]\n"
          "Agent i uses DIR/<prefix>-<i>.crt and .key. Prints figures; last line:\n"
          "bench-ingest: points_per_s=... p50_ms=... p99_ms=... sent=... stored=... lost=... dup=...\n",
          stderr);
}

int main(int argc, char **argv) {
    opts o = {.prefix = "loadgen", .agents = 16, .batches = 200, .points = 500, .per_call = 8, .settle_ms = 30000};
    static const struct option longopts[] = {
        {"gateway", required_argument, 0, 'g'}, {"ca", required_argument, 0, 'a'},
        {"certs", required_argument, 0, 'c'},   {"pg", required_argument, 0, 'p'},
        {"prefix", required_argument, 0, 'x'},  {"agents", required_argument, 0, 'n'},
        {"batches", required_argument, 0, 'b'}, {"points", required_argument, 0, 'k'},
        {"per-call", required_argument, 0, 'C'}, {"rate", required_argument, 0, 'r'},
        {"settle", required_argument, 0, 's'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    int64_t v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'g': o.gateway = optarg; break;
        case 'a': o.ca = optarg; break;
        case 'c': o.certs = optarg; break;
        case 'p': o.pg = optarg; break;
        case 'x': o.prefix = optarg; break;
        case 'n': if (sr_parse_i64(optarg, 1, 1000, &v) < 0) goto bad; o.agents = (int)v; break;
        case 'b': if (sr_parse_i64(optarg, 1, 10000000, &v) < 0) goto bad; o.batches = (int)v; break;
        case 'k': if (sr_parse_i64(optarg, 1, 10000, &v) < 0) goto bad; o.points = (int)v; break;
        case 'C': if (sr_parse_i64(optarg, 1, 1000, &v) < 0) goto bad; o.per_call = (int)v; break;
        case 'r': if (sr_parse_double(optarg, &o.rate) < 0 || o.rate < 0) goto bad; break;
        case 's': if (sr_parse_duration_ms(optarg, &o.settle_ms) < 0) goto bad; break;
        case 'h': usage(); return 0;
        default: goto bad;
        }
    }
    if (!o.gateway || !o.ca || !o.certs || !o.pg)
        goto bad;
    sr_log_init("loadgen", SR_LOG_INFO);
    if (getrandom(&o.epoch, sizeof(o.epoch), 0) != sizeof(o.epoch))
        return 1;
    o.epoch &= 0x7fffffffffffffffULL;
    o.time_base = sr_now_unix_ms() - (int64_t)o.batches; /* recent, so the UI and buckets see it */

    PGconn *pg = PQconnectdb(o.pg);
    if (PQstatus(pg) != CONNECTION_OK) {
        sr_error("could not connect to %s: %s", o.pg, PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    srg_global_init();

    agent *agents = calloc((size_t)o.agents, sizeof(*agents));
    pthread_t *threads = calloc((size_t)o.agents, sizeof(*threads));
    for (int i = 0; i < o.agents; i++) {
        agents[i].o = &o;
        agents[i].index = i + 1;
        snprintf(agents[i].id, sizeof(agents[i].id), "%s-%d", o.prefix, i + 1);
        snprintf(agents[i].hostname, sizeof(agents[i].hostname), "%s", agents[i].id);
        agents[i].sent_ms = calloc((size_t)o.batches + 1, sizeof(int64_t));
        agents[i].seen_ms = calloc((size_t)o.batches + 1, sizeof(int64_t));
    }
    sr_info("%d agents x %d batches x %d points (%d batches per call%s) to %s, epoch %" PRIu64, o.agents, o.batches,
            o.points, o.per_call, o.rate > 0 ? ", paced" : "", o.gateway, o.epoch);
    int64_t t0 = sr_now_unix_ms();
    for (int i = 0; i < o.agents; i++)
        pthread_create(&threads[i], NULL, agent_main, &agents[i]);

    poller p = {.o = &o, .agents = agents};
    int64_t last_report = sr_mono_ms(), settle_deadline = 0;
    int all_visible = 0;
    for (;;) {
        int r = poll_once(pg, &p);
        if (r == 1) {
            all_visible = 1;
            break;
        }
        int done = 1;
        for (int i = 0; i < o.agents; i++)
            done &= agents[i].done;
        if (done && !settle_deadline)
            settle_deadline = sr_mono_ms() + o.settle_ms;
        if (settle_deadline && sr_mono_ms() > settle_deadline)
            break;
        if (atomic_load(&stop_flag) && done)
            break;
        if (sr_mono_ms() - last_report > 5000) {
            long vis = 0;
            for (int i = 0; i < o.agents; i++)
                vis += agents[i].visible;
            sr_info("progress: %ld / %ld batches queryable", vis, (long)o.agents * o.batches);
            last_report = sr_mono_ms();
        }
        sr_sleep_ms(50);
    }
    int64_t t1 = sr_now_unix_ms();
    for (int i = 0; i < o.agents; i++)
        pthread_join(threads[i], NULL);

    /* latencies */
    size_t nlat = 0;
    int64_t *lat = calloc((size_t)o.agents * (size_t)o.batches, sizeof(int64_t));
    uint64_t failed = 0;
    int64_t last_seen = t0;
    for (int i = 0; i < o.agents; i++) {
        failed += agents[i].uploads_failed;
        for (int s = 1; s <= o.batches; s++) {
            if (agents[i].seen_ms[s] && agents[i].sent_ms[s]) {
                int64_t l = agents[i].seen_ms[s] - agents[i].sent_ms[s];
                lat[nlat++] = l < 0 ? 0 : l;
                if (agents[i].seen_ms[s] > last_seen)
                    last_seen = agents[i].seen_ms[s];
            }
        }
    }
    qsort(lat, nlat, sizeof(int64_t), cmp_i64);
    int64_t p50 = nlat ? lat[nlat / 2] : -1;
    int64_t p99 = nlat ? lat[(nlat * 99) / 100 >= nlat ? nlat - 1 : (nlat * 99) / 100] : -1;

    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s-%%", o.prefix);
    /* restrict to this run's points: time window of this run */
    int64_t sent = (int64_t)o.agents * o.batches * o.points;
    char sql_rows[512], sql_distinct[512];
    snprintf(sql_rows, sizeof(sql_rows),
             "SELECT count(*) FROM metrics WHERE agent_id LIKE $1 AND name = 'bench.value' AND time >= "
             "to_timestamp(%" PRId64 " / 1000.0) AND time <= to_timestamp(%" PRId64 " / 1000.0)",
             o.time_base, o.time_base + o.batches);
    snprintf(sql_distinct, sizeof(sql_distinct),
             "SELECT count(*) FROM (SELECT DISTINCT agent_id, dim, time FROM metrics WHERE agent_id LIKE $1 AND name "
             "= 'bench.value' AND time >= to_timestamp(%" PRId64 " / 1000.0) AND time <= to_timestamp(%" PRId64
             " / 1000.0)) d",
             o.time_base, o.time_base + o.batches);
    int64_t stored = count_query(pg, sql_rows, prefix);
    int64_t distinct = count_query(pg, sql_distinct, prefix);
    int64_t lost = sent - distinct, dup = stored - distinct;
    double secs = (double)(last_seen - t0) / 1000.0;
    double pps = secs > 0 ? (double)distinct / secs : 0;
    printf("agents=%d batches_per_agent=%d points_per_batch=%d per_call=%d uploads_failed=%" PRIu64
           " wall_s=%.2f all_visible=%s\n",
           o.agents, o.batches, o.points, o.per_call, failed, (double)(t1 - t0) / 1000.0, all_visible ? "true" : "false");
    printf("bench-ingest: points_per_s=%.0f p50_ms=%" PRId64 " p99_ms=%" PRId64 " sent=%" PRId64 " stored=%" PRId64
           " lost=%" PRId64 " dup=%" PRId64 "\n",
           pps, p50, p99, sent, stored, lost, dup);
    fflush(stdout);
    for (int i = 0; i < o.agents; i++) {
        free(agents[i].sent_ms);
        free(agents[i].seen_ms);
    }
    free(agents);
    free(threads);
    free(lat);
    PQfinish(pg);
    srg_global_shutdown();
    return (lost == 0 && dup == 0 && stored >= 0) ? 0 : 3;
bad:
    usage();
    return 2;
}
