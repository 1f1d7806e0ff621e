/* sr_scan_target: container ids from cgroup paths of each runtime, and the target list over a
 * fake proc tree (one target per container, its lowest pid, our own mount namespace excluded,
 * the cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_file.h"
#include "sr_scan_target.h"
#include "srtest.h"

#define HEX_A "4f3a0e0c8b1f2d3e4a5b6c7d8e9f00112233445566778899aabbccddeeff0011"
#define HEX_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int id_of(const char *text, char *rt, char *id) {
    return sr_scan_container_id(text, strlen(text), rt, SR_SCAN_RUNTIME_MAX, id, SR_SCAN_ID_MAX + 1);
}

static void expect_id(const char *text, const char *want_rt, const char *want_id) {
    char rt[SR_SCAN_RUNTIME_MAX] = "", id[SR_SCAN_ID_MAX + 1] = "";
    int r = id_of(text, rt, id);
    if (r != 1)
        fail_msg("no container found in \"%s\"", text);
    assert_string_equal(rt, want_rt);
    assert_string_equal(id, want_id);
}

static void expect_none(const char *text) {
    char rt[SR_SCAN_RUNTIME_MAX] = "", id[SR_SCAN_ID_MAX + 1] = "";
    int r = id_of(text, rt, id);
    if (r != 0)
        fail_msg("\"%s\" gave %d (%s:%s), expected no container", text, r, rt, id);
}

static void test_runtimes(void **state) {
    (void)state;
    expect_id("0::/system.slice/docker-" HEX_A ".scope\n", "docker", HEX_A);
    expect_id("12:pids:/docker/" HEX_A "\n0::/\n", "docker", HEX_A);
    expect_id("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/cri-containerd-" HEX_B
              ".scope\n",
              "containerd", HEX_B);
    expect_id("0::/kubepods.slice/kubepods-pod9.slice/crio-" HEX_B ".scope\n", "crio", HEX_B);
    expect_id("0::/machine.slice/libpod-" HEX_B ".scope/container\n", "podman", HEX_B);
    expect_id("0::/lxc.payload.web01/init.scope\n", "lxc", "web01");
    expect_id("4:memory:/lxc/db-2\n", "lxc", "db-2");
    expect_id("0::/kubepods/besteffort/pod8dbc5577-d0e2-4706-8787-57d52c03ddf2/" HEX_B "\n", "kubepods", HEX_B);
    /* The first line that names one wins; lines without two colons are ignored. */
    expect_id("garbage\n3:cpu:/\n2:pids:/docker/" HEX_A "\n", "docker", HEX_A);
    /* Nested (Docker in LXC, kind): the deepest container is the one the process is in. */
    expect_id("0::/lxc.payload.ci01/system.slice/docker-" HEX_B ".scope\n", "docker", HEX_B);
    expect_id("0::/docker/" HEX_A "/kubepods/besteffort/pod1/" HEX_B "\n", "kubepods", HEX_B);
}

static void test_not_containers(void **state) {
    (void)state;
    expect_none("0::/\n");
    expect_none("1:name=systemd:/user.slice/user-0.slice/session-3.scope\n0::/system.slice/ssh.service\n");
    expect_none("0::/docker-.scope\n");
    expect_none("0::/docker/\n");
    expect_none("0::/docker/bad$id\n");
    expect_none("0::/kubepods/besteffort/pod1/short\n");
    /* Podman's and CRI-O's monitors, and ids that are not the runtime's 64 hex digits. */
    expect_none("0::/machine.slice/libpod-conmon-" HEX_B ".scope\n");
    expect_none("0::/system.slice/crio-conmon-" HEX_B ".scope\n");
    expect_none("0::/docker/web\n");
    expect_none("0::/system.slice/docker-" HEX_B "0.scope\n");
    expect_none("");
    expect_none("::\n:\n");
    /* An id longer than the contract allows. */
    char text[400];
    char longid[SR_SCAN_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    snprintf(text, sizeof(text), "0::/lxc/%s\n", longid);
    expect_none(text);
}

static void test_small_buffers(void **state) {
    (void)state;
    char rt[SR_SCAN_RUNTIME_MAX], small[16];
    const char *t = "0::/docker/" HEX_A "\n";
    assert_int_equal(sr_scan_container_id(t, strlen(t), rt, sizeof(rt), small, sizeof(small)), 0);
    assert_int_equal(sr_scan_container_id(t, strlen(t), rt, 3, small, sizeof(small)), 0);
    assert_int_equal(sr_scan_container_id(NULL, 0, rt, sizeof(rt), small, sizeof(small)), -EINVAL);
    /* Not NUL-terminated: only len bytes are read. */
    char id[SR_SCAN_ID_MAX + 1];
    assert_int_equal(sr_scan_container_id(t, 12, rt, sizeof(rt), id, sizeof(id)), 0); /* "0::/docker/4" */
    const char *l = "0::/lxc/abc\n";
    assert_int_equal(sr_scan_container_id(l, 8, rt, sizeof(rt), id, sizeof(id)), 0);
    assert_int_equal(sr_scan_container_id(l, 9, rt, sizeof(rt), id, sizeof(id)), 1);
    assert_string_equal(id, "a");
}

static void put(const char *dir, const char *rel, const char *content) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char parent[512];
    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    assert_int_equal(sr_mkdir_p(parent, 0755), 0);
    assert_int_equal(sr_file_write_new(path, content, strlen(content), 0644), 0);
}

static void test_targets_list(void **state) {
    (void)state;
    char proc[256];
    assert_int_equal(srtest_tmpdir(proc, sizeof(proc)), 0);
    put(proc, "self/ns/mnt", "self");
    /* Container A: pids 300 and 120 (the lowest wins), each with its own namespace file. */
    put(proc, "300/cgroup", "0::/docker/" HEX_A "\n");
    put(proc, "300/ns/mnt", "a");
    put(proc, "120/cgroup", "0::/system.slice/docker-" HEX_A ".scope\n");
    put(proc, "120/ns/mnt", "a2");
    /* Container B. */
    put(proc, "50/cgroup", "0::/lxc.payload.web01/init.scope\n");
    put(proc, "50/ns/mnt", "b");
    /* A container cgroup but our own mount namespace (a hard link to self's): not a target. */
    put(proc, "60/cgroup", "0::/lxc.payload.shared/init.scope\n");
    char p1[512], p2[512];
    snprintf(p1, sizeof(p1), "%s/self/ns/mnt", proc);
    snprintf(p2, sizeof(p2), "%s/60/ns", proc);
    assert_int_equal(sr_mkdir_p(p2, 0755), 0);
    snprintf(p2, sizeof(p2), "%s/60/ns/mnt", proc);
    assert_int_equal(link(p1, p2), 0);
    /* Host processes, a process without a namespace file, junk entries. */
    put(proc, "1/cgroup", "0::/init.scope\n");
    put(proc, "1/ns/mnt", "h");
    put(proc, "70/cgroup", "0::/docker/" HEX_B "\n");
    put(proc, "notapid/cgroup", "0::/docker/" HEX_B "\n");

    sr_scan_target *t = NULL;
    size_t n = 0, skipped = 0;
    assert_int_equal(sr_scan_targets_list(proc, "/hostroot", 64, &t, &n, &skipped), 0);
    assert_int_equal(n, 3);
    assert_int_equal(skipped, 0);
    assert_string_equal(t[0].target, "host");
    assert_string_equal(t[0].root, "/hostroot");
    assert_int_equal(t[0].pid, 0);
    assert_string_equal(t[1].target, "container:" HEX_A);
    assert_string_equal(t[1].runtime, "docker");
    assert_int_equal(t[1].pid, 120);
    char want[512];
    snprintf(want, sizeof(want), "%s/120/root", proc);
    assert_string_equal(t[1].root, want);
    assert_string_equal(t[2].target, "container:web01");
    assert_string_equal(t[2].runtime, "lxc");
    assert_int_equal(t[2].pid, 50);
    free(t);

    /* The cap keeps the first containers in target order and counts the rest. */
    assert_int_equal(sr_scan_targets_list(proc, "/", 1, &t, &n, &skipped), 0);
    assert_int_equal(n, 2);
    assert_int_equal(skipped, 1);
    assert_string_equal(t[1].target, "container:" HEX_A);
    free(t);
    /* 0: the host only, containers are not looked for. */
    assert_int_equal(sr_scan_targets_list(proc, "/", 0, &t, &n, &skipped), 0);
    assert_int_equal(n, 1);
    assert_int_equal(skipped, 0);
    free(t);

    /* Opening a target checks the pid is still in its container. */
    assert_int_equal(sr_scan_targets_list(proc, "/", 64, &t, &n, &skipped), 0);
    put(proc, "120/root/etc/os-release", "ID=debian\n");
    int fd = -1;
    assert_int_equal(sr_scan_target_open(proc, &t[1], &fd), 0);
    assert_true(fd >= 0);
    close(fd);
    put(proc, "50/root/.keep", "");
    /* pid 50 now belongs to another container: refused. */
    char cg[300];
    snprintf(cg, sizeof(cg), "%s/50/cgroup", proc);
    unlink(cg);
    put(proc, "50/cgroup", "0::/lxc.payload.other/init.scope\n");
    assert_int_equal(sr_scan_target_open(proc, &t[2], &fd), -ESRCH);
    /* pid 120's root is gone. */
    sr_scan_target gone = t[1];
    gone.pid = 999;
    assert_int_equal(sr_scan_target_open(proc, &gone, &fd), -ESRCH);
    free(t);

    char missing[300];
    snprintf(missing, sizeof(missing), "%s/absent", proc);
    assert_int_equal(sr_scan_targets_list(missing, "/", 4, &t, &n, &skipped), -ENOENT);
    srtest_rmtree(proc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtimes),
        cmocka_unit_test(test_not_containers),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_targets_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
