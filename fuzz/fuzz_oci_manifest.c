/* Fuzz target: what the Trivy DB sync job does with a registry's and a mirror's answers short of
 * the network (src/core/artifacts/sr_oci.c): the manifest (sr_oci_manifest_parse, with and
 * without an image-index Content-Type), the WWW-Authenticate challenge of a 401, the mirror's
 * sha256sum file, and the input as an OCI reference / artifact source. Input: the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    sr_oci_layer l;
    if (sr_oci_manifest_parse((const char *)data, size, NULL, SR_OCI_MT_TRIVY_DB, &l, err, sizeof(err)) == 0) {
        if (!sr_oci_digest_valid(l.digest))
            abort();
    }
    (void)sr_oci_manifest_parse((const char *)data, size, SR_OCI_MT_INDEX, SR_OCI_MT_TRIVY_DB, &l, err, sizeof(err));
    char hex[65];
    if (sr_oci_sha256sum_parse((const char *)data, size, "db.tar.gz", hex, err, sizeof(err)) == 0) {
        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    sr_oci_challenge ch;
    if (sr_oci_challenge_parse(s, &ch, err, sizeof(err)) == 0) {
        if (!ch.scheme[0] || strlen(ch.realm) >= sizeof(ch.realm))
            abort();
    }
    sr_oci_ref ref;
    sr_oci_source_kind kind;
    if (sr_oci_source_parse(s, &kind, &ref, err, sizeof(err)) == 0 && kind == SR_OCI_SOURCE_OCI) {
        char back[SR_OCI_SOURCE_MAX + 64];
        sr_oci_ref_format(&ref, back, sizeof(back));
        sr_oci_ref again;
        if (sr_oci_ref_parse(back, &again, err, sizeof(err)) != 0 || memcmp(&ref, &again, sizeof(ref)) != 0)
            abort(); /* the canonical form parses back to the same reference */
    }
    char shown[SR_OCI_SOURCE_MAX + 1];
    sr_oci_source_display(s, shown, sizeof(shown));
    free(s);
    return 0;
}
