#include "sr_collector.h"

#include "sr_parse.h"
#include "sr_utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void sr_points_init(sr_points *p, size_t max) {
    *p = (sr_points){.max = (max == 0 || max > SR_POINTS_MAX) ? SR_POINTS_MAX : max};
}

int sr_points_add(sr_points *p, const char *name, const char *dim, double value, int64_t time_unix_ms) {
    if (!name || !*name || strnlen(name, SR_POINT_NAME_MAX + 1) > SR_POINT_NAME_MAX)
        return -EINVAL;
    if (!dim)
        dim = "";
    size_t dlen = strnlen(dim, SR_POINT_DIM_MAX + 1);
    if (dlen > SR_POINT_DIM_MAX)
        return -ENAMETOOLONG;
    /* UTF-8 without overlongs, surrogates or code points above U+10FFFF; no C0 controls or DEL */
    if (!sr_utf8_valid_printable(dim, dlen))
        return -EILSEQ;
    if (!isfinite(value))
        return -EDOM;
    if (p->n >= p->max)
        return -ENOSPC;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        if (ncap > p->max)
            ncap = p->max;
        sr_point *nv = realloc(p->v, ncap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        p->v = nv;
        p->cap = ncap;
    }
    sr_point *pt = &p->v[p->n++];
    pt->name = name;
    memcpy(pt->dim, dim, dlen);
    pt->dim[dlen] = '\0';
    pt->value = value;
    pt->time_unix_ms = time_unix_ms;
    return 0;
}

void sr_points_clear(sr_points *p) { p->n = 0; }

void sr_points_done(sr_points *p) {
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

static void json_string(const char *s, FILE *out) {
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

/* The shortest of %.15g / %.17g that reads back as the same double. */
static void json_number(double v, FILE *out) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.15g", v);
    double back;
    if (sr_parse_double(buf, &back) < 0 || back != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, out);
}

int sr_points_write_json(const sr_points *p, FILE *out) {
    for (size_t i = 0; i < p->n; i++) {
        const sr_point *pt = &p->v[i];
        fputs("{\"name\":", out);
        json_string(pt->name, out);
        fputs(",\"dim\":", out);
        json_string(pt->dim, out);
        fputs(",\"value\":", out);
        json_number(pt->value, out);
        fprintf(out, ",\"time_unix_ms\":%" PRId64 "}\n", pt->time_unix_ms);
    }
    return ferror(out) ? -EIO : 0;
}
