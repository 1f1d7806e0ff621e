/* Fuzz target: SRQL parse and compile (src/lib/srql) over arbitrary text. Either the query
 * fails with an error whose position and length lie inside the input, or the plan's SQL uses
 * only bound placeholders and every parameter; the next page's cursor must compile too. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srql.h"

/* Every $n is within 1..nparams and each of 1..nparams is used. */
static void check_placeholders(const char *sql, size_t nparams) {
    unsigned char seen[1100] = {0};
    if (nparams >= sizeof(seen))
        abort();
    for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
        size_t v = 0;
        const char *d = p + 1;
        while (*d >= '0' && *d <= '9' && v < 100000)
            v = v * 10 + (size_t)(*d++ - '0');
        if (d == p + 1 || v < 1 || v > nparams)
            abort();
        seen[v] = 1;
    }
    for (size_t i = 1; i <= nparams; i++)
        if (!seen[i])
            abort();
}

static void check_plan(const srql_plan *p) {
    check_placeholders(p->sql, p->nparams);
    if (p->histogram_sql) {
        check_placeholders(p->histogram_sql, p->nfilter_params + 1);
        check_placeholders(p->bounds_sql, p->nfilter_params);
    }
    if (p->limit < 1 || p->limit > SRQL_LIMIT_MAX || p->ncolumns == 0 || p->nfilter_params > p->nparams)
        abort();
    for (size_t i = 0; i < p->nhighlight; i++)
        if (!p->highlight[i])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SRQL_QUERY_MAX + 16)
        return 0;
    const char *q = (const char *)data;
    srql_plan *p = NULL;
    srql_error e;
    int r = srql_compile(q, size, NULL, &p, &e);
    if (r == -ENOMEM)
        return 0;
    if (r != 0) {
        if (r != -EINVAL || p || e.code == SRQL_ERR_NONE || e.position > size || e.length > size - e.position ||
            !e.message[0])
            abort();
        return 0;
    }
    check_plan(p);
    char cur[SRQL_CURSOR_MAX + 1];
    if (srql_cursor_next(p, "2026-01-01T00:00:00.000001Z", "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f", cur,
                         sizeof(cur)) != 0)
        abort();
    int more = p->more_allowed;
    srql_plan_free(p);
    p = NULL;
    srql_options opt = {.cursor = cur};
    r = srql_compile(q, size, &opt, &p, &e);
    if (more && r != 0 && r != -ENOMEM)
        abort();
    if (r == 0)
        check_plan(p);
    srql_plan_free(p);
    return 0;
}
