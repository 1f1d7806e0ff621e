/* The Trivy bridge for real: a scan of the test root filesystem (Debian 13 minbase) against a DB
 * built for it with trivy-db's own package must report exactly the predicted findings, offline;
 * DB bundles are installed only when whole and well-formed; a running scan can be cancelled.
 * Needs Go-built helpers: scripts/trivy.sh builds (or finds cached) the fixture tool and the
 * root filesystem. Nothing skips: a missing piece fails with what to run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_time.h"
#include "sr_trivy.h"
#include "srtest.h"

static char g_tmp[256], g_rootfs[1024], g_tool[1024], g_db[512], g_expected[512], g_bundle[512], g_bad[512];

static void run_capture(const char *cmd, char *out, size_t outlen) {
    FILE *p = popen(cmd, "r");
    if (!p)
        fail_msg("could not run %s", cmd);
    if (!fgets(out, (int)outlen, p))
        out[0] = '\0';
    int rc = pclose(p);
    if (rc != 0 || !out[0])
        fail_msg("`%s` failed (exit %d): run it by hand to see why", cmd, rc);
    out[strcspn(out, "\n")] = '\0';
}

static void run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("`%s` failed (%d)", cmd, rc);
}

static int setup_all(void **state) {
    (void)state;
    assert_int_equal(srtest_tmpdir(g_tmp, sizeof(g_tmp)), 0);
    run_capture(SR_SOURCE_DIR "/scripts/trivy.sh rootfs", g_rootfs, sizeof(g_rootfs));
    run_capture(SR_SOURCE_DIR "/scripts/trivy.sh fixture-tool", g_tool, sizeof(g_tool));
    snprintf(g_db, sizeof(g_db), "%s/db", g_tmp);
    snprintf(g_expected, sizeof(g_expected), "%s/expected.json", g_tmp);
    snprintf(g_bundle, sizeof(g_bundle), "%s/db.tar.gz", g_tmp);
    snprintf(g_bad, sizeof(g_bad), "%s/bad", g_tmp);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "%s --rootfs %s --spec " SR_SOURCE_DIR "/testdata/scan/spec.json --out %s --expected %s --bundle %s "
             ">/dev/null",
             g_tool, g_rootfs, g_db, g_expected, g_bundle);
    run(cmd);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && python3 " SR_SOURCE_DIR "/tests/integration/agent_scan/mkbundles.py %s %s",
             g_bad, g_bad, g_db);
    run(cmd);
    return 0;
}

static int teardown_all(void **state) {
    (void)state;
    srtest_rmtree(g_tmp);
    return 0;
}

/* "ID|pkg|installed|fixed" lines, sorted, from the report's vulnerabilities. */
static json_t *findings_of_report(const char *rep, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(rep, len, 0, &je);
    if (!j)
        fail_msg("report is not JSON: %s", je.text);
    json_t *set = json_object();
    size_t i, k;
    json_t *r, *v;
    json_array_foreach(json_object_get(j, "Results"), i, r) {
        json_array_foreach(json_object_get(r, "Vulnerabilities"), k, v) {
            const char *fixed = json_string_value(json_object_get(v, "FixedVersion"));
            char key[512];
            snprintf(key, sizeof(key), "%s|%s|%s|%s", json_string_value(json_object_get(v, "VulnerabilityID")),
                     json_string_value(json_object_get(v, "PkgName")),
                     json_string_value(json_object_get(v, "InstalledVersion")), fixed ? fixed : "");
            json_object_set_new(set, key, json_true());
        }
    }
    json_decref(j);
    return set;
}

static json_t *expected_findings(void) {
    json_error_t je;
    json_t *j = json_load_file(g_expected, 0, &je);
    if (!j)
        fail_msg("%s: %s", g_expected, je.text);
    json_t *set = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(j, i, e) {
        char key[512];
        snprintf(key, sizeof(key), "%s|%s|%s|%s", json_string_value(json_object_get(e, "id")),
                 json_string_value(json_object_get(e, "pkg_name")),
                 json_string_value(json_object_get(e, "installed_version")),
                 json_string_value(json_object_get(e, "fixed_version")));
        json_object_set_new(set, key, json_true());
    }
    json_decref(j);
    return set;
}

static void test_scan_exact(void **state) {
    (void)state;
    assert_int_equal(sr_trivy_available(), 1);
    assert_string_equal(sr_trivy_version(), "v0.74.0");
    sr_trivy_result res = {0};
    char *err = NULL;
    sr_trivy_scan_opts o = {.parallel = 2, .timeout_s = 600};
    int r = sr_trivy_scan(g_rootfs, g_db, &o, &res, &err);
    if (r < 0)
        fail_msg("scan failed: %d %s", r, err ? err : "");
    const char *rep = res.report, *bom = res.sbom;
    size_t rl = res.report_len, bl = res.sbom_len;
    json_t *got = findings_of_report(rep, rl), *want = expected_findings();
    assert_int_equal(json_object_size(want), 6);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("findings differ:\n got  %s\n want %s", g, w);
    }
    /* Every installed package is listed, with its files (the next step needs them). */
    json_error_t je;
    json_t *j = json_loadb(rep, rl, 0, &je);
    assert_non_null(j);
    json_t *os = json_array_get(json_object_get(j, "Results"), 0);
    assert_string_equal(json_string_value(json_object_get(os, "Class")), "os-pkgs");
    json_t *pkgs = json_object_get(os, "Packages");
    assert_true(json_array_size(pkgs) > 50);
    size_t i, with_files = 0;
    json_t *p;
    json_array_foreach(pkgs, i, p) with_files += json_array_size(json_object_get(p, "InstalledFiles")) > 0;
    assert_true(with_files * 10 >= json_array_size(pkgs) * 9);
    /* The counts the bridge gives match the report: every package of every result, 6 findings. */
    assert_int_equal(res.vulnerabilities, 6);
    assert_int_equal(res.packages, json_array_size(pkgs) + 1); /* + lodash */
    json_decref(j);
    /* The SBOM is CycloneDX of the same packages. */
    j = json_loadb(bom, bl, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "bomFormat")), "CycloneDX");
    assert_true(json_array_size(json_object_get(j, "components")) > json_array_size(pkgs));
    json_decref(j);
    json_decref(got);
    json_decref(want);
    sr_trivy_result_done(&res);
    free(err);
}

static void test_scan_errors(void **state) {
    (void)state;
    sr_trivy_result res = {0};
    char *err = NULL;
    char nodb[300];
    snprintf(nodb, sizeof(nodb), "%s/nodb", g_tmp);
    assert_int_equal(sr_trivy_scan(g_rootfs, nodb, NULL, &res, &err), -ENOENT);
    assert_non_null(err);
    assert_non_null(strstr(err, "no Trivy DB"));
    free(err);
    assert_int_equal(sr_trivy_scan(g_expected, g_db, NULL, &res, &err), -ENOTDIR);
    free(err);
    assert_int_equal(sr_trivy_scan("/nonexistent/root", g_db, NULL, &res, &err), -ENOENT);
    free(err);
    assert_int_equal(sr_trivy_scan(NULL, g_db, NULL, &res, &err), -EINVAL);
    assert_null(res.report);
    assert_null(res.sbom);
    /* A cancel flag already set: nothing is scanned. */
    int cancel = 1;
    sr_trivy_scan_opts o = {.cancel = &cancel};
    assert_int_equal(sr_trivy_scan(g_rootfs, g_db, &o, &res, &err), -ECANCELED);
    free(err);
}

/* A root holding a Java archive scans (the jar analyzer needs a Java DB the agent does not have). */
static void test_jar_root(void **state) {
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/jr/etc %s/jr/opt && cp %s/etc/os-release %s/jr/etc/ && python3 -c \"import zipfile; "
             "z = zipfile.ZipFile('%s/jr/opt/app.jar', 'w'); z.writestr('META-INF/MANIFEST.MF', "
             "'Manifest-Version: 1.0\\n'); z.close()\"",
             g_tmp, g_tmp, g_rootfs, g_tmp, g_tmp);
    run(cmd);
    char root[300];
    snprintf(root, sizeof(root), "%s/jr", g_tmp);
    sr_trivy_result res = {0};
    char *err = NULL;
    int r = sr_trivy_scan(root, g_db, NULL, &res, &err);
    if (r < 0)
        fail_msg("scan of a root with a jar failed: %d %s", r, err ? err : "");
    sr_trivy_result_done(&res);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_install(void **state) {
    (void)state;
    char dest[700], path[800];
    char *meta = NULL, *err = NULL;
    snprintf(dest, sizeof(dest), "%s/installed", g_tmp);
    assert_int_equal(sr_trivy_db_install(g_bundle, dest, &meta, &err), 0);
    assert_non_null(meta);
    assert_non_null(strstr(meta, "\"Version\":2"));
    free(meta);
    meta = NULL;
    snprintf(path, sizeof(path), "%s/trivy.db", dest);
    assert_true(exists(path));
    /* The destination must not exist: nothing is overwritten. */
    assert_int_equal(sr_trivy_db_install(g_bundle, dest, &meta, &err), -EEXIST);
    assert_non_null(err);
    free(err);
    err = NULL;
    snprintf(dest, sizeof(dest), "%s/installed2", g_tmp);
    snprintf(path, sizeof(path), "%s/good_dotslash.tar.gz", g_bad);
    assert_int_equal(sr_trivy_db_install(path, dest, &meta, &err), 0);
    free(meta);
    meta = NULL;

    static const char *const bad[] = {"extra_entry", "traversal",  "symlink",      "duplicate",     "no_metadata",
                                      "no_db",       "old_schema", "bad_metadata", "not_bolt",      "huge_metadata",
                                      "not_gzip",    "truncated"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.tar.gz", g_bad, bad[i]);
        snprintf(dest, sizeof(dest), "%s/bad-%s", g_tmp, bad[i]);
        int r = sr_trivy_db_install(path, dest, &meta, &err);
        if (r >= 0)
            fail_msg("bundle %s was installed", bad[i]);
        if (!err || !*err)
            fail_msg("bundle %s: no error message", bad[i]);
        if (exists(dest))
            fail_msg("bundle %s: %s left behind", bad[i], dest);
        assert_null(meta);
        print_message("refused %-14s %d: %s\n", bad[i], r, err);
        free(err);
        err = NULL;
    }
    char tp[300];
    snprintf(tp, sizeof(tp), "%s/../etc-passwd-should-not-exist", g_tmp);
    assert_false(exists(tp));
}

typedef struct {
    const char *root;
    int cancel;
    int ret;
} scan_job;

static void *scan_thread(void *arg) {
    scan_job *j = arg;
    sr_trivy_result res = {0};
    char *err = NULL;
    sr_trivy_scan_opts o = {.parallel = 1, .cancel = &j->cancel};
    j->ret = sr_trivy_scan(j->root, g_db, &o, &res, &err);
    sr_trivy_result_done(&res);
    free(err);
    return NULL;
}

/* A scan of the host's /usr at one thread runs for many seconds; setting the flag ends it with
 * -ECANCELED (a flag set before the bridge looked at it is seen too: no window). */
static void test_cancel(void **state) {
    (void)state;
    scan_job j = {.root = "/usr"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scan_thread, &j), 0);
    usleep(300 * 1000);
    __atomic_store_n(&j.cancel, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    assert_int_equal(j.ret, -ECANCELED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_exact),
        cmocka_unit_test(test_scan_errors),
        cmocka_unit_test(test_jar_root),
        cmocka_unit_test(test_install),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
