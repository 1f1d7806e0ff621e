/* sr_scan_target: what one scan run covers: the host's root filesystem and each running
 * container's, reached through /proc/<pid>/root of a process in it. A container is a process
 * whose cgroup path names a container runtime (Docker, containerd, CRI-O, Podman, LXC, Kubernetes
 * pods) and whose mount namespace differs from the agent's. */
#pragma once
#include <stddef.h>

#define SR_SCAN_ID_MAX 128     /* container id: 1..128 of [A-Za-z0-9._-] (the contract) */
#define SR_SCAN_RUNTIME_MAX 16
#define SR_SCAN_TARGET_MAX 160 /* "container:" + id, NUL included */

typedef struct {
    char target[SR_SCAN_TARGET_MAX];   /* "host" or "container:<id>" */
    char runtime[SR_SCAN_RUNTIME_MAX]; /* "", "docker", "containerd", "crio", "podman", "lxc", "kubepods" */
    char root[64 + SR_SCAN_ID_MAX];    /* directory to scan */
    int pid;                           /* a process in the container (0 for the host) */
} sr_scan_target;

/* Finds a container id in the text of /proc/<pid>/cgroup (any cgroup version). Returns 1 with
 * runtime and id (NUL-terminated, id valid per the contract) when one is named, 0 when none,
 * -EINVAL on bad arguments. Pure function over (text, len); fuzzed. */
int sr_scan_container_id(const char *text, size_t len, char *runtime, size_t runtime_len, char *id, size_t id_len);

/* Lists the host (first, root host_root) and up to max_containers containers found under
 * proc_root, one per container (its lowest pid), sorted by target. *ret is malloc'ed (caller
 * frees); *ret_skipped counts containers beyond max_containers. max_containers 0: the host only,
 * /proc is not read. */
int sr_scan_targets_list(const char *proc_root, const char *host_root, size_t max_containers, sr_scan_target **ret,
                         size_t *ret_n, size_t *ret_skipped);

/* Opens (O_PATH) the root directory of container target t through its pid, then checks that the
 * pid still belongs to that container, so a pid reused since the listing cannot redirect a scan.
 * 0 with *ret_fd (the caller closes it; scan "/proc/self/fd/<fd>"), -ESRCH when the process is
 * gone or elsewhere now, or a negative errno. */
int sr_scan_target_open(const char *proc_root, const sr_scan_target *t, int *ret_fd);
