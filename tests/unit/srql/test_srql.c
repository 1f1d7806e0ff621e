/* Unit tests of SRQL (src/lib/srql): the golden files of testdata/srql (each NNN_name.srql
 * compiled and compared with NNN_name.sql or NNN_name.err; SR_GOLDEN_UPDATE=1 rewrites them),
 * then cursors, limits and the invariants every plan keeps. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_file.h"
#include "srql.h"

#ifndef SR_SRQL_TESTDATA
#error "SR_SRQL_TESTDATA must name testdata/srql"
#endif

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void tx_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx_printf(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        assert_non_null(t->buf);
    }
    va_start(ap, fmt);
    (void)vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void tx_json_string(text *t, const char *s) {
    if (!s) {
        tx_printf(t, "null");
        return;
    }
    json_t *j = json_string(s);
    assert_non_null(j);
    char *d = json_dumps(j, JSON_ENCODE_ANY);
    assert_non_null(d);
    tx_printf(t, "%s", d);
    free(d);
    json_decref(j);
}

/* Every $n of sql is within 1..nparams and each of 1..n_used appears. */
static void check_placeholders(const char *sql, size_t nparams, size_t must_use) {
    char *seen = calloc(nparams + 1, 1);
    assert_non_null(seen);
    for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
        size_t v = 0;
        const char *d = p + 1;
        while (*d >= '0' && *d <= '9')
            v = v * 10 + (size_t)(*d++ - '0');
        assert_true(d > p + 1);
        assert_true(v >= 1 && v <= nparams);
        seen[v] = 1;
    }
    for (size_t i = 1; i <= must_use; i++)
        if (!seen[i])
            fail_msg("$%zu unused in:\n%s", i, sql);
    free(seen);
}

static void render_plan(const srql_plan *p, text *t) {
    tx_printf(t, "-- kind: %s\n", p->kind == SRQL_KIND_EVENTS ? "events" : "stats");
    tx_printf(t, "-- columns:");
    for (size_t i = 0; i < p->ncolumns; i++)
        tx_printf(t, "%s %s %s", i ? "," : "", p->columns[i].name, srql_col_type_name(p->columns[i].type));
    tx_printf(t, "\n-- page: limit %d, %s cursor%s\n", p->limit,
              p->cursor_kind == SRQL_CURSOR_KEYSET ? "keyset" : "offset", p->more_allowed ? "" : ", last page");
    if (p->nhighlight) {
        tx_printf(t, "-- highlight:");
        for (size_t i = 0; i < p->nhighlight; i++) {
            tx_printf(t, " ");
            tx_json_string(t, p->highlight[i]);
        }
        tx_printf(t, "\n");
    }
    if (p->range_s)
        tx_printf(t, "-- range: %lld s\n", (long long)p->range_s);
    tx_printf(t, "%s;\n", p->sql);
    for (size_t i = 0; i < p->nparams; i++) {
        tx_printf(t, "-- $%zu = ", i + 1);
        tx_json_string(t, p->params[i]);
        tx_printf(t, "\n");
    }
    if (p->histogram_sql)
        tx_printf(t, "-- histogram (filter params, then the bucket width):\n%s;\n", p->histogram_sql);
}

static void render_error(const srql_error *e, text *t) {
    tx_printf(t, "code: %s\nposition: %zu\nlength: %zu\nmessage: %s\nhint: %s\n", srql_error_code_name(e->code),
              e->position, e->length, e->message, e->hint);
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check_plan_invariants(const srql_plan *p) {
    check_placeholders(p->sql, p->nparams, p->nparams);
    if (p->histogram_sql) {
        check_placeholders(p->histogram_sql, p->nfilter_params + 1, p->nfilter_params + 1);
        check_placeholders(p->bounds_sql, p->nfilter_params, p->nfilter_params);
    }
    assert_true(p->limit >= 1 && p->limit <= SRQL_LIMIT_MAX);
    assert_true(p->ncolumns > 0);
}

static void test_golden(void **state) {
    (void)state;
    const char *dir = SR_SRQL_TESTDATA;
    int update = getenv("SR_GOLDEN_UPDATE") && strcmp(getenv("SR_GOLDEN_UPDATE"), "1") == 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512] = {0};
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (has_suffix(de->d_name, ".srql")) {
            assert_true(n < 512);
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    assert_true(n >= 10);
    qsort(names, n, sizeof(names[0]), cmp_names);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024], sqlp[1024], errp[1024];
        (void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        size_t base = strlen(path) - 5;
        (void)snprintf(sqlp, sizeof(sqlp), "%.*s.sql", (int)base, path);
        (void)snprintf(errp, sizeof(errp), "%.*s.err", (int)base, path);
        char *q = NULL;
        size_t qlen = 0;
        assert_int_equal(sr_file_read_all(path, 1 << 20, &q, &qlen), 0);
        if (qlen > 0 && q[qlen - 1] == '\n') /* the file's last newline is not part of the query */
            q[--qlen] = '\0';
        srql_plan *p = NULL;
        srql_error e;
        srql_options opt = {.default_limit = 100};
        int r = srql_compile(q, qlen, &opt, &p, &e);
        text got = {0};
        const char *want_path = r == 0 ? sqlp : errp;
        const char *other = r == 0 ? errp : sqlp;
        if (r == 0) {
            check_plan_invariants(p);
            render_plan(p, &got);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_true(e.position + e.length <= qlen || (e.position == 0 && e.length == 0));
            render_error(&e, &got);
        }
        if (update) {
            assert_int_equal(sr_file_write_atomic(want_path, got.buf, got.len, 0644), 0);
            (void)remove(other);
        } else {
            char *want = NULL;
            size_t wlen = 0;
            if (sr_file_read_all(want_path, 1 << 20, &want, &wlen) < 0) {
                print_error("%s: no %s (compile %s)\n%s", names[i], want_path, r == 0 ? "succeeded" : "failed",
                            got.buf);
                failures++;
            } else if (wlen != got.len || memcmp(want, got.buf, wlen) != 0) {
                print_error("%s differs from %s:\n--- got\n%s--- want\n%s", names[i], want_path, got.buf, want);
                failures++;
            }
            free(want);
        }
        free(got.buf);
        free(q);
        srql_plan_free(p);
        free(names[i]);
    }
    if (failures)
        fail_msg("%d golden file(s) differ (SR_GOLDEN_UPDATE=1 rewrites them after review)", failures);
}

static srql_plan *compile_ok(const char *q, const char *cursor) {
    srql_plan *p = NULL;
    srql_error e;
    srql_options opt = {.default_limit = 2, .cursor = cursor};
    int r = srql_compile(q, strlen(q), &opt, &p, &e);
    if (r != 0)
        fail_msg("compile \"%s\": %s (%s at %zu)", q, e.message, srql_error_code_name(e.code), e.position);
    check_plan_invariants(p);
    return p;
}

static void test_cursor(void **state) {
    (void)state;
    const char *q = "host:web-01";
    srql_plan *p = compile_ok(q, NULL);
    assert_int_equal(p->cursor_kind, SRQL_CURSOR_KEYSET);
    assert_int_equal(p->limit, 2);
    char cur[SRQL_CURSOR_MAX + 1];
    assert_int_equal(srql_cursor_next(p, "2026-01-01T00:00:00.000001Z", "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f", cur,
                                      sizeof(cur)),
                     0);
    /* bad row values are refused */
    char tmp[SRQL_CURSOR_MAX + 1];
    assert_int_equal(srql_cursor_next(p, "yesterday", "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f", tmp, sizeof(tmp)),
                     -EINVAL);
    assert_int_equal(srql_cursor_next(p, "2026-01-01T00:00:00Z", "x' OR 1=1", tmp, sizeof(tmp)), -EINVAL);
    srql_plan_free(p);
    /* the next page carries the key as two more parameters */
    p = compile_ok(q, cur);
    assert_non_null(strstr(p->sql, "AND (e.time, e.id) < ($2::timestamptz, $3::uuid)"));
    assert_string_equal(p->params[1], "2026-01-01T00:00:00.000001Z");
    assert_string_equal(p->params[2], "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f");
    srql_plan_free(p);
    /* a cursor of another query, a mangled one and an offset cursor on a keyset query fail */
    const char *bad[] = {"", "!!!!", "AAAA", cur + 1};
    srql_error e;
    srql_options opt = {.cursor = cur};
    assert_int_equal(srql_compile("host:web-02", 11, &opt, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_BAD_VALUE);
    assert_string_equal(e.message, "bad cursor");
    for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++) {
        opt.cursor = bad[i];
        assert_int_equal(srql_compile(q, strlen(q), &opt, &p, &e), -EINVAL);
    }
    /* offset cursors: sort by host, and stats */
    const char *q2 = "sort:host:asc";
    p = compile_ok(q2, NULL);
    assert_int_equal(p->cursor_kind, SRQL_CURSOR_OFFSET);
    assert_int_equal(srql_cursor_next(p, NULL, NULL, cur, sizeof(cur)), 0);
    srql_plan_free(p);
    p = compile_ok(q2, cur);
    assert_int_equal(p->offset, 2);
    assert_string_equal(p->params[p->nparams - 1], "2");
    srql_plan_free(p);
    opt.cursor = cur; /* an offset cursor for a keyset query */
    assert_int_equal(srql_compile(q2, strlen(q2) - 1, &opt, &p, &e), -EINVAL);
}

static void test_head_and_limits(void **state) {
    (void)state;
    srql_plan *p = compile_ok("* | stats count() by host | head 3", NULL);
    assert_int_equal(p->limit, 2);
    assert_true(p->more_allowed);
    char cur[SRQL_CURSOR_MAX + 1];
    assert_int_equal(srql_cursor_next(p, NULL, NULL, cur, sizeof(cur)), 0);
    srql_plan_free(p);
    p = compile_ok("* | stats count() by host | head 3", cur);
    assert_int_equal(p->limit, 1); /* only one row is left of the three */
    assert_false(p->more_allowed);
    srql_plan_free(p);
    /* head ends keyset pages too: their cursor counts the rows shown */
    const char *hq = "host:web-01 | head 5";
    const char *row_time = "2026-01-01T00:00:00.000001Z", *row_id = "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f";
    int pages = 0, rows = 0;
    char hcur[SRQL_CURSOR_MAX + 1] = "";
    for (;;) {
        p = compile_ok(hq, hcur[0] ? hcur : NULL);
        assert_int_equal(p->cursor_kind, SRQL_CURSOR_KEYSET);
        assert_null(strstr(p->sql, "OFFSET"));
        pages++;
        rows += p->limit;
        int more = p->more_allowed;
        if (more)
            assert_int_equal(srql_cursor_next(p, row_time, row_id, hcur, sizeof(hcur)), 0);
        srql_plan_free(p);
        if (!more || pages > 10)
            break;
    }
    assert_int_equal(pages, 3); /* 2 + 2 + 1 */
    assert_int_equal(rows, 5);
    /* keyset paging without head is not limited by the offset depth */
    p = compile_ok("host:web-01", NULL);
    for (int i = 0; i < 3; i++) {
        assert_true(p->more_allowed);
        assert_int_equal(srql_cursor_next(p, row_time, row_id, hcur, sizeof(hcur)), 0);
        srql_plan_free(p);
        p = compile_ok("host:web-01", hcur);
    }
    assert_int_equal(p->offset, 6);
    srql_plan_free(p);
    /* limit: wins over the default */
    p = compile_ok("limit:7", NULL);
    assert_int_equal(p->limit, 7);
    assert_string_equal(p->params[p->nparams - 1], "8");
    srql_plan_free(p);
    /* the query length cap */
    char *big = malloc(SRQL_QUERY_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', SRQL_QUERY_MAX + 1);
    big[SRQL_QUERY_MAX + 1] = '\0';
    srql_error e;
    assert_int_equal(srql_compile(big, SRQL_QUERY_MAX + 1, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_TOO_COMPLEX);
    /* too many terms */
    size_t off = 0;
    for (int i = 0; i <= SRQL_TERMS_MAX; i++)
        off += (size_t)snprintf(big + off, SRQL_QUERY_MAX + 2 - off, "w%d ", i);
    assert_int_equal(srql_compile(big, off, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_TOO_COMPLEX);
    /* nesting */
    off = 0;
    for (int i = 0; i < SRQL_DEPTH_MAX + 1; i++)
        big[off++] = '(';
    big[off++] = 'a';
    for (int i = 0; i < SRQL_DEPTH_MAX + 1; i++)
        big[off++] = ')';
    assert_int_equal(srql_compile(big, off, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_TOO_COMPLEX);
    free(big);
    /* invalid UTF-8 is refused with its position */
    assert_int_equal(srql_compile("host:a\xff", 7, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_BAD_VALUE);
    assert_int_equal(e.position, 6);
    /* so is a NUL byte (PostgreSQL text cannot hold it) */
    assert_int_equal(srql_compile("host:a\0b", 8, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.code, SRQL_ERR_BAD_VALUE);
    assert_int_equal(e.position, 6);
    assert_int_equal(srql_compile("k8s.ns:\"a\0\"", 11, NULL, &p, &e), -EINVAL);
    assert_int_equal(e.position, 9);
}

static void test_bucket_seconds(void **state) {
    (void)state;
    assert_int_equal(srql_bucket_seconds(0), 1);
    assert_int_equal(srql_bucket_seconds(60), 1);
    assert_int_equal(srql_bucket_seconds(900), 15);
    assert_int_equal(srql_bucket_seconds(3600), 60);
    assert_int_equal(srql_bucket_seconds(86400), 1800);
    assert_int_equal(srql_bucket_seconds(7 * 86400), 10800);
    assert_int_equal(srql_bucket_seconds(30 * 86400), 43200);
    assert_int_equal(srql_bucket_seconds(400LL * 86400), 604800);
    /* events centuries apart: whole years, never more than SRQL_HIST_BUCKETS + 1 buckets */
    const int64_t year = 31536000;
    assert_int_equal(srql_bucket_seconds(60 * year), year);
    assert_int_equal(srql_bucket_seconds(60 * year + 1), 2 * year);
    int64_t huge[] = {1000 * year, 290000LL * year, INT64_MAX / 2, INT64_MAX};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        int64_t w = srql_bucket_seconds(huge[i]);
        assert_true(w > 0 && w % year == 0);
        assert_true(huge[i] / w <= SRQL_HIST_BUCKETS);
    }
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(srql_severity_name(0), "unknown");
    assert_string_equal(srql_severity_name(5), "critical");
    assert_null(srql_severity_name(6));
    assert_null(srql_severity_name(-1));
    assert_string_equal(srql_error_code_name(SRQL_ERR_NOT_AVAILABLE), "not_available");
    assert_string_equal(srql_col_type_name(SRQL_COL_TEXT_ARRAY), "text_array");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),         cmocka_unit_test(test_cursor), cmocka_unit_test(test_head_and_limits),
        cmocka_unit_test(test_bucket_seconds), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
