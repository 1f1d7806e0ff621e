/* The metrics collector over fixture trees (tests/unit/agent/data/proc1 then proc2, 15 s
 * apart): exact values for two consecutive samples; the /proc parsers on damaged input; the
 * point buffer's limits and JSON lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "sr_file.h"
#include "sr_metrics.h"
#include "sr_procfs.h"
#include "srtest.h"

#ifndef SR_AGENT_TEST_DATA
#error "SR_AGENT_TEST_DATA must name tests/unit/agent/data"
#endif

typedef struct {
    char dir[256];
    char proc[320], sys[320], host[320];
} fixture;

static void mkdirs(const char *path) { assert_int_equal(sr_mkdir_p(path, 0755), 0); }

/* Overwrites dst in place (same inode: the collector keeps its files open). */
static void copy_file(const char *src, const char *dst) {
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(sr_file_read_all(src, 1 << 20, &buf, &len), 0);
    FILE *f = fopen(dst, "we");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
}

static void load_snapshot(fixture *f, const char *name) {
    static const char *const files[] = {"stat", "meminfo", "loadavg", "diskstats", "net/dev", "self/mounts"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char src[512], dst[512];
        snprintf(src, sizeof(src), "%s/%s/%s", SR_AGENT_TEST_DATA, name, files[i]);
        snprintf(dst, sizeof(dst), "%s/%s", f->proc, files[i]);
        copy_file(src, dst);
    }
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_tmpdir(f->dir, sizeof(f->dir)), 0);
    snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
    snprintf(f->sys, sizeof(f->sys), "%s/sys", f->dir);
    snprintf(f->host, sizeof(f->host), "%s/host", f->dir);
    char p[512];
    snprintf(p, sizeof(p), "%s/net", f->proc);
    mkdirs(p);
    snprintf(p, sizeof(p), "%s/self", f->proc);
    mkdirs(p);
    static const char *const disks[] = {"sda", "nvme0n1", "loop0"}; /* sda1 is a partition: absent */
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/block/%s", f->sys, disks[i]);
        mkdirs(p);
    }
    snprintf(p, sizeof(p), "%s/mnt/with space", f->host);
    mkdirs(p);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    srtest_rmtree(f->dir);
    free(f);
    return 0;
}

static const sr_point *find(const sr_points *p, const char *name, const char *dim) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0 && strcmp(p->v[i].dim, dim) == 0)
            return &p->v[i];
    return NULL;
}

static void expect(const sr_points *p, const char *name, const char *dim, double want) {
    const sr_point *pt = find(p, name, dim);
    if (!pt)
        fail_msg("missing point %s{%s}", name, dim);
    if (fabs(pt->value - want) > 1e-9 * (fabs(want) > 1 ? fabs(want) : 1))
        fail_msg("%s{%s} = %.17g, want %.17g", name, dim, pt->value, want);
}

static void expect_absent(const sr_points *p, const char *name, const char *dim) {
    if (find(p, name, dim))
        fail_msg("unexpected point %s{%s}", name, dim);
}

static void test_two_samples(void **state) {
    fixture *f = *state;
    sr_metrics_config cfg = {.per_cpu = 1, .host_root = f->host};
    sr_metrics *m = NULL;
    assert_int_equal(sr_metrics_new(&cfg, f->proc, f->sys, &m), 0);
    sr_points pts;
    sr_points_init(&pts, 0);

    load_snapshot(f, "proc1");
    sr_collect_time t1 = {.unix_ms = 1700000000000, .mono_ms = 1000};
    assert_int_equal(sr_metrics_collect(m, &t1, &pts), 0);
    /* first sample: gauges only */
    expect(&pts, "mem.total_bytes", "", 16777216000.0);
    expect(&pts, "mem.available_bytes", "", 8388608000.0);
    expect(&pts, "mem.used_bytes", "", 8388608000.0);
    expect(&pts, "mem.used_pct", "", 50.0);
    expect(&pts, "swap.total_bytes", "", 2147483648.0);
    expect(&pts, "swap.used_bytes", "", 1073741824.0);
    expect(&pts, "load.1", "", 0.52);
    expect(&pts, "load.5", "", 0.58);
    expect(&pts, "load.15", "", 0.59);
    expect_absent(&pts, "cpu.usage_pct", "total");
    expect_absent(&pts, "diskio.reads_per_s", "sda");
    expect_absent(&pts, "net.rx_bytes_per_s", "eth0");
    /* filesystems: real block filesystems, one per device, statvfs under host_root */
    struct statvfs sv;
    assert_int_equal(statvfs(f->host, &sv), 0);
    expect(&pts, "disk.total_bytes", "/", (double)sv.f_blocks * (double)sv.f_frsize);
    assert_non_null(find(&pts, "disk.used_bytes", "/"));
    assert_non_null(find(&pts, "disk.free_bytes", "/"));
    const sr_point *up = find(&pts, "disk.used_pct", "/");
    assert_non_null(up);
    assert_true(up->value >= 0 && up->value <= 100);
    assert_non_null(find(&pts, "disk.total_bytes", "/mnt/with space"));
    expect_absent(&pts, "disk.total_bytes", "/srv"); /* same device as / */
    expect_absent(&pts, "disk.total_bytes", "/proc");
    expect_absent(&pts, "disk.total_bytes", "/run");
    expect_absent(&pts, "disk.total_bytes", "/net");
    expect_absent(&pts, "disk.total_bytes", "/var/lib/docker/overlay2/abc/merged");
    expect_absent(&pts, "disk.total_bytes", "/missing");
    assert_int_equal(pts.n, 6 + 3 + 2 * 4);
    for (size_t i = 0; i < pts.n; i++)
        assert_true(pts.v[i].time_unix_ms == t1.unix_ms);

    sr_points_clear(&pts);
    load_snapshot(f, "proc2");
    sr_collect_time t2 = {.unix_ms = 1700000015000, .mono_ms = 16000};
    assert_int_equal(sr_metrics_collect(m, &t2, &pts), 0);
    expect(&pts, "cpu.usage_pct", "total", 40.0);
    expect(&pts, "cpu.iowait_pct", "total", 10.0);
    expect(&pts, "cpu.usage_pct", "cpu0", 100.0 * 250.0 / 450.0);
    expect(&pts, "cpu.usage_pct", "cpu1", 100.0 * 150.0 / 550.0);
    expect(&pts, "mem.available_bytes", "", 4194304000.0);
    expect(&pts, "mem.used_bytes", "", 12582912000.0);
    expect(&pts, "mem.used_pct", "", 75.0);
    expect(&pts, "swap.used_bytes", "", 0.0);
    expect(&pts, "load.1", "", 1.0);
    /* sda: +150 reads, +3000 sectors read, +300 writes, +6000 sectors written over 15 s */
    expect(&pts, "diskio.reads_per_s", "sda", 10.0);
    expect(&pts, "diskio.read_bytes_per_s", "sda", 3000.0 * 512 / 15);
    expect(&pts, "diskio.writes_per_s", "sda", 20.0);
    expect(&pts, "diskio.write_bytes_per_s", "sda", 6000.0 * 512 / 15);
    /* nvme0n1's read counters went backwards (reset): those rates are left out */
    expect_absent(&pts, "diskio.reads_per_s", "nvme0n1");
    expect_absent(&pts, "diskio.read_bytes_per_s", "nvme0n1");
    expect(&pts, "diskio.writes_per_s", "nvme0n1", 2.0);
    expect(&pts, "diskio.write_bytes_per_s", "nvme0n1", 300.0 * 512 / 15);
    expect_absent(&pts, "diskio.reads_per_s", "sda1"); /* partition */
    expect_absent(&pts, "diskio.reads_per_s", "loop0"); /* loop devices are off by default */
    expect(&pts, "net.rx_bytes_per_s", "lo", 100.0);
    expect(&pts, "net.rx_packets_per_s", "lo", 1.0);
    expect(&pts, "net.tx_bytes_per_s", "lo", 100.0);
    expect(&pts, "net.tx_packets_per_s", "lo", 1.0);
    expect(&pts, "net.rx_bytes_per_s", "eth0", 10000.0);
    expect(&pts, "net.rx_packets_per_s", "eth0", 100.0);
    expect(&pts, "net.rx_errors_per_s", "eth0", 0.2);
    expect(&pts, "net.rx_drops_per_s", "eth0", 0.0);
    expect(&pts, "net.tx_bytes_per_s", "eth0", 2000.0);
    expect(&pts, "net.tx_packets_per_s", "eth0", 20.0);
    expect(&pts, "net.tx_errors_per_s", "eth0", 0.0);
    expect(&pts, "net.tx_drops_per_s", "eth0", 0.2);
    expect_absent(&pts, "net.rx_bytes_per_s", "eth1"); /* wrapped */
    expect(&pts, "net.rx_packets_per_s", "eth1", 10.0);
    expect(&pts, "net.tx_packets_per_s", "eth1", 1.0);
    expect_absent(&pts, "net.rx_bytes_per_s", "wlan0"); /* new: no previous sample */
    assert_int_equal(pts.n, 4 + 6 + 3 + 8 + 6 + (8 + 8 + 7));

    sr_points_done(&pts);
    assert_null(sr_metrics_free(m));
    assert_null(sr_metrics_free(NULL));
}

static void test_options_and_missing_files(void **state) {
    fixture *f = *state;
    sr_metrics_config cfg = {.per_cpu = 0, .include_loop = 1, .host_root = f->host};
    sr_metrics *m = NULL;
    assert_int_equal(sr_metrics_new(&cfg, f->proc, f->sys, &m), 0);
    sr_points pts;
    sr_points_init(&pts, 0);
    load_snapshot(f, "proc1");
    sr_collect_time t1 = {.unix_ms = 1, .mono_ms = 1000};
    assert_int_equal(sr_metrics_collect(m, &t1, &pts), 0);
    load_snapshot(f, "proc2");
    sr_points_clear(&pts);
    sr_collect_time t2 = {.unix_ms = 2, .mono_ms = 11000};
    assert_int_equal(sr_metrics_collect(m, &t2, &pts), 0);
    expect(&pts, "cpu.usage_pct", "total", 40.0);
    expect_absent(&pts, "cpu.usage_pct", "cpu0");
    expect(&pts, "diskio.reads_per_s", "loop0", 10.0);
    sr_metrics_free(m);

    /* a proc root without files: every source fails, nothing crashes, the error is returned */
    char empty[400];
    snprintf(empty, sizeof(empty), "%s/empty", f->dir);
    mkdirs(empty);
    assert_int_equal(sr_metrics_new(NULL, empty, empty, &m), 0);
    sr_points_clear(&pts);
    assert_int_equal(sr_metrics_collect(m, &t1, &pts), -ENOENT);
    assert_int_equal(pts.n, 0);
    sr_metrics_free(m);
    sr_points_done(&pts);
}

static void test_descriptor(void **state) {
    (void)state;
    const sr_collector *const *reg = sr_collector_registry();
    assert_non_null(reg[0]);
    assert_string_equal(reg[0]->name, "metrics");
    for (size_t i = 0; i < reg[0]->n_config; i++)
        assert_int_equal(strncmp(reg[0]->config[i].key, "metrics.", 8), 0);
    assert_true(reg[0]->config_size == sizeof(sr_metrics_config));
}

static void test_parsers_damaged(void **state) {
    (void)state;
    sr_cpu_sample cpus[4];
    size_t n = 99;
    const char *s = "cpu 1 2\ncpu0 1 2 3 4\n";
    assert_int_equal(sr_procfs_parse_stat(s, strlen(s), cpus, 4, &n), -ENODATA);
    s = "cpu0 1 2 3 4 5\ncpu  10 0 10 70 10\ncpuX 1 2 3 4\ncpu1 1 2 x 4\n";
    assert_int_equal(sr_procfs_parse_stat(s, strlen(s), cpus, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(cpus[0].cpu, -1); /* the total first */
    assert_int_equal(cpus[0].total, 100);
    assert_int_equal(cpus[0].idle, 80);
    assert_int_equal(cpus[1].cpu, 0);
    s = "cpu 18446744073709551616 1 1 1\n"; /* overflow */
    assert_int_equal(sr_procfs_parse_stat(s, strlen(s), cpus, 4, &n), -ENODATA);
    /* not NUL-terminated: the parser stops at len */
    s = "cpu  1 2 3 4 5 6 7 8 9 10";
    assert_int_equal(sr_procfs_parse_stat(s, 12, cpus, 4, &n), 0);
    assert_int_equal(cpus[0].total, 1 + 2 + 3 + 4);

    sr_meminfo mi;
    s = "MemFree: 10 kB\n";
    assert_int_equal(sr_procfs_parse_meminfo(s, strlen(s), &mi), -ENODATA);
    s = "MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\nSwapTotal: 8 kB\nSwapFree: 9 kB\n";
    assert_int_equal(sr_procfs_parse_meminfo(s, strlen(s), &mi), 0);
    assert_int_equal(mi.available, 35 * 1024); /* no MemAvailable: free + buffers + cached */
    assert_int_equal(mi.swap_free, mi.swap_total);
    s = "MemTotal: 18446744073709551615 kB\n";
    assert_int_equal(sr_procfs_parse_meminfo(s, strlen(s), &mi), -ENODATA);

    double l[3];
    s = "0.1 0.2";
    assert_int_equal(sr_procfs_parse_loadavg(s, strlen(s), l), -EINVAL);
    s = "nan 1 1 1/1 1";
    assert_int_equal(sr_procfs_parse_loadavg(s, strlen(s), l), -EINVAL);
    s = "1e308 1 1 1/1 1";
    assert_int_equal(sr_procfs_parse_loadavg(s, strlen(s), l), -EINVAL);

    sr_disk_sample d[2];
    s = "8 0 sda 1 2 3\n8 1 sdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 2 3 4 5 6 7\n"
        "8 2 sdb 1 0 2 0 3 0 4\n8 3 sdc 1 0 2 0 3 0 4\n8 4 sdd 1 0 2 0 3 0 4\n";
    assert_int_equal(sr_procfs_parse_diskstats(s, strlen(s), d, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].name, "sdb");
    assert_int_equal(d[0].sectors_written, 4);

    sr_net_sample ns[2];
    s = "eth0: 1 2 3\n:1 2 3 4 5 6 7 8 9 10 11 12\neth1:1 2 3 4 5 6 7 8 9 10 11 12\n";
    assert_int_equal(sr_procfs_parse_netdev(s, strlen(s), ns, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ns[0].name, "eth1");
    assert_int_equal(ns[0].tx_drops, 12);
}

static int count_mount(const char *source, const char *target, const char *fstype, void *ud) {
    (void)source;
    (void)fstype;
    int *n = ud;
    if (*n == 0)
        assert_string_equal(target, "/a b\\c");
    (*n)++;
    return 0;
}

static void test_mounts_escapes(void **state) {
    (void)state;
    const char *s = "/dev/x /a\\040b\\134c ext4 rw 0 0\nshort line\n/dev/y /nul\\000 ext4 rw 0 0\n/dev/z /z xfs\n";
    int n = 0;
    assert_int_equal(sr_procfs_parse_mounts(s, strlen(s), count_mount, &n), 0);
    assert_int_equal(n, 2); /* the \000 line is skipped */
}

static void test_points(void **state) {
    (void)state;
    sr_points p;
    sr_points_init(&p, 3);
    assert_int_equal(sr_points_add(&p, "a", "", 1, 5), 0);
    assert_int_equal(sr_points_add(&p, "", "", 1, 5), -EINVAL);
    assert_int_equal(sr_points_add(&p, "a", "bad\xff", 1, 5), -EILSEQ);
    assert_int_equal(sr_points_add(&p, "a", "\xc0\xaf", 1, 5), -EILSEQ); /* overlong */
    assert_int_equal(sr_points_add(&p, "a", "tab\there", 1, 5), -EILSEQ);
    assert_int_equal(sr_points_add(&p, "a", "x", NAN, 5), -EDOM);
    assert_int_equal(sr_points_add(&p, "a", "x", INFINITY, 5), -EDOM);
    char longdim[300];
    memset(longdim, 'd', sizeof(longdim) - 1);
    longdim[sizeof(longdim) - 1] = '\0';
    assert_int_equal(sr_points_add(&p, "a", longdim, 1, 5), -ENAMETOOLONG);
    assert_int_equal(sr_points_add(&p, "b", "/mnt/\xc3\xa9t\xc3\xa9 \"q\"", 0.1, 6), 0);
    assert_int_equal(sr_points_add(&p, "c", "", 16777216000.0, 7), 0);
    assert_int_equal(sr_points_add(&p, "d", "", 1, 8), -ENOSPC);

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    assert_int_equal(sr_points_write_json(&p, f), 0);
    fclose(f);
    assert_string_equal(out, "{\"name\":\"a\",\"dim\":\"\",\"value\":1,\"time_unix_ms\":5}\n"
                             "{\"name\":\"b\",\"dim\":\"/mnt/\xc3\xa9t\xc3\xa9 \\\"q\\\"\",\"value\":0.1,"
                             "\"time_unix_ms\":6}\n"
                             "{\"name\":\"c\",\"dim\":\"\",\"value\":16777216000,\"time_unix_ms\":7}\n");
    free(out);
    sr_points_done(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_and_missing_files, setup, teardown),
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_parsers_damaged),
        cmocka_unit_test(test_mounts_escapes),
        cmocka_unit_test(test_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
