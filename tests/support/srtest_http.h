/* HTTP client for integration tests (libcurl), in its own target srtest_http so that tests
 * without HTTP do not link curl. Failures fail the running cmocka test. */
#pragma once
#include <stddef.h>

typedef struct {
    long status;
    char *body; /* NUL-terminated, never NULL after srtest_http */
    size_t len;
    char headers[8192]; /* the raw response header lines (truncated when longer) */
    size_t hlen;
} srtest_http_resp;

/* curl callbacks appending to a srtest_http_resp (ud) */
size_t srtest_http_on_body(char *p, size_t sz, size_t n, void *ud);
size_t srtest_http_on_header(char *p, size_t sz, size_t n, void *ud);
void srtest_http_resp_free(srtest_http_resp *r);

/* Sends method path (raw: no dot-segment squashing) to 127.0.0.1:port with an optional body;
 * a POST carries Content-Type: application/json. HEAD asks for no body. */
srtest_http_resp srtest_http(int port, const char *method, const char *path, const char *body, size_t body_len,
                             long timeout_s);

/* curl_global_init / curl_global_cleanup, for main() before and after the tests. */
void srtest_http_init(void);
void srtest_http_cleanup(void);
