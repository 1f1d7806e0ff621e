/* Collector "metrics": host CPU, memory, swap, load, filesystems, disk I/O and network
 * counters from <proc_root> and <sys_root>. Metric names and units: contracts.md, "Agent
 * metric names". Rates and CPU percentages need two samples, so the first collect has none. */
#include "sr_metrics.h"

#include "sr_cleanup.h"
#include "sr_procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define READ_BUF_INITIAL (64u * 1024)
#define READ_BUF_MAX (4u * 1024 * 1024)
#define MAX_CPUS 8192u
#define MAX_DEVICES 4096u
#define MAX_FILESYSTEMS 1024u

static const sr_config_entry metrics_entries[] = {
    {"metrics.per_cpu", SR_CFG_BOOL, offsetof(sr_metrics_config, per_cpu), "true", 0, 0,
     "report cpu.usage_pct for each core as well as the total"},
    {"metrics.include_loop", SR_CFG_BOOL, offsetof(sr_metrics_config, include_loop), "false", 0, 0,
     "report disk I/O of loop and ram block devices"},
    {"metrics.include_overlay", SR_CFG_BOOL, offsetof(sr_metrics_config, include_overlay), "false", 0, 0,
     "report overlay filesystems (container roots) as disks"},
    {"metrics.host_root", SR_CFG_STRING, offsetof(sr_metrics_config, host_root), "", 0, 0,
     "prefix for statvfs of mount points, when the host's / is mounted elsewhere (e.g. /host in a container)"},
};

typedef struct {
    int fd;
    const char *rel; /* below proc_root */
} procfile;

typedef struct {
    sr_disk_sample s;
    int whole; /* -1 unknown, 0 partition or excluded, 1 whole disk */
} disk_entry;

struct sr_metrics {
    sr_metrics_config cfg;
    char proc_root[PATH_MAX];
    char sys_root[PATH_MAX];
    char *buf;
    size_t bufcap;
    procfile f_stat, f_meminfo, f_loadavg, f_diskstats, f_netdev, f_mounts;

    sr_cpu_sample *cpu_prev, *cpu_cur;
    size_t ncpu_prev, ncpu_cur, cpu_cap;

    sr_disk_sample *disk_cur;
    disk_entry *disk_prev, *disk_next;
    size_t ndisk_prev, disk_cap;
    int64_t disk_prev_mono;

    sr_net_sample *net_prev, *net_cur;
    size_t nnet_prev, net_cap;
    int64_t net_prev_mono;

    uint64_t fs_seen[MAX_FILESYSTEMS];
};

/* ---- files ---- */

static void procfile_close(procfile *f) {
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Reads the whole file (from the start, on the fd kept open) into m->buf. A file larger than
 * READ_BUF_MAX is cut at its last complete line. */
static int procfile_read(sr_metrics *m, procfile *f, size_t *ret_len) {
    if (f->fd < 0) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", m->proc_root, f->rel);
        if (n < 0 || (size_t)n >= sizeof(path))
            return -ENAMETOOLONG;
        f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (f->fd < 0)
            return -errno;
    }
    if (lseek(f->fd, 0, SEEK_SET) < 0) {
        int r = -errno;
        procfile_close(f);
        return r;
    }
    size_t len = 0;
    for (;;) {
        if (len == m->bufcap) {
            if (m->bufcap >= READ_BUF_MAX) {
                const char *nl = len ? memrchr(m->buf, '\n', len) : NULL;
                len = nl ? (size_t)(nl - m->buf) + 1 : 0;
                break;
            }
            char *nb = realloc(m->buf, m->bufcap * 2);
            if (!nb)
                return -ENOMEM;
            m->buf = nb;
            m->bufcap *= 2;
        }
        ssize_t n = read(f->fd, m->buf + len, m->bufcap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int r = -errno;
            procfile_close(f);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *ret_len = len;
    return 0;
}

/* ---- lifecycle ---- */

static void *metrics_free_state(void *state) { return sr_metrics_free(state); }

sr_metrics *sr_metrics_free(sr_metrics *m) {
    if (!m)
        return NULL;
    procfile *files[] = {&m->f_stat, &m->f_meminfo, &m->f_loadavg, &m->f_diskstats, &m->f_netdev, &m->f_mounts};
    for (size_t i = 0; i < SR_ARRAY_SIZE(files); i++)
        procfile_close(files[i]);
    free(m->buf);
    free(m->cpu_prev);
    free(m->cpu_cur);
    free(m->disk_cur);
    free(m->disk_prev);
    free(m->disk_next);
    free(m->net_prev);
    free(m->net_cur);
    free(m->cfg.host_root);
    free(m);
    return NULL;
}

int sr_metrics_new(const sr_metrics_config *cfg, const char *proc_root, const char *sys_root, sr_metrics **ret) {
    if (!proc_root || !*proc_root)
        proc_root = "/proc";
    if (!sys_root || !*sys_root)
        sys_root = "/sys";
    if (strlen(proc_root) >= PATH_MAX - 64 || strlen(sys_root) >= PATH_MAX - 64)
        return -ENAMETOOLONG;
    sr_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    procfile *files[] = {&m->f_stat, &m->f_meminfo, &m->f_loadavg, &m->f_diskstats, &m->f_netdev, &m->f_mounts};
    for (size_t i = 0; i < SR_ARRAY_SIZE(files); i++)
        files[i]->fd = -1;
    m->f_stat.rel = "stat";
    m->f_meminfo.rel = "meminfo";
    m->f_loadavg.rel = "loadavg";
    m->f_diskstats.rel = "diskstats";
    m->f_netdev.rel = "net/dev";
    m->f_mounts.rel = "self/mounts";
    snprintf(m->proc_root, sizeof(m->proc_root), "%s", proc_root);
    snprintf(m->sys_root, sizeof(m->sys_root), "%s", sys_root);
    m->cfg.per_cpu = cfg ? cfg->per_cpu : 1;
    m->cfg.include_loop = cfg ? cfg->include_loop : 0;
    m->cfg.include_overlay = cfg ? cfg->include_overlay : 0;
    m->cfg.host_root = strdup(cfg && cfg->host_root ? cfg->host_root : "");
    m->buf = malloc(READ_BUF_INITIAL);
    if (!m->cfg.host_root || !m->buf) {
        sr_metrics_free(m);
        return -ENOMEM;
    }
    m->bufcap = READ_BUF_INITIAL;
    *ret = m;
    return 0;
}

/* The next capacity (doubling, up to max) or 0 at max. */
static size_t next_cap(size_t cap, size_t max) {
    if (cap >= max)
        return 0;
    size_t n = cap ? cap * 2 : 16;
    return n > max ? max : n;
}

/* Resizes the array ptr to n elements; false (ptr untouched) when out of memory. */
#define RESIZE(ptr, n)                                                                                                 \
    ({                                                                                                                 \
        void *np_ = realloc((ptr), (n) * sizeof(*(ptr)));                                                             \
        if (np_)                                                                                                       \
            (ptr) = np_;                                                                                               \
        np_ != NULL;                                                                                                   \
    })

/* ---- cpu ---- */

static double pct(uint64_t part, uint64_t whole) {
    double v = 100.0 * (double)part / (double)whole;
    return v < 0 ? 0 : v > 100 ? 100 : v;
}

static const sr_cpu_sample *cpu_find(const sr_cpu_sample *v, size_t n, size_t hint, int cpu) {
    if (hint < n && v[hint].cpu == cpu)
        return &v[hint];
    for (size_t i = 0; i < n; i++)
        if (v[i].cpu == cpu)
            return &v[i];
    return NULL;
}

static int collect_cpu(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_stat, &len);
    if (r < 0)
        return r;
    size_t n = 0;
    for (;;) {
        if (m->cpu_cap > 0) {
            r = sr_procfs_parse_stat(m->buf, len, m->cpu_cur, m->cpu_cap, &n);
            if (r < 0)
                return r;
            if (n < m->cpu_cap)
                break;
        }
        size_t cap = next_cap(m->cpu_cap, MAX_CPUS);
        if (cap == 0)
            break;
        if (!RESIZE(m->cpu_cur, cap) || !RESIZE(m->cpu_prev, cap))
            return -ENOMEM;
        m->cpu_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        const sr_cpu_sample *c = &m->cpu_cur[i];
        const sr_cpu_sample *p = cpu_find(m->cpu_prev, m->ncpu_prev, i, c->cpu);
        if (!p || c->total <= p->total || c->idle < p->idle || c->iowait < p->iowait)
            continue; /* first sample, no time passed, or counters reset */
        uint64_t dt = c->total - p->total, di = c->idle - p->idle;
        if (di > dt)
            continue;
        if (c->cpu < 0) {
            r = sr_points_add(out, "cpu.usage_pct", "total", 100.0 - pct(di, dt), t->unix_ms);
            if (r == 0)
                r = sr_points_add(out, "cpu.iowait_pct", "total", pct(c->iowait - p->iowait, dt), t->unix_ms);
        } else if (m->cfg.per_cpu) {
            char dim[32];
            snprintf(dim, sizeof(dim), "cpu%d", c->cpu);
            r = sr_points_add(out, "cpu.usage_pct", dim, 100.0 - pct(di, dt), t->unix_ms);
        }
        if (r == -ENOSPC)
            return r;
    }
    sr_cpu_sample *tmp = m->cpu_prev;
    m->cpu_prev = m->cpu_cur;
    m->cpu_cur = tmp;
    m->ncpu_prev = n;
    return 0;
}

/* ---- memory, swap, load ---- */

static int collect_mem(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_meminfo, &len);
    if (r < 0)
        return r;
    sr_meminfo mi;
    r = sr_procfs_parse_meminfo(m->buf, len, &mi);
    if (r < 0)
        return r;
    uint64_t used = mi.total - mi.available;
    struct {
        const char *name;
        double v;
    } pts[] = {
        {"mem.total_bytes", (double)mi.total},
        {"mem.available_bytes", (double)mi.available},
        {"mem.used_bytes", (double)used},
        {"mem.used_pct", mi.total ? pct(used, mi.total) : 0},
        {"swap.total_bytes", (double)mi.swap_total},
        {"swap.used_bytes", (double)(mi.swap_total - mi.swap_free)},
    };
    for (size_t i = 0; i < SR_ARRAY_SIZE(pts); i++) {
        r = sr_points_add(out, pts[i].name, "", pts[i].v, t->unix_ms);
        if (r < 0)
            return r;
    }
    return 0;
}

static int collect_load(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_loadavg, &len);
    if (r < 0)
        return r;
    double l[3];
    r = sr_procfs_parse_loadavg(m->buf, len, l);
    if (r < 0)
        return r;
    static const char *const names[] = {"load.1", "load.5", "load.15"};
    for (int i = 0; i < 3; i++) {
        r = sr_points_add(out, names[i], "", l[i], t->unix_ms);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- filesystems ---- */

static bool fstype_is_pseudo(const char *fs, bool include_overlay) {
    static const char *const pseudo[] = {
        "proc",      "sysfs",      "tmpfs",      "devtmpfs", "devpts",   "cgroup",    "cgroup2",   "securityfs",
        "debugfs",   "tracefs",    "pstore",     "bpf",      "mqueue",   "hugetlbfs", "configfs",  "fusectl",
        "autofs",    "binfmt_misc", "rpc_pipefs", "nsfs",    "efivarfs", "ramfs",     "selinuxfs", "squashfs",
        "rootfs",    "nfsd",       "sockfs",     "pipefs",   "devfs",    "shm",       "overlay",   "aufs",
        /* network filesystems: statvfs can block on an unreachable server */
        "nfs",       "nfs4",       "cifs",       "smb3",     "smbfs",    "ceph",      "glusterfs", "9p",
        "afs",       "davfs",      "lustre",     "virtiofs",
    };
    if (strncmp(fs, "fuse", 4) == 0) /* fuse, fuse.sshfs, fuse.lxcfs, fuseblk? keep fuseblk */
        return strcmp(fs, "fuseblk") != 0;
    if (include_overlay && strcmp(fs, "overlay") == 0)
        return false;
    for (size_t i = 0; i < SR_ARRAY_SIZE(pseudo); i++)
        if (strcmp(fs, pseudo[i]) == 0)
            return true;
    return false;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

typedef struct {
    sr_metrics *m;
    const sr_collect_time *t;
    sr_points *out;
    size_t nseen;
    int err;
} fs_ctx;

static int fs_visit(const char *source, const char *target, const char *fstype, void *userdata) {
    fs_ctx *c = userdata;
    sr_metrics *m = c->m;
    if (fstype_is_pseudo(fstype, m->cfg.include_overlay) || target[0] != '/')
        return 0;
    /* one filesystem mounted several times (bind mounts, subvolumes) is reported once */
    uint64_t h = fnv1a(source);
    for (size_t i = 0; i < c->nseen; i++)
        if (m->fs_seen[i] == h)
            return 0;
    if (c->nseen >= MAX_FILESYSTEMS)
        return 1;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s%s", m->cfg.host_root, target);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    struct statvfs sv;
    if (statvfs(path, &sv) < 0 || sv.f_blocks == 0)
        return 0;
    m->fs_seen[c->nseen++] = h;
    uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    double total = (double)sv.f_blocks * (double)bs;
    double used = (double)(sv.f_blocks - (sv.f_bfree < sv.f_blocks ? sv.f_bfree : sv.f_blocks)) * (double)bs;
    double avail = (double)sv.f_bavail * (double)bs;
    double used_pct = used + avail > 0 ? 100.0 * used / (used + avail) : 0;
    int r = sr_points_add(c->out, "disk.total_bytes", target, total, c->t->unix_ms);
    if (r == 0)
        r = sr_points_add(c->out, "disk.used_bytes", target, used, c->t->unix_ms);
    if (r == 0)
        r = sr_points_add(c->out, "disk.free_bytes", target, avail, c->t->unix_ms);
    if (r == 0)
        r = sr_points_add(c->out, "disk.used_pct", target, used_pct, c->t->unix_ms);
    if (r == -ENOSPC || r == -ENOMEM) {
        c->err = r;
        return 1;
    }
    return 0; /* an odd mount point name skips that filesystem only */
}

static int collect_fs(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_mounts, &len);
    if (r == -ENOENT && strcmp(m->f_mounts.rel, "self/mounts") == 0) {
        m->f_mounts.rel = "1/mounts";
        r = procfile_read(m, &m->f_mounts, &len);
    }
    if (r < 0)
        return r;
    fs_ctx c = {.m = m, .t = t, .out = out};
    (void)sr_procfs_parse_mounts(m->buf, len, fs_visit, &c);
    return c.err;
}

/* ---- rates ---- */

/* Per-second rate of a counter; false when it went backwards (wrap or reset). */
static bool rate(uint64_t cur, uint64_t prev, double secs, double *ret) {
    if (cur < prev || secs <= 0)
        return false;
    *ret = (double)(cur - prev) / secs;
    return true;
}

static int add_rate(sr_points *out, const char *name, const char *dim, uint64_t cur, uint64_t prev, double secs,
                    int64_t t) {
    double v;
    if (!rate(cur, prev, secs, &v))
        return 0;
    return sr_points_add(out, name, dim, v, t);
}

static const disk_entry *disk_find(const disk_entry *v, size_t n, size_t hint, const char *name) {
    if (hint < n && strcmp(v[hint].s.name, name) == 0)
        return &v[hint];
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].s.name, name) == 0)
            return &v[i];
    return NULL;
}

static int disk_is_whole(const sr_metrics *m, const char *name) {
    if (!m->cfg.include_loop && (strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0))
        return 0;
    char sysname[SR_PROCFS_NAME_MAX];
    snprintf(sysname, sizeof(sysname), "%s", name);
    for (char *p = sysname; *p; p++)
        if (*p == '/')
            *p = '!'; /* cciss/c0d0 is /sys/block/cciss!c0d0 */
    if (strcmp(sysname, ".") == 0 || strcmp(sysname, "..") == 0)
        return 0;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/block/%s", m->sys_root, sysname);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    return access(path, F_OK) == 0 ? 1 : 0;
}

static int collect_diskio(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_diskstats, &len);
    if (r < 0)
        return r;
    size_t n = 0;
    for (;;) {
        if (m->disk_cap > 0) {
            (void)sr_procfs_parse_diskstats(m->buf, len, m->disk_cur, m->disk_cap, &n);
            if (n < m->disk_cap)
                break;
        }
        size_t cap = next_cap(m->disk_cap, MAX_DEVICES);
        if (cap == 0)
            break;
        if (!RESIZE(m->disk_cur, cap) || !RESIZE(m->disk_prev, cap) || !RESIZE(m->disk_next, cap))
            return -ENOMEM;
        m->disk_cap = cap;
    }
    double secs = (double)(t->mono_ms - m->disk_prev_mono) / 1000.0;
    bool have_prev = m->ndisk_prev > 0;
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        const sr_disk_sample *d = &m->disk_cur[i];
        const disk_entry *p = disk_find(m->disk_prev, m->ndisk_prev, i, d->name);
        int whole = p ? p->whole : disk_is_whole(m, d->name);
        m->disk_next[nn++] = (disk_entry){.s = *d, .whole = whole};
        if (!whole || !p || !have_prev)
            continue;
        r = add_rate(out, "diskio.read_bytes_per_s", d->name, d->sectors_read * 512, p->s.sectors_read * 512, secs,
                     t->unix_ms);
        if (r == 0)
            r = add_rate(out, "diskio.write_bytes_per_s", d->name, d->sectors_written * 512,
                         p->s.sectors_written * 512, secs, t->unix_ms);
        if (r == 0)
            r = add_rate(out, "diskio.reads_per_s", d->name, d->reads, p->s.reads, secs, t->unix_ms);
        if (r == 0)
            r = add_rate(out, "diskio.writes_per_s", d->name, d->writes, p->s.writes, secs, t->unix_ms);
        if (r == -ENOSPC || r == -ENOMEM)
            return r;
    }
    disk_entry *tmp = m->disk_prev;
    m->disk_prev = m->disk_next;
    m->disk_next = tmp;
    m->ndisk_prev = nn;
    m->disk_prev_mono = t->mono_ms;
    return 0;
}

static const sr_net_sample *net_find(const sr_net_sample *v, size_t n, size_t hint, const char *name) {
    if (hint < n && strcmp(v[hint].name, name) == 0)
        return &v[hint];
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static int collect_net(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    size_t len;
    int r = procfile_read(m, &m->f_netdev, &len);
    if (r < 0)
        return r;
    size_t n = 0;
    for (;;) {
        if (m->net_cap > 0) {
            (void)sr_procfs_parse_netdev(m->buf, len, m->net_cur, m->net_cap, &n);
            if (n < m->net_cap)
                break;
        }
        size_t cap = next_cap(m->net_cap, MAX_DEVICES);
        if (cap == 0)
            break;
        if (!RESIZE(m->net_cur, cap) || !RESIZE(m->net_prev, cap))
            return -ENOMEM;
        m->net_cap = cap;
    }
    double secs = (double)(t->mono_ms - m->net_prev_mono) / 1000.0;
    for (size_t i = 0; i < n && m->nnet_prev > 0; i++) {
        const sr_net_sample *c = &m->net_cur[i];
        const sr_net_sample *p = net_find(m->net_prev, m->nnet_prev, i, c->name);
        if (!p)
            continue;
        const struct {
            const char *name;
            uint64_t cur, prev;
        } rs[] = {
            {"net.rx_bytes_per_s", c->rx_bytes, p->rx_bytes},       {"net.tx_bytes_per_s", c->tx_bytes, p->tx_bytes},
            {"net.rx_packets_per_s", c->rx_packets, p->rx_packets}, {"net.tx_packets_per_s", c->tx_packets, p->tx_packets},
            {"net.rx_errors_per_s", c->rx_errors, p->rx_errors},    {"net.tx_errors_per_s", c->tx_errors, p->tx_errors},
            {"net.rx_drops_per_s", c->rx_drops, p->rx_drops},       {"net.tx_drops_per_s", c->tx_drops, p->tx_drops},
        };
        for (size_t k = 0; k < SR_ARRAY_SIZE(rs); k++) {
            r = add_rate(out, rs[k].name, c->name, rs[k].cur, rs[k].prev, secs, t->unix_ms);
            if (r == -ENOSPC || r == -ENOMEM)
                return r;
        }
    }
    sr_net_sample *tmp = m->net_prev;
    m->net_prev = m->net_cur;
    m->net_cur = tmp;
    m->nnet_prev = n;
    m->net_prev_mono = t->mono_ms;
    return 0;
}

int sr_metrics_collect(sr_metrics *m, const sr_collect_time *t, sr_points *out) {
    int (*const parts[])(sr_metrics *, const sr_collect_time *, sr_points *) = {
        collect_cpu, collect_mem, collect_load, collect_fs, collect_diskio, collect_net,
    };
    int first_err = 0;
    for (size_t i = 0; i < SR_ARRAY_SIZE(parts); i++) {
        int r = parts[i](m, t, out);
        if (r == -ENOSPC)
            return r;
        if (r < 0 && first_err == 0)
            first_err = r;
    }
    return first_err;
}

/* ---- plug-in descriptor ---- */

static int metrics_init(const void *config, const sr_collector_env *env, void **ret_state) {
    sr_metrics *m;
    int r = sr_metrics_new(config, env->proc_root, env->sys_root, &m);
    if (r == 0)
        *ret_state = m;
    return r;
}

static int metrics_collect(void *state, const sr_collect_time *t, sr_points *out) {
    return sr_metrics_collect(state, t, out);
}

const sr_collector sr_collector_metrics = {
    .name = "metrics",
    .help = "host metrics from /proc and /sys",
    .config = metrics_entries,
    .n_config = SR_ARRAY_SIZE(metrics_entries),
    .config_size = sizeof(sr_metrics_config),
    .init = metrics_init,
    .collect = metrics_collect,
    .free = metrics_free_state,
};
