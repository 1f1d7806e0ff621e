/* The "metrics" collector (host CPU, memory, swap, load, filesystems, disk I/O, network).
 * Exposed beyond its descriptor so that tests can drive it on fixture trees. */
#pragma once
#include "sr_collector.h"

typedef struct {
    int per_cpu;         /* cpu.usage_pct per core as well as the total */
    int include_loop;    /* disk I/O of loop and ram devices */
    int include_overlay; /* overlay filesystems as disks */
    char *host_root;     /* prefix for statvfs of mount points ("" = none) */
} sr_metrics_config;

typedef struct sr_metrics sr_metrics;

/* cfg NULL: defaults. proc_root/sys_root NULL or "": /proc and /sys. */
int sr_metrics_new(const sr_metrics_config *cfg, const char *proc_root, const char *sys_root, sr_metrics **ret);
/* Appends this sample's points; rates and CPU percentages compare with the previous call.
 * Returns 0, the first error of a source that could not be read (the others still report),
 * or -ENOSPC when out is full. */
int sr_metrics_collect(sr_metrics *m, const sr_collect_time *t, sr_points *out);
sr_metrics *sr_metrics_free(sr_metrics *m);

extern const sr_collector sr_collector_metrics;
