#include "sr_config.h"

#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_parse.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define SR_CONFIG_MAX_FILE (1024 * 1024)
#define SR_CONFIG_MAX_LINE 4096

static const sr_config_entry *find(const sr_config_table *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].key, key) == 0)
            return &t->entries[i];
    return NULL;
}

static int in_bounds(const sr_config_entry *e, int64_t v) {
    if (e->min == 0 && e->max == 0)
        return 1;
    return v >= e->min && v <= e->max;
}

static int set_entry(const sr_config_entry *e, void *obj, const char *value, char *err, size_t errlen) {
    char *field = (char *)obj + e->offset;
    int r = 0;
    switch (e->type) {
    case SR_CFG_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return -ENOMEM;
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = copy;
        return 0;
    }
    case SR_CFG_INT: {
        int64_t v;
        r = sr_parse_i64(value, INT64_MIN, INT64_MAX, &v);
        if (r == 0 && !in_bounds(e, v))
            r = -ERANGE;
        if (r == 0)
            *(int64_t *)(void *)field = v;
        break;
    }
    case SR_CFG_BOOL: {
        int v;
        r = sr_parse_bool(value, &v);
        if (r == 0)
            *(int *)(void *)field = v;
        break;
    }
    case SR_CFG_DURATION: {
        int64_t v;
        r = sr_parse_duration_ms(value, &v);
        if (r == 0 && !in_bounds(e, v))
            r = -ERANGE;
        if (r == 0)
            *(int64_t *)(void *)field = v;
        break;
    }
    case SR_CFG_SIZE: {
        uint64_t v;
        r = sr_parse_size(value, &v);
        if (r == 0 && (v > INT64_MAX || !in_bounds(e, (int64_t)v)))
            r = -ERANGE;
        if (r == 0)
            *(uint64_t *)(void *)field = v;
        break;
    }
    }
    if (r < 0) {
        if (r == -ERANGE && !(e->min == 0 && e->max == 0))
            snprintf(err, errlen, "invalid value \"%s\" for %s: out of range [%" PRId64 ", %" PRId64 "]", value,
                     e->key, e->min, e->max);
        else
            snprintf(err, errlen, "invalid value \"%s\" for %s: %s", value, e->key, strerror(-r));
    }
    return r;
}

int sr_config_defaults(const sr_config_table *t, void *obj) {
    char err[256];
    for (size_t i = 0; i < t->n; i++) {
        int r = set_entry(&t->entries[i], obj, t->entries[i].def, err, sizeof(err));
        if (r < 0)
            return r;
    }
    return 0;
}

int sr_config_set(const sr_config_table *t, void *obj, const char *key, const char *value, char *err,
                  size_t errlen) {
    const sr_config_entry *e = find(t, key);
    if (!e) {
        snprintf(err, errlen, "unknown key \"%s\"", key);
        return -ENOENT;
    }
    return set_entry(e, obj, value, err, errlen);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int sr_config_parse(const sr_config_table *t, void *obj, const char *name, const char *buf, size_t len, char *err,
                    size_t errlen) {
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (llen >= SR_CONFIG_MAX_LINE) {
            snprintf(err, errlen, "%s:%u: line too long (max %d bytes)", name, lineno, SR_CONFIG_MAX_LINE - 1);
            return -EINVAL;
        }
        char line[SR_CONFIG_MAX_LINE];
        memcpy(line, buf + pos, llen);
        line[llen] = '\0';
        pos += llen + (nl ? 1 : 0);
        if (memchr(line, '\0', llen)) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", name, lineno);
            return -EINVAL;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%u: expected \"key = value\"", name, lineno);
            return -EINVAL;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        char inner[300];
        int r = sr_config_set(t, obj, key, value, inner, sizeof(inner));
        if (r < 0) {
            snprintf(err, errlen, "%s:%u: %s", name, lineno, inner);
            return r;
        }
    }
    return 0;
}

int sr_config_load_file(const sr_config_table *t, void *obj, const char *path, char *err, size_t errlen) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, SR_CONFIG_MAX_FILE, &buf, &len);
    if (r < 0) {
        snprintf(err, errlen, "could not read config file %s: %s", path, strerror(-r));
        return r;
    }
    return sr_config_parse(t, obj, path, buf, len, err, errlen);
}

static void print_value(const sr_config_entry *e, const void *obj, FILE *out) {
    const char *field = (const char *)obj + e->offset;
    switch (e->type) {
    case SR_CFG_STRING: {
        const char *s = *(char *const *)(const void *)field;
        fprintf(out, "\"%s\"", s ? s : "");
        break;
    }
    case SR_CFG_INT:
        fprintf(out, "%" PRId64, *(const int64_t *)(const void *)field);
        break;
    case SR_CFG_BOOL:
        fputs(*(const int *)(const void *)field ? "true" : "false", out);
        break;
    case SR_CFG_DURATION:
        fprintf(out, "%" PRId64 "ms", *(const int64_t *)(const void *)field);
        break;
    case SR_CFG_SIZE:
        fprintf(out, "%" PRIu64, *(const uint64_t *)(const void *)field);
        break;
    }
}

void sr_config_dump(const sr_config_table *t, const void *obj, FILE *out) {
    for (size_t i = 0; i < t->n; i++) {
        fprintf(out, "%s = ", t->entries[i].key);
        print_value(&t->entries[i], obj, out);
        fputc('\n', out);
    }
}

void sr_config_print_doc(const sr_config_table *t, FILE *out) {
    static const char *const tnames[] = {"string", "integer", "boolean", "duration", "size"};
    for (size_t i = 0; i < t->n; i++) {
        const sr_config_entry *e = &t->entries[i];
        fprintf(out, "# %s (%s)", e->help, tnames[e->type]);
        if (!(e->min == 0 && e->max == 0) && e->type != SR_CFG_STRING && e->type != SR_CFG_BOOL)
            fprintf(out, ", range [%" PRId64 ", %" PRId64 "]%s", e->min, e->max,
                    e->type == SR_CFG_DURATION ? " ms" : "");
        fprintf(out, "\n#%s = %s%s%s\n\n", e->key, e->type == SR_CFG_STRING ? "\"" : "", e->def,
                e->type == SR_CFG_STRING ? "\"" : "");
    }
}

void sr_config_free(const sr_config_table *t, void *obj) {
    if (!obj)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].type != SR_CFG_STRING)
            continue;
        char **slot = (char **)(void *)((char *)obj + t->entries[i].offset);
        free(*slot);
        *slot = NULL;
    }
}
