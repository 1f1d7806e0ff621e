/* sr_trivy_report: a bounded reader of Trivy JSON reports (SchemaVersion 2, the vulnerability
 * scanner's output with --list-all-pkgs) as agents upload them. Pure: no I/O, no logging;
 * fuzzed by fuzz/fuzz_trivy_report.c. See docs/internals/vulns.md.
 *
 * What it keeps, per Result (Target, Class, Type): every package of Packages (name, full
 * version, PURL, UID, FilePath, InstalledFiles, source package, architecture, layer) and every
 * vulnerability of Vulnerabilities (id, the package it affects, installed and fixed version,
 * status, severity, CVSS, title, description, references, CWE ids, dates, data source). A
 * vulnerability is tied to a package of the same Result by PkgIdentifier.UID, else by PkgID and
 * PkgPath, else by name and installed version; when the Result lists no such package (reports
 * without --list-all-pkgs) one is made from the vulnerability's own fields.
 *
 * Limits (a report beyond them is refused with a reason): the sizes below for identifiers;
 * SR_TRIVY_MAX_* for counts. Free text (title, description) is cut at SR_TRIVY_MAX_TEXT bytes
 * (on a UTF-8 boundary); references and CWE ids beyond SR_TRIVY_MAX_REFS are left out. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_TRIVY_MAX_RESULTS 10000
#define SR_TRIVY_MAX_PACKAGES 500000
#define SR_TRIVY_MAX_VULNS 1000000
#define SR_TRIVY_MAX_FILES 5000000          /* InstalledFiles over the whole report */
#define SR_TRIVY_MAX_PKG_FILES 200000       /* InstalledFiles of one package */
#define SR_TRIVY_MAX_REFS 256               /* references, CWE ids kept per vulnerability */
#define SR_TRIVY_MAX_ID 64                  /* VulnerabilityID (the API looks up at most 64) */
#define SR_TRIVY_MAX_WORD 64                /* Type, Class, Severity, Status, Arch */
#define SR_TRIVY_MAX_NAME 1024              /* package names, source names */
#define SR_TRIVY_MAX_VERSION 256            /* versions, releases, epochs */
#define SR_TRIVY_MAX_PURL 4096
#define SR_TRIVY_MAX_PATH 4096              /* FilePath, PkgPath, InstalledFiles, Target */
#define SR_TRIVY_MAX_URL 4096               /* references, PrimaryURL */
#define SR_TRIVY_MAX_TEXT 65536             /* Title, Description (cut) */
#define SR_TRIVY_MAX_CVSS_JSON 65536        /* the CVSS map as compact JSON */

/* Severity ranks as stored (severity_rank): UNKNOWN 0, LOW 1, MEDIUM 2, HIGH 3, CRITICAL 4. */
typedef enum {
    SR_TRIVY_SEV_UNKNOWN = 0,
    SR_TRIVY_SEV_LOW,
    SR_TRIVY_SEV_MEDIUM,
    SR_TRIVY_SEV_HIGH,
    SR_TRIVY_SEV_CRITICAL,
} sr_trivy_severity;

/* Strings point into the report (valid until sr_trivy_report_free), never NULL ("" when
 * absent), valid UTF-8 without NUL. */
typedef struct {
    const char *type;          /* Result Type: debian, alpine, jar, npm, ... */
    const char *class_name;    /* Result Class: os-pkgs, lang-pkgs */
    const char *result_target; /* Result Target */
    const char *name;
    const char *version;       /* [epoch:]version[-release], as Trivy prints InstalledVersion */
    const char *purl;
    const char *uid;
    const char *path;          /* FilePath (language packages) */
    const char *src_name, *src_version;
    const char *arch;
    const char *layer_digest;
    const char **files;        /* InstalledFiles */
    size_t n_files;
    bool from_vuln;            /* made from a vulnerability: the Result did not list it */
} sr_trivy_pkg;

typedef struct {
    const char *id;
    size_t pkg;                /* index into sr_trivy_report.pkgs */
    const char *installed_version, *fixed_version;
    const char *status;        /* fixed, affected, will_not_fix, ... */
    const char *severity;      /* UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL */
    sr_trivy_severity severity_rank;
    const char *title;
    const char *description;
    const char *primary_url;
    const char **refs;
    size_t n_refs;
    const char **cwes;
    size_t n_cwes;
    const char *cvss_json;     /* compact JSON object ("{}" when absent) */
    bool has_cvss_v3;
    double cvss_v3;            /* the highest V3Score of the CVSS map */
    bool has_published, has_modified;
    int64_t published_ms, modified_ms;
    const char *data_source_json; /* compact JSON object, or "" when absent */
} sr_trivy_vuln;

typedef struct sr_trivy_report {
    int schema_version;
    const char *artifact_name, *artifact_type;
    const char *os_family, *os_name;
    sr_trivy_pkg *pkgs;
    size_t n_pkgs;
    sr_trivy_vuln *vulns;
    size_t n_vulns;
    size_t n_results;
    size_t n_files;            /* InstalledFiles over all packages */
    void *priv;                /* the parsed document and owned strings */
} sr_trivy_report;

/* Parses data[0..len). 0 with *ret (free with sr_trivy_report_free), -EBADMSG (not a report
 * we accept: reason says why, e.g. "not JSON: ... at line 3", "SchemaVersion 1 is not 2",
 * "Results[2].Packages[7]: Name is 2000 bytes (limit 1024)"), -E2BIG (a count limit) or
 * -ENOMEM. */
int sr_trivy_report_parse(const char *data, size_t len, sr_trivy_report **ret, char *reason, size_t reasonlen);
sr_trivy_report *sr_trivy_report_free(sr_trivy_report *r);

/* "CRITICAL" -> SR_TRIVY_SEV_CRITICAL ...; any other word (any case) is UNKNOWN. */
sr_trivy_severity sr_trivy_severity_rank(const char *word);
/* The stored word of a rank: "UNKNOWN", "LOW", ... */
const char *sr_trivy_severity_name(sr_trivy_severity s);

/* Checks that data[0..len) is a CycloneDX JSON document: an object with "bomFormat":
 * "CycloneDX" and a string "specVersion". 0 or -EBADMSG with the reason. */
int sr_cyclonedx_check(const char *data, size_t len, char *reason, size_t reasonlen);
