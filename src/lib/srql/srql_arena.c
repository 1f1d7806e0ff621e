/* Per-compilation arena, capped text buffer and error filling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srql_internal.h"

struct srql_arena_block {
    srql_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define BLOCK_DATA (16u * 1024)

void *srql_alloc(srql_arena *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    if (n > SRQL_ARENA_MAX || a->total + n > SRQL_ARENA_MAX)
        return NULL;
    srql_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_DATA ? n : BLOCK_DATA;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *srql_strndup(srql_arena *a, const char *s, size_t n) {
    char *p = srql_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

void srql_arena_free(srql_arena *a) {
    srql_arena_block *b = a->head;
    while (b) {
        srql_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void srql_buf_add(srql_buf *b, const char *s, size_t n) {
    if (b->failed)
        return;
    size_t max = b->max ? b->max : 256 * 1024;
    if (b->len + n + 1 > max) {
        b->failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    if (n)
        memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void srql_buf_puts(srql_buf *b, const char *s) { srql_buf_add(b, s, strlen(s)); }

void srql_buf_printf(srql_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1;
        return;
    }
    srql_buf_add(b, tmp, (size_t)n);
}

void srql_buf_free(srql_buf *b) {
    free(b->buf);
    *b = (srql_buf){0};
}

int srql_fail(srql_error *err, srql_error_code code, size_t pos, size_t len, const char *hint, const char *fmt, ...) {
    if (err) {
        err->code = code;
        err->position = pos;
        err->length = len;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        (void)snprintf(err->hint, sizeof(err->hint), "%s", hint ? hint : "");
    }
    return -EINVAL;
}

const char *srql_error_code_name(srql_error_code code) {
    switch (code) {
    case SRQL_ERR_NONE:
        return "none";
    case SRQL_ERR_SYNTAX:
        return "syntax";
    case SRQL_ERR_UNKNOWN_FIELD:
        return "unknown_field";
    case SRQL_ERR_BAD_VALUE:
        return "bad_value";
    case SRQL_ERR_NOT_AVAILABLE:
        return "not_available";
    case SRQL_ERR_TOO_COMPLEX:
        return "too_complex";
    }
    return "unknown";
}
