/* sr_trivy: the C side of the Trivy bridge. The Go archive (trivy/bridge) exports srtrivy_*;
 * this file turns our options into its JSON options and its results into errno returns. */
#include "sr_trivy.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_cleanup.h"

/* The exports of trivy/bridge (cgo's generated libsrtrivy.h declares the same; it is not
 * included because its boilerplate does not build with our warnings). */
extern char *srtrivy_version(void);
extern int srtrivy_scan(char *root, char *db, char *opts, int *cancel, char **report, size_t *report_len, char **sbom,
                        size_t *sbom_len, unsigned long long *counts, char **err);
extern int srtrivy_db_install(char *bundle, char *dest, char **meta, char **err);

static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static char version_buf[64];

static void load_version(void) {
    char *v = srtrivy_version();
    if (v) {
        size_t n = strlen(v);
        if (n >= sizeof(version_buf))
            n = sizeof(version_buf) - 1;
        memcpy(version_buf, v, n);
        version_buf[n] = '\0';
        free(v);
    }
}

int sr_trivy_available(void) {
    return 1;
}

const char *sr_trivy_version(void) {
    pthread_once(&version_once, load_version);
    return version_buf;
}

static char *opts_json(const sr_trivy_scan_opts *o) {
    json_t *j = json_object();
    json_t *skip = json_array();
    if (!j || !skip) {
        json_decref(j);
        json_decref(skip);
        return NULL;
    }
    if (o) {
        json_object_set_new(j, "parallel", json_integer(o->parallel));
        json_object_set_new(j, "timeout_s", json_integer(o->timeout_s));
        if (o->cache_dir)
            json_object_set_new(j, "cache_dir", json_string(o->cache_dir));
        for (size_t i = 0; o->skip_dirs && o->skip_dirs[i]; i++)
            json_array_append_new(skip, json_string(o->skip_dirs[i]));
    }
    json_object_set_new(j, "skip_dirs", skip);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

int sr_trivy_scan(const char *root, const char *db_dir, const sr_trivy_scan_opts *opts, sr_trivy_result *ret,
                  char **err) {
    if (err)
        *err = NULL;
    if (!root || !db_dir || !ret)
        return -EINVAL;
    _cleanup_free_ char *o = opts_json(opts);
    if (!o)
        return -ENOMEM;
    sr_trivy_result r = {0};
    char *e = NULL;
    unsigned long long counts[2] = {0, 0};
    int ret_code = srtrivy_scan((char *)(uintptr_t)root, (char *)(uintptr_t)db_dir, o,
                                opts ? (int *)(uintptr_t)opts->cancel : NULL, &r.report, &r.report_len, &r.sbom,
                                &r.sbom_len, counts, &e);
    if (ret_code < 0) {
        if (err)
            *err = e;
        else
            free(e);
        return ret_code;
    }
    free(e);
    r.packages = counts[0];
    r.vulnerabilities = counts[1];
    *ret = r;
    return 0;
}

void sr_trivy_result_done(sr_trivy_result *r) {
    if (!r)
        return;
    free(r->report);
    free(r->sbom);
    *r = (sr_trivy_result){0};
}

int sr_trivy_db_install(const char *bundle_path, const char *dest_dir, char **metadata, char **err) {
    if (err)
        *err = NULL;
    if (!bundle_path || !dest_dir || !metadata)
        return -EINVAL;
    char *m = NULL, *e = NULL;
    int ret = srtrivy_db_install((char *)(uintptr_t)bundle_path, (char *)(uintptr_t)dest_dir, &m, &e);
    if (ret < 0) {
        if (err)
            *err = e;
        else
            free(e);
        return ret;
    }
    free(e);
    *metadata = m;
    return 0;
}

