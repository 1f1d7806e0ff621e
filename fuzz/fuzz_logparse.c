/* Fuzz target: arbitrary bytes as log lines (split at '\n') through one parser, so the sshd
 * connection table sees sequences too. Every output must be bounded, valid UTF-8 and consistent. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_logparse.h"
#include "sr_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n >= max || !sr_utf8_valid(s, n))
        abort();
}

static void check(const sr_logparse_record *r) {
    if (r->raw_len > SR_LOGPARSE_RAW_MAX || strlen(r->raw) != r->raw_len || !sr_utf8_valid(r->raw, r->raw_len))
        abort();
    /* message is a suffix of raw */
    if (r->message < r->raw || r->message > r->raw + r->raw_len)
        abort();
    check_str(r->hostname, SR_LOGPARSE_WORD_MAX);
    check_str(r->program, SR_LOGPARSE_WORD_MAX);
    check_str(r->user, SR_LOGPARSE_WORD_MAX);
    check_str(r->src_ip, SR_LOGPARSE_IP_MAX);
    check_str(r->outcome, 16);
    check_str(r->action, 32);
    if (r->src_ip[0]) {
        unsigned char a[16];
        if (inet_pton(AF_INET, r->src_ip, a) != 1 && inet_pton(AF_INET6, r->src_ip, a) != 1)
            abort();
    }
    if (r->severity < -1 || r->severity > 7 || r->facility < -1 || r->facility > 23)
        abort();
    if (r->n_fields > SR_LOGPARSE_FIELDS_MAX)
        abort();
    for (size_t i = 0; i < r->n_fields; i++) {
        check_str(r->fields[i].key, 64);
        check_str(r->fields[i].value, SR_LOGPARSE_VALUE_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sr_logparse_record rec; /* 30 KiB: not on the stack */
    sr_logparse_options o = {.max_connections = 8};
    if (size > 0 && data[0] == 'L')
        o.tz.kind = SR_LOGPARSE_TZ_LOCAL;
    sr_logparse *p = NULL;
    if (sr_logparse_new(&o, &p) < 0)
        abort();
    const int64_t read_ms = INT64_C(1700000000000);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            sr_logparse_line(p, (const char *)data + start, i - start, read_ms, &rec);
            check(&rec);
            start = i + 1;
        }
    }
    /* the whole input as one line too (NUL bytes, newlines, over-long lines) */
    sr_logparse_line(p, (const char *)data, size, read_ms, &rec);
    check(&rec);
    sr_logparse_free(p);
    return 0;
}
