/* Scheduled jobs shared by every core on one database (docs/internals/jobs.md).
 *
 * A job is a name, a default interval and a function. The table `jobs` (migrations/0005) holds
 * each job's schedule, lease and last outcome. A runner claims a due job with one UPDATE
 * (FOR UPDATE SKIP LOCKED) that sets lease_owner and lease_until, runs it on its own
 * connection, records the outcome and the next run, and releases the lease. Several runners
 * (several cores) therefore run each due job once; a crashed runner's lease expires and another
 * runner takes the job over.
 *
 * Nothing here logs except the runner thread started by sr_jobs_start, which logs each failure
 * once with the job's name. */
#pragma once
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SR_JOBS_NAME_MAX 63
#define SR_JOBS_MAX 64

/* One run of one job, handed to the job's function. */
typedef struct sr_jobs_run sr_jobs_run;

/* A job's function: runs on sr_jobs_run_conn(run) (autocommit; the function opens and ends its
 * own transactions), may write a short summary into msg. Returns 0 when done, 1 when work is
 * left (the runner runs it again at once), or a negative errno with the reason in err. A job
 * that works in steps calls sr_jobs_run_step() between them. */
typedef int (*sr_jobs_fn)(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                          size_t errlen);

typedef struct {
    const char *name; /* [a-z0-9_]{1,63}: the key of its row in jobs */
    int64_t default_interval_ms;
    sr_jobs_fn fn;
} sr_jobs_def;

typedef struct {
    const sr_jobs_def *def;
    int64_t interval_ms; /* 0: def->default_interval_ms */
} sr_jobs_entry;

typedef struct {
    const char *pg_conninfo;   /* the runner thread's own connection (sr_jobs_start) */
    const char *owner;         /* lease owner, at most 127 bytes; NULL or "": "<hostname>:<pid>" */
    int64_t poll_ms;           /* how often due jobs are looked for; 0: 10 s */
    int64_t lease_ms;          /* how long a claim holds without sr_jobs_run_step; 0: 10 min */
    int64_t retry_ms;          /* a failed job runs again after min(retry, interval); 0: 1 min */
    const sr_jobs_entry *jobs; /* 1..SR_JOBS_MAX, distinct names */
    size_t n;
    const void *params; /* handed to every job function; must outlive the runner */
} sr_jobs_config;

/* Checks a configuration (names, intervals, bounds). 0 or -EINVAL with the reason in err. */
int sr_jobs_config_check(const sr_jobs_config *cfg, char *err, size_t errlen);

/* Inserts the jobs' rows when missing (due at once) and updates their run_interval; a shorter
 * interval moves next_run_at closer. 0 or -EIO with the server's message in err. */
int sr_jobs_register(PGconn *c, const sr_jobs_config *cfg, char *err, size_t errlen);

/* Claims and runs due jobs of cfg on c, one after the other, until none is due. *ret_ran (may be
 * NULL) gets how many runs were made, *ret_failed (may be NULL) how many of them failed (their
 * outcome is recorded in jobs; a job's failure is not this function's). Returns 0, or -EIO
 * when the database could not be asked or told (err says why). stop, when not NULL, is polled:
 * once non-zero no further job is claimed and running jobs are told to yield. */
int sr_jobs_run_due(PGconn *c, const sr_jobs_config *cfg, const atomic_int *stop, int *ret_ran, int *ret_failed,
                    char *err, size_t errlen);

/* For job functions. */
PGconn *sr_jobs_run_conn(sr_jobs_run *run);
const char *sr_jobs_run_name(const sr_jobs_run *run);
/* Between two steps of a job: 1 to go on (the lease was extended), 0 to yield (the runner is
 * stopping or the run has taken half its lease: the function returns 1 and continues next
 * time), or a negative errno (-ESTALE: the lease was lost to another runner; -EIO) with the
 * reason in err. */
int sr_jobs_run_step(sr_jobs_run *run, char *err, size_t errlen);

/* The runner thread: connects (retrying with backoff while the database is away), registers
 * the jobs, then every poll_ms runs the due ones. */
typedef struct sr_jobs sr_jobs;

/* cfg is copied (names and params are referenced: they must outlive the runner). Returns 0 or
 * -EINVAL (bad configuration, logged) / -ENOMEM / a pthread error. */
int sr_jobs_start(const sr_jobs_config *cfg, sr_jobs **ret);
/* Stops the thread (a running statement is cancelled and the interrupted job is recorded as
 * failed and due again at once), joins it, frees. Accepts NULL; returns NULL. */
sr_jobs *sr_jobs_free(sr_jobs *j);
