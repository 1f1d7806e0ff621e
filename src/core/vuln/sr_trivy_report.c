#include "sr_trivy_report.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_cleanup.h"
#include "sr_falco.h"

/* What the report owns besides the public arrays: the parsed document (strings point into it)
 * and every block allocated while reading it. */
typedef struct {
    json_t *root;
    void **blocks;
    size_t n_blocks, cap_blocks;
    size_t cap_pkgs, cap_vulns;
    const char **pkg_ids; /* Trivy's package ID per package, for matching */
} priv_t;

__attribute__((format(printf, 3, 4))) static int fail(char *reason, size_t reasonlen, const char *fmt, ...) {
    if (reason && reasonlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reasonlen, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

/* Keeps p (malloc'ed) until the report is freed. NULL p is -ENOMEM. */
static int own(priv_t *pv, void *p) {
    if (!p)
        return -ENOMEM;
    if (pv->n_blocks == pv->cap_blocks) {
        size_t cap = pv->cap_blocks ? pv->cap_blocks * 2 : 64;
        void **b = realloc(pv->blocks, cap * sizeof(*b));
        if (!b) {
            free(p);
            return -ENOMEM;
        }
        pv->blocks = b;
        pv->cap_blocks = cap;
    }
    pv->blocks[pv->n_blocks++] = p;
    return 0;
}

sr_trivy_severity sr_trivy_severity_rank(const char *word) {
    static const char *const names[] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    for (size_t i = 0; word && i < SR_ARRAY_SIZE(names); i++)
        if (strcasecmp(word, names[i]) == 0)
            return (sr_trivy_severity)i;
    return SR_TRIVY_SEV_UNKNOWN;
}

const char *sr_trivy_severity_name(sr_trivy_severity s) {
    static const char *const names[] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    return (unsigned)s < SR_ARRAY_SIZE(names) ? names[s] : "UNKNOWN";
}

/* ---- member access ---- */

typedef struct {
    priv_t *pv;
    char *reason;
    size_t reasonlen;
    char where[96]; /* "Results[2].Packages[7]" */
} ctx_t;

/* A string member: "" when absent or null; -EBADMSG when another type or over max bytes. */
static int get_str(ctx_t *c, json_t *o, const char *key, size_t max, const char **ret) {
    json_t *v = json_object_get(o, key);
    *ret = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(c->reason, c->reasonlen, "%s: %s is not a string", c->where, key);
    if (json_string_length(v) > max)
        return fail(c->reason, c->reasonlen, "%s: %s is %zu bytes (limit %zu)", c->where, key, json_string_length(v),
                    max);
    *ret = json_string_value(v);
    return 0;
}

/* Free text: cut at max bytes on a UTF-8 boundary (a copy is made only when cut). */
static int get_text(ctx_t *c, json_t *o, const char *key, size_t max, const char **ret) {
    json_t *v = json_object_get(o, key);
    *ret = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(c->reason, c->reasonlen, "%s: %s is not a string", c->where, key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len <= max) {
        *ret = s;
        return 0;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    char *t = malloc(cut + 1);
    if (!t)
        return -ENOMEM;
    memcpy(t, s, cut);
    t[cut] = '\0';
    int r = own(c->pv, t);
    if (r == 0)
        *ret = t;
    return r;
}

/* An optional object member: NULL when absent or null. */
static int get_obj(ctx_t *c, json_t *o, const char *key, json_t **ret) {
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return fail(c->reason, c->reasonlen, "%s: %s is not an object", c->where, key);
    *ret = v;
    return 0;
}

/* An optional array member: NULL when absent or null. */
static int get_arr(ctx_t *c, json_t *o, const char *key, json_t **ret) {
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return fail(c->reason, c->reasonlen, "%s: %s is not an array", c->where, key);
    *ret = v;
    return 0;
}

/* An array of strings, each at most max bytes; at most keep of them are kept (the rest ignored
 * when keep_only, else -E2BIG). */
static int get_str_list(ctx_t *c, json_t *o, const char *key, size_t max, size_t keep, bool keep_only,
                        const char ***ret, size_t *ret_n) {
    json_t *a;
    *ret = NULL;
    *ret_n = 0;
    int r = get_arr(c, o, key, &a);
    if (r < 0 || !a || json_array_size(a) == 0)
        return r;
    size_t n = json_array_size(a);
    if (n > keep) {
        if (!keep_only) {
            fail(c->reason, c->reasonlen, "%s: %s has %zu entries (limit %zu)", c->where, key, n, keep);
            return -E2BIG;
        }
        n = keep;
    }
    const char **list = calloc(n, sizeof(*list));
    if ((r = own(c->pv, list)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v))
            return fail(c->reason, c->reasonlen, "%s: %s[%zu] is not a string", c->where, key, i);
        if (json_string_length(v) > max)
            return fail(c->reason, c->reasonlen, "%s: %s[%zu] is %zu bytes (limit %zu)", c->where, key, i,
                        json_string_length(v), max);
        list[i] = json_string_value(v);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

/* ---- package lookup (open addressing over package indices, per Result) ---- */

typedef enum { KEY_UID = 1, KEY_ID_PATH, KEY_NAME_VERSION } key_kind;

typedef struct {
    uint32_t *slots; /* pkg index + 1, 0 empty */
    uint8_t *kinds;
    size_t cap, n;
} pkg_map;

static uint64_t fnv(uint64_t h, const char *s) {
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    h ^= 0x1f;
    h *= UINT64_C(1099511628211);
    return h;
}

static uint64_t key_hash(key_kind k, const char *a, const char *b) {
    uint64_t h = UINT64_C(14695981039346656037) ^ (uint64_t)k;
    return fnv(fnv(h, a), b);
}

static void key_fields(const sr_trivy_report *rep, const priv_t *pv, size_t i, key_kind k, const char **a,
                       const char **b) {
    const sr_trivy_pkg *p = &rep->pkgs[i];
    switch (k) {
    case KEY_UID:
        *a = p->uid;
        *b = "";
        break;
    case KEY_ID_PATH:
        *a = pv->pkg_ids[i];
        *b = p->path;
        break;
    default:
        *a = p->name;
        *b = p->version;
        break;
    }
}

static int map_grow(pkg_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof(*slots));
    uint8_t *kinds = calloc(cap, 1);
    if (!slots || !kinds) {
        free(slots);
        free(kinds);
        return -ENOMEM;
    }
    /* the caller inserts the entries again */
    free(m->slots);
    free(m->kinds);
    m->slots = slots;
    m->kinds = kinds;
    m->cap = cap;
    m->n = 0;
    return 0;
}

static void map_clear(pkg_map *m) {
    if (m->cap) {
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
        memset(m->kinds, 0, m->cap);
    }
    m->n = 0;
}

static void map_done(pkg_map *m) {
    free(m->slots);
    free(m->kinds);
    memset(m, 0, sizeof(*m));
}

static size_t map_find(const pkg_map *m, const sr_trivy_report *rep, const priv_t *pv, key_kind k, const char *a,
                       const char *b) {
    if (m->cap == 0)
        return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t s = (size_t)key_hash(k, a, b) & mask;; s = (s + 1) & mask) {
        if (m->slots[s] == 0)
            return SIZE_MAX;
        if (m->kinds[s] != k)
            continue;
        size_t i = m->slots[s] - 1;
        const char *ea, *eb;
        key_fields(rep, pv, i, k, &ea, &eb);
        if (strcmp(ea, a) == 0 && strcmp(eb, b) == 0)
            return i;
    }
}

static void map_put_raw(pkg_map *m, const sr_trivy_report *rep, const priv_t *pv, key_kind k, size_t i) {
    const char *a, *b;
    key_fields(rep, pv, i, k, &a, &b);
    if (k == KEY_UID && !*a)
        return;
    size_t mask = m->cap - 1;
    size_t s = (size_t)key_hash(k, a, b) & mask;
    while (m->slots[s] != 0)
        s = (s + 1) & mask;
    m->slots[s] = (uint32_t)(i + 1);
    m->kinds[s] = (uint8_t)k;
    m->n++;
}

/* Adds the keys of package i; `first` is the first package of the current Result (the map
 * holds that Result's packages only). */
static int map_add(pkg_map *m, const sr_trivy_report *rep, const priv_t *pv, size_t first, size_t i) {
    if ((m->n + 3) * 2 > m->cap) {
        int r = map_grow(m);
        if (r < 0)
            return r;
        for (size_t j = first; j < i; j++)
            for (int k = KEY_UID; k <= KEY_NAME_VERSION; k++)
                map_put_raw(m, rep, pv, (key_kind)k, j);
    }
    for (int k = KEY_UID; k <= KEY_NAME_VERSION; k++)
        map_put_raw(m, rep, pv, (key_kind)k, i);
    return 0;
}

/* ---- reading ---- */

static int push_pkg(sr_trivy_report *rep, priv_t *pv, size_t *ret) {
    if (rep->n_pkgs >= SR_TRIVY_MAX_PACKAGES)
        return -E2BIG;
    if (rep->n_pkgs == pv->cap_pkgs) {
        size_t cap = pv->cap_pkgs ? pv->cap_pkgs * 2 : 64;
        sr_trivy_pkg *p = realloc(rep->pkgs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        rep->pkgs = p;
        const char **ids = realloc(pv->pkg_ids, cap * sizeof(*ids));
        if (!ids)
            return -ENOMEM;
        pv->pkg_ids = ids;
        pv->cap_pkgs = cap;
    }
    memset(&rep->pkgs[rep->n_pkgs], 0, sizeof(rep->pkgs[0]));
    pv->pkg_ids[rep->n_pkgs] = "";
    *ret = rep->n_pkgs++;
    return 0;
}

/* [epoch:]version[-release] as Trivy formats InstalledVersion. */
static int format_version(ctx_t *c, json_t *o, const char **ret) {
    const char *version, *release;
    int r = get_str(c, o, "Version", SR_TRIVY_MAX_VERSION, &version);
    if (r == 0)
        r = get_str(c, o, "Release", SR_TRIVY_MAX_VERSION, &release);
    if (r < 0)
        return r;
    json_t *ep = json_object_get(o, "Epoch");
    json_int_t epoch = 0;
    if (ep && !json_is_null(ep)) {
        if (!json_is_integer(ep) || json_integer_value(ep) < 0 || json_integer_value(ep) > INT32_MAX)
            return fail(c->reason, c->reasonlen, "%s: Epoch is not a non-negative integer", c->where);
        epoch = json_integer_value(ep);
    }
    if (!*release && epoch == 0) {
        *ret = version;
        return 0;
    }
    size_t cap = strlen(version) + strlen(release) + 24;
    char *v = malloc(cap);
    if (!v)
        return -ENOMEM;
    int n;
    if (epoch != 0)
        n = snprintf(v, cap, "%lld:%s%s%s", (long long)epoch, version, *release ? "-" : "", release);
    else
        n = snprintf(v, cap, "%s-%s", version, release);
    if (n < 0 || (size_t)n >= cap) {
        free(v);
        return -ENOMEM;
    }
    if ((r = own(c->pv, v)) < 0)
        return r;
    *ret = v;
    return 0;
}

static int read_package(ctx_t *c, sr_trivy_report *rep, json_t *o, const char *type, const char *class_name,
                        const char *result_target) {
    priv_t *pv = c->pv;
    if (!json_is_object(o))
        return fail(c->reason, c->reasonlen, "%s is not an object", c->where);
    size_t i;
    int r = push_pkg(rep, pv, &i);
    if (r == -E2BIG) {
        fail(c->reason, c->reasonlen, "more than %d packages", SR_TRIVY_MAX_PACKAGES);
        return -E2BIG;
    }
    if (r < 0)
        return r;
    sr_trivy_pkg *p = &rep->pkgs[i];
    p->type = type;
    p->class_name = class_name;
    p->result_target = result_target;
    json_t *ident, *layer;
    const char *srcver, *srcrel;
    if ((r = get_str(c, o, "ID", SR_TRIVY_MAX_NAME + SR_TRIVY_MAX_VERSION, &pv->pkg_ids[i])) < 0 ||
        (r = get_str(c, o, "Name", SR_TRIVY_MAX_NAME, &p->name)) < 0 || (r = format_version(c, o, &p->version)) < 0 ||
        (r = get_str(c, o, "FilePath", SR_TRIVY_MAX_PATH, &p->path)) < 0 ||
        (r = get_str(c, o, "SrcName", SR_TRIVY_MAX_NAME, &p->src_name)) < 0 ||
        (r = get_str(c, o, "SrcVersion", SR_TRIVY_MAX_VERSION, &srcver)) < 0 ||
        (r = get_str(c, o, "SrcRelease", SR_TRIVY_MAX_VERSION, &srcrel)) < 0 ||
        (r = get_str(c, o, "Arch", SR_TRIVY_MAX_WORD, &p->arch)) < 0 || (r = get_obj(c, o, "Identifier", &ident)) < 0 ||
        (r = get_obj(c, o, "Layer", &layer)) < 0)
        return r;
    p->src_version = srcver;
    if (*srcrel) {
        size_t cap = strlen(srcver) + strlen(srcrel) + 2;
        char *v = malloc(cap);
        if ((r = own(pv, v)) < 0)
            return r;
        snprintf(v, cap, "%s-%s", srcver, srcrel);
        p->src_version = v;
    }
    p->purl = p->uid = p->layer_digest = "";
    if (ident && ((r = get_str(c, ident, "PURL", SR_TRIVY_MAX_PURL, &p->purl)) < 0 ||
                  (r = get_str(c, ident, "UID", SR_TRIVY_MAX_NAME, &p->uid)) < 0))
        return r;
    if (layer && (r = get_str(c, layer, "Digest", SR_TRIVY_MAX_NAME, &p->layer_digest)) < 0)
        return r;
    if (!*p->name)
        return fail(c->reason, c->reasonlen, "%s: Name is missing", c->where);
    r = get_str_list(c, o, "InstalledFiles", SR_TRIVY_MAX_PATH, SR_TRIVY_MAX_PKG_FILES, false, &p->files, &p->n_files);
    if (r < 0)
        return r;
    rep->n_files += p->n_files;
    if (rep->n_files > SR_TRIVY_MAX_FILES) {
        fail(c->reason, c->reasonlen, "more than %d installed files", SR_TRIVY_MAX_FILES);
        return -E2BIG;
    }
    return 0;
}

static int push_vuln(sr_trivy_report *rep, priv_t *pv, sr_trivy_vuln **ret) {
    if (rep->n_vulns >= SR_TRIVY_MAX_VULNS)
        return -E2BIG;
    if (rep->n_vulns == pv->cap_vulns) {
        size_t cap = pv->cap_vulns ? pv->cap_vulns * 2 : 64;
        sr_trivy_vuln *v = realloc(rep->vulns, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        rep->vulns = v;
        pv->cap_vulns = cap;
    }
    *ret = &rep->vulns[rep->n_vulns++];
    memset(*ret, 0, sizeof(**ret));
    return 0;
}

/* The highest V3Score of Trivy's CVSS map {"nvd": {"V3Score": 9.8, ...}, ...}. */
static int read_cvss(ctx_t *c, json_t *o, sr_trivy_vuln *v) {
    json_t *cvss;
    int r = get_obj(c, o, "CVSS", &cvss);
    v->cvss_json = "{}";
    if (r < 0 || !cvss)
        return r;
    const char *src;
    json_t *e;
    json_object_foreach(cvss, src, e) {
        if (!json_is_object(e))
            return fail(c->reason, c->reasonlen, "%s: CVSS.%.64s is not an object", c->where, src);
        json_t *s = json_object_get(e, "V3Score");
        if (s && json_is_number(s)) {
            double d = json_number_value(s);
            if (d >= 0 && d <= 10 && (!v->has_cvss_v3 || d > v->cvss_v3)) {
                v->cvss_v3 = d;
                v->has_cvss_v3 = true;
            }
        }
    }
    /* 15 significant digits: the decimal scores read back as written (9.8, not 9.8000000000000007) */
    char *text = json_dumps(cvss, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if ((r = own(c->pv, text)) < 0)
        return r;
    if (strlen(text) > SR_TRIVY_MAX_CVSS_JSON)
        return fail(c->reason, c->reasonlen, "%s: CVSS is over %d bytes", c->where, SR_TRIVY_MAX_CVSS_JSON);
    v->cvss_json = text;
    return 0;
}

static int read_date(ctx_t *c, json_t *o, const char *key, bool *has, int64_t *ms) {
    const char *s;
    int r = get_str(c, o, key, 64, &s);
    *has = false;
    if (r < 0 || !*s)
        return r;
    int64_t us;
    /* years outside 1970..9999 or other forms are left out rather than refusing the report */
    if (sr_falco_parse_time(s, &us) == 0 && us >= 0 && us < INT64_C(253402300800000000)) {
        *ms = us / 1000;
        *has = true;
    }
    return 0;
}

static int read_vuln(ctx_t *c, sr_trivy_report *rep, json_t *o, const char *type, const char *class_name,
                     const char *result_target, size_t first_pkg, pkg_map *map) {
    priv_t *pv = c->pv;
    if (!json_is_object(o))
        return fail(c->reason, c->reasonlen, "%s is not an object", c->where);
    sr_trivy_vuln *v;
    int r = push_vuln(rep, pv, &v);
    if (r == -E2BIG) {
        fail(c->reason, c->reasonlen, "more than %d vulnerabilities", SR_TRIVY_MAX_VULNS);
        return -E2BIG;
    }
    if (r < 0)
        return r;
    const char *pkg_id, *pkg_name, *pkg_path, *purl = "", *uid = "";
    json_t *ident, *ds;
    if ((r = get_str(c, o, "VulnerabilityID", SR_TRIVY_MAX_ID, &v->id)) < 0 ||
        (r = get_str(c, o, "PkgID", SR_TRIVY_MAX_NAME + SR_TRIVY_MAX_VERSION, &pkg_id)) < 0 ||
        (r = get_str(c, o, "PkgName", SR_TRIVY_MAX_NAME, &pkg_name)) < 0 ||
        (r = get_str(c, o, "PkgPath", SR_TRIVY_MAX_PATH, &pkg_path)) < 0 ||
        (r = get_str(c, o, "InstalledVersion", SR_TRIVY_MAX_VERSION, &v->installed_version)) < 0 ||
        (r = get_str(c, o, "FixedVersion", SR_TRIVY_MAX_NAME, &v->fixed_version)) < 0 ||
        (r = get_str(c, o, "Status", SR_TRIVY_MAX_WORD, &v->status)) < 0 ||
        (r = get_str(c, o, "Severity", SR_TRIVY_MAX_WORD, &v->severity)) < 0 ||
        (r = get_text(c, o, "Title", SR_TRIVY_MAX_TEXT, &v->title)) < 0 ||
        (r = get_text(c, o, "Description", SR_TRIVY_MAX_TEXT, &v->description)) < 0 ||
        (r = get_str(c, o, "PrimaryURL", SR_TRIVY_MAX_URL, &v->primary_url)) < 0 ||
        (r = get_obj(c, o, "PkgIdentifier", &ident)) < 0 || (r = get_obj(c, o, "DataSource", &ds)) < 0)
        return r;
    if (ident && ((r = get_str(c, ident, "PURL", SR_TRIVY_MAX_PURL, &purl)) < 0 ||
                  (r = get_str(c, ident, "UID", SR_TRIVY_MAX_NAME, &uid)) < 0))
        return r;
    if (!*v->id)
        return fail(c->reason, c->reasonlen, "%s: VulnerabilityID is missing", c->where);
    for (const char *p = v->id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.' || *p == ':'))
            return fail(c->reason, c->reasonlen, "%s: VulnerabilityID has characters outside [A-Za-z0-9._:-]",
                        c->where);
    if (!*pkg_name)
        return fail(c->reason, c->reasonlen, "%s: PkgName is missing", c->where);
    v->severity_rank = sr_trivy_severity_rank(v->severity);
    v->severity = sr_trivy_severity_name(v->severity_rank);
    if ((r = get_str_list(c, o, "References", SR_TRIVY_MAX_URL, SR_TRIVY_MAX_REFS, true, &v->refs, &v->n_refs)) < 0 ||
        (r = get_str_list(c, o, "CweIDs", SR_TRIVY_MAX_WORD, SR_TRIVY_MAX_REFS, true, &v->cwes, &v->n_cwes)) < 0 ||
        (r = read_cvss(c, o, v)) < 0 ||
        (r = read_date(c, o, "PublishedDate", &v->has_published, &v->published_ms)) < 0 ||
        (r = read_date(c, o, "LastModifiedDate", &v->has_modified, &v->modified_ms)) < 0)
        return r;
    v->data_source_json = "";
    if (ds) {
        char *text = json_dumps(ds, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if ((r = own(pv, text)) < 0)
            return r;
        if (strlen(text) > SR_TRIVY_MAX_URL * 2)
            return fail(c->reason, c->reasonlen, "%s: DataSource is over %d bytes", c->where, SR_TRIVY_MAX_URL * 2);
        v->data_source_json = text;
    }

    /* the package: by UID, by ID and path, by name and installed version, else a new one */
    size_t pi = SIZE_MAX;
    if (*uid)
        pi = map_find(map, rep, pv, KEY_UID, uid, "");
    if (pi == SIZE_MAX && *pkg_id)
        pi = map_find(map, rep, pv, KEY_ID_PATH, pkg_id, pkg_path);
    if (pi == SIZE_MAX)
        pi = map_find(map, rep, pv, KEY_NAME_VERSION, pkg_name, v->installed_version);
    if (pi == SIZE_MAX) {
        size_t vi = (size_t)(v - rep->vulns);
        r = push_pkg(rep, pv, &pi);
        if (r == -E2BIG) {
            fail(c->reason, c->reasonlen, "more than %d packages", SR_TRIVY_MAX_PACKAGES);
            return -E2BIG;
        }
        if (r < 0)
            return r;
        v = &rep->vulns[vi];
        sr_trivy_pkg *p = &rep->pkgs[pi];
        p->type = type;
        p->class_name = class_name;
        p->result_target = result_target;
        p->name = pkg_name;
        p->version = v->installed_version;
        p->purl = purl;
        p->uid = uid;
        p->path = pkg_path;
        p->src_name = p->src_version = p->arch = p->layer_digest = "";
        p->from_vuln = true;
        pv->pkg_ids[pi] = pkg_id;
        if ((r = map_add(map, rep, pv, first_pkg, pi)) < 0)
            return r;
    }
    v->pkg = pi;
    return 0;
}

static int read_result(ctx_t *c, sr_trivy_report *rep, json_t *res, size_t ri, pkg_map *map) {
    if (!json_is_object(res))
        return fail(c->reason, c->reasonlen, "Results[%zu] is not an object", ri);
    snprintf(c->where, sizeof(c->where), "Results[%zu]", ri);
    const char *target, *class_name, *type;
    json_t *pkgs, *vulns;
    int r;
    if ((r = get_str(c, res, "Target", SR_TRIVY_MAX_PATH, &target)) < 0 ||
        (r = get_str(c, res, "Class", SR_TRIVY_MAX_WORD, &class_name)) < 0 ||
        (r = get_str(c, res, "Type", SR_TRIVY_MAX_WORD, &type)) < 0 || (r = get_arr(c, res, "Packages", &pkgs)) < 0 ||
        (r = get_arr(c, res, "Vulnerabilities", &vulns)) < 0)
        return r;
    if (!*type)
        type = *class_name ? class_name : "unknown";
    size_t first = rep->n_pkgs;
    map_clear(map);
    for (size_t i = 0; pkgs && i < json_array_size(pkgs); i++) {
        snprintf(c->where, sizeof(c->where), "Results[%zu].Packages[%zu]", ri, i);
        if ((r = read_package(c, rep, json_array_get(pkgs, i), type, class_name, target)) < 0)
            return r;
        if ((r = map_add(map, rep, c->pv, first, rep->n_pkgs - 1)) < 0)
            return r;
    }
    for (size_t i = 0; vulns && i < json_array_size(vulns); i++) {
        snprintf(c->where, sizeof(c->where), "Results[%zu].Vulnerabilities[%zu]", ri, i);
        if ((r = read_vuln(c, rep, json_array_get(vulns, i), type, class_name, target, first, map)) < 0)
            return r;
    }
    return 0;
}

sr_trivy_report *sr_trivy_report_free(sr_trivy_report *r) {
    if (!r)
        return NULL;
    priv_t *pv = r->priv;
    if (pv) {
        for (size_t i = 0; i < pv->n_blocks; i++)
            free(pv->blocks[i]);
        free(pv->blocks);
        free(pv->pkg_ids);
        json_decref(pv->root);
        free(pv);
    }
    free(r->pkgs);
    free(r->vulns);
    free(r);
    return NULL;
}

int sr_trivy_report_parse(const char *data, size_t len, sr_trivy_report **ret, char *reason, size_t reasonlen) {
    if (!data || !ret)
        return -EINVAL;
    sr_trivy_report *rep = calloc(1, sizeof(*rep));
    priv_t *pv = calloc(1, sizeof(*pv));
    if (!rep || !pv) {
        free(rep);
        free(pv);
        return -ENOMEM;
    }
    rep->priv = pv;
    ctx_t c = {.pv = pv, .reason = reason, .reasonlen = reasonlen};
    pkg_map map = {0};
    int r;
    json_error_t jerr;
    pv->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!pv->root) {
        r = fail(reason, reasonlen, "not JSON: %s at line %d", jerr.text, jerr.line);
        goto out;
    }
    snprintf(c.where, sizeof(c.where), "report");
    if (!json_is_object(pv->root)) {
        r = fail(reason, reasonlen, "not a Trivy report: not a JSON object");
        goto out;
    }
    json_t *sv = json_object_get(pv->root, "SchemaVersion");
    if (!json_is_integer(sv)) {
        r = fail(reason, reasonlen, "not a Trivy report: SchemaVersion missing");
        goto out;
    }
    if (json_integer_value(sv) != 2) {
        r = fail(reason, reasonlen, "SchemaVersion %lld is not 2", (long long)json_integer_value(sv));
        goto out;
    }
    rep->schema_version = 2;
    json_t *meta, *os = NULL, *results;
    if ((r = get_str(&c, pv->root, "ArtifactName", SR_TRIVY_MAX_PATH, &rep->artifact_name)) < 0 ||
        (r = get_str(&c, pv->root, "ArtifactType", SR_TRIVY_MAX_WORD, &rep->artifact_type)) < 0 ||
        (r = get_obj(&c, pv->root, "Metadata", &meta)) < 0 || (meta && (r = get_obj(&c, meta, "OS", &os)) < 0) ||
        (r = get_arr(&c, pv->root, "Results", &results)) < 0)
        goto out;
    rep->os_family = rep->os_name = "";
    if (os && ((r = get_str(&c, os, "Family", SR_TRIVY_MAX_WORD, &rep->os_family)) < 0 ||
               (r = get_str(&c, os, "Name", SR_TRIVY_MAX_VERSION, &rep->os_name)) < 0))
        goto out;
    rep->n_results = results ? json_array_size(results) : 0;
    if (rep->n_results > SR_TRIVY_MAX_RESULTS) {
        fail(reason, reasonlen, "%zu results (limit %d)", rep->n_results, SR_TRIVY_MAX_RESULTS);
        r = -E2BIG;
        goto out;
    }
    for (size_t i = 0; i < rep->n_results; i++)
        if ((r = read_result(&c, rep, json_array_get(results, i), i, &map)) < 0)
            goto out;
    r = 0;
out:
    map_done(&map);
    if (r == -ENOMEM)
        fail(reason, reasonlen, "out of memory reading the report");
    if (r < 0) {
        sr_trivy_report_free(rep);
        return r;
    }
    *ret = rep;
    return 0;
}

int sr_cyclonedx_check(const char *data, size_t len, char *reason, size_t reasonlen) {
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(reason, reasonlen, "not JSON: %s at line %d", jerr.text, jerr.line);
    int r = 0;
    json_t *fmt = json_object_get(root, "bomFormat");
    json_t *spec = json_object_get(root, "specVersion");
    if (!json_is_object(root))
        r = fail(reason, reasonlen, "not a CycloneDX document: not a JSON object");
    else if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "CycloneDX") != 0)
        r = fail(reason, reasonlen, "not a CycloneDX document: bomFormat is not \"CycloneDX\"");
    else if (!json_is_string(spec) || json_string_length(spec) == 0 || json_string_length(spec) > 16)
        r = fail(reason, reasonlen, "not a CycloneDX document: specVersion missing");
    json_decref(root);
    return r;
}
