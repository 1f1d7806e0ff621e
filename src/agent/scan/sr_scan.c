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
#include "sr_parse.h"
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
    int cancel; /* read by the bridge while a target is scanned; written with __atomic_store_n */
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
    buf[strcspn(buf, "\n")] = '\0';
    int64_t v;
    if (sr_parse_i64(buf, 0, INT64_MAX, &v) < 0)
        return 0;
    return v;
}

static void save_last_run(sr_scan *s, int64_t t) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", t);
    int r = sr_file_write_atomic(s->state_path, buf, (size_t)n, 0600);
    if (r < 0)
        sr_warn("scan: could not write %s: %s", s->state_path, strerror(-r));
}

static void lower_thread(pid_t tid) {
    (void)setpriority(PRIO_PROCESS, (id_t)tid, 19);
    (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
}

/* Go's threads do nothing but scans: they go to the lowest CPU and I/O priority. They are the
 * threads other than the main one that still carry the process's name: every thread the agent
 * starts names itself ("sr-…", sr_thread_name) as its first step. Threads Go starts later are
 * cloned from these and inherit their priority. The calling thread is lowered too (the worker that
 * runs one target). */
static void lower_go_threads(void) {
    lower_thread((pid_t)syscall(SYS_gettid));
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
        int64_t tid;
        if (sr_parse_i64(de->d_name, 1, INT32_MAX, &tid) < 0 || tid == pid)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%" PRId64 "/comm", tid);
        FILE *tf = fopen(path, "re");
        if (!tf)
            continue;
        int same = fgets(tcomm, sizeof(tcomm), tf) && strcmp(tcomm, comm) == 0;
        fclose(tf);
        if (same)
            lower_thread((pid_t)tid);
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

/* One target's Trivy scan, on its own thread so that only Go work runs at the lowest priority:
 * the scan thread itself keeps its priority (it spools, taking the spool's lock). */
typedef struct {
    const char *root, *db_dir;
    sr_trivy_scan_opts opts;
    sr_trivy_result res;
    char *err;
    int ret;
} trivy_job;

static void *trivy_worker(void *arg) {
    trivy_job *j = arg;
    pthread_setname_np(pthread_self(), "sr-trivy");
    lower_go_threads();
    j->ret = sr_trivy_scan(j->root, j->db_dir, &j->opts, &j->res, &j->err);
    return NULL;
}

static int stop_requested(sr_scan *s, const run_hooks *h) {
    pthread_mutex_lock(&s->lock);
    int stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop || (h && h->cancelled && h->cancelled(h->userdata));
}

/* Runs job on a worker and waits, turning a stop or a cancelled command into the bridge's
 * cancel flag (checked every 200 ms here, every 100 ms by the bridge). */
static void run_trivy_job(sr_scan *s, const run_hooks *h, trivy_job *j) {
    __atomic_store_n(&s->cancel, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&s->lock);
    if (s->stop)
        __atomic_store_n(&s->cancel, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&s->lock);
    j->opts.cancel = &s->cancel;
    pthread_t th;
    int r = pthread_create(&th, NULL, trivy_worker, j);
    if (r != 0) {
        j->ret = -r;
        return;
    }
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(th, NULL, &ts) == 0)
            break;
        if (stop_requested(s, h))
            __atomic_store_n(&s->cancel, 1, __ATOMIC_SEQ_CST);
    }
}

/* Directories the host scan leaves out: container storage (containers are scanned as their own
 * targets, through their processes) and network filesystems (a dead server would hang the scan).
 * Relative to the host root; the caller's own list comes first. */
static const char *const host_skip_default[] = {
    "var/lib/docker", "var/lib/containerd", "var/lib/containers", "run/containerd", "run/containers",
    "var/lib/kubelet/pods", "var/lib/lxc", "var/lib/lxd", "var/lib/incus", "var/lib/machines",
};

static int network_fs(const char *type) {
    static const char *const t[] = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs",
                                    "9p", "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs", "fuse.rclone", "davfs"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(type, t[i]) == 0)
            return 1;
    return 0;
}

/* The host scan's skip list (NULL-terminated, strings owned by *store): configured, defaults, and
 * network mount points under the host root when it is "/". */
static const char **host_skip_dirs(sr_scan *s, char **store) {
    size_t cap = SKIP_DIRS_MAX + sizeof(host_skip_default) / sizeof(host_skip_default[0]) + 64 + 1, n = 0;
    const char **v = calloc(cap, sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; s->skip_dirs[i]; i++)
        v[n++] = s->skip_dirs[i];
    for (size_t i = 0; i < sizeof(host_skip_default) / sizeof(host_skip_default[0]); i++)
        v[n++] = host_skip_default[i];
    *store = NULL;
    if (strcmp(s->host_root, "/") == 0) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/self/mounts", s->proc_root);
        size_t len = 0;
        if (sr_file_read_all(path, 4u << 20, store, &len) == 0) {
            char *save = NULL;
            for (char *line = strtok_r(*store, "\n", &save); line && n + 1 < cap;
                 line = strtok_r(NULL, "\n", &save)) {
                char *sp1 = strchr(line, ' ');
                char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
                char *sp3 = sp2 ? strchr(sp2 + 1, ' ') : NULL;
                if (!sp3)
                    continue;
                *sp2 = '\0';
                *sp3 = '\0';
                if (network_fs(sp2 + 1) && sp1[1] == '/' && sp1[2] != '\0' && !strchr(sp1 + 1, '\\'))
                    v[n++] = sp1 + 2; /* mount point without its leading '/' (octal escapes: skipped) */
            }
        }
    }
    v[n] = NULL;
    return v;
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
    _cleanup_free_ char *mounts = NULL;
    _cleanup_free_ const char **host_skip = host_skip_dirs(s, &mounts);
    if (!host_skip) {
        sr_errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Scans may fill half the spool: telemetry keeps the other half. */
    uint64_t spool_limit = s->cfg.spool_max_bytes / 2;

    uint64_t pkgs = 0, vulns = 0, parts = 0;
    size_t scanned = 0, failed = 0;
    json_t *failures = json_array();
    for (size_t i = 0; i < n; i++) {
        const sr_scan_target *t = &targets[i];
        if (stop_requested(s, h)) {
            sr_errf(err, errlen, "cancelled after %zu of %zu targets", i, n);
            json_decref(failures);
            return -ECANCELED;
        }
        report_progress(h, (unsigned)(i * 100 / n), "scanning %s (%zu of %zu)", t->target, i + 1, n);
        int64_t started = sr_now_unix_ms();
        /* A container is scanned through an fd opened on its process's root after checking that the
         * process still belongs to it: a pid reused since the listing cannot redirect the scan. */
        int root_fd = -1;
        char root[64];
        const char *scan_root = t->root;
        trivy_job j = {.db_dir = s->db_dir,
                       .opts = {.parallel = s->cfg.parallel,
                                .timeout_s = (int)(s->cfg.timeout_ms / 1000),
                                .skip_dirs = t->pid ? s->skip_dirs : host_skip}};
        if (t->pid) {
            r = sr_scan_target_open(s->proc_root, t, &root_fd);
            if (r == 0) {
                snprintf(root, sizeof(root), "/proc/self/fd/%d", root_fd);
                scan_root = root;
            } else {
                j.ret = r;
                j.err = strdup(r == -ESRCH ? "the container's process is gone" : strerror(-r));
            }
        }
        if (!t->pid || root_fd >= 0) {
            j.root = scan_root;
            run_trivy_job(s, h, &j);
        }
        if (root_fd >= 0)
            close(root_fd);
        int64_t finished = sr_now_unix_ms();
        r = j.ret;
        if (r == 0) {
            const char *name = t->pid ? t->runtime : s->hostname;
            sr_scan_doc_info di = {.agent_id = s->agent_id, .scan_id = scan_id, .target = t->target,
                                   .target_name = name, .kind = "report", .db_version = db_version,
                                   .scanner_version = scanner, .started_unix_ms = started,
                                   .finished_unix_ms = finished, .targets_in_run = (uint32_t)n,
                                   .spool_max_bytes = spool_limit};
            uint32_t np = 0, ns = 0;
            /* Both documents or neither: the core must not apply a report whose SBOM could not go. */
            r = sr_scan_spool_fits(s->spool, spool_limit, j.res.report_len + j.res.sbom_len);
            if (r == 0)
                r = sr_scan_spool_document(s->spool, &di, j.res.report, j.res.report_len, &np);
            if (r == 0) {
                di.kind = "sbom";
                r = sr_scan_spool_document(s->spool, &di, j.res.sbom, j.res.sbom_len, &ns);
            }
            if (r == 0) {
                pkgs += j.res.packages;
                vulns += j.res.vulnerabilities;
                parts += np + ns;
                scanned++;
                sr_info("scan %s: %s: %" PRIu64 " packages, %" PRIu64 " vulnerabilities, %.1f s, %u parts spooled",
                        scan_id, t->target, j.res.packages, j.res.vulnerabilities,
                        (double)(finished - started) / 1000.0, np + ns);
            } else {
                free(j.err);
                char m[160];
                snprintf(m, sizeof(m), "could not spool the results: %s",
                         r == -ENOSPC ? "the spool has no room for them (scans may fill half of spool.max_bytes)"
                                      : strerror(-r));
                j.err = strdup(m);
            }
        }
        if (r < 0) {
            failed++;
            const char *why = j.err ? j.err : strerror(-r);
            sr_warn("scan %s: %s (%s) failed: %s", scan_id, t->target, t->root, why);
            if (json_array_size(failures) < FAILED_LIST_MAX)
                json_array_append_new(failures, json_pack("{s:s, s:s}", "target", t->target, "error", why));
        }
        sr_trivy_result_done(&j.res);
        free(j.err);
        if (r == -ECANCELED && stop_requested(s, h)) {
            sr_errf(err, errlen, "cancelled during %s (%zu of %zu targets)", t->target, i + 1, n);
            json_decref(failures);
            return -ECANCELED;
        }
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
    pthread_setname_np(pthread_self(), "sr-scan");
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
    /* The caller's strings need not outlive this call: cfg points at the copies. */
    s->cfg.agent_id = s->agent_id;
    s->cfg.hostname = s->hostname;
    s->cfg.data_dir = s->data_dir;
    s->cfg.db_dir = s->db_dir;
    s->cfg.host_root = s->host_root;
    s->cfg.proc_root = s->proc_root;
    s->cfg.skip_dirs = NULL;
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
        __atomic_store_n(&s->cancel, 1, __ATOMIC_SEQ_CST);
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
