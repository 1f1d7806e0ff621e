/* The OCI distribution pull client (sr_oci.h): manifest by tag or digest, the bearer token flow
 * of the distribution spec (anonymous or with basic credentials at the realm), a Basic registry,
 * and the blob streamed to a file through sr_fetch. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_oci.h"

#define TOKEN_MAX 8192
#define TOKEN_RESPONSE_MAX (64u * 1024u)
#define URL_MAX 2048

static const char accept_manifests[] = SR_OCI_MT_MANIFEST ", " SR_OCI_MT_DOCKER_MANIFEST ", " SR_OCI_MT_INDEX
                                       ", " SR_OCI_MT_DOCKER_LIST;

struct sr_oci_client {
    sr_oci_opts o;
    sr_oci_ref ref;
    char base[SR_OCI_HOST_MAX + 16]; /* https://host[:port] */
    char *token;                     /* bearer token of the last token flow */
    bool basic;                      /* the registry asked for Basic: credentials go with every request */
    unsigned requests;
};

int sr_oci_client_new(const sr_oci_opts *opts, const sr_oci_ref *ref, sr_oci_client **ret, char *err,
                      size_t errlen) {
    sr_oci_client *c = calloc(1, sizeof(*c));
    if (!c) {
        sr_errf(err, errlen, "could not create the OCI client: out of memory");
        return -ENOMEM;
    }
    c->o = *opts;
    c->ref = *ref;
    c->o.fetch.allow_http = ref->plain_http; /* plain http only when the reference says so */
    (void)snprintf(c->base, sizeof(c->base), "%s://%s", ref->plain_http ? "http" : "https", ref->host);
    *ret = c;
    return 0;
}

sr_oci_client *sr_oci_client_free(sr_oci_client *c) {
    if (!c)
        return NULL;
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    free(c);
    return NULL;
}

unsigned sr_oci_client_requests(const sr_oci_client *c) { return c->requests; }

/* Percent-encodes s (all but RFC 3986 unreserved characters) onto out at *o. */
static int query_escape(const char *s, char *out, size_t outlen, size_t *o) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                     ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (*o + (plain ? 1 : 3) >= outlen)
            return -ENAMETOOLONG;
        if (plain) {
            out[(*o)++] = (char)ch;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[ch >> 4];
            out[(*o)++] = hex[ch & 15];
        }
    }
    out[*o] = '\0';
    return 0;
}

static int append(char *out, size_t outlen, size_t *o, const char *s) {
    size_t n = strlen(s);
    if (*o + n >= outlen)
        return -ENAMETOOLONG;
    memcpy(out + *o, s, n + 1);
    *o += n;
    return 0;
}

/* A short excerpt of a response for a message: " (body)" or "". */
static void excerpt(const sr_fetch_resp *r, char *out, size_t outlen) {
    if (r->body && r->body_len)
        (void)snprintf(out, outlen, " (%.200s)", r->body);
    else if (outlen)
        out[0] = '\0';
}

/* The token flow: GET realm?service=...&scope=... (with basic credentials when configured),
 * keep {"token"} or {"access_token"}. */
static int fetch_token(sr_oci_client *c, const sr_oci_challenge *ch, char *err, size_t errlen) {
    char url[URL_MAX];
    size_t o = 0;
    char scope[sizeof(ch->scope) + SR_OCI_REPO_MAX + 32];
    if (ch->scope[0])
        (void)snprintf(scope, sizeof(scope), "%s", ch->scope);
    else
        (void)snprintf(scope, sizeof(scope), "repository:%s:pull", c->ref.repo);
    int r = append(url, sizeof(url), &o, ch->realm);
    if (r == 0)
        r = append(url, sizeof(url), &o, strchr(ch->realm, '?') ? "&" : "?");
    if (r == 0 && ch->service[0]) {
        r = append(url, sizeof(url), &o, "service=");
        if (r == 0)
            r = query_escape(ch->service, url, sizeof(url), &o);
        if (r == 0)
            r = append(url, sizeof(url), &o, "&");
    }
    if (r == 0)
        r = append(url, sizeof(url), &o, "scope=");
    if (r == 0)
        r = query_escape(scope, url, sizeof(url), &o);
    if (r < 0) {
        sr_errf(err, errlen, "could not get a registry token: the token URL is longer than %d bytes", URL_MAX);
        return r;
    }
    sr_fetch_opts fo = c->o.fetch;
    fo.progress = NULL;
    sr_fetch_req rq = {.url = url, .accept = "application/json", .username = c->o.username,
                       .password = c->o.password, .fd = -1, .max_bytes = TOKEN_RESPONSE_MAX};
    sr_fetch_resp resp;
    char ferr[512];
    r = sr_fetch(&fo, &rq, &resp, ferr, sizeof(ferr));
    c->requests += resp.requests;
    if (r < 0) {
        sr_errf(err, errlen, "could not get a registry token from %.200s: %s", ch->realm, ferr);
        sr_fetch_resp_done(&resp);
        return r;
    }
    if (resp.status != 200) {
        char ex[256];
        excerpt(&resp, ex, sizeof(ex));
        sr_errf(err, errlen, "could not get a registry token from %.200s: HTTP %ld%s%s", ch->realm, resp.status,
                resp.status == 401 || resp.status == 403
                    ? (c->o.username ? ": credentials refused" : ": anonymous pull refused (set trivy_db.username)")
                    : "",
                ex);
        sr_fetch_resp_done(&resp);
        return resp.status == 401 || resp.status == 403 ? -EACCES : -EIO;
    }
    json_error_t jerr;
    json_t *root = json_loadb(resp.body, resp.body_len, 0, &jerr);
    sr_fetch_resp_done(&resp);
    const json_t *tok = root ? json_object_get(root, "token") : NULL;
    if (!json_is_string(tok) || !json_string_length(tok))
        tok = root ? json_object_get(root, "access_token") : NULL;
    r = -EBADMSG;
    if (!json_is_string(tok) || json_string_length(tok) == 0 || json_string_length(tok) > TOKEN_MAX) {
        sr_errf(err, errlen, "could not get a registry token from %.200s: no token in the answer", ch->realm);
        goto out;
    }
    const char *t = json_string_value(tok);
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            sr_errf(err, errlen, "could not get a registry token from %.200s: the token has invalid characters",
                    ch->realm);
            goto out;
        }
    char *copy = strdup(t);
    if (!copy) {
        r = -ENOMEM;
        sr_errf(err, errlen, "could not get a registry token: out of memory");
        goto out;
    }
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    c->token = copy;
    r = 0;
out:
    json_decref(root);
    return r;
}

/* One registry GET; on a 401 answers the challenge (bearer token or Basic) and tries once more.
 * what names the object for messages. */
static int registry_get(sr_oci_client *c, const char *url, const char *accept, int fd, uint64_t max_bytes,
                        const char *what, sr_fetch_resp *resp, char *err, size_t errlen) {
    sr_fetch_opts fo = c->o.fetch;
    if (fd < 0)
        fo.progress = NULL; /* progress is the blob's */
    for (int attempt = 0;; attempt++) {
        sr_fetch_req rq = {.url = url, .accept = accept, .bearer = c->token, .fd = fd, .max_bytes = max_bytes};
        if (c->basic) {
            rq.username = c->o.username;
            rq.password = c->o.password;
        }
        char ferr[512];
        int r = sr_fetch(&fo, &rq, resp, ferr, sizeof(ferr));
        c->requests += resp->requests;
        if (r < 0) {
            sr_errf(err, errlen, "could not get %s: %s", what, ferr);
            return r;
        }
        if (resp->status != 401)
            return 0;
        if (attempt > 0) {
            sr_errf(err, errlen, "could not get %s: the registry refused the %s (HTTP 401)", what,
                    c->basic ? "credentials" : "token");
            return -EACCES;
        }
        char challenge[sizeof(resp->challenge)];
        memcpy(challenge, resp->challenge, sizeof(challenge));
        sr_fetch_resp_done(resp);
        sr_oci_challenge ch;
        char perr[256];
        if (!challenge[0]) {
            sr_errf(err, errlen,
                    "could not get %s: the registry requires authentication (HTTP 401) and sent no "
                    "WWW-Authenticate challenge",
                    what);
            return -EACCES;
        }
        if (sr_oci_challenge_parse(challenge, &ch, perr, sizeof(perr)) < 0) {
            sr_errf(err, errlen, "could not get %s: HTTP 401 with %s", what, perr);
            return -EACCES;
        }
        if (strcasecmp(ch.scheme, "Bearer") == 0) {
            if (!ch.realm[0]) {
                sr_errf(err, errlen, "could not get %s: HTTP 401 with a Bearer challenge without realm", what);
                return -EACCES;
            }
            r = fetch_token(c, &ch, perr, sizeof(perr));
            if (r < 0) {
                sr_errf(err, errlen, "could not get %s: %s", what, perr);
                return r;
            }
        } else if (strcasecmp(ch.scheme, "Basic") == 0 && c->o.username) {
            c->basic = true;
        } else {
            sr_errf(err, errlen,
                    "could not get %s: the registry requires authentication (HTTP 401, WWW-Authenticate: %.100s) "
                    "and offers no bearer token flow%s",
                    what, ch.scheme, strcasecmp(ch.scheme, "Basic") == 0 ? " (set trivy_db.username for Basic)" : "");
            return -EACCES;
        }
    }
}

int sr_oci_client_layer(sr_oci_client *c, const char *layer_type, sr_oci_layer *ret, char *err, size_t errlen) {
    char url[URL_MAX], shown[SR_OCI_SOURCE_MAX + 64], what[sizeof(shown) + 16];
    (void)snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", c->base, c->ref.repo,
                   c->ref.digest[0] ? c->ref.digest : c->ref.tag);
    sr_oci_ref_format(&c->ref, shown, sizeof(shown));
    (void)snprintf(what, sizeof(what), "manifest of %s", shown);
    sr_fetch_resp resp;
    int r = registry_get(c, url, accept_manifests, -1, SR_OCI_MANIFEST_MAX, what, &resp, err, errlen);
    if (r < 0) {
        sr_fetch_resp_done(&resp);
        return r;
    }
    if (resp.status != 200) {
        char ex[256];
        excerpt(&resp, ex, sizeof(ex));
        sr_errf(err, errlen, "could not get %s: HTTP %ld%s", what, resp.status, ex);
        sr_fetch_resp_done(&resp);
        return resp.status == 404 ? -ENOENT : -EIO;
    }
    if (c->ref.digest[0]) {
        char hex[65];
        sr_fetch_hex(resp.sha256, hex);
        if (strcmp(hex, c->ref.digest + 7) != 0) {
            sr_errf(err, errlen, "could not get %s: the registry served a manifest of digest sha256:%s", what, hex);
            sr_fetch_resp_done(&resp);
            return -EBADMSG;
        }
    }
    char perr[512];
    r = sr_oci_manifest_parse(resp.body, resp.body_len, resp.content_type, layer_type, ret, perr, sizeof(perr));
    sr_fetch_resp_done(&resp);
    if (r < 0)
        sr_errf(err, errlen, "could not use %s: %s", what, perr);
    return r;
}

int sr_oci_client_blob(sr_oci_client *c, const sr_oci_layer *layer, int fd, uint64_t max_bytes, char *err,
                       size_t errlen) {
    char url[URL_MAX], what[SR_OCI_REPO_MAX + SR_OCI_DIGEST_LEN + 32];
    (void)snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", c->base, c->ref.repo, layer->digest);
    (void)snprintf(what, sizeof(what), "blob %s of %s", layer->digest, c->ref.repo);
    if (layer->size > max_bytes) {
        sr_errf(err, errlen, "could not get %s: %llu bytes, more than the limit of %llu", what,
                (unsigned long long)layer->size, (unsigned long long)max_bytes);
        return -EFBIG;
    }
    sr_fetch_resp resp;
    /* one byte more than announced is enough to tell that the blob is longer */
    int r = registry_get(c, url, NULL, fd, layer->size + 1, what, &resp, err, errlen);
    if (r < 0) {
        sr_fetch_resp_done(&resp);
        if (r == -EFBIG)
            sr_errf(err, errlen, "could not get %s: longer than the %llu bytes of the manifest", what,
                    (unsigned long long)layer->size);
        return r;
    }
    if (resp.status != 200) {
        char ex[256];
        excerpt(&resp, ex, sizeof(ex));
        sr_errf(err, errlen, "could not get %s: HTTP %ld from %.300s%s", what, resp.status, resp.url, ex);
        sr_fetch_resp_done(&resp);
        return resp.status == 404 ? -ENOENT : -EIO;
    }
    char hex[65];
    sr_fetch_hex(resp.sha256, hex);
    uint64_t got = resp.bytes;
    sr_fetch_resp_done(&resp);
    if (got != layer->size) {
        sr_errf(err, errlen, "could not get %s: %llu bytes, the manifest says %llu", what, (unsigned long long)got,
                (unsigned long long)layer->size);
        return -EBADMSG;
    }
    if (strcmp(hex, layer->digest + 7) != 0) {
        sr_errf(err, errlen, "could not get %s: the content has digest sha256:%s", what, hex);
        return -EBADMSG;
    }
    return 0;
}
