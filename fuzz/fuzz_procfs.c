/* Fuzz target: every /proc parser of the metrics collector on the same arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sr_procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_mount(const char *source, const char *target, const char *fstype, void *ud) {
    size_t *n = ud;
    *n += strlen(source) + strlen(target) + strlen(fstype);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    sr_cpu_sample cpus[8];
    sr_disk_sample disks[4];
    sr_net_sample nets[4];
    sr_meminfo mi;
    double load[3];
    size_t n = 0;
    (void)sr_procfs_parse_stat(buf, size, cpus, 8, &n);
    (void)sr_procfs_parse_stat(buf, size, cpus, 1, &n);
    (void)sr_procfs_parse_meminfo(buf, size, &mi);
    (void)sr_procfs_parse_loadavg(buf, size, load);
    (void)sr_procfs_parse_diskstats(buf, size, disks, 4, &n);
    (void)sr_procfs_parse_netdev(buf, size, nets, 4, &n);
    (void)sr_procfs_parse_mounts(buf, size, on_mount, &n);
    return 0;
}
