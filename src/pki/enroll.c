#include "enroll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "sr_cleanup.h"

#define ENROLL_URL_MAX 2048

typedef struct {
    char *data;
    size_t len, cap;
    int too_big;
} enroll_buf;

static size_t enroll_on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
    enroll_buf *b = userdata;
    size_t n = size * nmemb;
    if (n > ENROLL_RESPONSE_MAX - b->len) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *nd = realloc(b->data, ncap);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void enroll_curl_cleanup(CURL **c) {
    if (*c)
        curl_easy_cleanup(*c);
}
static void enroll_slist_cleanup(struct curl_slist **l) {
    if (*l)
        curl_slist_free_all(*l);
}
static void enroll_json_cleanup(json_t **j) {
    if (*j)
        json_decref(*j);
}
static void enroll_url_cleanup(CURLU **u) {
    if (*u)
        curl_url_cleanup(*u);
}

int enroll_url_is_remote_http(const char *url) {
    _cleanup_(enroll_url_cleanup) CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        curl_free(scheme);
        return 0;
    }
    int remote = strcasecmp(scheme, "http") == 0 && strcasecmp(host, "localhost") != 0 &&
                 strcmp(host, "127.0.0.1") != 0 && strcmp(host, "[::1]") != 0;
    curl_free(scheme);
    curl_free(host);
    return remote;
}

/* The message of an {"error":{"code","message"}} answer, or the start of the body. */
static void enroll_error_text(const enroll_buf *b, long status, char *err, size_t errlen) {
    _cleanup_(enroll_json_cleanup) json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *msg = NULL, *code = NULL;
    if (j && json_unpack(j, "{s:{s?s, s:s}}", "error", "code", &code, "message", &msg) == 0) {
        snprintf(err, errlen, "the core answered %ld %s: %s", status, code ? code : "", msg);
        return;
    }
    snprintf(err, errlen, "the core answered %ld: %.200s", status, b->data ? b->data : "(empty body)");
}

int enroll_post(const char *core_url, const char *core_ca_file, const char *token, const char *csr_pem,
                char **ret_cert_pem, char **ret_ca_pem, char *err, size_t errlen) {
    size_t ulen = strnlen(core_url, ENROLL_URL_MAX);
    if (ulen == 0 || ulen >= ENROLL_URL_MAX - 32 ||
        (strncasecmp(core_url, "http://", 7) != 0 && strncasecmp(core_url, "https://", 8) != 0)) {
        snprintf(err, errlen, "the core address must be http(s)://HOST:PORT");
        return -EINVAL;
    }
    while (ulen > 0 && core_url[ulen - 1] == '/')
        ulen--;
    char url[ENROLL_URL_MAX];
    snprintf(url, sizeof(url), "%.*s/api/v1/enroll", (int)ulen, core_url);

    _cleanup_(enroll_json_cleanup) json_t *req = json_pack("{s:s, s:s}", "token", token, "csr", csr_pem);
    _cleanup_free_ char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    _cleanup_(enroll_curl_cleanup) CURL *c = curl_easy_init();
    _cleanup_(enroll_slist_cleanup) struct curl_slist *headers = NULL;
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h = headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
    if (!c || !h) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    enroll_buf resp = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    int ok = curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)ENROLL_TIMEOUT_S) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_USERAGENT, "serviceradar-pki/" SR_VERSION) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, enroll_on_data) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err) == CURLE_OK &&
             (!core_ca_file || curl_easy_setopt(c, CURLOPT_CAINFO, core_ca_file) == CURLE_OK);
    if (!ok) {
        snprintf(err, errlen, "could not set up the HTTP client");
        return -EIO;
    }
    CURLcode cr = curl_easy_perform(c);
    _cleanup_free_ char *data = resp.data;
    if (resp.too_big) {
        snprintf(err, errlen, "the core's answer is larger than %d bytes", ENROLL_RESPONSE_MAX);
        return -EBADMSG;
    }
    if (cr != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(cr));
        return -EIO;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        enroll_error_text(&resp, status, err, errlen);
        return -EACCES;
    }
    _cleanup_(enroll_json_cleanup) json_t *j = data ? json_loadb(data, resp.len, 0, NULL) : NULL;
    const char *cert = NULL, *ca = NULL;
    if (!j || json_unpack(j, "{s:s, s:s}", "certificate", &cert, "ca", &ca) != 0) {
        snprintf(err, errlen, "the core's answer is not {\"certificate\",\"ca\"}");
        return -EBADMSG;
    }
    _cleanup_free_ char *cert_copy = strdup(cert);
    _cleanup_free_ char *ca_copy = strdup(ca);
    if (!cert_copy || !ca_copy) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *ret_cert_pem = SR_TAKE_PTR(cert_copy);
    *ret_ca_pem = SR_TAKE_PTR(ca_copy);
    return 0;
}
