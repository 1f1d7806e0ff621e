/* Unit tests: the Trivy report reader over every real report of testdata/trivy (golden counts
 * of results, packages, packages made from vulnerabilities, vulnerabilities, installed files and
 * severities; a missing file is a failure), the fields of the agent-shaped report and of
 * composer.vendor.json, malformed and oversized reports, and the CycloneDX check. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_file.h"
#include "sr_trivy_report.h"

static char *load(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", SR_TRIVY_TESTDATA, name);
    char *buf = NULL;
    int r = sr_file_read_all(path, 64u << 20, &buf, len);
    if (r < 0)
        fail_msg("cannot read %s: %s", path, strerror(-r));
    return buf;
}

static sr_trivy_report *parse_file(const char *name) {
    size_t len;
    char *buf = load(name, &len);
    sr_trivy_report *rep = NULL;
    char why[256] = "";
    int r = sr_trivy_report_parse(buf, len, &rep, why, sizeof(why));
    free(buf);
    if (r != 0)
        fail_msg("%s: %s (%d)", name, why, r);
    return rep;
}

static const sr_trivy_vuln *vuln_of(const sr_trivy_report *rep, const char *id, const char *pkg) {
    for (size_t i = 0; i < rep->n_vulns; i++)
        if (strcmp(rep->vulns[i].id, id) == 0 && strcmp(rep->pkgs[rep->vulns[i].pkg].name, pkg) == 0)
            return &rep->vulns[i];
    fail_msg("no %s of %s", id, pkg);
    return NULL;
}

static const sr_trivy_pkg *pkg_of(const sr_trivy_report *rep, const char *name) {
    for (size_t i = 0; i < rep->n_pkgs; i++)
        if (strcmp(rep->pkgs[i].name, name) == 0)
            return &rep->pkgs[i];
    fail_msg("no package %s", name);
    return NULL;
}

/* ---- golden counts ---- */

typedef struct {
    const char *file;
    size_t results, pkgs, made, vulns, files;
    size_t sev[5]; /* UNKNOWN .. CRITICAL */
} golden;

static const golden GOLDEN[] = {
    {"agent-host.json", 2, 4, 0, 3, 7, {0, 1, 0, 0, 2}},
    {"alpine-310.json", 1, 2, 2, 4, 0, {0, 0, 4, 0, 0}},
    {"composer.vendor.json", 1, 3, 0, 1, 0, {0, 0, 0, 1, 0}},
    {"debian-buster.json", 1, 2, 2, 2, 0, {0, 1, 0, 0, 1}},
    {"fluentd-multiple-lockfiles.json", 2, 3, 3, 3, 0, {0, 1, 0, 1, 1}},
    {"gomod.json", 3, 5, 5, 5, 0, {4, 0, 1, 0, 0}},
    {"spring4shell-jre11.json", 3, 1, 1, 1, 0, {0, 0, 0, 0, 1}},
    {"ubi-7-comprehensive.json", 2, 2, 2, 2, 0, {0, 1, 0, 1, 0}},
};

static void test_golden(void **state) {
    (void)state;
    for (size_t g = 0; g < sizeof(GOLDEN) / sizeof(GOLDEN[0]); g++) {
        const golden *e = &GOLDEN[g];
        sr_trivy_report *rep = parse_file(e->file);
        assert_int_equal(rep->schema_version, 2);
        if (rep->n_results != e->results || rep->n_pkgs != e->pkgs || rep->n_vulns != e->vulns ||
            rep->n_files != e->files)
            fail_msg("%s: %zu results, %zu packages, %zu vulnerabilities, %zu files", e->file, rep->n_results,
                     rep->n_pkgs, rep->n_vulns, rep->n_files);
        size_t made = 0, sev[5] = {0};
        for (size_t i = 0; i < rep->n_pkgs; i++) {
            made += rep->pkgs[i].from_vuln;
            assert_non_null(rep->pkgs[i].type);
            assert_true(rep->pkgs[i].name[0] != '\0');
        }
        for (size_t i = 0; i < rep->n_vulns; i++) {
            const sr_trivy_vuln *v = &rep->vulns[i];
            assert_true(v->pkg < rep->n_pkgs);
            assert_int_equal(sr_trivy_severity_rank(v->severity), v->severity_rank);
            sev[v->severity_rank]++;
            /* the CVSS text is a JSON object */
            json_t *c = json_loads(v->cvss_json, 0, NULL);
            assert_true(json_is_object(c));
            json_decref(c);
            /* the package a vulnerability names is the one it was tied to */
            assert_string_equal(rep->pkgs[v->pkg].version, v->installed_version);
        }
        if (made != e->made)
            fail_msg("%s: %zu packages made from vulnerabilities, expected %zu", e->file, made, e->made);
        for (int s = 0; s < 5; s++)
            if (sev[s] != e->sev[s])
                fail_msg("%s: %zu of severity %s, expected %zu", e->file, sev[s], sr_trivy_severity_name(s),
                         e->sev[s]);
        sr_trivy_report_free(rep);
    }
}

/* ---- fields ---- */

static void test_agent_report_fields(void **state) {
    (void)state;
    sr_trivy_report *rep = parse_file("agent-host.json");
    assert_string_equal(rep->artifact_type, "filesystem");
    assert_string_equal(rep->os_family, "debian");
    assert_string_equal(rep->os_name, "10.1");

    const sr_trivy_pkg *zlib = pkg_of(rep, "zlib1g");
    assert_string_equal(zlib->version, "1:1.2.11.dfsg-1"); /* Epoch, Version and Release */
    assert_string_equal(zlib->src_name, "zlib");
    assert_string_equal(zlib->src_version, "1.2.11.dfsg-1");
    assert_string_equal(zlib->type, "debian");
    assert_string_equal(zlib->class_name, "os-pkgs");
    assert_string_equal(zlib->arch, "amd64");
    assert_int_equal(zlib->n_files, 2);
    assert_string_equal(zlib->files[0], "/lib/x86_64-linux-gnu/libz.so.1");
    assert_false(zlib->from_vuln);

    const sr_trivy_pkg *bash = pkg_of(rep, "bash");
    assert_string_equal(bash->version, "5.0-4");
    assert_string_equal(bash->purl, "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10.1");
    assert_string_equal(bash->uid, "be7e0e99d0e7acf6");
    assert_int_equal(bash->n_files, 3);
    assert_string_equal(bash->path, "");

    const sr_trivy_vuln *idn = vuln_of(rep, "CVE-2019-18224", "libidn2-0");
    assert_string_equal(idn->severity, "CRITICAL");
    assert_int_equal(idn->severity_rank, SR_TRIVY_SEV_CRITICAL);
    assert_string_equal(idn->installed_version, "2.0.5-1");
    assert_string_equal(idn->fixed_version, "2.0.5-1+deb10u1");
    assert_string_equal(idn->status, "fixed");
    assert_true(idn->has_cvss_v3);
    assert_true(idn->cvss_v3 > 9.79 && idn->cvss_v3 < 9.81); /* nvd 9.8 over redhat 5.6 */
    assert_int_equal(idn->n_refs, 14);
    assert_int_equal(idn->n_cwes, 1);
    assert_string_equal(idn->cwes[0], "CWE-787");
    assert_true(idn->has_published);
    assert_int_equal(idn->published_ms, INT64_C(1571678100000)); /* 2019-10-21T17:15:00Z */
    assert_true(idn->has_modified);
    assert_int_equal(idn->modified_ms, INT64_C(1572376500000)); /* 2019-10-29T19:15:00Z */
    assert_non_null(strstr(idn->data_source_json, "\"ID\":\"debian\""));
    assert_true(strlen(idn->title) > 0);

    const sr_trivy_vuln *spring = vuln_of(rep, "CVE-2022-22965", "org.springframework:spring-beans");
    const sr_trivy_pkg *jar = &rep->pkgs[spring->pkg];
    assert_string_equal(jar->type, "jar");
    assert_string_equal(jar->class_name, "lang-pkgs");
    assert_string_equal(jar->result_target, "Java");
    assert_string_equal(jar->path, "usr/local/tomcat/webapps/helloworld.war/WEB-INF/lib/spring-beans-5.3.15.jar");
    assert_string_equal(jar->purl, "pkg:maven/org.springframework/spring-beans@5.3.15");
    assert_false(jar->from_vuln);
    assert_true(spring->cvss_v3 > 9.79 && spring->cvss_v3 < 9.81);
    sr_trivy_report_free(rep);
}

static void test_made_packages(void **state) {
    (void)state;
    /* alpine: two vulnerabilities each of libcrypto1.1 and libssl1.1, no Packages: one package each */
    sr_trivy_report *rep = parse_file("alpine-310.json");
    const sr_trivy_pkg *p = pkg_of(rep, "libcrypto1.1");
    assert_true(p->from_vuln);
    assert_string_equal(p->version, "1.1.1c-r0");
    assert_string_equal(p->type, "alpine");
    assert_string_equal(p->purl, "pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2");
    assert_int_equal(vuln_of(rep, "CVE-2019-1549", "libcrypto1.1")->pkg, vuln_of(rep, "CVE-2019-1551", "libcrypto1.1")->pkg);
    sr_trivy_report_free(rep);
    /* python: PkgPath becomes the package's path */
    rep = parse_file("ubi-7-comprehensive.json");
    p = pkg_of(rep, "setuptools");
    assert_string_equal(p->path, "usr/lib/python2.7/site-packages/setuptools-0.9.8-py2.7.egg-info/PKG-INFO");
    assert_string_equal(p->type, "python-pkg");
    sr_trivy_report_free(rep);
    /* composer: the vulnerability is tied to the listed package by UID */
    rep = parse_file("composer.vendor.json");
    const sr_trivy_vuln *v = vuln_of(rep, "CVE-2022-24775", "guzzlehttp/psr7");
    assert_false(rep->pkgs[v->pkg].from_vuln);
    assert_int_equal(v->published_ms, INT64_C(1648236393000)); /* 2022-03-25T19:26:33Z */
    sr_trivy_report_free(rep);
}

/* ---- malformed ---- */

static void expect_refused(const char *json, int want, const char *reason_part) {
    sr_trivy_report *rep = NULL;
    char why[256] = "";
    int r = sr_trivy_report_parse(json, strlen(json), &rep, why, sizeof(why));
    if (r != want || !strstr(why, reason_part))
        fail_msg("%.80s: %d \"%s\", expected %d with \"%s\"", json, r, why, want, reason_part);
    assert_null(rep);
}

static void test_malformed(void **state) {
    (void)state;
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [", -EBADMSG, "not JSON");
    expect_refused("[1, 2]", -EBADMSG, "not a JSON object");
    expect_refused("{\"Results\": []}", -EBADMSG, "SchemaVersion missing");
    expect_refused("{\"SchemaVersion\": 1}", -EBADMSG, "SchemaVersion 1 is not 2");
    expect_refused("{\"SchemaVersion\": 2, \"SchemaVersion\": 2}", -EBADMSG, "not JSON");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": {}}", -EBADMSG, "Results is not an array");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [7]}", -EBADMSG, "Results[0] is not an object");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                   "[{\"PkgName\": \"x\", \"InstalledVersion\": \"1\"}]}]}",
                   -EBADMSG, "Results[0].Vulnerabilities[0]: VulnerabilityID is missing");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                   "[{\"VulnerabilityID\": \"CVE-1 OR 1=1\", \"PkgName\": \"x\"}]}]}",
                   -EBADMSG, "VulnerabilityID has characters outside");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                   "[{\"VulnerabilityID\": \"CVE-1\"}]}]}",
                   -EBADMSG, "PkgName is missing");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Packages\": [{\"Name\": 5}]}]}",
                   -EBADMSG, "Results[0].Packages[0]: Name is not a string");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Packages\": [{\"Name\": \"a\", \"Epoch\": -1}]}]}",
                   -EBADMSG, "Epoch is not a non-negative integer");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Packages\": [{\"Name\": \"a\", \"InstalledFiles\": "
                   "[\"/a\", 3]}]}]}",
                   -EBADMSG, "InstalledFiles[1] is not a string");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Packages\": [{\"Name\": \"a\", \"InstalledFiles\": "
                   "[\"/a\\u0000b\"]}]}]}",
                   -EBADMSG, "not JSON");
    expect_refused("{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                   "[{\"VulnerabilityID\": \"CVE-1\", \"PkgName\": \"x\", \"CVSS\": {\"nvd\": 3}}]}]}",
                   -EBADMSG, "CVSS.nvd is not an object");
    /* an over-long name */
    size_t big = SR_TRIVY_MAX_NAME + 100;
    size_t cap = big + 200;
    char *doc = malloc(cap);
    assert_non_null(doc);
    int n = snprintf(doc, cap, "{\"SchemaVersion\": 2, \"Results\": [{\"Packages\": [{\"Name\": \"");
    memset(doc + n, 'a', big);
    snprintf(doc + n + big, cap - (size_t)n - big, "\"}]}]}");
    expect_refused(doc, -EBADMSG, "Name is 1124 bytes (limit 1024)");
    free(doc);
    /* invalid UTF-8 */
    expect_refused("{\"SchemaVersion\": 2, \"ArtifactName\": \"\xff\"}", -EBADMSG, "not JSON");
}

/* Free text is cut on a character boundary, lists of references beyond the limit are cut, a
 * report with no Results is empty. */
static void test_limits(void **state) {
    (void)state;
    size_t desc = SR_TRIVY_MAX_TEXT + 10;
    size_t refs = SR_TRIVY_MAX_REFS + 5;
    size_t cap = desc * 2 + refs * 16 + 512;
    char *doc = malloc(cap);
    assert_non_null(doc);
    size_t o = (size_t)snprintf(doc, cap,
                                "{\"SchemaVersion\": 2, \"Results\": [{\"Type\": \"npm\", \"Vulnerabilities\": "
                                "[{\"VulnerabilityID\": \"CVE-2024-1\", \"PkgName\": \"x\", \"Description\": \"");
    for (size_t i = 0; i < desc / 2; i++) { /* U+00E9, two bytes each */
        doc[o++] = (char)0xc3;
        doc[o++] = (char)0xa9;
    }
    doc[o++] = 'z'; /* makes the cut fall inside a character */
    o += (size_t)snprintf(doc + o, cap - o, "\", \"References\": [");
    for (size_t i = 0; i < refs; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"https://r/%zu\"", i ? "," : "", i);
    snprintf(doc + o, cap - o, "]}]}]}");
    sr_trivy_report *rep = NULL;
    char why[256] = "";
    int r = sr_trivy_report_parse(doc, strlen(doc), &rep, why, sizeof(why));
    if (r != 0)
        fail_msg("%s", why);
    const sr_trivy_vuln *v = &rep->vulns[0];
    size_t dl = strlen(v->description);
    assert_true(dl <= SR_TRIVY_MAX_TEXT && dl >= SR_TRIVY_MAX_TEXT - 1);
    assert_int_equal(dl % 2, 0); /* whole characters only */
    assert_int_equal(v->n_refs, SR_TRIVY_MAX_REFS);
    assert_string_equal(v->severity, "UNKNOWN");
    assert_string_equal(v->cvss_json, "{}");
    assert_false(v->has_cvss_v3);
    assert_true(rep->pkgs[v->pkg].from_vuln);
    sr_trivy_report_free(rep);
    free(doc);

    const char *empty = "{\"SchemaVersion\": 2, \"ArtifactName\": \"/\"}";
    assert_int_equal(sr_trivy_report_parse(empty, strlen(empty), &rep, why, sizeof(why)), 0);
    assert_int_equal(rep->n_pkgs, 0);
    assert_int_equal(rep->n_vulns, 0);
    sr_trivy_report_free(rep);
    assert_null(sr_trivy_report_free(NULL));
}

static void test_severity(void **state) {
    (void)state;
    assert_int_equal(sr_trivy_severity_rank("CRITICAL"), SR_TRIVY_SEV_CRITICAL);
    assert_int_equal(sr_trivy_severity_rank("high"), SR_TRIVY_SEV_HIGH);
    assert_int_equal(sr_trivy_severity_rank("Medium"), SR_TRIVY_SEV_MEDIUM);
    assert_int_equal(sr_trivy_severity_rank("LOW"), SR_TRIVY_SEV_LOW);
    assert_int_equal(sr_trivy_severity_rank("NEGLIGIBLE"), SR_TRIVY_SEV_UNKNOWN);
    assert_int_equal(sr_trivy_severity_rank(NULL), SR_TRIVY_SEV_UNKNOWN);
    assert_string_equal(sr_trivy_severity_name(SR_TRIVY_SEV_HIGH), "HIGH");
    assert_string_equal(sr_trivy_severity_name((sr_trivy_severity)9), "UNKNOWN");
}

static void test_cyclonedx(void **state) {
    (void)state;
    size_t len;
    char *buf = load("agent-host.cdx.json", &len);
    char why[256] = "";
    assert_int_equal(sr_cyclonedx_check(buf, len, why, sizeof(why)), 0);
    free(buf);
    const struct {
        const char *doc, *reason;
    } bad[] = {
        {"{\"bomFormat\": \"SPDX\", \"specVersion\": \"1.6\"}", "bomFormat is not \"CycloneDX\""},
        {"{\"specVersion\": \"1.6\"}", "bomFormat is not \"CycloneDX\""},
        {"{\"bomFormat\": \"CycloneDX\"}", "specVersion missing"},
        {"[\"bomFormat\"]", "not a JSON object"},
        {"{\"bomFormat\": \"CycloneDX\",", "not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(sr_cyclonedx_check(bad[i].doc, strlen(bad[i].doc), why, sizeof(why)), -EBADMSG);
        if (!strstr(why, bad[i].reason))
            fail_msg("%s: \"%s\"", bad[i].doc, why);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),     cmocka_unit_test(test_agent_report_fields),
        cmocka_unit_test(test_made_packages), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),     cmocka_unit_test(test_severity),
        cmocka_unit_test(test_cyclonedx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
