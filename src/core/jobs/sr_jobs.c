/* The job runner: claiming, running and recording jobs (sr_jobs.h). */
#include "sr_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_log.h"
#include "sr_pg.h"
#include "sr_time.h"
#include "sr_utf8.h"

#define DEFAULT_POLL_MS 10000
#define DEFAULT_LEASE_MS (10 * 60 * 1000)
#define DEFAULT_RETRY_MS 60000
#define MIN_LEASE_MS 1000
#define MAX_INTERVAL_MS (366LL * 86400 * 1000)
#define OWNER_MAX 128
#define NAMES_MAX (SR_JOBS_MAX * (SR_JOBS_NAME_MAX + 1) + 3)
#define RECONNECT_MAX_MS 60000
#define MSG_MAX 512

#define MS_INTERVAL(p) "(" p "::bigint * interval '1 millisecond')"

/* $1 name, $2 interval ms */
static const char q_register[] =
    "INSERT INTO jobs (name, run_interval, next_run_at) VALUES ($1, " MS_INTERVAL("$2") ", now()) "
    "ON CONFLICT (name) DO UPDATE SET run_interval = EXCLUDED.run_interval, "
    "next_run_at = least(jobs.next_run_at, now() + EXCLUDED.run_interval)";

/* $1 owner, $2 lease ms, $3 names (text[]): the most overdue job of ours that nobody holds.
 * SKIP LOCKED passes over a row another runner is claiming; a claim committed meanwhile is
 * seen by the recheck of the locked row, whose lease is then in the future. */
static const char q_claim[] =
    "UPDATE jobs SET lease_owner = $1, lease_until = now() + " MS_INTERVAL("$2") ", last_started_at = now(), "
    "last_status = 'running' "
    "WHERE name = (SELECT name FROM jobs WHERE name = ANY ($3::text[]) AND next_run_at <= now() "
    "AND (lease_until IS NULL OR lease_until < now()) ORDER BY next_run_at, name LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING name";

/* $1 name, $2 owner, $3 lease ms */
static const char q_extend[] =
    "UPDATE jobs SET lease_until = now() + " MS_INTERVAL("$3") " WHERE name = $1 AND lease_owner = $2";

/* $1 name, $2 owner, $3 status, $4 error (NULL when ok), $5 message, $6 duration ms,
 * $7 next run in ms */
static const char q_finish[] =
    "UPDATE jobs SET last_finished_at = now(), last_status = $3, last_error = $4, last_message = $5, "
    "last_duration_ms = $6::bigint, runs = runs + 1, failures = failures + CASE WHEN $3 = 'error' THEN 1 ELSE 0 END, "
    "next_run_at = now() + " MS_INTERVAL("$7") ", lease_owner = NULL, lease_until = NULL "
    "WHERE name = $1 AND lease_owner = $2";

struct sr_jobs_run {
    PGconn *conn;
    const sr_jobs_config *cfg;
    const sr_jobs_def *def;
    const char *owner;
    const atomic_int *stop;
    int64_t started_ms;
};

static int64_t or_default(int64_t v, int64_t def) { return v > 0 ? v : def; }

static int64_t entry_interval(const sr_jobs_entry *e) {
    return e->interval_ms > 0 ? e->interval_ms : e->def->default_interval_ms;
}

static int name_valid(const char *s) {
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_') || n >= SR_JOBS_NAME_MAX)
            return 0;
    return n > 0;
}

int sr_jobs_config_check(const sr_jobs_config *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->jobs || cfg->n == 0 || cfg->n > SR_JOBS_MAX) {
        sr_errf(err, errlen, "jobs: between 1 and %d jobs expected", SR_JOBS_MAX);
        return -EINVAL;
    }
    if (cfg->owner && strlen(cfg->owner) >= OWNER_MAX) {
        sr_errf(err, errlen, "jobs: owner longer than %d bytes", OWNER_MAX - 1);
        return -EINVAL;
    }
    if (cfg->poll_ms < 0 || cfg->retry_ms < 0 || cfg->lease_ms < 0 || (cfg->lease_ms && cfg->lease_ms < MIN_LEASE_MS)) {
        sr_errf(err, errlen, "jobs: poll, retry and lease must not be negative, the lease at least %d ms",
                MIN_LEASE_MS);
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        const sr_jobs_entry *e = &cfg->jobs[i];
        if (!e->def || !e->def->fn || !name_valid(e->def->name)) {
            sr_errf(err, errlen, "jobs: entry %zu: name must match [a-z0-9_]{1,%d} and a function is required", i,
                    SR_JOBS_NAME_MAX);
            return -EINVAL;
        }
        int64_t iv = entry_interval(e);
        if (e->interval_ms < 0 || iv < 1000 || iv > MAX_INTERVAL_MS) {
            sr_errf(err, errlen, "jobs: %s: interval must be between 1 s and 366 days", e->def->name);
            return -EINVAL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->jobs[k].def->name, e->def->name) == 0) {
                sr_errf(err, errlen, "jobs: %s registered twice", e->def->name);
                return -EINVAL;
            }
    }
    return 0;
}

static void default_owner(const sr_jobs_config *cfg, char *out, size_t outlen) {
    if (cfg->owner && cfg->owner[0]) {
        (void)snprintf(out, outlen, "%s", cfg->owner);
        return;
    }
    char host[64];
    if (gethostname(host, sizeof(host)) < 0)
        (void)snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    (void)snprintf(out, outlen, "%s:%ld", host, (long)getpid());
}

static PGresult *exec_params(PGconn *c, const char *sql, int n, const char *const *vals) {
    return PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
}

int sr_jobs_register(PGconn *c, const sr_jobs_config *cfg, char *err, size_t errlen) {
    int r = sr_jobs_config_check(cfg, err, errlen);
    if (r < 0)
        return r;
    for (size_t i = 0; i < cfg->n; i++) {
        char iv[24];
        (void)snprintf(iv, sizeof(iv), "%" PRId64, entry_interval(&cfg->jobs[i]));
        const char *vals[] = {cfg->jobs[i].def->name, iv};
        _cleanup_pgresult_ PGresult *res = exec_params(c, q_register, 2, vals);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char msg[400];
            sr_pg_errmsg(c, res, msg, sizeof(msg));
            sr_errf(err, errlen, "could not register job %s: %s", cfg->jobs[i].def->name, msg);
            return -EIO;
        }
    }
    return 0;
}

PGconn *sr_jobs_run_conn(sr_jobs_run *run) { return run->conn; }
const char *sr_jobs_run_name(const sr_jobs_run *run) { return run->def->name; }

static int stopping(const atomic_int *stop) { return stop && atomic_load(stop); }

int sr_jobs_run_step(sr_jobs_run *run, char *err, size_t errlen) {
    if (PQtransactionStatus(run->conn) != PQTRANS_IDLE) {
        sr_errf(err, errlen, "job %s: sr_jobs_run_step inside a transaction", run->def->name);
        return -EINVAL;
    }
    int64_t lease = or_default(run->cfg->lease_ms, DEFAULT_LEASE_MS);
    if (stopping(run->stop) || sr_mono_ms() - run->started_ms > lease / 2)
        return 0;
    char ls[24];
    (void)snprintf(ls, sizeof(ls), "%" PRId64, lease);
    const char *vals[] = {run->def->name, run->owner, ls};
    _cleanup_pgresult_ PGresult *res = exec_params(run->conn, q_extend, 3, vals);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char msg[400];
        sr_pg_errmsg(run->conn, res, msg, sizeof(msg));
        sr_errf(err, errlen, "could not extend the lease of job %s: %s", run->def->name, msg);
        return -EIO;
    }
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        sr_errf(err, errlen, "job %s: lease lost to another runner", run->def->name);
        return -ESTALE;
    }
    return 1;
}

/* What one claim led to. */
typedef struct {
    int claimed;            /* 0: nothing was due */
    const sr_jobs_def *def; /* the job run */
    int result;             /* the job's return value */
    int recorded;           /* 0: the outcome could not be written (lease lost or database gone) */
    int64_t next_ms;
    char error[MSG_MAX];
    char message[MSG_MAX];
} outcome;

/* Text columns take UTF-8 only: a message cut inside a character loses the partial character;
 * anything else invalid is replaced. */
static void utf8_fit(char *s, size_t cap) {
    size_t n = strlen(s);
    for (int cut = 0; cut < 4 && n > 0 && !sr_utf8_valid(s, n); cut++)
        s[--n] = '\0';
    if (!sr_utf8_valid(s, n))
        (void)snprintf(s, cap, "(message not valid UTF-8)");
}

static int build_names(const sr_jobs_config *cfg, char *out, size_t outlen) {
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < cfg->n; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? "," : "", cfg->jobs[i].def->name);
        if (w < 0 || (size_t)w >= outlen - o)
            return -ENAMETOOLONG;
        o += (size_t)w;
    }
    if (o + 2 > outlen)
        return -ENAMETOOLONG;
    out[o++] = '}';
    out[o] = '\0';
    return 0;
}

/* Claims one due job and runs it. 0 (see *out), or -EIO when the database failed the runner
 * itself (claiming, or recording when the connection is gone). */
static int run_one(PGconn *c, const sr_jobs_config *cfg, const char *owner, const char *names,
                   const atomic_int *stop, outcome *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    int64_t lease = or_default(cfg->lease_ms, DEFAULT_LEASE_MS);
    char ls[24];
    (void)snprintf(ls, sizeof(ls), "%" PRId64, lease);
    const char *cvals[] = {owner, ls, names};
    const sr_jobs_entry *entry = NULL;
    {
        _cleanup_pgresult_ PGresult *res = exec_params(c, q_claim, 3, cvals);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            char msg[400];
            sr_pg_errmsg(c, res, msg, sizeof(msg));
            sr_errf(err, errlen, "could not claim a due job: %s", msg);
            return -EIO;
        }
        if (PQntuples(res) == 0)
            return 0;
        const char *name = PQgetvalue(res, 0, 0);
        for (size_t i = 0; i < cfg->n && !entry; i++)
            if (strcmp(cfg->jobs[i].def->name, name) == 0)
                entry = &cfg->jobs[i];
        if (!entry) { /* cannot happen: the claim names only our jobs */
            sr_errf(err, errlen, "claimed unknown job %s", name);
            return -EIO;
        }
    }
    out->claimed = 1;
    out->def = entry->def;

    sr_jobs_run run = {.conn = c, .cfg = cfg, .def = entry->def, .owner = owner, .stop = stop,
                       .started_ms = sr_mono_ms()};
    int r = entry->def->fn(&run, cfg->params, out->message, sizeof(out->message), out->error, sizeof(out->error));
    int64_t duration = sr_mono_ms() - run.started_ms;
    out->result = r;
    if (PQstatus(c) != CONNECTION_OK) {
        if (r >= 0)
            out->result = r = -EIO;
        if (!out->error[0])
            sr_errf(out->error, sizeof(out->error), "database connection lost");
        sr_errf(err, errlen, "job %s: database connection lost, its lease will expire", entry->def->name);
        return -EIO;
    }
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        PQclear(PQexec(c, "ROLLBACK"));
        if (r >= 0) {
            out->result = r = -EPROTO;
            sr_errf(out->error, sizeof(out->error), "the job left a transaction open (rolled back)");
        }
    }
    const char *status = "ok";
    int64_t interval = entry_interval(entry);
    if (r < 0) {
        status = "error";
        if (!out->error[0])
            sr_errf(out->error, sizeof(out->error), "%s", strerror(-r));
        if (stopping(stop)) {
            char reason[MSG_MAX];
            (void)snprintf(reason, sizeof(reason), "%s", out->error);
            sr_errf(out->error, sizeof(out->error), "interrupted: runner stopping (%.400s)", reason);
            out->next_ms = 0;
        } else {
            int64_t retry = or_default(cfg->retry_ms, DEFAULT_RETRY_MS);
            out->next_ms = retry < interval ? retry : interval;
        }
    } else {
        out->next_ms = r == 1 ? 0 : interval;
    }
    utf8_fit(out->error, sizeof(out->error));
    utf8_fit(out->message, sizeof(out->message));
    char dur[24], next[24];
    (void)snprintf(dur, sizeof(dur), "%" PRId64, duration);
    (void)snprintf(next, sizeof(next), "%" PRId64, out->next_ms);
    const char *fvals[] = {entry->def->name, owner, status, r < 0 ? out->error : NULL, out->message, dur, next};
    _cleanup_pgresult_ PGresult *res = exec_params(c, q_finish, 7, fvals);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char msg[400];
        sr_pg_errmsg(c, res, msg, sizeof(msg));
        sr_errf(err, errlen, "could not record the outcome of job %s: %s", entry->def->name, msg);
        return -EIO;
    }
    out->recorded = strcmp(PQcmdTuples(res), "1") == 0;
    return 0;
}

int sr_jobs_run_due(PGconn *c, const sr_jobs_config *cfg, const atomic_int *stop, int *ret_ran, int *ret_failed,
                    char *err, size_t errlen) {
    int r = sr_jobs_config_check(cfg, err, errlen);
    if (r < 0)
        return r;
    char owner[OWNER_MAX], names[NAMES_MAX];
    default_owner(cfg, owner, sizeof(owner));
    if (build_names(cfg, names, sizeof(names)) < 0) {
        sr_errf(err, errlen, "jobs: names too long");
        return -EINVAL;
    }
    int ran = 0, failed = 0;
    /* A job that keeps reporting work left runs again at once; the bound keeps one call finite. */
    size_t max_runs = cfg->n * 16;
    for (size_t i = 0; i < max_runs && !stopping(stop); i++) {
        outcome o;
        r = run_one(c, cfg, owner, names, stop, &o, err, errlen);
        if (r < 0)
            return r;
        if (!o.claimed)
            break;
        ran++;
        failed += o.result < 0;
    }
    if (ret_ran)
        *ret_ran = ran;
    if (ret_failed)
        *ret_failed = failed;
    return 0;
}

/* ---- the runner thread ---- */

struct sr_jobs {
    sr_jobs_config cfg;
    sr_jobs_entry *jobs;
    char *conninfo;
    char owner[OWNER_MAX];
    char names[NAMES_MAX];
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stop;
    PGcancel *cancel; /* under lock: the running connection's cancel handle */
};

/* Waits up to ms or until stopped. */
static void wait_ms(sr_jobs *j, int64_t ms) {
    struct timespec until = sr_mono_deadline_ts(ms);
    pthread_mutex_lock(&j->lock);
    while (!atomic_load(&j->stop) && pthread_cond_timedwait(&j->cond, &j->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&j->lock);
}

static PGconn *disconnect(sr_jobs *j, PGconn *c) {
    pthread_mutex_lock(&j->lock);
    if (j->cancel)
        PQfreeCancel(j->cancel);
    j->cancel = NULL;
    pthread_mutex_unlock(&j->lock);
    return sr_pg_close(c);
}

/* Connects, bounds statements by the lease, registers the jobs. */
static int connect_runner(sr_jobs *j, PGconn **ret, char *err, size_t errlen) {
    _cleanup_pgconn_ PGconn *c = NULL;
    int r = sr_pg_connect(j->conninfo, &c, err, errlen);
    if (r < 0)
        return r;
    char sql[128];
    /* a statement never outlives the lease that protects it */
    (void)snprintf(sql, sizeof(sql), "SET statement_timeout = %" PRId64,
                   or_default(j->cfg.lease_ms, DEFAULT_LEASE_MS));
    if (sr_pg_exec(c, sql, err, errlen) < 0 ||
        sr_pg_exec(c, "SET application_name = 'serviceradar-core-jobs'", err, errlen) < 0)
        return -EIO;
    r = sr_jobs_register(c, &j->cfg, err, errlen);
    if (r < 0)
        return r;
    PGcancel *cancel = PQgetCancel(c);
    if (!cancel) {
        sr_errf(err, errlen, "could not get a cancel handle");
        return -ENOMEM;
    }
    pthread_mutex_lock(&j->lock);
    j->cancel = cancel;
    pthread_mutex_unlock(&j->lock);
    *ret = SR_TAKE_PTR(c);
    return 0;
}

static void log_outcome(const outcome *o) {
    if (o->result < 0) {
        if (!o->next_ms)
            sr_warn("job %s failed: %s (due again now)", o->def->name, o->error);
        else
            sr_warn("job %s failed: %s (retry in %" PRId64 " s)", o->def->name, o->error, o->next_ms / 1000);
    } else {
        sr_debug("job %s: %s", o->def->name, o->message[0] ? o->message : "done");
    }
    if (!o->recorded)
        sr_warn("job %s: outcome not recorded: the lease passed to another runner meanwhile", o->def->name);
}

static void *runner_main(void *arg) {
    sr_jobs *j = arg;
    PGconn *c = NULL;
    int64_t backoff = 1000;
    int down_logged = 0;
    int64_t poll = or_default(j->cfg.poll_ms, DEFAULT_POLL_MS);
    while (!atomic_load(&j->stop)) {
        char err[1024] = "";
        if (!c) {
            if (connect_runner(j, &c, err, sizeof(err)) < 0) {
                if (!down_logged)
                    sr_warn("jobs: could not start on the database (retrying): %s", err);
                down_logged = 1;
                wait_ms(j, backoff);
                backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
                continue;
            }
            if (down_logged)
                sr_info("jobs: connected to the database again");
            down_logged = 0;
            backoff = 1000;
        }
        size_t max_runs = j->cfg.n * 16;
        for (size_t i = 0; i < max_runs && !atomic_load(&j->stop); i++) {
            outcome o;
            if (run_one(c, &j->cfg, j->owner, j->names, &j->stop, &o, err, sizeof(err)) < 0) {
                sr_warn("jobs: %s", err);
                if (PQstatus(c) != CONNECTION_OK)
                    c = disconnect(j, c);
                break;
            }
            if (!o.claimed)
                break;
            log_outcome(&o);
        }
        wait_ms(j, poll);
    }
    disconnect(j, c);
    return NULL;
}

sr_jobs *sr_jobs_free(sr_jobs *j) {
    if (!j)
        return NULL;
    if (j->thread_started) {
        pthread_mutex_lock(&j->lock);
        atomic_store(&j->stop, 1);
        if (j->cancel) {
            char buf[256];
            (void)PQcancel(j->cancel, buf, sizeof(buf)); /* best effort: the job also sees stop */
        }
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->thread, NULL);
    }
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j->jobs);
    free(j->conninfo);
    free(j);
    return NULL;
}

int sr_jobs_start(const sr_jobs_config *cfg, sr_jobs **ret) {
    char err[256];
    int r = sr_jobs_config_check(cfg, err, sizeof(err));
    if (r == 0 && (!cfg->pg_conninfo || !cfg->pg_conninfo[0])) {
        sr_errf(err, sizeof(err), "jobs: pg_conninfo is required");
        r = -EINVAL;
    }
    if (r < 0) {
        sr_error("%s", err);
        return r;
    }
    sr_jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    r = sr_mono_cond_init(&j->cond);
    if (r < 0) {
        free(j);
        return r;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->cfg = *cfg;
    j->jobs = calloc(cfg->n, sizeof(*j->jobs));
    j->conninfo = strdup(cfg->pg_conninfo);
    if (!j->jobs || !j->conninfo) {
        sr_jobs_free(j);
        return -ENOMEM;
    }
    memcpy(j->jobs, cfg->jobs, cfg->n * sizeof(*j->jobs));
    j->cfg.jobs = j->jobs;
    j->cfg.pg_conninfo = j->conninfo;
    default_owner(cfg, j->owner, sizeof(j->owner));
    j->cfg.owner = j->owner;
    if (build_names(&j->cfg, j->names, sizeof(j->names)) < 0) {
        sr_jobs_free(j);
        return -EINVAL;
    }
    r = pthread_create(&j->thread, NULL, runner_main, j);
    if (r) {
        sr_jobs_free(j);
        return -r;
    }
    j->thread_started = 1;
    *ret = j;
    return 0;
}
