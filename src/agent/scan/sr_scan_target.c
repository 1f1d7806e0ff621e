#include "sr_scan_target.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_parse.h"

#define CGROUP_READ_MAX (64 * 1024)
#define SR_SCAN_CONTAINERS_SEEN_MAX 4096

/* Path components that name a container. Each matches either "<prefix><id><suffix>" as a whole
 * component (systemd drivers: docker-<id>.scope) or, with parent set, any component directly below
 * a component equal to parent (cgroupfs drivers: /docker/<id>). hex64: the runtime's ids are 64 hex
 * digits (so "libpod-conmon-<id>.scope", the monitor process, is not a container). The deepest
 * matching component wins: Docker in LXC or kind nest containers. */
typedef struct {
    const char *runtime;
    const char *prefix; /* whole-component form */
    const char *suffix;
    const char *parent; /* child-of form */
    int hex64;
} pattern;

static const pattern patterns[] = {
    {"docker", "docker-", ".scope", NULL, 1},
    {"containerd", "cri-containerd-", ".scope", NULL, 1},
    {"crio", "crio-", ".scope", NULL, 1},
    {"podman", "libpod-", ".scope", NULL, 1},
    {"lxc", "lxc.payload.", "", NULL, 0},
    {"docker", NULL, NULL, "docker", 1},
    {"podman", NULL, NULL, "libpod_parent", 1},
    {"lxc", NULL, NULL, "lxc", 0},
    {"lxc", NULL, NULL, "lxc.payload", 0},
};

static int id_char(char c) {
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static int valid_id(const char *s, size_t n) {
    if (n == 0 || n > SR_SCAN_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return 0;
    return 1;
}

static int is_hex64(const char *s, size_t n) {
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int set_out(const char *rt, const char *id, size_t idn, int hex64, char *runtime, size_t runtime_len,
                   char *out, size_t out_len) {
    if (!valid_id(id, idn) || (hex64 && !is_hex64(id, idn)) || idn >= out_len || strlen(rt) >= runtime_len)
        return 0;
    memcpy(out, id, idn);
    out[idn] = '\0';
    snprintf(runtime, runtime_len, "%s", rt);
    return 1;
}

static int comp_eq(const char *c, size_t n, const char *s) {
    return strlen(s) == n && memcmp(c, s, n) == 0;
}

/* One cgroup path (the part after the second ':'); the deepest match wins. */
static int match_path(const char *p, size_t len, char *runtime, size_t runtime_len, char *id, size_t id_len) {
    const char *prev = NULL;
    size_t prevn = 0;
    int kube = 0, found = 0;
    const char *last_hex = NULL, *found_at = NULL;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        const char *c = p + start;
        size_t n = i - start;
        if (n == 0)
            break;
        if (n >= 8 && memcmp(c, "kubepods", 8) == 0)
            kube = 1;
        for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
            const pattern *pt = &patterns[k];
            if (pt->prefix) {
                size_t pl = strlen(pt->prefix), sl = strlen(pt->suffix);
                if (n > pl + sl && memcmp(c, pt->prefix, pl) == 0 && memcmp(c + n - sl, pt->suffix, sl) == 0 &&
                    set_out(pt->runtime, c + pl, n - pl - sl, pt->hex64, runtime, runtime_len, id, id_len)) {
                    found = 1;
                    found_at = c;
                    break;
                }
            } else if (prev && comp_eq(prev, prevn, pt->parent) &&
                       set_out(pt->runtime, c, n, pt->hex64, runtime, runtime_len, id, id_len)) {
                found = 1;
                found_at = c;
                break;
            }
        }
        if (is_hex64(c, n))
            last_hex = c;
        prev = c;
        prevn = n;
    }
    /* Kubernetes with the cgroupfs driver: .../kubepods/<qos>/pod<uid>/<64 hex>. */
    if (kube && last_hex && (!found || last_hex > found_at))
        found |= set_out("kubepods", last_hex, 64, 1, runtime, runtime_len, id, id_len);
    return found;
}

int sr_scan_container_id(const char *text, size_t len, char *runtime, size_t runtime_len, char *id, size_t id_len) {
    if (!text || !runtime || !id || runtime_len == 0 || id_len == 0)
        return -EINVAL;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n')
            i++;
        const char *line = text + start;
        size_t n = i - start;
        i++;
        /* hierarchy-id:controllers:path */
        const char *c1 = memchr(line, ':', n);
        if (!c1)
            continue;
        const char *c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line));
        if (!c2)
            continue;
        const char *path = c2 + 1;
        size_t plen = n - (size_t)(path - line);
        if (match_path(path, plen, runtime, runtime_len, id, id_len))
            return 1;
    }
    return 0;
}

static int read_small(int dirfd, const char *path, char *buf, size_t cap, size_t *ret_len) {
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *ret_len = n;
    return 0;
}

static int cmp_target(const void *a, const void *b) {
    const sr_scan_target *x = a, *y = b;
    return strcmp(x->target, y->target);
}

int sr_scan_targets_list(const char *proc_root, const char *host_root, size_t max_containers, sr_scan_target **ret,
                         size_t *ret_n, size_t *ret_skipped) {
    if (!proc_root || !host_root || !ret || !ret_n || !ret_skipped)
        return -EINVAL;
    size_t cap = 16, n = 0, skipped = 0;
    int r = 0;
    DIR *d = NULL;
    sr_scan_target *t = calloc(cap, sizeof(*t));
    char *buf = malloc(CGROUP_READ_MAX);
    if (!t || !buf) {
        r = -ENOMEM;
        goto out;
    }
    snprintf(t[0].target, sizeof(t[0].target), "host");
    if (snprintf(t[0].root, sizeof(t[0].root), "%s", host_root) >= (int)sizeof(t[0].root)) {
        r = -ENAMETOOLONG;
        goto out;
    }
    n = 1;
    if (max_containers == 0) /* containers are not looked for */
        goto done;
    d = opendir(proc_root);
    if (!d) {
        r = -errno;
        goto out;
    }
    int pfd = dirfd(d);
    /* Our own mount namespace and the host's (pid 1's: it differs from ours when the agent runs
     * in a container itself): a process in either has nothing of its own to scan. */
    struct stat self_ns, init_ns;
    char path[64];
    int have_self_ns = fstatat(pfd, "self/ns/mnt", &self_ns, 0) == 0;
    int have_init_ns = fstatat(pfd, "1/ns/mnt", &init_ns, 0) == 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t pid;
        if (sr_parse_i64(de->d_name, 1, 0x3fffffff, &pid) < 0)
            continue;
        size_t len = 0;
        snprintf(path, sizeof(path), "%" PRId64 "/cgroup", pid);
        if (read_small(pfd, path, buf, CGROUP_READ_MAX, &len) < 0)
            continue;
        char runtime[SR_SCAN_RUNTIME_MAX], id[SR_SCAN_ID_MAX + 1];
        if (sr_scan_container_id(buf, len, runtime, sizeof(runtime), id, sizeof(id)) != 1)
            continue;
        /* A process sharing our mount namespace sees our files: nothing of its own to scan. */
        struct stat ns;
        snprintf(path, sizeof(path), "%" PRId64 "/ns/mnt", pid);
        if (fstatat(pfd, path, &ns, 0) < 0)
            continue;
        if ((have_self_ns && ns.st_ino == self_ns.st_ino && ns.st_dev == self_ns.st_dev) ||
            (have_init_ns && ns.st_ino == init_ns.st_ino && ns.st_dev == init_ns.st_dev))
            continue;
        char target[SR_SCAN_TARGET_MAX];
        snprintf(target, sizeof(target), "container:%s", id);
        size_t k = 1;
        while (k < n && strcmp(t[k].target, target) != 0)
            k++;
        if (k < n) {
            if (pid < t[k].pid) {
                t[k].pid = (int)pid;
                snprintf(t[k].root, sizeof(t[k].root), "%s/%" PRId64 "/root", proc_root, pid);
            }
            continue;
        }
        if (n - 1 >= SR_SCAN_CONTAINERS_SEEN_MAX) {
            skipped++; /* past the hard bound, pids (not containers) are counted */
            continue;
        }
        if (n == cap) {
            sr_scan_target *nt = realloc(t, 2 * cap * sizeof(*t));
            if (!nt) {
                r = -ENOMEM;
                goto out;
            }
            t = nt;
            cap *= 2;
        }
        memset(&t[n], 0, sizeof(t[n]));
        snprintf(t[n].target, sizeof(t[n].target), "%s", target);
        snprintf(t[n].runtime, sizeof(t[n].runtime), "%s", runtime);
        if (snprintf(t[n].root, sizeof(t[n].root), "%s/%" PRId64 "/root", proc_root, pid) >= (int)sizeof(t[n].root))
            continue;
        t[n].pid = (int)pid;
        n++;
    }
    qsort(t + 1, n - 1, sizeof(*t), cmp_target);
done:
    if (n - 1 > max_containers) {
        skipped += n - 1 - max_containers;
        n = 1 + max_containers;
    }
    *ret = t;
    t = NULL;
    *ret_n = n;
    *ret_skipped = skipped;
out:
    if (d)
        closedir(d);
    free(buf);
    free(t);
    return r;
}

int sr_scan_target_open(const char *proc_root, const sr_scan_target *t, int *ret_fd) {
    if (!proc_root || !t || t->pid <= 0 || !ret_fd)
        return -EINVAL;
    char path[64 + SR_SCAN_ID_MAX];
    if (snprintf(path, sizeof(path), "%s/%d/root", proc_root, t->pid) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    /* Checked after the open: the fd is this pid's root, and the pid is still in the container. */
    char buf[4096], runtime[SR_SCAN_RUNTIME_MAX], id[SR_SCAN_ID_MAX + 1], target[SR_SCAN_TARGET_MAX];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, t->pid);
    int r = read_small(AT_FDCWD, path, buf, sizeof(buf), &len);
    if (r < 0) {
        close(fd);
        return r == -ENOENT ? -ESRCH : r;
    }
    if (sr_scan_container_id(buf, len, runtime, sizeof(runtime), id, sizeof(id)) != 1 ||
        snprintf(target, sizeof(target), "container:%s", id) >= (int)sizeof(target) || strcmp(target, t->target)) {
        close(fd);
        return -ESRCH;
    }
    *ret_fd = fd;
    return 0;
}
