#include "srtest_http.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

size_t srtest_http_on_body(char *p, size_t sz, size_t n, void *ud) {
    srtest_http_resp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->len += add;
    nb[r->len] = '\0';
    r->body = nb;
    return add;
}

size_t srtest_http_on_header(char *p, size_t sz, size_t n, void *ud) {
    srtest_http_resp *r = ud;
    size_t add = sz * n;
    if (r->hlen + add < sizeof(r->headers)) {
        memcpy(r->headers + r->hlen, p, add);
        r->hlen += add;
        r->headers[r->hlen] = '\0';
    }
    return add;
}

void srtest_http_resp_free(srtest_http_resp *r) {
    free(r->body);
    memset(r, 0, sizeof(*r));
}

srtest_http_resp srtest_http(int port, const char *method, const char *path, const char *body, size_t body_len,
                             long timeout_s) {
    srtest_http_resp r = {0};
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[16384];
    assert_true((size_t)snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path) < sizeof(url));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, srtest_http_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, srtest_http_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    struct curl_slist *h = NULL;
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? body_len : 0));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

void srtest_http_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void srtest_http_cleanup(void) { curl_global_cleanup(); }
