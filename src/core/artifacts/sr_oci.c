/* Parsers of the OCI distribution client: references, artifact sources, manifests and
 * WWW-Authenticate challenges (sr_oci.h). Pure: no I/O, fuzzed by fuzz/fuzz_oci_manifest.c. */
#include "sr_oci.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sr_err.h"

#define CHALLENGE_MAX 4096

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
static bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* Outside text in a message: printable ASCII only, at most 100 bytes. */
static void printable(const char *s, char *out, size_t outlen) {
    size_t o = 0;
    for (; s && *s && o + 1 < outlen && o < 100; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = '\0';
}

bool sr_oci_digest_valid(const char *s) {
    if (!s || strncmp(s, "sha256:", 7) != 0)
        return false;
    for (int i = 0; i < 64; i++)
        if (!is_hex_lower(s[7 + i]))
            return false;
    return s[71] == '\0';
}

/* host[:port] or [ipv6][:port] */
static bool host_valid(const char *h, size_t n) {
    if (n == 0 || n > SR_OCI_HOST_MAX)
        return false;
    size_t i = 0;
    if (h[0] == '[') {
        for (i = 1; i < n && h[i] != ']'; i++)
            if (!(is_hex_lower(h[i]) || (h[i] >= 'A' && h[i] <= 'F') || h[i] == ':' || h[i] == '.'))
                return false;
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && h[i] != ':'; i++)
            if (!(is_alnum(h[i]) || h[i] == '.' || h[i] == '-'))
                return false;
        if (i == 0 || h[0] == '.' || h[0] == '-')
            return false;
    }
    if (i == n)
        return true;
    if (h[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (size_t k = i + 1; k < n; k++) {
        if (h[k] < '0' || h[k] > '9')
            return false;
        port = port * 10 + (unsigned)(h[k] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* Path components [a-z0-9]+ joined by separators (., _, __, -+), components joined by '/'. */
static bool repo_valid(const char *r, size_t n) {
    if (n == 0 || n > SR_OCI_REPO_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && r[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || !is_lower_alnum(r[start]) || !is_lower_alnum(r[i - 1]))
            return false;
        for (size_t k = start; k < i; k++) {
            char c = r[k];
            if (is_lower_alnum(c))
                continue;
            if (c != '.' && c != '_' && c != '-')
                return false;
            char prev = r[k - 1]; /* k > start: components start alphanumeric */
            if (!is_lower_alnum(prev) && !(c == '_' && prev == '_' && (k < 2 || r[k - 2] != '_')) &&
                !(c == '-' && prev == '-'))
                return false;
        }
        start = i + 1;
    }
    return true;
}

static bool tag_valid(const char *t, size_t n) {
    if (n == 0 || n > SR_OCI_TAG_MAX || !(is_alnum(t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_alnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

int sr_oci_ref_parse(const char *s, sr_oci_ref *ret, char *err, size_t errlen) {
    sr_oci_ref ref;
    memset(&ref, 0, sizeof(ref));
    char shown[128];
    printable(s, shown, sizeof(shown));
    const char *p;
    if (strncmp(s, "oci://", 6) == 0) {
        p = s + 6;
    } else if (strncmp(s, "oci+http://", 11) == 0) {
        p = s + 11;
        ref.plain_http = true;
    } else {
        sr_errf(err, errlen, "invalid OCI reference \"%s\": expected oci://host/repository:tag", shown);
        return -EINVAL;
    }
    if (strlen(s) > SR_OCI_SOURCE_MAX) {
        sr_errf(err, errlen, "invalid OCI reference: longer than %d bytes", SR_OCI_SOURCE_MAX);
        return -EINVAL;
    }
    const char *slash = strchr(p, '/');
    if (!slash || !host_valid(p, (size_t)(slash - p))) {
        sr_errf(err, errlen, "invalid OCI reference \"%s\": expected a registry host[:port] before the repository",
                shown);
        return -EINVAL;
    }
    memcpy(ref.host, p, (size_t)(slash - p));
    const char *name = slash + 1;
    const char *at = strchr(name, '@');
    size_t name_len = at ? (size_t)(at - name) : strlen(name);
    if (at) {
        if (!sr_oci_digest_valid(at + 1)) {
            sr_errf(err, errlen, "invalid OCI reference \"%s\": the digest must be sha256:<64 lowercase hex>", shown);
            return -EINVAL;
        }
        memcpy(ref.digest, at + 1, SR_OCI_DIGEST_LEN);
    }
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_len; i++)
        if (name[i] == '/')
            last_slash = name + i;
    const char *colon = NULL;
    for (const char *c = last_slash ? last_slash : name; c < name + name_len; c++)
        if (*c == ':')
            colon = c;
    size_t repo_len = colon ? (size_t)(colon - name) : name_len;
    if (!repo_valid(name, repo_len)) {
        sr_errf(err, errlen,
                "invalid OCI reference \"%s\": the repository must be lowercase path components "
                "([a-z0-9] joined by '.', '_', '-' and '/')",
                shown);
        return -EINVAL;
    }
    memcpy(ref.repo, name, repo_len);
    if (colon) {
        size_t tag_len = name_len - repo_len - 1;
        if (!tag_valid(colon + 1, tag_len)) {
            sr_errf(err, errlen, "invalid OCI reference \"%s\": bad tag (at most %d of [A-Za-z0-9_.-])", shown,
                    SR_OCI_TAG_MAX);
            return -EINVAL;
        }
        memcpy(ref.tag, colon + 1, tag_len);
    }
    if (!ref.tag[0] && !ref.digest[0]) {
        sr_errf(err, errlen, "invalid OCI reference \"%s\": a tag (:tag) or a digest (@sha256:...) is required",
                shown);
        return -EINVAL;
    }
    *ret = ref;
    return 0;
}

void sr_oci_ref_format(const sr_oci_ref *ref, char *out, size_t outlen) {
    (void)snprintf(out, outlen, "%s%s/%s%s%s%s%s", ref->plain_http ? "oci+http://" : "oci://", ref->host, ref->repo,
                   ref->tag[0] ? ":" : "", ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}

int sr_oci_source_parse(const char *s, sr_oci_source_kind *ret_kind, sr_oci_ref *ref, char *err, size_t errlen) {
    if (!s || !*s) {
        sr_errf(err, errlen, "invalid source: empty");
        return -EINVAL;
    }
    if (strncmp(s, "oci://", 6) == 0 || strncmp(s, "oci+http://", 11) == 0) {
        sr_oci_ref tmp;
        int r = sr_oci_ref_parse(s, ref ? ref : &tmp, err, errlen);
        if (r == 0 && ret_kind)
            *ret_kind = SR_OCI_SOURCE_OCI;
        return r;
    }
    char shown[128];
    printable(s, shown, sizeof(shown));
    size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    if (!skip) {
        sr_errf(err, errlen,
                "invalid source \"%s\": expected oci://host/repository:tag, oci+http://..., https://... or "
                "http://...",
                shown);
        return -EINVAL;
    }
    size_t n = strlen(s);
    if (n > SR_OCI_SOURCE_MAX) {
        sr_errf(err, errlen, "invalid source: longer than %d bytes", SR_OCI_SOURCE_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '#') {
            sr_errf(err, errlen, "invalid source \"%s\": spaces, control characters and fragments are not allowed",
                    shown);
            return -EINVAL;
        }
    const char *auth = s + skip;
    size_t alen = strcspn(auth, "/?");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    size_t hlen = alen - (size_t)(host - auth);
    if (!host_valid(host, hlen)) {
        sr_errf(err, errlen, "invalid source \"%s\": expected a host[:port]", shown);
        return -EINVAL;
    }
    if (auth[alen] != '/' || auth[alen + 1] == '\0' || auth[alen + 1] == '?') {
        sr_errf(err, errlen, "invalid source \"%s\": the URL must name the file (e.g. https://mirror/db.tar.gz)",
                shown);
        return -EINVAL;
    }
    if (ret_kind)
        *ret_kind = SR_OCI_SOURCE_HTTP;
    return 0;
}

void sr_oci_source_display(const char *s, char *out, size_t outlen) {
    if (outlen == 0)
        return;
    const char *sep = strstr(s, "://");
    if (!sep) {
        printable(s, out, outlen);
        return;
    }
    size_t scheme_len = (size_t)(sep - s) + 3;
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    const char *path = auth + alen;
    size_t plen = strcspn(path, "?#");
    (void)snprintf(out, outlen, "%.*s%.*s%.*s", (int)scheme_len, s, (int)(alen - (size_t)(host - auth)), host,
                   (int)plen, path);
}

/* ---- manifests ---- */

static const char *json_str(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool is_index_type(const char *mt) {
    return strcmp(mt, SR_OCI_MT_INDEX) == 0 || strcmp(mt, SR_OCI_MT_DOCKER_LIST) == 0;
}

int sr_oci_manifest_parse(const char *buf, size_t len, const char *content_type, const char *layer_type,
                          sr_oci_layer *ret, char *err, size_t errlen) {
    if (len > SR_OCI_MANIFEST_MAX) {
        sr_errf(err, errlen, "invalid manifest: %zu bytes, at most %u", len, SR_OCI_MANIFEST_MAX);
        return -EFBIG;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char shown[128];
        printable(jerr.text, shown, sizeof(shown));
        sr_errf(err, errlen, "invalid manifest: not JSON (%s at line %d)", shown, jerr.line);
        return -EBADMSG;
    }
    int r = -EBADMSG;
    char shown[128], want[128];
    printable(layer_type, want, sizeof(want));
    if (!json_is_object(root)) {
        sr_errf(err, errlen, "invalid manifest: not a JSON object");
        goto out;
    }
    const char *mt = json_str(root, "mediaType");
    if (!mt)
        mt = content_type ? content_type : "";
    printable(mt, shown, sizeof(shown));
    if (is_index_type(mt) || json_is_array(json_object_get(root, "manifests"))) {
        sr_errf(err, errlen,
                "unsupported manifest: an image index (%s), not an image manifest; use a reference to the "
                "artifact's manifest itself",
                mt[0] ? shown : "no media type");
        r = -EMEDIUMTYPE;
        goto out;
    }
    const json_t *sv = json_object_get(root, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        sr_errf(err, errlen, "invalid manifest: schemaVersion must be 2");
        goto out;
    }
    if (mt[0] && strcmp(mt, SR_OCI_MT_MANIFEST) != 0 && strcmp(mt, SR_OCI_MT_DOCKER_MANIFEST) != 0) {
        sr_errf(err, errlen, "unsupported manifest: media type %s is not an OCI or Docker v2 image manifest", shown);
        r = -EMEDIUMTYPE;
        goto out;
    }
    const json_t *layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        sr_errf(err, errlen, "invalid manifest: no layers array");
        goto out;
    }
    if (json_array_size(layers) != 1) {
        sr_errf(err, errlen, "unsupported manifest: %zu layers, expected exactly one of media type %s",
                json_array_size(layers), want);
        r = -EMEDIUMTYPE;
        goto out;
    }
    const json_t *layer = json_array_get(layers, 0);
    if (!json_is_object(layer)) {
        sr_errf(err, errlen, "invalid manifest: the layer is not an object");
        goto out;
    }
    const char *lmt = json_str(layer, "mediaType");
    if (!lmt || strcmp(lmt, layer_type) != 0) {
        printable(lmt ? lmt : "(none)", shown, sizeof(shown));
        sr_errf(err, errlen, "unsupported manifest: layer media type %s, expected %s", shown, want);
        r = -EMEDIUMTYPE;
        goto out;
    }
    const char *digest = json_str(layer, "digest");
    if (!digest || !sr_oci_digest_valid(digest)) {
        printable(digest ? digest : "(none)", shown, sizeof(shown));
        sr_errf(err, errlen, "invalid manifest: layer digest %s is not sha256:<64 lowercase hex>", shown);
        goto out;
    }
    const json_t *size = json_object_get(layer, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
        sr_errf(err, errlen, "invalid manifest: the layer size is not a non-negative integer");
        goto out;
    }
    sr_oci_layer l;
    memset(&l, 0, sizeof(l));
    memcpy(l.digest, digest, SR_OCI_DIGEST_LEN);
    l.size = (uint64_t)json_integer_value(size);
    *ret = l;
    r = 0;
out:
    json_decref(root);
    return r;
}

/* ---- WWW-Authenticate ---- */

static bool is_tchar(char c) { return is_alnum(c) || (c && strchr("!#$%&'*+.^_`|~-", c)); }

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int sr_oci_challenge_parse(const char *header, sr_oci_challenge *ret, char *err, size_t errlen) {
    sr_oci_challenge ch;
    memset(&ch, 0, sizeof(ch));
    if (strlen(header) > CHALLENGE_MAX) {
        sr_errf(err, errlen, "invalid WWW-Authenticate: longer than %d bytes", CHALLENGE_MAX);
        return -EBADMSG;
    }
    const char *p = skip_ws(header);
    size_t n = 0;
    while (is_tchar(p[n]))
        n++;
    if (n == 0 || n >= sizeof(ch.scheme)) {
        sr_errf(err, errlen, "invalid WWW-Authenticate: no authentication scheme");
        return -EBADMSG;
    }
    memcpy(ch.scheme, p, n);
    p = skip_ws(p + n);
    while (*p) {
        const char *name = p;
        size_t nlen = 0;
        while (is_tchar(name[nlen]))
            nlen++;
        p = skip_ws(name + nlen);
        if (nlen == 0 || *p != '=')
            break; /* the next challenge (or token68): the first one is done */
        p = skip_ws(p + 1);
        char val[1024];
        size_t vlen = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (vlen + 1 >= sizeof(val)) {
                    sr_errf(err, errlen, "invalid WWW-Authenticate: parameter %.*s too long", (int)nlen, name);
                    return -EBADMSG;
                }
                val[vlen++] = *p;
            }
            if (*p != '"') {
                sr_errf(err, errlen, "invalid WWW-Authenticate: unterminated quoted string");
                return -EBADMSG;
            }
            p++;
        } else {
            while (is_tchar(*p) || *p == '/' || *p == ':') {
                if (vlen + 1 >= sizeof(val)) {
                    sr_errf(err, errlen, "invalid WWW-Authenticate: parameter %.*s too long", (int)nlen, name);
                    return -EBADMSG;
                }
                val[vlen++] = *p++;
            }
        }
        val[vlen] = '\0';
        char *dst = NULL;
        size_t cap = 0;
        if (nlen == 5 && strncasecmp(name, "realm", 5) == 0) {
            dst = ch.realm;
            cap = sizeof(ch.realm);
        } else if (nlen == 7 && strncasecmp(name, "service", 7) == 0) {
            dst = ch.service;
            cap = sizeof(ch.service);
        } else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0) {
            dst = ch.scope;
            cap = sizeof(ch.scope);
        }
        if (dst) {
            if (vlen >= cap) {
                sr_errf(err, errlen, "invalid WWW-Authenticate: parameter %.*s too long", (int)nlen, name);
                return -EBADMSG;
            }
            memcpy(dst, val, vlen + 1);
        }
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p)
            break;
    }
    *ret = ch;
    return 0;
}

/* ---- sha256sum files ---- */

#define SHA256SUM_MAX (64u * 1024u)

int sr_oci_sha256sum_parse(const char *buf, size_t len, const char *name, char ret_hex[65], char *err,
                           size_t errlen) {
    if (len > SHA256SUM_MAX) {
        sr_errf(err, errlen, "invalid digest file: %zu bytes, at most %u", len, SHA256SUM_MAX);
        return -EBADMSG;
    }
    char first[65] = "", match[65] = "";
    size_t lines = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n == 0)
            continue;
        char hex[65];
        if (n < 64) {
            sr_errf(err, errlen, "invalid digest file: line %zu is not \"<64 hex>  <name>\"", lines + 1);
            return -EBADMSG;
        }
        for (int i = 0; i < 64; i++) {
            char c = line[i];
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            if (!is_hex_lower(c)) {
                sr_errf(err, errlen, "invalid digest file: line %zu does not start with 64 hex digits", lines + 1);
                return -EBADMSG;
            }
            hex[i] = c;
        }
        hex[64] = '\0';
        size_t k = 64;
        if (k < n && line[k] != ' ' && line[k] != '\t') {
            sr_errf(err, errlen, "invalid digest file: line %zu does not start with 64 hex digits", lines + 1);
            return -EBADMSG;
        }
        while (k < n && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k < n && line[k] == '*')
            k++;
        if (k + 2 <= n && line[k] == '.' && line[k + 1] == '/')
            k += 2;
        if (lines == 0)
            memcpy(first, hex, sizeof(hex));
        if (name && n - k == strlen(name) && memcmp(line + k, name, n - k) == 0 && !match[0])
            memcpy(match, hex, sizeof(hex));
        lines++;
    }
    if (lines == 0) {
        sr_errf(err, errlen, "invalid digest file: empty");
        return -EBADMSG;
    }
    if (lines > 1 && !match[0]) {
        char shown[128];
        printable(name ? name : "", shown, sizeof(shown));
        sr_errf(err, errlen, "digest file lists %zu files, none named %s", lines, shown);
        return -ENOENT;
    }
    memcpy(ret_hex, match[0] ? match : first, 65);
    return 0;
}
