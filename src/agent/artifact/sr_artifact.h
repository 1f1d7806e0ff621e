/* sr_artifact: the agent side of artifact distribution (the Trivy DB). See
 * docs/internals/artifacts.md.
 *
 * The gateway sends a Command `artifact_update` {"name":"trivy-db","version":"sha256:<hex>",
 * "size":N,"sha256":"<hex>"}; the handler downloads the bundle with the Download call into
 * <data_dir>/artifacts/trivy-db.part (resumable: <data_dir>/artifacts/trivy-db.state names the
 * version and the offset known to be on disk), checks every chunk's SHA-256 and at the end the
 * whole file's size and SHA-256, installs it with sr_trivy_db_install into
 * <data_dir>/trivy/db.new and swaps it with <data_dir>/trivy/db atomically. The installed version
 * is remembered in <data_dir>/artifacts/trivy-db.installed and sent in every Hello. Memory: one
 * chunk (at most 2 MiB). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sr_transport.h"

#define SR_ARTIFACT_NAME "trivy-db"
#define SR_ARTIFACT_COMMAND "artifact_update"
#define SR_ARTIFACT_CAPABILITY "trivy"
#define SR_ARTIFACT_CHUNK_MAX (2u * 1024u * 1024u)
#define SR_ARTIFACT_MAX_SIZE (UINT64_C(16) * 1024 * 1024 * 1024)
#define SR_ARTIFACT_DOC_MAX 4096
#define SR_ARTIFACT_VERSION_MAX 71 /* "sha256:" + 64 hex digits */

/* The artifact_update payload, and the state files, which share its shape (plus "offset"). */
typedef struct {
    char version[SR_ARTIFACT_VERSION_MAX + 1];
    char hex[65];
    unsigned char digest[32];
    uint64_t size;
    uint64_t offset; /* state file only: bytes of the .part file known to be on disk */
} sr_artifact_doc;

/* Parses {"name":"trivy-db","version":"sha256:<hex>","size":N,"sha256":"<hex>"[,"offset":K]}:
 * version must be "sha256:" + sha256 (64 lowercase hex), size 1..SR_ARTIFACT_MAX_SIZE,
 * offset <= size. Unknown keys are ignored. 0, or -EINVAL with err. */
int sr_artifact_parse_doc(const char *json, size_t len, sr_artifact_doc *ret, char *err, size_t errlen);
/* The document for d (with "offset" when with_offset), NUL-terminated, into buf. */
int sr_artifact_format_doc(const sr_artifact_doc *d, int with_offset, char *buf, size_t buflen);

/* Installs a bundle into dest_dir (which must not exist): sr_trivy_db_install's contract. */
typedef int (*sr_artifact_install_fn)(const char *bundle_path, const char *dest_dir, char **metadata, char **err);
/* Called (on the download thread) after a new DB is in place at db_dir. */
typedef void (*sr_artifact_installed_fn)(const char *version, const char *db_dir, void *userdata);

typedef struct {
    const char *data_dir;
    sr_artifact_install_fn install;        /* NULL: sr_trivy_db_install (when the bridge is linked) */
    sr_artifact_installed_fn on_installed; /* may be NULL; for the scanner (a scan with the new DB) */
    void *userdata;
    unsigned max_chunk_failures;           /* bad chunks in a row before giving up; 0: 5 */
    int64_t retry_min_ms, retry_max_ms;    /* backoff between Download attempts; 0: 500 / 30000 */
    uint64_t sync_bytes;                   /* the .part is fsynced (and the state file written) this often; 0: 16 MiB */
    int64_t idle_timeout_ms;               /* no chunk for this long ends an attempt; 0: 30000 */
} sr_artifact_config;

typedef struct sr_artifact sr_artifact;

/* Reads the installed version and any partial download. Strings are copied. */
int sr_artifact_new(const sr_artifact_config *cfg, sr_artifact **ret, char *err, size_t errlen);
/* "sha256:<hex>" of the installed DB, "" when none. */
const char *sr_artifact_installed_version(const sr_artifact *a);
/* <data_dir>/trivy/db: the directory a scan reads (trivy.db, metadata.json). */
const char *sr_artifact_db_dir(const sr_artifact *a);
/* Registers the artifact_update command on t, puts the installed version into Hello, and
 * resumes a partial download in the background. t must outlive a. */
int sr_artifact_attach(sr_artifact *a, sr_transport *t);
/* Sets (or replaces) the on_installed hook after sr_artifact_new, e.g. once the scanner exists. */
void sr_artifact_set_on_installed(sr_artifact *a, sr_artifact_installed_fn fn, void *userdata);
/* Makes a running download end soon (before sr_transport_free, which joins its thread). */
void sr_artifact_stop(sr_artifact *a);
/* Stops, joins the resume thread and frees. Accepts NULL; returns NULL. */
sr_artifact *sr_artifact_free(sr_artifact *a);

/* 1 when this agent can install and use a Trivy DB (the Trivy bridge is linked and works):
 * the agent then advertises the capability "trivy". */
int sr_artifact_trivy_usable(void);
