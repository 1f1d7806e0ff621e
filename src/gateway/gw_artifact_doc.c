/* The trivy_db_update document of KV artifacts/trivy-db (docs/internals/contracts.md). Kept apart
 * from gw_artifact.c so the fuzz harness needs neither NATS nor gRPC. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gw_artifact.h"
#include "sr_err.h"

static int is_hex64(const char *s) {
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* A stream / bucket name: [A-Za-z0-9_-]{1,64}. */
static int is_bucket(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-'))
            return 0;
    return 1;
}

/* Copies an optional string member into buf (cap bytes at most); "" when absent. */
static int get_str(json_t *o, const char *key, int required, char *buf, size_t cap, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (!v) {
        if (required) {
            sr_errf(err, errlen, "trivy_db_update: \"%s\" is missing", key);
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        sr_errf(err, errlen, "trivy_db_update: \"%s\" is not a string", key);
        return -EINVAL;
    }
    size_t len = json_string_length(v);
    if (len > cap || memchr(json_string_value(v), '\0', len)) {
        sr_errf(err, errlen, "trivy_db_update: \"%s\" is longer than %zu bytes or holds a NUL", key, cap);
        return -E2BIG;
    }
    memcpy(buf, json_string_value(v), len);
    buf[len] = '\0';
    return 0;
}

int gw_artifact_parse_update(const char *json, size_t len, uint64_t max_size, const char *default_bucket,
                             gw_artifact_update *ret, char *err, size_t errlen) {
    if (len == 0 || len > GW_ARTIFACT_DOC_MAX) {
        sr_errf(err, errlen, "trivy_db_update: document of %zu bytes (want 1..%u)", len, GW_ARTIFACT_DOC_MAX);
        return len ? -E2BIG : -EINVAL;
    }
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        sr_errf(err, errlen, "trivy_db_update: not a JSON object%s%s", o ? "" : ": ", o ? "" : jerr.text);
        json_decref(o);
        return -EINVAL;
    }
    gw_artifact_update u;
    memset(&u, 0, sizeof(u));
    char event[64] = "", sha[80] = "";
    int r = get_str(o, "event", 0, event, sizeof(event) - 1, err, errlen);
    if (r == 0 && event[0] && strcmp(event, "trivy_db_update") != 0) {
        sr_errf(err, errlen, "trivy_db_update: unexpected event \"%.32s\"", event);
        r = -EINVAL;
    }
    if (r == 0)
        r = get_str(o, "name", 0, u.name, sizeof(u.name) - 1, err, errlen);
    if (r == 0 && !u.name[0])
        snprintf(u.name, sizeof(u.name), "%s", GW_ARTIFACT_NAME);
    if (r == 0 && strcmp(u.name, GW_ARTIFACT_NAME) != 0) {
        sr_errf(err, errlen, "trivy_db_update: unknown artifact \"%.64s\"", u.name);
        r = -EINVAL;
    }
    if (r == 0)
        r = get_str(o, "version", 1, u.version, sizeof(u.version) - 1, err, errlen);
    if (r == 0)
        r = get_str(o, "sha256", 1, sha, sizeof(sha) - 1, err, errlen);
    if (r == 0 && !is_hex64(sha)) {
        sr_errf(err, errlen, "trivy_db_update: \"sha256\" is not 64 lowercase hex digits");
        r = -EINVAL;
    }
    if (r == 0 && (strncmp(u.version, "sha256:", 7) != 0 || strcmp(u.version + 7, sha) != 0)) {
        sr_errf(err, errlen, "trivy_db_update: version \"%.71s\" is not \"sha256:\" + sha256", u.version);
        r = -EINVAL;
    }
    if (r == 0) {
        memcpy(u.hex, sha, 65);
        json_t *sz = json_object_get(o, "size");
        if (!sz || !json_is_integer(sz) || json_integer_value(sz) <= 0 ||
            (uint64_t)json_integer_value(sz) > max_size) {
            sr_errf(err, errlen, "trivy_db_update: \"size\" is missing or not in 1..%" PRIu64, max_size);
            r = -EINVAL;
        } else {
            u.size = (uint64_t)json_integer_value(sz);
        }
    }
    if (r == 0)
        r = get_str(o, "bucket", 0, u.bucket, sizeof(u.bucket) - 1, err, errlen);
    if (r == 0 && !u.bucket[0])
        snprintf(u.bucket, sizeof(u.bucket), "%s", default_bucket);
    if (r == 0 && !is_bucket(u.bucket)) {
        sr_errf(err, errlen, "trivy_db_update: \"bucket\" is not a bucket name");
        r = -EINVAL;
    }
    if (r == 0)
        r = get_str(o, "object", 0, u.object, sizeof(u.object) - 1, err, errlen);
    if (r == 0 && !u.object[0])
        snprintf(u.object, sizeof(u.object), "%s", GW_ARTIFACT_NAME);
    json_decref(o);
    if (r == 0)
        *ret = u;
    return r;
}
