/* OCI distribution (registry API v2) for single-layer artifacts such as the Trivy DB
 * (docs/internals/dbsync.md): parsers of references, manifests and WWW-Authenticate challenges
 * (sr_oci.c, pure, fuzzed), and a pull client over libcurl (sr_oci_pull.c) with the bearer
 * token flow and a blob download streamed to a file with its SHA-256 checked.
 *
 * References: oci://host[:port]/repo/path:tag or oci://host[:port]/repo/path@sha256:<hex>
 * (HTTPS); oci+http://... talks plain HTTP to a registry on a trusted network.
 *
 * Functions return 0 or a negative errno with "could not ..." in err. Nothing here logs. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_fetch.h"

#define SR_OCI_HOST_MAX 255
#define SR_OCI_REPO_MAX 255
#define SR_OCI_TAG_MAX 128
#define SR_OCI_DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define SR_OCI_MANIFEST_MAX (4u * 1024u * 1024u) /* as the distribution spec's registries */
#define SR_OCI_SOURCE_MAX 2048

#define SR_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define SR_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define SR_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define SR_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define SR_OCI_MT_TRIVY_DB "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"

typedef struct {
    bool plain_http;                     /* oci+http:// */
    char host[SR_OCI_HOST_MAX + 1];      /* host[:port] */
    char repo[SR_OCI_REPO_MAX + 1];      /* e.g. aquasecurity/trivy-db */
    char tag[SR_OCI_TAG_MAX + 1];        /* "" when pulled by digest only */
    char digest[SR_OCI_DIGEST_LEN + 1];  /* "sha256:<hex>" or "" */
} sr_oci_ref;

typedef struct {
    char digest[SR_OCI_DIGEST_LEN + 1]; /* "sha256:<64 lowercase hex>" */
    uint64_t size;
} sr_oci_layer;

typedef struct {
    char scheme[16];   /* "Bearer", "Basic", ... as sent */
    char realm[1024];
    char service[256];
    char scope[512];
} sr_oci_challenge;

/* Parses an oci:// or oci+http:// reference. -EINVAL with the reason in err. */
int sr_oci_ref_parse(const char *s, sr_oci_ref *ret, char *err, size_t errlen);
/* The reference back in its canonical text form. */
void sr_oci_ref_format(const sr_oci_ref *ref, char *out, size_t outlen);

/* Where an artifact comes from: an OCI reference, or an http(s):// URL of the file on a mirror. */
typedef enum { SR_OCI_SOURCE_OCI = 1, SR_OCI_SOURCE_HTTP = 2 } sr_oci_source_kind;
/* Classifies and checks a source (at most SR_OCI_SOURCE_MAX bytes; a mirror URL needs a host and
 * no spaces, control characters or fragment). ref (may be NULL) gets the OCI reference. */
int sr_oci_source_parse(const char *s, sr_oci_source_kind *ret_kind, sr_oci_ref *ref, char *err, size_t errlen);
/* The source without credentials, query or fragment, for logs and the update signal. */
void sr_oci_source_display(const char *s, char *out, size_t outlen);

/* Parses a manifest body (at most SR_OCI_MANIFEST_MAX bytes) served with content_type (may be
 * NULL or empty). It must be an image manifest (OCI or Docker v2) with exactly one layer of media
 * type layer_type; the layer's digest must be sha256. An image index, another layer type or
 * another layer count is -EMEDIUMTYPE naming what was found; malformed JSON -EBADMSG. */
int sr_oci_manifest_parse(const char *buf, size_t len, const char *content_type, const char *layer_type,
                          sr_oci_layer *ret, char *err, size_t errlen);

/* Parses the first challenge of a WWW-Authenticate header value (at most 4 KiB):
 * scheme and the realm, service and scope parameters (quoted or not). -EBADMSG when malformed. */
int sr_oci_challenge_parse(const char *header, sr_oci_challenge *ret, char *err, size_t errlen);

/* Reads the digest of the file called name (its URL's last path segment) from a sha256sum-style
 * text (at most 64 KiB): "<64 hex>  <name>" lines ('*' and "./" before the name ignored); a
 * single line is taken whatever its name, as is a bare "<64 hex>". ret_hex gets lowercase hex.
 * -EBADMSG when malformed, -ENOENT when no line names the file. */
int sr_oci_sha256sum_parse(const char *buf, size_t len, const char *name, char ret_hex[65], char *err,
                           size_t errlen);

/* True when s is "sha256:" followed by 64 lowercase hex digits. */
bool sr_oci_digest_valid(const char *s);

/* ---- the pull client (sr_oci_pull.c) ---- */

typedef struct {
    sr_fetch_opts fetch;  /* CA file, stall timeout, cancel flag, progress */
    const char *username; /* basic credentials for the token realm (or a Basic registry); NULL: anonymous */
    const char *password;
} sr_oci_opts;

typedef struct sr_oci_client sr_oci_client;

/* opts and ref are copied except the strings and pointers inside opts, which must outlive the
 * client. */
int sr_oci_client_new(const sr_oci_opts *opts, const sr_oci_ref *ref, sr_oci_client **ret, char *err,
                      size_t errlen);
sr_oci_client *sr_oci_client_free(sr_oci_client *c);

/* GETs the manifest (by digest when the reference has one, which it must then match, else by tag),
 * following the token flow on a 401, and returns its single layer of layer_type. */
int sr_oci_client_layer(sr_oci_client *c, const char *layer_type, sr_oci_layer *ret, char *err, size_t errlen);

/* GETs the blob of layer into fd (empty, at offset 0) following redirects (the Authorization
 * header goes only to the registry's own origin), at most max_bytes. The blob must have the
 * layer's size and SHA-256: -EBADMSG otherwise, -EFBIG over max_bytes or the layer's size. */
int sr_oci_client_blob(sr_oci_client *c, const sr_oci_layer *layer, int fd, uint64_t max_bytes, char *err,
                       size_t errlen);

/* Requests made so far (manifests, tokens, blobs, redirects included), for messages and tests. */
unsigned sr_oci_client_requests(const sr_oci_client *c);
