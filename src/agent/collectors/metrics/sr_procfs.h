/* sr_procfs: parsers for the /proc files the metrics collector reads. Each takes a buffer
 * that need not be NUL-terminated, never reads past len, writes at most cap entries and
 * skips lines it does not understand. They are fuzzed (fuzz/fuzz_procfs.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SR_PROCFS_NAME_MAX 64 /* device and interface names (longer lines are skipped) */
#define SR_PROCFS_PATH_MAX 4096

typedef struct {
    int cpu;         /* -1 for the "cpu" total line, else N of "cpuN" */
    uint64_t total;  /* user+nice+system+idle+iowait+irq+softirq+steal (guest is in user) */
    uint64_t idle;   /* idle+iowait */
    uint64_t iowait;
} sr_cpu_sample;

/* /proc/stat: the cpu lines. Returns 0 (the total line first when present) or -ENODATA when
 * there is no "cpu" total line. *ret_n may equal cap when lines were left out. */
int sr_procfs_parse_stat(const char *buf, size_t len, sr_cpu_sample *out, size_t cap, size_t *ret_n);

typedef struct {
    uint64_t total, available, swap_total, swap_free; /* bytes */
} sr_meminfo;

/* /proc/meminfo. MemAvailable falls back to MemFree+Buffers+Cached on kernels without it.
 * Returns 0 or -ENODATA without MemTotal. */
int sr_procfs_parse_meminfo(const char *buf, size_t len, sr_meminfo *ret);

/* /proc/loadavg: the three averages. 0 or -EINVAL. */
int sr_procfs_parse_loadavg(const char *buf, size_t len, double ret[3]);

typedef struct {
    char name[SR_PROCFS_NAME_MAX];
    uint64_t reads, sectors_read, writes, sectors_written; /* sectors are 512 bytes */
} sr_disk_sample;

/* /proc/diskstats: every device line (partitions included; the caller filters). */
int sr_procfs_parse_diskstats(const char *buf, size_t len, sr_disk_sample *out, size_t cap, size_t *ret_n);

typedef struct {
    char name[SR_PROCFS_NAME_MAX];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_drops;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_drops;
} sr_net_sample;

/* /proc/net/dev: one entry per interface. */
int sr_procfs_parse_netdev(const char *buf, size_t len, sr_net_sample *out, size_t cap, size_t *ret_n);

/* /proc/<pid>/mounts: calls fn for each well-formed line with the octal escapes (\040 …)
 * decoded. fn returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*sr_procfs_mount_fn)(const char *source, const char *target, const char *fstype, void *userdata);
int sr_procfs_parse_mounts(const char *buf, size_t len, sr_procfs_mount_fn fn, void *userdata);
