/* serviceradar-eventgen: publishes a realistic month of security events straight into JetStream,
 * as agents (through the gateway) and Falcosidekick would, then waits until the core has stored
 * them and counts what arrived. Used by `make bench-search`.
 *
 *  - host logs: one agent per host; packed UploadBatch messages carrying a LogsBatch of
 *    --batch records (default 500) on logs.edge, with the gateway's headers
 *    (Nats-Msg-Id <agent_id>:<epoch>:<seq>, Sr-Agent-Id, Sr-Received-Ms);
 *  - Falco alerts: one JSON alert per message on security.falco.alerts (with a Nats-Msg-Id so
 *    a publish retry cannot duplicate it).
 * Event times cover --days days ending at --end-ms (default: now), so relative time ranges find
 * data. Messages go out in time order (a host's batch when its last line is due), as live agents
 * would send them, only faster.
 *
 * Progress: "committed" events are those of messages the core has acknowledged (it acknowledges
 * only after COMMIT), read from the durable consumers' ack floors. At the end the events table
 * is counted: stored rows, distinct ids, lost = sent - distinct, dup = stored - distinct. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#include "eg_world.h"
#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_log.h"
#include "sr_logparse.h"
#include "sr_parse.h"
#include "sr_time.h"

#define SUBJECT_LOGS "logs.edge"
#define SUBJECT_FALCO "security.falco.alerts"
#define STREAM_LOGS "LOGS"
#define STREAM_SECURITY "SECURITY"
#define CONSUMER_LOGS "core-logs"
#define CONSUMER_FALCO "core-falco"
#define FALCO_JSON_MAX 8192
#define SLACK_SEQS 4096 /* room for stream sequences beyond what we publish (retries, strays) */

typedef struct {
    const char *nats_url, *pg;
    int64_t events;
    int64_t days;
    int64_t end_ms;
    double falco_pct;
    int batch;
    uint64_t seed;
    double rate; /* events per second; 0: as fast as possible */
    int64_t stall_ms;
    int create_streams;
    int64_t dump;
} opts;

static atomic_int stop_flag;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&stop_flag, 1);
}

/* ---- schedule: every host's batches and every Falco alert, in time order ---- */

typedef struct {
    int64_t n;      /* records of this host */
    int64_t done;   /* records already emitted */
    uint64_t seq;   /* last batch seq */
    uint64_t epoch; /* base epoch + host index, so an ack maps back to its host */
} host_plan;

typedef struct {
    int64_t end_ms;
    int host;
} heap_item;

typedef struct {
    heap_item *a;
    int n;
} heap;

static void heap_push(heap *h, heap_item it) {
    int i = h->n++;
    h->a[i] = it;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h->a[p].end_ms <= h->a[i].end_ms)
            break;
        heap_item t = h->a[p];
        h->a[p] = h->a[i];
        h->a[i] = t;
        i = p;
    }
}

static heap_item heap_pop(heap *h) {
    heap_item top = h->a[0];
    h->a[0] = h->a[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->a[l].end_ms < h->a[m].end_ms)
            m = l;
        if (r < h->n && h->a[r].end_ms < h->a[m].end_ms)
            m = r;
        if (m == i)
            break;
        heap_item t = h->a[m];
        h->a[m] = h->a[i];
        h->a[i] = t;
        i = m;
    }
    return top;
}

typedef struct {
    const opts *o;
    eg_world *w;
    int n_hosts;
    host_plan *hosts;
    int64_t start_ms, span_ms;
    int64_t n_logs, n_falco;
    int64_t log_messages;
    heap heap;
    int64_t falco_next; /* index of the next Falco alert */
    uint64_t base_epoch;
} schedule;

static int64_t batch_end(const schedule *s, const host_plan *hp, int64_t done_after) {
    return s->start_ms + (int64_t)((double)s->span_ms * (double)done_after / (double)hp->n);
}

static int schedule_init(schedule *s, const opts *o, eg_world *w, int64_t start_ms) {
    memset(s, 0, sizeof(*s));
    s->o = o;
    s->w = w;
    s->start_ms = start_ms;
    s->span_ms = o->end_ms - start_ms;
    s->n_hosts = eg_world_hosts(w);
    s->n_falco = (int64_t)((double)o->events * o->falco_pct / 100.0 + 0.5);
    s->n_logs = o->events - s->n_falco;
    s->hosts = calloc((size_t)s->n_hosts, sizeof(*s->hosts));
    s->heap.a = calloc((size_t)s->n_hosts, sizeof(heap_item));
    if (!s->hosts || !s->heap.a)
        return -ENOMEM;
    if (getrandom(&s->base_epoch, sizeof(s->base_epoch), 0) != sizeof(s->base_epoch))
        return -EIO;
    s->base_epoch = (s->base_epoch & 0x3fffffffffffffffULL) + 1;
    /* split the log lines by host share; the remainder goes to the largest hosts */
    int64_t given = 0;
    for (int i = 0; i < s->n_hosts; i++) {
        s->hosts[i].n = (int64_t)((double)s->n_logs * eg_world_host_share(w, i));
        given += s->hosts[i].n;
        s->hosts[i].epoch = s->base_epoch + (uint64_t)i;
    }
    for (int64_t left = s->n_logs - given; left > 0;) {
        for (int i = 0; i < s->n_hosts && left > 0; i++) {
            if (eg_world_host_share(w, i) * (double)s->n_hosts > 1.0) {
                s->hosts[i].n++;
                left--;
            }
        }
    }
    for (int i = 0; i < s->n_hosts; i++) {
        host_plan *hp = &s->hosts[i];
        if (hp->n <= 0)
            continue;
        s->log_messages += (hp->n + o->batch - 1) / o->batch;
        int64_t first = hp->n < o->batch ? hp->n : o->batch;
        heap_push(&s->heap, (heap_item){.end_ms = batch_end(s, hp, first), .host = i});
    }
    return 0;
}

static void schedule_free(schedule *s) {
    free(s->hosts);
    free(s->heap.a);
}

static int64_t falco_time(const schedule *s, int64_t j) {
    /* evenly spread with a little jitter, monotonic */
    double slot = (double)s->span_ms / (double)s->n_falco;
    uint64_t x = (uint64_t)j * UINT64_C(0x9e3779b97f4a7c15);
    double jitter = (double)((x >> 11) & 0xffff) / 65536.0;
    return s->start_ms + (int64_t)(slot * ((double)j + jitter));
}

typedef enum { NEXT_NONE, NEXT_LOGS, NEXT_FALCO } next_kind;

/* What comes next in time order: a host batch (host, t0, t1, n) or Falco alert falco_next. */
typedef struct {
    next_kind kind;
    int host;
    int64_t t0, t1;
    int n;
    uint64_t seq, epoch;
    int64_t falco_index, falco_t;
} next_item;

static next_item schedule_next(schedule *s) {
    next_item it = {.kind = NEXT_NONE};
    int64_t ft = s->falco_next < s->n_falco ? falco_time(s, s->falco_next) : INT64_MAX;
    if (s->heap.n > 0 && s->heap.a[0].end_ms <= ft) {
        heap_item h = heap_pop(&s->heap);
        host_plan *hp = &s->hosts[h.host];
        int64_t n = hp->n - hp->done < s->o->batch ? hp->n - hp->done : s->o->batch;
        it.kind = NEXT_LOGS;
        it.host = h.host;
        it.t0 = batch_end(s, hp, hp->done);
        it.t1 = batch_end(s, hp, hp->done + n);
        it.n = (int)n;
        it.seq = ++hp->seq;
        it.epoch = hp->epoch;
        hp->done += n;
        if (hp->done < hp->n) {
            int64_t nn = hp->n - hp->done < s->o->batch ? hp->n - hp->done : s->o->batch;
            heap_push(&s->heap, (heap_item){.end_ms = batch_end(s, hp, hp->done + nn), .host = h.host});
        }
    } else if (ft != INT64_MAX) {
        it.kind = NEXT_FALCO;
        it.falco_index = s->falco_next++;
        it.falco_t = ft;
    }
    return it;
}

/* ---- the agent's parser ----
 * The agent reads each line and extracts its fields with sr_logparse; so does the generator:
 * time, host, program, pid, message, user, source address and port, outcome, action and the
 * extra fields of every record come from parsing its raw line (one parser per host, as the agent
 * keeps one per log stream). Severity and facility stay those of the line's template, as
 * journald reports them. */

typedef struct {
    sr_logparse **per_host;
    int n;
    sr_logparse_record *rec;
} parsers;

static int parsers_init(parsers *ps, int n) {
    ps->n = n;
    ps->per_host = calloc((size_t)n, sizeof(*ps->per_host));
    ps->rec = calloc(1, sizeof(*ps->rec));
    return ps->per_host && ps->rec ? 0 : -ENOMEM;
}

static void parsers_free(parsers *ps) {
    for (int i = 0; ps->per_host && i < ps->n; i++)
        sr_logparse_free(ps->per_host[i]);
    free(ps->per_host);
    free(ps->rec);
}

static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static int parse_records(parsers *ps, int host, eg_logrec *recs, int n, int64_t now_ms) {
    if (!ps->per_host[host] && sr_logparse_new(NULL, &ps->per_host[host]) < 0)
        return -ENOMEM;
    sr_logparse *p = ps->per_host[host];
    sr_logparse_record *pr = ps->rec;
    for (int i = 0; i < n; i++) {
        eg_logrec *r = &recs[i];
        sr_logparse_line(p, r->raw, strlen(r->raw), now_ms, pr);
        if (pr->has_time)
            r->time_ms = pr->time_unix_ms;
        copy_str(r->hostname, sizeof(r->hostname), pr->hostname);
        copy_str(r->program, sizeof(r->program), pr->program);
        r->pid = pr->pid;
        copy_str(r->message, sizeof(r->message), pr->message);
        copy_str(r->user, sizeof(r->user), pr->user);
        copy_str(r->src_ip, sizeof(r->src_ip), pr->src_ip);
        r->src_port = pr->src_port;
        copy_str(r->outcome, sizeof(r->outcome), pr->outcome);
        copy_str(r->action, sizeof(r->action), pr->action);
        r->n_fields = 0;
        for (size_t f = 0; f < pr->n_fields && r->n_fields < EG_MAX_FIELDS; f++, r->n_fields++) {
            copy_str(r->keys[r->n_fields], EG_FIELD_KEY_MAX, pr->fields[f].key);
            copy_str(r->values[r->n_fields], EG_FIELD_VALUE_MAX, pr->fields[f].value);
        }
    }
    return 0;
}

/* ---- packing ---- */

typedef struct {
    int cap;
    eg_logrec *recs;
    Serviceradar__Agent__V1__LogRecord *pb;
    Serviceradar__Agent__V1__LogRecord **pp;
    Serviceradar__Agent__V1__LogRecord__FieldsEntry *fe; /* cap * EG_MAX_FIELDS */
    Serviceradar__Agent__V1__LogRecord__FieldsEntry **fp;
    uint8_t *buf;
    size_t buf_cap;
} packer;

static int packer_init(packer *p, int cap) {
    memset(p, 0, sizeof(*p));
    p->cap = cap;
    p->recs = calloc((size_t)cap, sizeof(*p->recs));
    p->pb = calloc((size_t)cap, sizeof(*p->pb));
    p->pp = calloc((size_t)cap, sizeof(*p->pp));
    p->fe = calloc((size_t)cap * EG_MAX_FIELDS, sizeof(*p->fe));
    p->fp = calloc((size_t)cap * EG_MAX_FIELDS, sizeof(*p->fp));
    if (!p->recs || !p->pb || !p->pp || !p->fe || !p->fp)
        return -ENOMEM;
    for (int i = 0; i < cap * EG_MAX_FIELDS; i++) {
        serviceradar__agent__v1__log_record__fields_entry__init(&p->fe[i]);
        p->fp[i] = &p->fe[i];
    }
    return 0;
}

static void packer_free(packer *p) {
    free(p->recs);
    free(p->pb);
    free(p->pp);
    free(p->fe);
    free(p->fp);
    free(p->buf);
}

static int pack_logs(packer *p, char *agent_id, uint64_t epoch, uint64_t seq, int n, const uint8_t **ret,
                     size_t *ret_len) {
    for (int i = 0; i < n; i++) {
        eg_logrec *r = &p->recs[i];
        Serviceradar__Agent__V1__LogRecord *m = &p->pb[i];
        serviceradar__agent__v1__log_record__init(m);
        m->time_unix_ms = r->time_ms;
        m->source = r->source;
        m->path = r->path;
        m->raw = r->raw;
        m->hostname = r->hostname;
        m->program = r->program;
        m->pid = r->pid;
        m->syslog_severity = r->severity;
        m->facility = r->facility;
        m->message = r->message;
        m->user = r->user;
        m->src_ip = r->src_ip;
        m->src_port = r->src_port;
        m->outcome = r->outcome;
        m->action = r->action;
        m->offset = r->offset;
        m->n_fields = (size_t)r->n_fields;
        m->fields = &p->fp[i * EG_MAX_FIELDS];
        for (int f = 0; f < r->n_fields; f++) {
            p->fe[i * EG_MAX_FIELDS + f].key = r->keys[f];
            p->fe[i * EG_MAX_FIELDS + f].value = r->values[f];
        }
        p->pp[i] = m;
    }
    Serviceradar__Agent__V1__LogsBatch lb;
    serviceradar__agent__v1__logs_batch__init(&lb);
    lb.hostname = agent_id;
    lb.n_records = (size_t)n;
    lb.records = p->pp;
    Serviceradar__Agent__V1__UploadBatch ub;
    serviceradar__agent__v1__upload_batch__init(&ub);
    ub.agent_id = agent_id;
    ub.epoch = epoch;
    ub.seq = seq;
    ub.created_unix_ms = sr_now_unix_ms();
    ub.payload_case = SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS;
    ub.logs = &lb;
    size_t len = serviceradar__agent__v1__upload_batch__get_packed_size(&ub);
    if (len > p->buf_cap) {
        uint8_t *b = realloc(p->buf, len);
        if (!b)
            return -ENOMEM;
        p->buf = b;
        p->buf_cap = len;
    }
    serviceradar__agent__v1__upload_batch__pack(&ub, p->buf);
    *ret = p->buf;
    *ret_len = len;
    return 0;
}

/* ---- publishing ---- */

typedef struct {
    const schedule *s;
    uint64_t logs_base, falco_base;   /* stream last seq before we published */
    uint32_t *logs_events;            /* events per LOGS stream seq (index seq - base - 1) */
    uint32_t *falco_events;
    int64_t logs_slots, falco_slots;
    atomic_llong acked, duplicates, failed, retried;
    atomic_llong last_logs_seq, last_falco_seq;
} pubstate;

/* epoch and seq of a logs message from its Nats-Msg-Id "<agent_id>:<epoch>:<seq>"; 0 when absent. */
static int msg_id_parts(natsMsg *m, uint64_t *ret_epoch, uint64_t *ret_seq) {
    const char *id = NULL;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id)
        return -ENOENT;
    const char *a = strchr(id, ':');
    const char *b = a ? strchr(a + 1, ':') : NULL;
    char num[24];
    size_t n = b ? (size_t)(b - a - 1) : 0;
    if (n == 0 || n >= sizeof(num))
        return -EINVAL;
    memcpy(num, a + 1, n);
    num[n] = '\0';
    uint64_t epoch = 0, seq = 0;
    if (sr_parse_u64(num, &epoch) < 0 || sr_parse_u64(b + 1, &seq) < 0)
        return -EINVAL;
    *ret_epoch = epoch;
    *ret_seq = seq;
    return 0;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    pubstate *ps = closure;
    if (pa) {
        atomic_fetch_add(&ps->acked, 1);
        if (pa->Duplicate)
            atomic_fetch_add(&ps->duplicates, 1);
        const char *subj = natsMsg_GetSubject(msg);
        int logs = subj && strcmp(subj, SUBJECT_LOGS) == 0;
        uint32_t events = 1;
        uint64_t e = 0, seq = 0;
        if (logs && msg_id_parts(msg, &e, &seq) == 0 && seq > 0) {
            const schedule *s = ps->s;
            if (e >= s->base_epoch && e < s->base_epoch + (uint64_t)s->n_hosts) {
                /* a host's batches hold --batch records, but its last one */
                const host_plan *hp = &s->hosts[e - s->base_epoch];
                int64_t left = hp->n - (int64_t)(seq - 1) * s->o->batch;
                events = (uint32_t)(left < s->o->batch ? left : s->o->batch);
            }
        }
        uint64_t base = logs ? ps->logs_base : ps->falco_base;
        int64_t slots = logs ? ps->logs_slots : ps->falco_slots;
        uint32_t *arr = logs ? ps->logs_events : ps->falco_events;
        int64_t idx = (int64_t)(pa->Sequence - base) - 1;
        if (idx >= 0 && idx < slots)
            __atomic_store_n(&arr[idx], events, __ATOMIC_RELEASE);
        atomic_llong *last = logs ? &ps->last_logs_seq : &ps->last_falco_seq;
        long long cur = atomic_load(last);
        while ((long long)pa->Sequence > cur && !atomic_compare_exchange_weak(last, &cur, (long long)pa->Sequence))
            ;
    } else if (pae) {
        long long tries = atomic_fetch_add(&ps->retried, 1);
        if (tries < 1000 && js_PublishMsgAsync(js, &msg, NULL) == NATS_OK) {
            /* the library owns the message again */
        } else {
            atomic_fetch_add(&ps->failed, 1);
            sr_warn("publish failed: %s", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
        }
    }
    natsMsg_Destroy(msg);
}

static int stream_last_seq(jsCtx *js, const char *stream, uint64_t *ret) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (s != NATS_OK)
        return -ENOENT;
    *ret = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return 0;
}

static int create_stream(jsCtx *js, const char *name, const char *subject) {
    const char *subjects[] = {subject};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Duplicates = INT64_C(120000) * 1000000;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_AddStream(&si, js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return s == NATS_OK ? 0 : -EIO;
}

typedef struct {
    int ok;
    uint64_t ack_floor;
    int64_t ack_pending;
    uint64_t pending;
} cons_state;

static cons_state consumer_state(jsCtx *js, const char *stream, const char *durable) {
    cons_state cs = {0};
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    if (js_GetConsumerInfo(&ci, js, stream, durable, NULL, &jerr) == NATS_OK) {
        cs.ok = 1;
        cs.ack_floor = ci->AckFloor.Stream;
        cs.ack_pending = ci->NumAckPending;
        cs.pending = ci->NumPending;
        jsConsumerInfo_Destroy(ci);
    }
    return cs;
}

/* Events of the messages at or below the consumers' ack floors; advances the cursors. */
typedef struct {
    int64_t logs_cursor, falco_cursor; /* next index to add */
    int64_t events;
} committed;

static void advance(committed *c, const pubstate *ps, uint64_t logs_floor, uint64_t falco_floor) {
    while (c->logs_cursor < ps->logs_slots && ps->logs_base + (uint64_t)c->logs_cursor + 1 <= logs_floor) {
        uint32_t e = __atomic_load_n(&ps->logs_events[c->logs_cursor], __ATOMIC_ACQUIRE);
        if (!e)
            break; /* our publish ack not seen yet */
        c->events += e;
        c->logs_cursor++;
    }
    while (c->falco_cursor < ps->falco_slots && ps->falco_base + (uint64_t)c->falco_cursor + 1 <= falco_floor) {
        uint32_t e = __atomic_load_n(&ps->falco_events[c->falco_cursor], __ATOMIC_ACQUIRE);
        if (!e)
            break;
        c->events += e;
        c->falco_cursor++;
    }
}

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static int64_t pg_count(PGconn *c, const char *sql, int col) {
    PGresult *res = PQexec(c, sql);
    int64_t v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) > col)
        (void)sr_parse_i64(PQgetvalue(res, 0, col), 0, INT64_MAX, &v);
    else
        sr_error("could not count: %s", PQerrorMessage(c));
    PQclear(res);
    return v;
}

/* ---- main loop ---- */

static int dump_events(const opts *o, schedule *s, packer *pk, parsers *pa) {
    char *json = malloc(FALCO_JSON_MAX);
    if (!json)
        return 1;
    int64_t shown = 0;
    while (shown < o->dump) {
        next_item it = schedule_next(s);
        if (it.kind == NEXT_NONE)
            break;
        if (it.kind == NEXT_LOGS) {
            eg_world_host_logs(s->w, it.host, it.t0, it.t1, pk->recs, it.n);
            if (parse_records(pa, it.host, pk->recs, it.n, o->end_ms) < 0)
                break;
            for (int i = 0; i < it.n && shown < o->dump; i++, shown++) {
                const eg_logrec *r = &pk->recs[i];
                printf("%s\t%s\tsev=%d prog=%s user=%s src_ip=%s action=%s outcome=%s", r->hostname, r->source,
                       r->severity, r->program, r->user, r->src_ip, r->action, r->outcome);
                for (int f = 0; f < r->n_fields; f++)
                    printf(" %s=%s", r->keys[f], r->values[f]);
                printf("\t%s\n", r->raw);
            }
        } else {
            size_t n = eg_world_falco(s->w, it.falco_index, it.falco_t, json, FALCO_JSON_MAX);
            printf("falco\t%.*s\n", (int)n, json);
            shown++;
        }
    }
    free(json);
    return 0;
}

static void usage(void) {
    fputs("usage: serviceradar-eventgen --nats URL [--events 1000000] [--days 30] [--end-ms MS] [--falco-pct 10]\n"
          "         [--batch 500] [--seed 1] [--rate EVENTS_PER_S] [--pg CONNINFO] [--stall 120s] [--create-streams]\n"
          "       serviceradar-eventgen --dump N [--events ...]   print the first N events, publish nothing\n"
          "Publishes host log batches on " SUBJECT_LOGS " and Falco alerts on " SUBJECT_FALCO ", waits for the\n"
          "core's consumers (" CONSUMER_LOGS ", " CONSUMER_FALCO ") to acknowledge them, counts the events table\n"
          "(with --pg). --create-streams creates the two streams when missing (for a bare nats-server; the\n"
          "core creates them itself). Last line:\n"
          "eventgen: events=... ingest_eps=... stored=... distinct=... lost=... dup=... ...\n",
          stderr);
}

int main(int argc, char **argv) {
    opts o = {.events = 1000000, .days = 30, .falco_pct = 10, .batch = 500, .seed = 1, .stall_ms = 120000};
    static const struct option longopts[] = {
        {"nats", required_argument, 0, 'n'},   {"events", required_argument, 0, 'e'},
        {"days", required_argument, 0, 'd'},   {"end-ms", required_argument, 0, 'E'},
        {"falco-pct", required_argument, 0, 'f'}, {"batch", required_argument, 0, 'b'},
        {"seed", required_argument, 0, 's'},   {"rate", required_argument, 0, 'r'},
        {"pg", required_argument, 0, 'p'},     {"stall", required_argument, 0, 'S'},
        {"create-streams", no_argument, 0, 'C'}, {"dump", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int ch;
    int64_t v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n': o.nats_url = optarg; break;
        case 'e': if (sr_parse_i64(optarg, 1, INT64_C(1000000000), &o.events) < 0) goto bad; break;
        case 'd': if (sr_parse_i64(optarg, 1, 3650, &o.days) < 0) goto bad; break;
        case 'E': if (sr_parse_i64(optarg, 946684800000, INT64_C(4102444800000), &o.end_ms) < 0) goto bad; break;
        case 'f': if (sr_parse_double(optarg, &o.falco_pct) < 0 || o.falco_pct < 0 || o.falco_pct > 100) goto bad; break;
        case 'b': if (sr_parse_i64(optarg, 1, 10000, &v) < 0) goto bad; o.batch = (int)v; break;
        case 's': if (sr_parse_u64(optarg, &o.seed) < 0) goto bad; break;
        case 'r': if (sr_parse_double(optarg, &o.rate) < 0 || o.rate < 0) goto bad; break;
        case 'p': o.pg = optarg; break;
        case 'S': if (sr_parse_duration_ms(optarg, &o.stall_ms) < 0) goto bad; break;
        case 'C': o.create_streams = 1; break;
        case 'D': if (sr_parse_i64(optarg, 1, INT64_C(1000000000), &o.dump) < 0) goto bad; break;
        case 'h': usage(); return 0;
        default: goto bad;
        }
    }
    if (!o.nats_url && !o.dump)
        goto bad;
    sr_log_init("eventgen", SR_LOG_INFO);
    if (!o.end_ms)
        o.end_ms = sr_now_unix_ms();
    int64_t start_ms = o.end_ms - o.days * INT64_C(86400000);

    eg_world *w = NULL;
    eg_world_opts wo = {.seed = o.seed, .start_ms = start_ms, .end_ms = o.end_ms};
    wo.falco_total = (int64_t)((double)o.events * o.falco_pct / 100.0 + 0.5);
    if (eg_world_new(&wo, &w) < 0) {
        sr_error("could not build the synthetic estate: out of memory");
        return 1;
    }
    schedule s;
    packer pk;
    parsers pa;
    if (schedule_init(&s, &o, w, start_ms) < 0 || packer_init(&pk, o.batch) < 0 ||
        parsers_init(&pa, eg_world_hosts(w)) < 0) {
        sr_error("could not plan the events: out of memory");
        return 1;
    }
    if (o.dump) {
        int r = dump_events(&o, &s, &pk, &pa);
        parsers_free(&pa);
        packer_free(&pk);
        schedule_free(&s);
        eg_world_free(w);
        return r;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    natsConnection *nc = NULL;
    natsOptions *nopts = NULL;
    jsCtx *js = NULL;
    pubstate ps = {.s = &s};
    int rc = 1;
    char *json = malloc(FALCO_JSON_MAX);
    PGconn *pg = NULL;
    if (!json)
        goto out;
    if (natsOptions_Create(&nopts) != NATS_OK || natsOptions_SetURL(nopts, o.nats_url) != NATS_OK ||
        natsOptions_SetMaxPendingMsgs(nopts, 1000000) != NATS_OK ||
        natsConnection_Connect(&nc, nopts) != NATS_OK) {
        sr_error("could not connect to %s: %s", o.nats_url, nats_GetLastError(NULL));
        goto out;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = &ps;
    jo.PublishAsync.MaxPending = 512;
    jo.PublishAsync.StallWait = 30000;
    jo.Wait = 30000;
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) {
        sr_error("could not open a jetstream context");
        goto out;
    }
    if (o.create_streams) {
        uint64_t dummy;
        if (stream_last_seq(js, STREAM_LOGS, &dummy) < 0 && create_stream(js, STREAM_LOGS, "logs.>") < 0)
            sr_warn("could not create stream %s", STREAM_LOGS);
        if (stream_last_seq(js, STREAM_SECURITY, &dummy) < 0 && create_stream(js, STREAM_SECURITY, "security.>") < 0)
            sr_warn("could not create stream %s", STREAM_SECURITY);
    }
    if (stream_last_seq(js, STREAM_LOGS, &ps.logs_base) < 0 || stream_last_seq(js, STREAM_SECURITY, &ps.falco_base) < 0) {
        sr_error("streams %s and %s not found on %s: does this core ingest logs and Falco alerts?", STREAM_LOGS,
                 STREAM_SECURITY, o.nats_url);
        goto out;
    }
    cons_state cl = consumer_state(js, STREAM_LOGS, CONSUMER_LOGS), cf = consumer_state(js, STREAM_SECURITY, CONSUMER_FALCO);
    int consumers = cl.ok && cf.ok;
    if (!consumers)
        sr_warn("consumers %s / %s not found: publishing only, nothing will be stored", CONSUMER_LOGS, CONSUMER_FALCO);
    ps.logs_slots = s.log_messages + SLACK_SEQS;
    ps.falco_slots = s.n_falco + SLACK_SEQS;
    ps.logs_events = calloc((size_t)ps.logs_slots, sizeof(uint32_t));
    ps.falco_events = calloc((size_t)ps.falco_slots, sizeof(uint32_t));
    if (!ps.logs_events || !ps.falco_events)
        goto out;
    if (o.pg) {
        pg = PQconnectdb(o.pg);
        if (PQstatus(pg) != CONNECTION_OK) {
            sr_error("could not connect to %s: %s", o.pg, PQerrorMessage(pg));
            goto out;
        }
    }

    sr_info("%" PRId64 " events over %" PRId64 " days: %" PRId64 " host log lines from %d hosts in %" PRId64
            " batches of up to %d, %" PRId64 " Falco alerts%s",
            o.events, o.days, s.n_logs, s.n_hosts, s.log_messages, o.batch, s.n_falco,
            o.rate > 0 ? " (paced)" : " (as fast as possible)");
    int64_t t0 = sr_mono_ms(), last_report = t0, published = 0, messages = 0, last_events = 0, last_t = t0;
    double cpu0 = cpu_seconds();
    committed cm = {0};
    for (;;) {
        if (atomic_load(&stop_flag))
            break;
        next_item it = schedule_next(&s);
        if (it.kind == NEXT_NONE)
            break;
        natsMsg *m = NULL;
        natsStatus st;
        char id[128], rcv[24];
        if (it.kind == NEXT_LOGS) {
            char agent[64];
            copy_str(agent, sizeof(agent), eg_world_host_name(w, it.host));
            eg_world_host_logs(w, it.host, it.t0, it.t1, pk.recs, it.n);
            if (parse_records(&pa, it.host, pk.recs, it.n, o.end_ms) < 0)
                goto out;
            const uint8_t *buf = NULL;
            size_t len = 0;
            if (pack_logs(&pk, agent, it.epoch, it.seq, it.n, &buf, &len) < 0)
                goto out;
            snprintf(id, sizeof(id), "%s:%" PRIu64 ":%" PRIu64, agent, it.epoch, it.seq);
            snprintf(rcv, sizeof(rcv), "%" PRId64, sr_now_unix_ms());
            st = natsMsg_Create(&m, SUBJECT_LOGS, NULL, (const char *)buf, (int)len);
            if (st == NATS_OK)
                st = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
            if (st == NATS_OK)
                st = natsMsgHeader_Set(m, "Sr-Agent-Id", agent);
            if (st == NATS_OK)
                st = natsMsgHeader_Set(m, "Sr-Received-Ms", rcv);
            published += it.n;
        } else {
            size_t len = eg_world_falco(w, it.falco_index, it.falco_t, json, FALCO_JSON_MAX);
            if (len == 0) {
                sr_error("falco alert %" PRId64 " did not fit", it.falco_index);
                goto out;
            }
            snprintf(id, sizeof(id), "falco:%" PRIu64 ":%" PRId64, s.base_epoch, it.falco_index);
            st = natsMsg_Create(&m, SUBJECT_FALCO, NULL, json, (int)len);
            if (st == NATS_OK)
                st = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
            published++;
        }
        if (st == NATS_OK)
            st = js_PublishMsgAsync(js, &m, NULL);
        natsMsg_Destroy(m);
        if (st != NATS_OK) {
            sr_error("could not publish: %s (%s)", natsStatus_GetText(st), nats_GetLastError(NULL));
            goto out;
        }
        messages++;
        if (o.rate > 0) {
            int64_t due = t0 + (int64_t)((double)published * 1000.0 / o.rate);
            int64_t now = sr_mono_ms();
            if (due > now)
                sr_sleep_ms(due - now);
        }
        int64_t now = sr_mono_ms();
        if (now - last_report >= 5000) {
            if (consumers) {
                cl = consumer_state(js, STREAM_LOGS, CONSUMER_LOGS);
                cf = consumer_state(js, STREAM_SECURITY, CONSUMER_FALCO);
                advance(&cm, &ps, cl.ack_floor, cf.ack_floor);
            }
            double dt = (double)(now - last_t) / 1000.0;
            printf("eventgen: %5.0f s: published %" PRId64 " / %" PRId64 " events (%.0f/s), committed %" PRId64
                   " (%.0f/s over the last %.0f s)\n",
                   (double)(now - t0) / 1000.0, published, o.events, (double)published * 1000.0 / (double)(now - t0),
                   cm.events, (double)(cm.events - last_events) / dt, dt);
            fflush(stdout);
            last_events = cm.events;
            last_t = now;
            last_report = now;
        }
    }
    {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 120000;
        if (js_PublishAsyncComplete(js, &po) != NATS_OK)
            sr_warn("not every publish was acknowledged by jetstream within 120 s");
    }
    int64_t t_pub = sr_mono_ms();
    double gen_cpu = cpu_seconds() - cpu0;
    printf("eventgen: published %" PRId64 " events in %" PRId64 " messages in %.1f s (%.0f events/s; generator cpu "
           "%.1f s); jetstream acked %lld, duplicates %lld, retried %lld, failed %lld\n",
           published, messages, (double)(t_pub - t0) / 1000.0, (double)published * 1000.0 / (double)(t_pub - t0 + 1),
           gen_cpu, (long long)atomic_load(&ps.acked), (long long)atomic_load(&ps.duplicates),
           (long long)atomic_load(&ps.retried), (long long)atomic_load(&ps.failed));
    fflush(stdout);

    /* wait for the core: every message of ours acknowledged by its consumer */
    int64_t t_done = 0, last_progress = sr_mono_ms(), last_committed = -1;
    uint64_t logs_last = (uint64_t)atomic_load(&ps.last_logs_seq), falco_last = (uint64_t)atomic_load(&ps.last_falco_seq);
    while (consumers && !atomic_load(&stop_flag)) {
        cl = consumer_state(js, STREAM_LOGS, CONSUMER_LOGS);
        cf = consumer_state(js, STREAM_SECURITY, CONSUMER_FALCO);
        advance(&cm, &ps, cl.ack_floor, cf.ack_floor);
        int64_t now = sr_mono_ms();
        if (cl.ok && cf.ok && cl.ack_floor >= logs_last && cf.ack_floor >= falco_last && cl.ack_pending == 0 &&
            cf.ack_pending == 0) {
            t_done = now;
            break;
        }
        if (cm.events != last_committed) {
            last_committed = cm.events;
            last_progress = now;
        } else if (now - last_progress > o.stall_ms) {
            sr_warn("no progress for %" PRId64 " s; giving up waiting", o.stall_ms / 1000);
            break;
        }
        if (now - last_report >= 5000) {
            double dt = (double)(now - last_t) / 1000.0;
            printf("eventgen: %5.0f s: committed %" PRId64 " / %" PRId64 " events (%.0f/s since the start, %.0f/s over "
                   "the last %.0f s), backlog %" PRIu64 " + %" PRIu64 " messages, %" PRId64 " + %" PRId64
                   " being written\n",
                   (double)(now - t0) / 1000.0, cm.events, published, (double)cm.events * 1000.0 / (double)(now - t0),
                   (double)(cm.events - last_events) / dt, dt, cl.pending, cf.pending, cl.ack_pending, cf.ack_pending);
            fflush(stdout);
            last_events = cm.events;
            last_t = now;
            last_report = now;
        }
        sr_sleep_ms(100);
    }
    double ingest_s = t_done ? (double)(t_done - t0) / 1000.0 : 0;
    int64_t stored = -1, distinct = -1, dead = -1;
    if (pg) {
        int64_t c0 = sr_mono_ms();
        stored = pg_count(pg, "SELECT count(*) FROM events", 0);
        distinct = pg_count(pg, "SELECT count(DISTINCT id) FROM events", 0);
        dead = pg_count(pg, "SELECT count(*) FROM dead_letters", 0);
        printf("eventgen: counted the events table in %.1f s\n", (double)(sr_mono_ms() - c0) / 1000.0);
    }
    eg_needle_counts nc_counts;
    eg_world_needles(w, &nc_counts);
    int64_t lost = distinct >= 0 ? published - distinct : -1, dup = distinct >= 0 ? stored - distinct : -1;
    printf("eventgen: events=%" PRId64 " logs=%" PRId64 " falco=%" PRId64 " log_messages=%" PRId64
           " publish_s=%.1f ingest_s=%.1f ingest_eps=%.0f stored=%" PRId64 " distinct=%" PRId64 " lost=%" PRId64
           " dup=%" PRId64 " dead_letters=%" PRId64 " gen_cpu_s=%.1f needle_cve=%d needle_sha256=%d\n",
           published, s.n_logs, s.n_falco, s.log_messages, (double)(t_pub - t0) / 1000.0, ingest_s,
           ingest_s > 0 ? (double)published / ingest_s : 0, stored, distinct, lost, dup, dead, gen_cpu,
           nc_counts.cve_2024_3094, nc_counts.dropped_binary_sha256);
    fflush(stdout);
    rc = (t_done && lost == 0 && dup == 0) ? 0 : 3;
out:
    free(json);
    if (js)
        jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(nopts);
    free(ps.logs_events);
    free(ps.falco_events);
    if (pg)
        PQfinish(pg);
    parsers_free(&pa);
    packer_free(&pk);
    schedule_free(&s);
    eg_world_free(w);
    nats_Close();
    return rc;
bad:
    usage();
    return 2;
}
