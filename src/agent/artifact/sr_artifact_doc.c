/* The artifact_update payload and the agent's artifact state files. Apart from sr_artifact.c so
 * the fuzz harness needs no gRPC. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sr_artifact.h"
#include "sr_err.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static const char *str_member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v)
                                                                                            : NULL;
}

int sr_artifact_parse_doc(const char *json, size_t len, sr_artifact_doc *ret, char *err, size_t errlen) {
    if (len == 0 || len > SR_ARTIFACT_DOC_MAX) {
        sr_errf(err, errlen, "artifact document of %zu bytes (want 1..%d)", len, SR_ARTIFACT_DOC_MAX);
        return -EINVAL;
    }
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        sr_errf(err, errlen, "artifact document is not a JSON object%s%s", o ? "" : ": ", o ? "" : jerr.text);
        json_decref(o);
        return -EINVAL;
    }
    sr_artifact_doc d;
    memset(&d, 0, sizeof(d));
    int r = -EINVAL;
    const char *name = str_member(o, "name");
    const char *version = str_member(o, "version");
    const char *sha = str_member(o, "sha256");
    json_t *size = json_object_get(o, "size");
    json_t *offset = json_object_get(o, "offset");
    if (!name || strcmp(name, SR_ARTIFACT_NAME) != 0) {
        sr_errf(err, errlen, "artifact document: \"name\" is not \"%s\"", SR_ARTIFACT_NAME);
        goto out;
    }
    if (!sha || strlen(sha) != 64) {
        sr_errf(err, errlen, "artifact document: \"sha256\" is not 64 lowercase hex digits");
        goto out;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hexval(sha[2 * i]), lo = hexval(sha[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            sr_errf(err, errlen, "artifact document: \"sha256\" is not 64 lowercase hex digits");
            goto out;
        }
        d.digest[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(d.hex, sha, 65);
    if (!version || strncmp(version, "sha256:", 7) != 0 || strcmp(version + 7, sha) != 0) {
        sr_errf(err, errlen, "artifact document: \"version\" is not \"sha256:\" + sha256");
        goto out;
    }
    memcpy(d.version, version, 7 + 64 + 1);
    if (!size || !json_is_integer(size) || json_integer_value(size) <= 0 ||
        (uint64_t)json_integer_value(size) > SR_ARTIFACT_MAX_SIZE) {
        sr_errf(err, errlen, "artifact document: \"size\" is missing or not in 1..%" PRIu64, SR_ARTIFACT_MAX_SIZE);
        goto out;
    }
    d.size = (uint64_t)json_integer_value(size);
    if (offset) {
        if (!json_is_integer(offset) || json_integer_value(offset) < 0 ||
            (uint64_t)json_integer_value(offset) > d.size) {
            sr_errf(err, errlen, "artifact document: \"offset\" is not in 0..size");
            goto out;
        }
        d.offset = (uint64_t)json_integer_value(offset);
    }
    *ret = d;
    r = 0;
out:
    json_decref(o);
    return r;
}

int sr_artifact_format_doc(const sr_artifact_doc *d, int with_offset, char *buf, size_t buflen) {
    int n = with_offset ? snprintf(buf, buflen,
                                   "{\"name\":\"%s\",\"version\":\"%s\",\"size\":%" PRIu64
                                   ",\"sha256\":\"%s\",\"offset\":%" PRIu64 "}\n",
                                   SR_ARTIFACT_NAME, d->version, d->size, d->hex, d->offset)
                        : snprintf(buf, buflen, "{\"name\":\"%s\",\"version\":\"%s\",\"size\":%" PRIu64
                                                ",\"sha256\":\"%s\"}\n",
                                   SR_ARTIFACT_NAME, d->version, d->size, d->hex);
    return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
}
