#include "sr_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_log.h"
#include "sr_scan_target.h"
#include "sr_time.h"
#include "sr_trivy.h"

#define SKIP_DIRS_MAX 64
#define VERSION_MAX 96
#define STATE_MAX 64
#define FAILED_LIST_MAX 16

/* ioprio_set(2) has no glibc wrapper. */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1

struct sr_scan {
    sr_scan_config cfg;
    char *agent_id, *hostname, *data_dir, *db_dir, *host_root, *proc_root;
    char *state_path;
    char *skip_buf;
    const char *skip_dirs[SKIP_DIRS_MAX + 1];
    sr_spool *spool;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int requested;
    char reason[64];
    int running;
    char db_version[VERSION_MAX];
    sr_scan_stats stats;
};

static char *dup_or_empty(const char *s) {
    return strdup(s ? s : "");
}

static int64_t load_last_run(const char *path) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if (sr_file_read_all(path, STATE_MAX, &buf, &len) < 0)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || v < 0)
        return 0;
    return (int64_t)v;
}

static void save_last_run(sr_scan *s, int64_t t) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", t);
    int r = sr_file_write_atomic(s->state_path, buf, (size_t)n, 0600);
    if (r < 0)
        sr_warn("scan: could not write %s: %s", s->state_path, strerror(-r));
}

/* The Trivy bridge's threads (Go's) are every thread but ours that kept the process name; they do
 * nothing but scans, so they all go to the lowest CPU and I/O priority, and so does this thread.
 * Threads Go starts later are cloned from these and inherit it. */
static void lower_priority(void) {
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)syscall(SYS_gettid),
                  IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
    char comm[32] = "", tcomm[32];
    FILE *f = fopen("/proc/self/comm", "re");
    if (!f)
        return;
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    pid_t pid = getpid();
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end = NULL;
        errno = 0;
        long tid = strtol(de->d_name, &end, 10);
        if (errno || !end || *end || tid <= 0 || tid == pid)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
        FILE *tf = fopen(path, "re");
        if (!tf)
            continue;
        int same = fgets(tcomm, sizeof(tcomm), tf) && strcmp(tcomm, comm) == 0;
        fclose(tf);
        if (!same)
            continue;
        (void)setpriority(PRIO_PROCESS, (id_t)tid, 19);
        (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
    }
    closedir(d);
}

static int new_scan_id(char out[33]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

/* Packages and vulnerabilities in a Trivy report, for the run's summary. */
static void count_report(const char *rep, size_t len, uint64_t *pkgs, uint64_t *vulns) {
    json_error_t je;
    json_t *j = json_loadb(rep, len, 0, &je);
    if (!j)
        return;
    json_t *results = json_object_get(j, "Results");
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        *pkgs += json_array_size(json_object_get(r, "Packages"));
        *vulns += json_array_size(json_object_get(r, "Vulnerabilities"));
    }
    json_decref(j);
}

typedef struct {
    sr_scan_progress_fn progress;
    void *userdata;
    int (*cancelled)(void *);
} run_hooks;

static void report_progress(const run_hooks *h, unsigned pct, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_progress(const run_hooks *h, unsigned pct, const char *fmt, ...) {
    if (!h || !h->progress)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->progress(pct, msg, h->userdata);
}

static int db_present(const char *db_dir) {
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/trivy.db", db_dir) >= (int)sizeof(path))
        return 0;
    return access(path, R_OK) == 0;
}

/* One run over every target. Returns 0 when every target was scanned and spooled. */
static int run_scan(sr_scan *s, const run_hooks *h, char **summary, char *err, size_t errlen) {
    int64_t t0 = sr_mono_ms();
    char db_version[VERSION_MAX];
    pthread_mutex_lock(&s->lock);
    memcpy(db_version, s->db_version, sizeof(db_version));
    pthread_mutex_unlock(&s->lock);

    if (!sr_trivy_available()) {
        sr_errf(err, errlen, "this agent was built without the Trivy bridge");
        return -ENOTSUP;
    }
    if (!db_present(s->db_dir)) {
        sr_errf(err, errlen, "no Trivy DB in %s yet (the gateway distributes it once the core has downloaded one)",
                s->db_dir);
        return -ENOENT;
    }
    _cleanup_free_ sr_scan_target *targets = NULL;
    size_t n = 0, skipped = 0;
    int r = sr_scan_targets_list(s->proc_root, s->host_root, s->cfg.containers ? s->cfg.max_containers : 0,
                                 &targets, &n, &skipped);
    if (r < 0) {
        sr_errf(err, errlen, "could not list scan targets under %s: %s", s->proc_root, strerror(-r));
        return r;
    }
    char scan_id[33];
    r = new_scan_id(scan_id);
    if (r < 0) {
        sr_errf(err, errlen, "could not make a scan id: %s", strerror(-r));
        return r;
    }
    char scanner[80];
    snprintf(scanner, sizeof(scanner), "trivy %s", sr_trivy_version());
    sr_info("scan %s: %zu target(s)%s, DB %s", scan_id, n, skipped ? " (containers over scan.max_containers skipped)" : "",
            db_version[0] ? db_version : "(version unknown)");
    lower_priority();

    uint64_t pkgs = 0, vulns = 0, parts = 0;
    size_t scanned = 0, failed = 0;
    json_t *failures = json_array();
    for (size_t i = 0; i < n; i++) {
        const sr_scan_target *t = &targets[i];
        if (h && h->cancelled && h->cancelled(h->userdata)) {
            sr_errf(err, errlen, "cancelled after %zu of %zu targets", i, n);
            json_decref(failures);
            return -ECANCELED;
        }
        pthread_mutex_lock(&s->lock);
        int stopping = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stopping) {
            sr_errf(err, errlen, "agent stopping after %zu of %zu targets", i, n);
            json_decref(failures);
            return -ECANCELED;
        }
        report_progress(h, (unsigned)(i * 100 / n), "scanning %s (%zu of %zu)", t->target, i + 1, n);
        int64_t started = sr_now_unix_ms();
        sr_trivy_scan_opts o = {.parallel = s->cfg.parallel,
                                .timeout_s = (int)(s->cfg.timeout_ms / 1000),
                                .skip_dirs = s->skip_dirs};
        char *rep = NULL, *bom = NULL, *terr = NULL;
        size_t rl = 0, bl = 0;
        r = sr_trivy_scan(t->root, s->db_dir, &o, &rep, &rl, &bom, &bl, &terr);
        int64_t finished = sr_now_unix_ms();
        if (r == 0) {
            const char *name = t->pid ? t->runtime : s->hostname;
            sr_scan_doc_info di = {.agent_id = s->agent_id, .scan_id = scan_id, .target = t->target,
                                   .target_name = name, .kind = "report", .db_version = db_version,
                                   .scanner_version = scanner, .started_unix_ms = started,
                                   .finished_unix_ms = finished, .targets_in_run = (uint32_t)n,
                                   .spool_max_bytes = s->cfg.spool_max_bytes};
            uint32_t np = 0, ns = 0;
            r = sr_scan_spool_document(s->spool, &di, rep, rl, &np);
            if (r == 0) {
                di.kind = "sbom";
                r = sr_scan_spool_document(s->spool, &di, bom, bl, &ns);
            }
            if (r == 0) {
                uint64_t p = 0, v = 0;
                count_report(rep, rl, &p, &v);
                pkgs += p;
                vulns += v;
                parts += np + ns;
                scanned++;
                sr_info("scan %s: %s: %" PRIu64 " packages, %" PRIu64 " vulnerabilities, %.1f s, %u parts spooled",
                        scan_id, t->target, p, v, (double)(finished - started) / 1000.0, np + ns);
            } else {
                free(terr);
                terr = NULL;
                char m[128];
                snprintf(m, sizeof(m), "could not spool the results: %s", strerror(-r));
                terr = strdup(m);
            }
        }
        if (r < 0) {
            failed++;
            sr_warn("scan %s: %s (%s) failed: %s", scan_id, t->target, t->root, terr ? terr : strerror(-r));
            if (json_array_size(failures) < FAILED_LIST_MAX)
                json_array_append_new(failures, json_pack("{s:s, s:s}", "target", t->target, "error",
                                                          terr ? terr : strerror(-r)));
        }
        free(rep);
        free(bom);
        free(terr);
    }
    int64_t dur = sr_mono_ms() - t0;
    pthread_mutex_lock(&s->lock);
    s->stats.targets_scanned += scanned;
    s->stats.targets_failed += failed;
    s->stats.parts_spooled += parts;
    pthread_mutex_unlock(&s->lock);
    report_progress(h, 100, "scanned %zu of %zu targets", scanned, n);
    sr_info("scan %s: done in %.1f s: %zu of %zu targets, %" PRIu64 " packages, %" PRIu64 " vulnerabilities", scan_id,
            (double)dur / 1000.0, scanned, n, pkgs, vulns);
    if (summary) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:o}", "scan_id", scan_id,
                              "targets", (json_int_t)n, "scanned", (json_int_t)scanned, "failed", (json_int_t)failed,
                              "skipped_containers", (json_int_t)skipped, "packages", (json_int_t)pkgs,
                              "vulnerabilities", (json_int_t)vulns, "db_version", db_version, "scanner", scanner,
                              "duration_ms", (json_int_t)dur, "failures", failures);
        failures = NULL;
        *summary = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
    }
    json_decref(failures);
    if (scanned == 0 && n > 0) {
        sr_errf(err, errlen, "no target could be scanned (%zu failed)", failed);
        return -EIO;
    }
    return 0;
}

/* Waits for no run in progress, then marks one running. 0, or -ECANCELED when stopping. */
static int begin_run(sr_scan *s) {
    pthread_mutex_lock(&s->lock);
    while (s->running && !s->stop)
        pthread_cond_wait(&s->cond, &s->lock);
    int r = s->stop ? -ECANCELED : 0;
    if (r == 0) {
        s->running = 1;
        s->stats.running = 1;
        s->requested = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void end_run(sr_scan *s, int r) {
    int64_t now = sr_now_unix_ms();
    pthread_mutex_lock(&s->lock);
    s->running = 0;
    s->stats.running = 0;
    s->stats.runs++;
    if (r < 0)
        s->stats.runs_failed++;
    else
        s->stats.last_finished_unix_ms = now;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (r == 0)
        save_last_run(s, now);
}

int sr_scan_run_now(sr_scan *s, sr_scan_progress_fn progress, void *userdata, int (*cancelled)(void *),
                    char **summary, char *err, size_t errlen) {
    int r = begin_run(s);
    if (r < 0) {
        sr_errf(err, errlen, "the agent is stopping");
        return r;
    }
    run_hooks h = {.progress = progress, .userdata = userdata, .cancelled = cancelled};
    r = run_scan(s, &h, summary, err, errlen);
    end_run(s, r);
    return r;
}

static void *scan_main(void *arg) {
    sr_scan *s = arg;
    int64_t last = load_last_run(s->state_path);
    int64_t now = sr_now_unix_ms();
    int64_t due_mono = -1; /* monotonic time of the next scheduled run; -1: none */
    if (s->cfg.interval_ms > 0) {
        int64_t wait = last > 0 ? last + s->cfg.interval_ms - now : 0;
        if (wait < s->cfg.start_delay_ms)
            wait = s->cfg.start_delay_ms;
        due_mono = sr_mono_ms() + wait;
        sr_info("scan: next scheduled run in %" PRId64 " s", wait / 1000);
    }
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->stop && !s->requested && (due_mono < 0 || sr_mono_ms() < due_mono)) {
            if (due_mono < 0) {
                pthread_cond_wait(&s->cond, &s->lock);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t ms = due_mono - sr_mono_ms();
                if (ms < 0)
                    ms = 0;
                ts.tv_sec += ms / 1000;
                ts.tv_nsec += (ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
            }
        }
        int stop = s->stop;
        char reason[sizeof(s->reason)];
        snprintf(reason, sizeof(reason), "%s", s->requested ? s->reason : "schedule");
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        if (begin_run(s) < 0)
            break;
        sr_info("scan: starting a run (%s)", reason);
        char err[512] = "";
        int r = run_scan(s, NULL, NULL, err, sizeof(err));
        end_run(s, r);
        if (r == -ENOENT)
            sr_info("scan: %s", err);
        else if (r < 0)
            sr_warn("scan: run failed: %s", err);
        if (s->cfg.interval_ms > 0)
            due_mono = sr_mono_ms() + s->cfg.interval_ms;
    }
    return NULL;
}

static int split_skip_dirs(sr_scan *s, const char *list) {
    s->skip_buf = strdup(list ? list : "");
    if (!s->skip_buf)
        return -ENOMEM;
    size_t n = 0;
    char *p = s->skip_buf;
    while (*p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ')
            p++;
        size_t l = strlen(p);
        while (l > 0 && p[l - 1] == ' ')
            p[--l] = '\0';
        if (l > 0) {
            if (n == SKIP_DIRS_MAX)
                return -E2BIG;
            s->skip_dirs[n++] = p;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    s->skip_dirs[n] = NULL;
    return 0;
}

int sr_scan_start(const sr_scan_config *cfg, sr_spool *spool, sr_scan **ret) {
    if (!cfg || !spool || !ret || !cfg->data_dir || !cfg->db_dir)
        return -EINVAL;
    sr_scan *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->spool = spool;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->agent_id = dup_or_empty(cfg->agent_id);
    s->hostname = dup_or_empty(cfg->hostname);
    s->data_dir = dup_or_empty(cfg->data_dir);
    s->db_dir = dup_or_empty(cfg->db_dir);
    s->host_root = dup_or_empty(cfg->host_root && *cfg->host_root ? cfg->host_root : "/");
    s->proc_root = dup_or_empty(cfg->proc_root && *cfg->proc_root ? cfg->proc_root : "/proc");
    int r = -ENOMEM;
    if (!s->agent_id || !s->hostname || !s->data_dir || !s->db_dir || !s->host_root || !s->proc_root)
        goto fail;
    if (s->cfg.parallel < 1)
        s->cfg.parallel = 1;
    if (s->cfg.timeout_ms <= 0)
        s->cfg.timeout_ms = 3600000;
    r = split_skip_dirs(s, cfg->skip_dirs);
    if (r < 0)
        goto fail;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/scan", s->data_dir) >= (int)sizeof(dir)) {
        r = -ENAMETOOLONG;
        goto fail;
    }
    r = sr_mkdir_p(dir, 0700);
    if (r < 0)
        goto fail;
    if (asprintf(&s->state_path, "%s/last_run", dir) < 0) {
        s->state_path = NULL;
        r = -ENOMEM;
        goto fail;
    }
    r = -pthread_create(&s->thread, NULL, scan_main, s);
    if (r < 0)
        goto fail;
    s->thread_started = 1;
    *ret = s;
    return 0;
fail:
    sr_scan_free(s);
    return r;
}

void sr_scan_set_db_version(sr_scan *s, const char *version) {
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    snprintf(s->db_version, sizeof(s->db_version), "%s", version ? version : "");
    pthread_mutex_unlock(&s->lock);
}

void sr_scan_request(sr_scan *s, const char *reason) {
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->requested = 1;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "request");
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void sr_scan_get_stats(sr_scan *s, sr_scan_stats *ret) {
    pthread_mutex_lock(&s->lock);
    *ret = s->stats;
    pthread_mutex_unlock(&s->lock);
}

void sr_scan_stop(sr_scan *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    int running = s->running;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (running)
        sr_trivy_cancel();
}

sr_scan *sr_scan_free(sr_scan *s) {
    if (!s)
        return NULL;
    sr_scan_stop(s);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->agent_id);
    free(s->hostname);
    free(s->data_dir);
    free(s->db_dir);
    free(s->host_root);
    free(s->proc_root);
    free(s->state_path);
    free(s->skip_buf);
    free(s);
    return NULL;
}
