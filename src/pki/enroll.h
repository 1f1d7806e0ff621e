/* The HTTP half of `serviceradar-pki enroll`: POST /api/v1/enroll on the core. */
#pragma once
#include <stddef.h>

#define ENROLL_TIMEOUT_S 30
#define ENROLL_RESPONSE_MAX (1024 * 1024)

/* Sends {"token","csr"} to <core_url>/api/v1/enroll (core_url: http(s)://HOST:PORT, optional trailing '/').
 * core_ca_file, when not NULL, is the CA bundle that verifies an https core (default: the system store).
 * Returns 0 with *ret_cert_pem and *ret_ca_pem (heap), or a negative errno with a message in err:
 * -EINVAL bad URL, -EIO transport failure, -EACCES the core refused (its message is in err),
 * -EBADMSG the answer is not {"certificate","ca"}. */
int enroll_post(const char *core_url, const char *core_ca_file, const char *token, const char *csr_pem,
                char **ret_cert_pem, char **ret_ca_pem, char *err, size_t errlen);

/* 1 when url is plain http to a host other than localhost / 127.0.0.1 / ::1. */
int enroll_url_is_remote_http(const char *url);
