/* sr_trivy: Trivy (Go, linked in as a c-archive) behind a narrow C API. Built only with
 * -DSR_TRIVY=ON; without it sr_trivy_available() is 0 and every call returns -ENOTSUP.
 * Every call is offline: Trivy never touches the network from inside the agent.
 * Ownership: strings returned through pointers are malloc'ed; the caller frees them. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* 1 when the bridge is linked in. */
int sr_trivy_available(void);
/* The Trivy module version the bridge was built from, e.g. "v0.74.0"; "" without the bridge. */
const char *sr_trivy_version(void);

typedef struct {
    int parallel;            /* analyzer goroutines and Go threads, 1..64 (0: 1) */
    int timeout_s;           /* whole scan; 0: 3600 */
    const char *cache_dir;   /* Trivy's scan cache (fanal), created when missing; NULL: in-memory */
    const char *const *skip_dirs; /* NULL-terminated, paths relative to the scanned root; may be NULL */
    const int *cancel;       /* may be NULL; once *cancel is non-zero (written with __atomic_store_n) the
                              * scan ends with -ECANCELED within about 0.2 s */
} sr_trivy_scan_opts;

typedef struct {
    char *report;            /* Trivy JSON report (SchemaVersion 2), NUL-terminated */
    size_t report_len;
    char *sbom;              /* CycloneDX JSON of the same scan, NUL-terminated */
    size_t sbom_len;
    uint64_t packages, vulnerabilities; /* over all results of the report */
} sr_trivy_result;

/* Scans the directory root ("/" or /proc/<pid>/root, a link to a directory is followed) as a root
 * filesystem with the Trivy DB in db_dir (trivy.db + metadata.json). Vulnerability scanner only, OS
 * and language packages, every package listed, offline. 0 with *ret filled (free with
 * sr_trivy_result_done), or a negative errno with *err set (the caller frees it). Scans are
 * serialized inside the bridge (trivy-db keeps one DB handle); any thread may call. A panic in
 * Trivy code on the calling thread becomes -EIO. */
int sr_trivy_scan(const char *root, const char *db_dir, const sr_trivy_scan_opts *opts, sr_trivy_result *ret,
                  char **err);
void sr_trivy_result_done(sr_trivy_result *r);

/* Installs a Trivy DB bundle (the db.tar.gz of the trivy-db OCI artifact: trivy.db and
 * metadata.json, nothing else) into dest_dir, which must not exist yet; dest_dir is created
 * (0700) and holds both files on success, and does not exist on failure. The tar is checked
 * (regular files only, no paths, size limits), metadata.json must parse with Version 2, and
 * trivy.db must open as a Trivy DB. *metadata (metadata.json as JSON) is set on success. */
int sr_trivy_db_install(const char *bundle_path, const char *dest_dir, char **metadata, char **err);
