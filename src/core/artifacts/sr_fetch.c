/* HTTP(S) GET over libcurl with hand-followed redirects, bounded bodies and SHA-256 (sr_fetch.h). */
#include "sr_fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_parse.h"

#define DEFAULT_STALL_MS 60000
#define ERRBODY_DRAIN_MAX (1024u * 1024u) /* a non-2xx body longer than this aborts the transfer */
#define MEM_INITIAL 16384

/* The state of one request (one hop). */
typedef struct {
    const sr_fetch_opts *o;
    const sr_fetch_req *rq;
    sr_fetch_resp *resp;
    EVP_MD_CTX *md;
    long status;           /* of the response whose headers arrived last */
    uint64_t announced;    /* Content-Length of a 2xx response; 0 unknown */
    uint64_t drained;      /* non-2xx body bytes seen */
    size_t mem_cap;
    int r;                 /* why a callback aborted */
} hop;

static bool ok_status(long s) { return s >= 200 && s < 300; }
static bool redirect_status(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

static bool cancelled(const sr_fetch_opts *o) { return o->cancel && atomic_load(o->cancel); }

void sr_fetch_hex(const unsigned char sha256[32], char out[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[sha256[i] >> 4];
        out[2 * i + 1] = digits[sha256[i] & 15];
    }
    out[64] = '\0';
}

/* Copies a header value (after "name:"), trimmed, into out. */
static void header_value(const char *p, size_t n, char *out, size_t outlen) {
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static bool header_is(const char *p, size_t n, const char *name) {
    size_t k = strlen(name);
    return n > k && p[k] == ':' && strncasecmp(p, name, k) == 0;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud) {
    hop *h = ud;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (a 100 Continue, or the final one) */
        const char *sp = memchr(p, ' ', n);
        h->status = 0;
        if (sp && (size_t)(sp - p) + 4 <= n && isdigit((unsigned char)sp[1]) && isdigit((unsigned char)sp[2]) &&
            isdigit((unsigned char)sp[3]))
            h->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        h->announced = 0;
        h->resp->content_type[0] = '\0';
        h->resp->challenge[0] = '\0';
        return n;
    }
    if (header_is(p, n, "content-type")) {
        header_value(p + 13, n - 13, h->resp->content_type, sizeof(h->resp->content_type));
        char *semi = strchr(h->resp->content_type, ';');
        if (semi) {
            *semi = '\0';
            for (size_t k = strlen(h->resp->content_type); k > 0 && h->resp->content_type[k - 1] == ' '; k--)
                h->resp->content_type[k - 1] = '\0';
        }
    } else if (header_is(p, n, "www-authenticate") && !h->resp->challenge[0]) {
        header_value(p + 17, n - 17, h->resp->challenge, sizeof(h->resp->challenge));
    } else if (header_is(p, n, "content-length") && ok_status(h->status)) {
        char v[32];
        header_value(p + 15, n - 15, v, sizeof(v));
        uint64_t len = 0;
        if (sr_parse_u64(v, &len) == 0) {
            h->announced = len;
            if (len > h->rq->max_bytes) {
                h->r = -EFBIG;
                return 0; /* aborts: the body would not fit */
            }
        }
    }
    return n;
}

static int keep_mem(hop *h, const char *p, size_t n) {
    sr_fetch_resp *resp = h->resp;
    if (resp->body_len + n + 1 > h->mem_cap) {
        size_t cap = h->mem_cap ? h->mem_cap : MEM_INITIAL;
        while (cap < resp->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(resp->body, cap);
        if (!nb)
            return -ENOMEM;
        resp->body = nb;
        h->mem_cap = cap;
    }
    memcpy(resp->body + resp->body_len, p, n);
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    hop *h = ud;
    size_t n = size * nmemb;
    sr_fetch_resp *resp = h->resp;
    if (cancelled(h->o)) {
        h->r = -ECANCELED;
        return 0;
    }
    if (!ok_status(h->status)) { /* an error page or a redirect's body: keep its start for messages */
        for (size_t i = 0; i < n && resp->body_len + 1 < SR_FETCH_ERRBODY_MAX; i++) {
            unsigned char c = (unsigned char)p[i];
            char ch = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
            if (keep_mem(h, &ch, 1) < 0) {
                h->r = -ENOMEM;
                return 0;
            }
        }
        h->drained += n;
        if (h->drained > ERRBODY_DRAIN_MAX) {
            h->r = -EFBIG;
            return 0;
        }
        return n;
    }
    if (resp->bytes + n > h->rq->max_bytes) {
        h->r = -EFBIG;
        return 0;
    }
    if (EVP_DigestUpdate(h->md, p, n) != 1) {
        h->r = -EIO;
        return 0;
    }
    int r = h->rq->fd >= 0 ? sr_fd_write_all(h->rq->fd, p, n) : keep_mem(h, p, n);
    if (r < 0) {
        h->r = r;
        return 0;
    }
    resp->bytes += n;
    if (h->o->progress) {
        r = h->o->progress(h->o->progress_ud, resp->bytes, h->announced);
        if (r != 0) {
            h->r = r < 0 ? r : -ECANCELED;
            return 0;
        }
    }
    return n;
}

/* Called about once a second even while nothing arrives: notices a cancel on a stalled peer. */
static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    hop *h = ud;
    if (cancelled(h->o)) {
        h->r = -ECANCELED;
        return 1;
    }
    return 0;
}

/* Trusts ca_file in addition to the default store (curl loaded that before calling us). */
static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *ud) {
    (void)curl;
    const char *ca_file = ud;
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    if (!store || X509_STORE_load_file(store, ca_file) != 1)
        return CURLE_SSL_CACERT_BADFILE;
    return CURLE_OK;
}

int sr_fetch_origin(const char *url, char *out, size_t outlen) {
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int r = -EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *c = host; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        int w = snprintf(out, outlen, "%s://%s:%s", scheme, host, port);
        r = (w < 0 || (size_t)w >= outlen) ? -ENAMETOOLONG : 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

static bool scheme_allowed(const sr_fetch_opts *o, const char *url) {
    if (strncasecmp(url, "https://", 8) == 0)
        return true;
    return o->allow_http && strncasecmp(url, "http://", 7) == 0;
}

static int curl_errno(CURLcode c) {
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return -EPROTO;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    case CURLE_FILESIZE_EXCEEDED:
        return -EFBIG;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

static int setopts(CURL *c, const sr_fetch_opts *o, const sr_fetch_req *rq, const char *url, bool with_auth,
                   struct curl_slist *headers, hop *h, char *ebuf) {
    int64_t stall = o->stall_ms > 0 ? o->stall_ms : DEFAULT_STALL_MS;
    long stall_s = (long)((stall + 999) / 1000);
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                                                  \
    do {                                                                                                               \
        if (e == CURLE_OK)                                                                                             \
            e = curl_easy_setopt(c, opt, val);                                                                         \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, o->allow_http ? "http,https" : "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, ebuf);
    SET(CURLOPT_USERAGENT, "serviceradar-core/" SR_VERSION);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)stall);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, stall_s);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, h);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, h);
    SET(CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    SET(CURLOPT_XFERINFODATA, h);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file && o->ca_file[0]) {
        SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        SET(CURLOPT_SSL_CTX_DATA, (void *)(uintptr_t)o->ca_file);
    }
    if (headers)
        SET(CURLOPT_HTTPHEADER, headers);
    if (with_auth && rq->username) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, rq->username);
        SET(CURLOPT_PASSWORD, rq->password ? rq->password : "");
    }
#undef SET
    return e == CURLE_OK ? 0 : -EINVAL;
}

void sr_fetch_resp_done(sr_fetch_resp *r) {
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* Headers of one hop: Accept, and Authorization: Bearer when credentials go to this origin. */
static int build_headers(const sr_fetch_req *rq, bool with_auth, struct curl_slist **ret) {
    struct curl_slist *l = NULL;
    char line[8300];
    if (rq->accept) {
        int w = snprintf(line, sizeof(line), "Accept: %s", rq->accept);
        if (w < 0 || (size_t)w >= sizeof(line))
            return -E2BIG;
        struct curl_slist *nl = curl_slist_append(l, line);
        if (!nl)
            goto nomem;
        l = nl;
    }
    if (with_auth && rq->bearer) {
        int w = snprintf(line, sizeof(line), "Authorization: Bearer %s", rq->bearer);
        if (w < 0 || (size_t)w >= sizeof(line)) {
            curl_slist_free_all(l);
            return -E2BIG;
        }
        struct curl_slist *nl = curl_slist_append(l, line);
        if (!nl)
            goto nomem;
        l = nl;
    }
    *ret = l;
    return 0;
nomem:
    curl_slist_free_all(l);
    return -ENOMEM;
}

int sr_fetch(const sr_fetch_opts *o, const sr_fetch_req *rq, sr_fetch_resp *ret, char *err, size_t errlen) {
    memset(ret, 0, sizeof(*ret));
    if (!scheme_allowed(o, rq->url)) {
        sr_errf(err, errlen, "could not fetch %s: only https:// URLs are allowed here", rq->url);
        return -EPERM;
    }
    char origin[512], url[sizeof(ret->url)];
    if (sr_fetch_origin(rq->url, origin, sizeof(origin)) < 0 || strlen(rq->url) >= sizeof(url)) {
        sr_errf(err, errlen, "could not fetch %s: not a valid URL", rq->url);
        return -EINVAL;
    }
    snprintf(url, sizeof(url), "%s", rq->url);
    CURL *c = curl_easy_init();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = 0;
    if (!c || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        sr_errf(err, errlen, "could not fetch %s: out of memory", rq->url);
        r = -ENOMEM;
        goto out;
    }
    hop h = {.o = o, .rq = rq, .resp = ret, .md = md};
    for (int hops = 0;; hops++) {
        char here[512];
        bool with_auth = sr_fetch_origin(url, here, sizeof(here)) == 0 && strcmp(here, origin) == 0;
        struct curl_slist *headers = NULL;
        r = build_headers(rq, with_auth, &headers);
        if (r < 0) {
            sr_errf(err, errlen, "could not fetch %s: %s", url, strerror(-r));
            goto out;
        }
        char ebuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(c);
        r = setopts(c, o, rq, url, with_auth, headers, &h, ebuf);
        if (r < 0) {
            curl_slist_free_all(headers);
            sr_errf(err, errlen, "could not fetch %s: libcurl refused an option", url);
            goto out;
        }
        h.status = 0;
        h.r = 0;
        h.drained = 0;
        free(ret->body);
        ret->body = NULL;
        ret->body_len = 0;
        h.mem_cap = 0;
        ret->requests++;
        snprintf(ret->url, sizeof(ret->url), "%s", url);
        CURLcode cc = curl_easy_perform(c);
        curl_slist_free_all(headers);
        if (cc != CURLE_OK) {
            r = h.r ? h.r : curl_errno(cc);
            if (r == -EFBIG)
                sr_errf(err, errlen, "could not fetch %s: larger than %llu bytes", url,
                        (unsigned long long)rq->max_bytes);
            else if (r == -ECANCELED)
                sr_errf(err, errlen, "could not fetch %s: cancelled", url);
            else if (r == -ETIMEDOUT)
                sr_errf(err, errlen, "could not fetch %s: no progress for %lld ms (%s)", url,
                        (long long)(o->stall_ms > 0 ? o->stall_ms : DEFAULT_STALL_MS), ebuf[0] ? ebuf : "timeout");
            else
                sr_errf(err, errlen, "could not fetch %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
            goto out;
        }
        long status = 0;
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ret->status = status;
        if (!redirect_status(status))
            break;
        char *loc = NULL;
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc) {
            break; /* a redirect without Location: the caller sees the status */
        }
        if (hops + 1 > SR_FETCH_REDIRECTS_MAX) {
            sr_errf(err, errlen, "could not fetch %s: more than %d redirects", rq->url, SR_FETCH_REDIRECTS_MAX);
            r = -ELOOP;
            goto out;
        }
        if (!scheme_allowed(o, loc)) {
            sr_errf(err, errlen, "could not fetch %s: redirected to a refused scheme (%.200s)", rq->url, loc);
            r = -EPERM;
            goto out;
        }
        if (strlen(loc) >= sizeof(url)) {
            sr_errf(err, errlen, "could not fetch %s: redirect URL too long", rq->url);
            r = -EINVAL;
            goto out;
        }
        snprintf(url, sizeof(url), "%s", loc);
    }
    if (ok_status(ret->status)) {
        unsigned int mdlen = 0;
        if (EVP_DigestFinal_ex(md, ret->sha256, &mdlen) != 1 || mdlen != 32) {
            sr_errf(err, errlen, "could not fetch %s: SHA-256 failed", url);
            r = -EIO;
            goto out;
        }
        if (rq->fd < 0 && !ret->body) { /* an empty body is "" */
            ret->body = calloc(1, 1);
            if (!ret->body) {
                r = -ENOMEM;
                goto out;
            }
        }
    }
    r = 0;
out:
    EVP_MD_CTX_free(md);
    if (c)
        curl_easy_cleanup(c);
    if (r < 0)
        sr_fetch_resp_done(ret);
    return r;
}
