/* Trivy DB distribution: KV watch -> Object Store -> local cache -> agents. See gw_artifact.h
 * and docs/internals/artifacts.md. */
#include "gw_artifact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grpc/status.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sr_cleanup.h"
#include "sr_sha256.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_log.h"
#include "sr_objstore.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srg.h"

#define GW_ARTIFACT_WATCH_POLL_MS 1000  /* kvWatcher_Next timeout: how often stop is checked */
#define GW_ARTIFACT_REQUEST_TIMEOUT_MS 10000
#define GW_ARTIFACT_PUSH_TIMEOUT_MS (30 * 60 * 1000) /* an artifact_update without result is re-sent */
#define GW_ARTIFACT_RETRY_MAX_MS (10 * 60 * 1000)

typedef struct {
    bool have;
    char version[GW_ARTIFACT_VERSION_MAX + 1];
    char hex[65];
    uint64_t size;
    unsigned char digest[32];
} cached;

struct gw_artifact {
    const gw_config *cfg;
    natsConnection *nc;
    char dir[PATH_MAX]; /* <cache_dir>/artifacts/trivy-db */

    pthread_mutex_t lock;
    pthread_cond_t cond; /* wakes the watcher's sleeps on stop */
    bool stopping;
    cached cur, prev;
    uint64_t cmd_seq;
    gw_artifact_stats stats;
    kvWatcher *watcher; /* stopped from gw_artifact_free */

    atomic_bool downloads_stopped;
    atomic_int active;
    pthread_t thread;
    bool started;
#ifdef SR_FAULT_INJECTION
    char fault_agent[65]; /* SR_FAULT_ARTIFACT_CORRUPT=<agent>:<chunk>: corrupt that chunk once */
    long fault_chunk;
    atomic_bool fault_done;
    long fault_delay_ms; /* SR_FAULT_ARTIFACT_CHUNK_DELAY_MS: sleep before each chunk */
#endif
};

struct gw_artifact_agent {
    gw_artifact *a;
    char id[65];
    bool trivy;
    char held[GW_ARTIFACT_VERSION_MAX + 1]; /* what the agent holds ("" none, "?" unusable) */
    char pending_id[GW_COMMAND_MAX_ID + 1];  /* artifact_update in flight */
    char pending_version[GW_ARTIFACT_VERSION_MAX + 1];
    int64_t pending_since_ms;
    int64_t retry_after_ms;
    unsigned failures;
};

/* ---- helpers ---- */

static void hex_of(const unsigned char d[32], char out[65]) {
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[64] = '\0';
}

static int is_hex64(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

static int path_of(const gw_artifact *a, const char *name, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s", a->dir, name);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Sleeps ms or until stop. true when stopping. */
static bool sleep_or_stop(gw_artifact *a, int64_t ms) {
    struct timespec ts = sr_mono_deadline_ts(ms);
    pthread_mutex_lock(&a->lock);
    while (!a->stopping)
        if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT)
            break;
    bool s = a->stopping;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static bool is_stopping(gw_artifact *a) {
    pthread_mutex_lock(&a->lock);
    bool s = a->stopping;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static int fsync_dir(const char *dir) {
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return -errno;
    return 0;
}

/* A cache file whose name is its own SHA-256: 0 when its content matches. */
static int verify_cached(gw_artifact *a, const char *hex, cached *ret) {
    char path[PATH_MAX];
    int r = path_of(a, hex, path, sizeof(path));
    if (r < 0)
        return r;
    unsigned char d[32];
    uint64_t size = 0;
    r = sr_sha256_file(path, d, &size);
    if (r < 0)
        return r;
    char h[65];
    hex_of(d, h);
    if (strcmp(h, hex) != 0 || size == 0)
        return -EBADMSG;
    memset(ret, 0, sizeof(*ret));
    ret->have = true;
    snprintf(ret->version, sizeof(ret->version), "sha256:%s", hex);
    memcpy(ret->hex, h, sizeof(ret->hex));
    memcpy(ret->digest, d, sizeof(d));
    ret->size = size;
    return 0;
}

/* Deletes what is neither the current nor the previous version (older versions and temporary
 * files left by an interrupted fetch). Live downloads keep their open file. */
static void prune(gw_artifact *a) {
    char keep1[65] = "", keep2[65] = "";
    pthread_mutex_lock(&a->lock);
    if (a->cur.have)
        memcpy(keep1, a->cur.hex, sizeof(keep1));
    if (a->prev.have)
        memcpy(keep2, a->prev.hex, sizeof(keep2));
    pthread_mutex_unlock(&a->lock);
    DIR *d = opendir(a->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strcmp(e->d_name, keep1) == 0 || strcmp(e->d_name, keep2) == 0)
            continue;
        if (!is_hex64(e->d_name) && !(e->d_name[0] == '.' && strstr(e->d_name, ".tmp")))
            continue; /* not ours */
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            sr_info("artifact cache: removed %s/%s", a->dir, e->d_name);
    }
    closedir(d);
}

/* The newest verified cache file other than skip_hex, as the previous version after a restart. */
static void adopt_previous(gw_artifact *a, const char *skip_hex) {
    DIR *d = opendir(a->dir);
    if (!d)
        return;
    char best[65] = "";
    struct timespec best_mtime = {0, 0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_hex64(e->d_name) || strcmp(e->d_name, skip_hex) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!best[0] || st.st_mtim.tv_sec > best_mtime.tv_sec ||
            (st.st_mtim.tv_sec == best_mtime.tv_sec && st.st_mtim.tv_nsec > best_mtime.tv_nsec)) {
            memcpy(best, e->d_name, sizeof(best)); /* 64 hex digits and the NUL */
            best_mtime = st.st_mtim;
        }
    }
    closedir(d);
    cached c;
    if (best[0] && verify_cached(a, best, &c) == 0) {
        pthread_mutex_lock(&a->lock);
        if (!a->prev.have)
            a->prev = c;
        pthread_mutex_unlock(&a->lock);
        sr_info("artifact cache: previous trivy-db %s kept from an earlier run", c.version);
    }
}

/* ---- fetching into the cache ---- */

typedef struct {
    gw_artifact *a;
    int fd;
    EVP_MD_CTX *md;
    uint64_t got, want;
    int err;
} fetch_ctx;

static int fetch_chunk(void *ud, const void *data, size_t len) {
    fetch_ctx *f = ud;
    if (is_stopping(f->a)) {
        f->err = -ECANCELED;
        return 1;
    }
    if (f->got + len > f->want) {
        f->err = -EFBIG;
        return 1;
    }
    int r = sr_fd_write_all(f->fd, data, len);
    if (r < 0) {
        f->err = r;
        return 1;
    }
    EVP_DigestUpdate(f->md, data, len);
    f->got += len;
    return 0;
}

/* Pulls u's object into <dir>/<hex> (verified) unless it is already there. 0 with *ret. */
static int fetch(gw_artifact *a, jsCtx *js, const gw_artifact_update *u, cached *ret, char *err, size_t errlen) {
    int r = sr_mkdir_p(a->dir, 0750);
    if (r < 0) {
        sr_errf(err, errlen, "could not create %s: %s", a->dir, strerror(-r));
        return r;
    }
    if (verify_cached(a, u->hex, ret) == 0 && ret->size == u->size)
        return 0;

    char final[PATH_MAX], tmp[PATH_MAX], name[80];
    snprintf(name, sizeof(name), ".%s.tmp", u->hex);
    if (path_of(a, u->hex, final, sizeof(final)) < 0 || path_of(a, name, tmp, sizeof(tmp)) < 0) {
        sr_errf(err, errlen, "cache path too long");
        return -ENAMETOOLONG;
    }
    sr_objstore *os = NULL;
    sr_objstore_config oc = {.timeout_ms = 10000};
    char oerr[256] = "";
    r = sr_objstore_open(js, u->bucket, 0, &oc, &os, oerr, sizeof(oerr));
    if (r < 0) {
        sr_errf(err, errlen, "could not open object store %s: %s", u->bucket,
                 r == -ENOENT ? "bucket does not exist" : oerr);
        return r;
    }
    fetch_ctx f = {.a = a, .fd = -1, .want = u->size};
    f.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    f.md = EVP_MD_CTX_new();
    if (f.fd < 0 || !f.md || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1) {
        r = f.fd < 0 ? -errno : -ENOMEM;
        sr_errf(err, errlen, "could not create %s: %s", tmp, strerror(-r));
        goto out;
    }
    sr_objstore_info info;
    int64_t t0 = sr_mono_ms();
    r = sr_objstore_get(os, u->object, fetch_chunk, &f, &info, oerr, sizeof(oerr));
    if (r < 0) {
        if (f.err < 0)
            r = f.err;
        sr_errf(err, errlen, "could not get object %s/%s: %s", u->bucket, u->object,
                 r == -EFBIG ? "larger than announced" : f.err < 0 ? strerror(-r) : oerr);
        goto out;
    }
    unsigned char d[32];
    unsigned int dl = 0;
    char h[65];
    if (EVP_DigestFinal_ex(f.md, d, &dl) != 1 || dl != 32) {
        r = -EIO;
        sr_errf(err, errlen, "could not hash %s", tmp);
        goto out;
    }
    hex_of(d, h);
    if (f.got != u->size || strcmp(h, u->hex) != 0) {
        r = -EBADMSG;
        sr_errf(err, errlen,
                "object %s/%s does not match the announcement: %" PRIu64 " bytes with sha256 %s, announced %" PRIu64
                " bytes with sha256 %s",
                u->bucket, u->object, f.got, h, u->size, u->hex);
        goto out;
    }
    if (fdatasync(f.fd) < 0 || close(f.fd) < 0) {
        f.fd = -1;
        r = -errno;
        sr_errf(err, errlen, "could not write %s: %s", tmp, strerror(-r));
        goto out;
    }
    f.fd = -1;
    if (rename(tmp, final) < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not rename %s: %s", tmp, strerror(-r));
        goto out;
    }
    (void)fsync_dir(a->dir);
    memset(ret, 0, sizeof(*ret));
    ret->have = true;
    memcpy(ret->version, u->version, sizeof(ret->version));
    memcpy(ret->hex, u->hex, sizeof(ret->hex));
    memcpy(ret->digest, d, sizeof(d));
    ret->size = u->size;
    sr_info("artifact cache: fetched %s %s (%" PRIu64 " bytes) from %s/%s in %" PRId64 " ms", u->name, u->version,
            u->size, u->bucket, u->object, sr_mono_ms() - t0);
    r = 0;
out:
    if (f.fd >= 0)
        close(f.fd);
    if (r < 0)
        unlink(tmp);
    EVP_MD_CTX_free(f.md);
    sr_objstore_free(os);
    return r;
}

/* Makes c the current version (the old current becomes the previous one). */
static void activate(gw_artifact *a, const cached *c) {
    pthread_mutex_lock(&a->lock);
    if (a->cur.have && strcmp(a->cur.version, c->version) == 0) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    if (a->cur.have)
        a->prev = a->cur;
    else if (a->prev.have && strcmp(a->prev.version, c->version) == 0)
        memset(&a->prev, 0, sizeof(a->prev));
    a->cur = *c;
    snprintf(a->stats.current, sizeof(a->stats.current), "%s", c->version);
    char prev[GW_ARTIFACT_VERSION_MAX + 1];
    snprintf(prev, sizeof(prev), "%s", a->prev.have ? a->prev.version : "none");
    pthread_mutex_unlock(&a->lock);
    sr_info("trivy-db %s (%" PRIu64 " bytes) is now served to agents; previous: %s", c->version, c->size, prev);
}

/* One KV value. 0 when handled (or ignored as invalid), <0 when it should be retried. */
static int handle_value(gw_artifact *a, jsCtx *js, const char *data, size_t len, uint64_t revision) {
    gw_artifact_update u;
    char err[512] = "";
    int r = gw_artifact_parse_update(data, len, a->cfg->artifact_max_size, a->cfg->artifact_bucket, &u, err,
                                     sizeof(err));
    if (r < 0) {
        sr_warn("ignored %s revision %" PRIu64 " of kv %s: %s", GW_ARTIFACT_NAME, revision, a->cfg->artifact_bucket,
                err);
        return 0;
    }
    pthread_mutex_lock(&a->lock);
    bool same = a->cur.have && strcmp(a->cur.version, u.version) == 0;
    bool first = !a->cur.have;
    a->stats.updates_seen += same ? 0 : 1;
    pthread_mutex_unlock(&a->lock);
    if (same)
        return 0;
    sr_info("trivy-db %s announced (%" PRIu64 " bytes, object %s/%s)", u.version, u.size, u.bucket, u.object);
    cached c;
    r = fetch(a, js, &u, &c, err, sizeof(err));
    if (r < 0) {
        pthread_mutex_lock(&a->lock);
        a->stats.fetches_failed++;
        pthread_mutex_unlock(&a->lock);
        if (r != -ECANCELED)
            sr_warn("could not cache trivy-db %s: %s (retrying in %" PRId64 " ms)", u.version, err,
                    a->cfg->artifact_retry_ms);
        return r;
    }
    pthread_mutex_lock(&a->lock);
    a->stats.fetches_ok++;
    pthread_mutex_unlock(&a->lock);
    activate(a, &c);
    if (first)
        adopt_previous(a, c.hex);
    prune(a);
    return 0;
}

typedef struct {
    kvStore *kv;
    kvWatcher *w;
} watch_state;

static void watch_close(gw_artifact *a, watch_state *ws) {
    if (ws->w) {
        pthread_mutex_lock(&a->lock);
        a->watcher = NULL;
        pthread_mutex_unlock(&a->lock);
        kvWatcher_Destroy(ws->w);
        ws->w = NULL;
    }
    if (ws->kv) {
        kvStore_Destroy(ws->kv);
        ws->kv = NULL;
    }
}

/* Binds the bucket and starts the watch. 0, -ENOENT (no bucket yet) or -EIO. */
static int watch_open(gw_artifact *a, jsCtx *js, watch_state *ws, char *err, size_t errlen) {
    natsStatus s = js_KeyValue(&ws->kv, js, a->cfg->artifact_bucket);
    if (s == NATS_NOT_FOUND) {
        sr_errf(err, errlen, "kv bucket %s does not exist yet", a->cfg->artifact_bucket);
        return -ENOENT;
    }
    if (s == NATS_OK) {
        kvWatchOptions o;
        kvWatchOptions_Init(&o);
        o.IgnoreDeletes = true;
        s = kvStore_Watch(&ws->w, ws->kv, GW_ARTIFACT_NAME, &o);
    }
    if (s != NATS_OK) {
        const char *txt = nats_GetLastError(NULL);
        sr_errf(err, errlen, "could not watch kv %s: %s", a->cfg->artifact_bucket, txt ? txt : natsStatus_GetText(s));
        watch_close(a, ws);
        return -EIO;
    }
    pthread_mutex_lock(&a->lock);
    bool stop = a->stopping;
    if (!stop)
        a->watcher = ws->w;
    pthread_mutex_unlock(&a->lock);
    if (stop) {
        watch_close(a, ws);
        return -ECANCELED;
    }
    return 0;
}

/* The value of the key now (the watch's fallback): 1 with an entry, 0 when absent. */
static int kv_get(watch_state *ws, kvEntry **ret) {
    natsStatus s = kvStore_Get(ret, ws->kv, GW_ARTIFACT_NAME);
    if (s == NATS_OK)
        return 1;
    return s == NATS_NOT_FOUND ? 0 : -EIO;
}

static void *watch_main(void *arg) {
    gw_artifact *a = arg;
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    watch_state ws = {0};
    char err[512] = "", last_err[512] = "";
    char *retry_doc = NULL; /* a value whose fetch failed */
    size_t retry_len = 0;
    uint64_t retry_rev = 0;
    int64_t retry_at = 0, next_check = 0;
    if (natsConnection_JetStream(&js, a->nc, &jo) != NATS_OK) {
        sr_error("artifact distribution disabled: could not create a jetstream context");
        return NULL;
    }
    while (!is_stopping(a)) {
        if (!ws.w) {
            int r = watch_open(a, js, &ws, err, sizeof(err));
            if (r == -ECANCELED)
                break;
            if (r < 0) {
                if (strcmp(err, last_err) != 0)
                    sr_info("artifact distribution waits: %s (retrying every %" PRId64 " ms)", err,
                            a->cfg->artifact_retry_ms);
                snprintf(last_err, sizeof(last_err), "%s", err);
                if (sleep_or_stop(a, a->cfg->artifact_retry_ms))
                    break;
                continue;
            }
            if (last_err[0])
                sr_info("artifact distribution: watching kv %s key %s", a->cfg->artifact_bucket, GW_ARTIFACT_NAME);
            last_err[0] = '\0';
            next_check = sr_mono_ms() + a->cfg->artifact_recheck_ms;
        }
        int64_t now = sr_mono_ms();
        if (retry_doc && now >= retry_at) {
            int r = handle_value(a, js, retry_doc, retry_len, retry_rev);
            if (r == 0) {
                free(retry_doc);
                retry_doc = NULL;
            } else {
                retry_at = sr_mono_ms() + a->cfg->artifact_retry_ms;
            }
            continue;
        }
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, ws.w, GW_ARTIFACT_WATCH_POLL_MS);
        if (s == NATS_TIMEOUT || (s == NATS_OK && !e)) {
            if (sr_mono_ms() < next_check)
                continue;
            /* fallback: read the key, in case the watch missed an update (server restart) */
            next_check = sr_mono_ms() + a->cfg->artifact_recheck_ms;
            int r = kv_get(&ws, &e);
            if (r < 0) {
                watch_close(a, &ws);
                continue;
            }
            if (r == 0)
                continue;
        } else if (s != NATS_OK) {
            if (!is_stopping(a))
                sr_warn("artifact watch on kv %s broke: %s; watching again", a->cfg->artifact_bucket,
                        natsStatus_GetText(s));
            watch_close(a, &ws);
            if (sleep_or_stop(a, a->cfg->artifact_retry_ms))
                break;
            continue;
        }
        if (kvEntry_Operation(e) == kvOp_Put) {
            const char *v = kvEntry_Value(e);
            size_t vl = (size_t)kvEntry_ValueLen(e);
            uint64_t rev = kvEntry_Revision(e);
            int r = handle_value(a, js, v ? v : "", vl, rev);
            if (r < 0 && r != -ECANCELED && vl <= GW_ARTIFACT_DOC_MAX) {
                char *copy = malloc(vl + 1);
                if (copy) {
                    memcpy(copy, v, vl);
                    copy[vl] = '\0';
                    free(retry_doc);
                    retry_doc = copy;
                    retry_len = vl;
                    retry_rev = rev;
                    retry_at = sr_mono_ms() + a->cfg->artifact_retry_ms;
                }
            } else if (r == 0) {
                free(retry_doc); /* superseded */
                retry_doc = NULL;
            }
        }
        kvEntry_Destroy(e);
    }
    free(retry_doc);
    watch_close(a, &ws);
    jsCtx_Destroy(js);
    return NULL;
}

/* ---- lifecycle ---- */

int gw_artifact_start(const gw_config *cfg, natsConnection *nc, gw_artifact **ret, char *err, size_t errlen) {
    gw_artifact *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = cfg;
    a->nc = nc;
    int n = snprintf(a->dir, sizeof(a->dir), "%s/artifacts/%s", cfg->artifact_cache_dir, GW_ARTIFACT_NAME);
    if (n < 0 || (size_t)n >= sizeof(a->dir)) {
        free(a);
        sr_errf(err, errlen, "artifact.cache_dir is too long");
        return -ENAMETOOLONG;
    }
    pthread_mutex_init(&a->lock, NULL);
    (void)sr_mono_cond_init(&a->cond);
#ifdef SR_FAULT_INJECTION
    const char *fc = getenv("SR_FAULT_ARTIFACT_CORRUPT");
    a->fault_chunk = -1;
    const char *colon = fc ? strrchr(fc, ':') : NULL;
    int64_t k = -1;
    if (colon && (size_t)(colon - fc) < sizeof(a->fault_agent) && sr_parse_i64(colon + 1, 0, 1000000, &k) == 0) {
        memcpy(a->fault_agent, fc, (size_t)(colon - fc));
        a->fault_chunk = (long)k;
        sr_warn("fault injection: chunk %ld of the next download by %s will be corrupted", a->fault_chunk,
                a->fault_agent);
    }
    const char *fd = getenv("SR_FAULT_ARTIFACT_CHUNK_DELAY_MS");
    int64_t v = 0;
    if (fd && sr_parse_i64(fd, 1, 60000, &v) == 0) {
        a->fault_delay_ms = (long)v;
        sr_warn("fault injection: every download chunk waits %ld ms", a->fault_delay_ms);
    }
#endif
    int r = -pthread_create(&a->thread, NULL, watch_main, a);
    if (r < 0) {
        sr_errf(err, errlen, "could not start the artifact watcher: %s", strerror(-r));
        gw_artifact_free(a);
        return r;
    }
    a->started = true;
    *ret = a;
    return 0;
}

void gw_artifact_stop(gw_artifact *a) {
    if (a)
        atomic_store(&a->downloads_stopped, true);
}

gw_artifact *gw_artifact_free(gw_artifact *a) {
    if (!a)
        return NULL;
    gw_artifact_stop(a);
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    if (a->watcher)
        kvWatcher_Stop(a->watcher);
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->started)
        pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
    return NULL;
}

void gw_artifact_get_stats(gw_artifact *a, gw_artifact_stats *ret) {
    pthread_mutex_lock(&a->lock);
    *ret = a->stats;
    pthread_mutex_unlock(&a->lock);
    ret->active_downloads = atomic_load(&a->active);
}

/* ---- agents ---- */

int gw_artifact_agent_new(gw_artifact *a, const char *agent_id, const Serviceradar__Agent__V1__Hello *hello,
                          gw_artifact_agent **ret) {
    gw_artifact_agent *ag = calloc(1, sizeof(*ag));
    if (!ag)
        return -ENOMEM;
    ag->a = a;
    snprintf(ag->id, sizeof(ag->id), "%s", agent_id);
    for (size_t i = 0; hello && i < hello->n_capabilities; i++)
        if (hello->capabilities[i] && strcmp(hello->capabilities[i], GW_ARTIFACT_CAPABILITY) == 0)
            ag->trivy = true;
    for (size_t i = 0; hello && i < hello->n_artifact_versions; i++) {
        const Serviceradar__Agent__V1__Hello__ArtifactVersionsEntry *e = hello->artifact_versions[i];
        if (!e || !e->key || strcmp(e->key, GW_ARTIFACT_NAME) != 0 || !e->value)
            continue;
        if (strlen(e->value) <= GW_ARTIFACT_VERSION_MAX)
            snprintf(ag->held, sizeof(ag->held), "%s", e->value);
        else
            snprintf(ag->held, sizeof(ag->held), "?");
    }
    *ret = ag;
    return 0;
}

gw_artifact_agent *gw_artifact_agent_free(gw_artifact_agent *ag) {
    free(ag);
    return NULL;
}

int gw_artifact_agent_next_command(gw_artifact_agent *ag, gw_command *ret) {
    if (!ag || !ag->trivy)
        return 0;
    gw_artifact *a = ag->a;
    int64_t now = sr_mono_ms();
    char payload[256];
    pthread_mutex_lock(&a->lock);
    const cached *c = &a->cur;
    if (!c->have || strcmp(ag->held, c->version) == 0 || now < ag->retry_after_ms ||
        (ag->pending_id[0] && now - ag->pending_since_ms < GW_ARTIFACT_PUSH_TIMEOUT_MS)) {
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    uint64_t seq = ++a->cmd_seq;
    a->stats.commands_sent++;
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->command_id, sizeof(ret->command_id), "gw-artifact-%s-%" PRId64 "-%" PRIu64, ag->id,
             sr_now_unix_ms(), seq);
    snprintf(ret->type, sizeof(ret->type), "%s", GW_ARTIFACT_COMMAND);
    snprintf(payload, sizeof(payload), "{\"name\":\"%s\",\"version\":\"%s\",\"size\":%" PRIu64 ",\"sha256\":\"%s\"}",
             GW_ARTIFACT_NAME, c->version, c->size, c->hex);
    snprintf(ag->pending_id, sizeof(ag->pending_id), "%s", ret->command_id);
    snprintf(ag->pending_version, sizeof(ag->pending_version), "%s", c->version);
    ag->pending_since_ms = now;
    pthread_mutex_unlock(&a->lock);
    ret->payload = strdup(payload);
    if (!ret->payload) {
        pthread_mutex_lock(&a->lock);
        ag->pending_id[0] = '\0';
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    ret->issued_unix_ms = sr_now_unix_ms();
    ret->deadline_unix_ms = 0;
    return 1;
}

void gw_artifact_agent_result(gw_artifact_agent *ag, const Serviceradar__Agent__V1__CommandResult *res) {
    if (!ag || !res || !res->command_id)
        return;
    gw_artifact *a = ag->a;
    pthread_mutex_lock(&a->lock);
    if (!ag->pending_id[0] || strcmp(ag->pending_id, res->command_id) != 0) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    char version[GW_ARTIFACT_VERSION_MAX + 1];
    memcpy(version, ag->pending_version, sizeof(version));
    ag->pending_id[0] = '\0';
    int64_t retry = 0;
    if (res->ok) {
        memcpy(ag->held, version, sizeof(ag->held));
        ag->failures = 0;
    } else {
        retry = a->cfg->artifact_retry_ms;
        for (unsigned i = 0; i < ag->failures && retry < GW_ARTIFACT_RETRY_MAX_MS; i++)
            retry *= 2;
        if (retry > GW_ARTIFACT_RETRY_MAX_MS)
            retry = GW_ARTIFACT_RETRY_MAX_MS;
        ag->retry_after_ms = sr_mono_ms() + retry;
        if (ag->failures < 32)
            ag->failures++;
    }
    pthread_mutex_unlock(&a->lock);
    if (res->ok)
        sr_info("agent %s installed trivy-db %s", ag->id, version);
    else
        sr_warn("agent %s could not update trivy-db to %s: %.512s (next try in %" PRId64 " ms)", ag->id, version,
                res->error ? res->error : "", retry);
}

/* ---- Download ---- */

static void download_finish(gw_artifact *a, srg_call *call, const char *id, int status, const char *msg,
                            bool counted_refusal) {
    pthread_mutex_lock(&a->lock);
    if (counted_refusal)
        a->stats.downloads_refused++;
    else if (status == GRPC_STATUS_OK)
        a->stats.downloads_ok++;
    else
        a->stats.downloads_failed++;
    pthread_mutex_unlock(&a->lock);
    if (status != GRPC_STATUS_OK)
        sr_info("download by %s ended: %s", id, msg);
    srg_call_finish(call, status, status == GRPC_STATUS_OK ? NULL : msg);
}

void gw_artifact_download(gw_artifact *a, srg_call *call, const char *id) {
    char msg[256] = "";
    Serviceradar__Agent__V1__ArtifactRequest *req = NULL;
    int r = srg_call_recv_msg(call, &serviceradar__agent__v1__artifact_request__descriptor,
                              GW_ARTIFACT_REQUEST_TIMEOUT_MS, (ProtobufCMessage **)&req);
    if (r != 1) {
        download_finish(a, call, id, r == -EBADMSG ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_CANCELLED,
                        r == -EBADMSG ? "the request does not decode" : "no request received", r == -EBADMSG);
        return;
    }
    char version[GW_ARTIFACT_VERSION_MAX + 1] = "";
    uint64_t offset = req->offset;
    bool name_ok = req->name && strcmp(req->name, GW_ARTIFACT_NAME) == 0;
    bool version_ok = !req->version || strlen(req->version) <= GW_ARTIFACT_VERSION_MAX;
    if (version_ok && req->version)
        snprintf(version, sizeof(version), "%s", req->version);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    if (!name_ok) {
        download_finish(a, call, id, GRPC_STATUS_NOT_FOUND, "unknown artifact (only trivy-db is served)", true);
        return;
    }
    if (atomic_load(&a->downloads_stopped)) {
        download_finish(a, call, id, GRPC_STATUS_UNAVAILABLE, "the gateway is stopping", true);
        return;
    }
    /* bound concurrent downloads: the agent backs off and retries */
    int active = atomic_fetch_add(&a->active, 1);
    if (active >= (int)a->cfg->artifact_max_downloads) {
        atomic_fetch_sub(&a->active, 1);
        snprintf(msg, sizeof(msg), "too many downloads in progress (%d); retry later", active);
        download_finish(a, call, id, GRPC_STATUS_RESOURCE_EXHAUSTED, msg, true);
        return;
    }

    cached c = {0};
    int fd = -1;
    pthread_mutex_lock(&a->lock);
    if (a->cur.have && (!version[0] || strcmp(version, a->cur.version) == 0))
        c = a->cur;
    else if (a->prev.have && version[0] && strcmp(version, a->prev.version) == 0)
        c = a->prev;
    if (c.have) { /* opened under the lock: a later prune cannot take the file away */
        char path[PATH_MAX];
        if (path_of(a, c.hex, path, sizeof(path)) == 0)
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    pthread_mutex_unlock(&a->lock);

    int status = GRPC_STATUS_OK;
    unsigned char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    uint64_t sent = 0;
    int64_t t0 = sr_mono_ms();
    if (!c.have) {
        status = GRPC_STATUS_NOT_FOUND;
        snprintf(msg, sizeof(msg), "trivy-db %s is not available on this gateway", version[0] ? version : "(current)");
        goto done;
    }
    if (fd < 0) {
        status = GRPC_STATUS_UNAVAILABLE;
        snprintf(msg, sizeof(msg), "could not open the cached trivy-db %s: %s", c.version, strerror(errno));
        sr_warn("download by %s: %s", id, msg);
        goto done;
    }
    if (offset > c.size) {
        status = GRPC_STATUS_OUT_OF_RANGE;
        snprintf(msg, sizeof(msg), "offset %" PRIu64 " is beyond the size %" PRIu64 " of trivy-db %s", offset, c.size,
                 c.version);
        goto done;
    }
    size_t chunk = (size_t)a->cfg->artifact_chunk_size;
    buf = malloc(chunk);
    md = EVP_MD_CTX_new();
    if (!buf || !md) {
        status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(msg, sizeof(msg), "out of memory");
        goto done;
    }
    sr_info("download by %s: trivy-db %s from offset %" PRIu64 " of %" PRIu64, id, c.version, offset, c.size);
    for (uint64_t off = offset; off < c.size;) {
        if (atomic_load(&a->downloads_stopped)) {
            status = GRPC_STATUS_UNAVAILABLE;
            snprintf(msg, sizeof(msg), "the gateway is stopping");
            goto done;
        }
        size_t n = c.size - off < chunk ? (size_t)(c.size - off) : chunk;
        size_t got = 0;
        while (got < n) {
            ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                status = GRPC_STATUS_INTERNAL;
                snprintf(msg, sizeof(msg), "could not read the cached trivy-db: %s",
                         k < 0 ? strerror(errno) : "file is shorter than expected");
                sr_warn("download by %s: %s", id, msg);
                goto done;
            }
            got += (size_t)k;
        }
        unsigned char d[32];
        unsigned int dl = 0;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, buf, n) != 1 ||
            EVP_DigestFinal_ex(md, d, &dl) != 1) {
            status = GRPC_STATUS_INTERNAL;
            snprintf(msg, sizeof(msg), "could not hash a chunk");
            goto done;
        }
#ifdef SR_FAULT_INJECTION
        if (a->fault_delay_ms > 0)
            sr_sleep_ms(a->fault_delay_ms);
        if (a->fault_chunk >= 0 && (long)(off / chunk) == a->fault_chunk && strcmp(id, a->fault_agent) == 0 &&
            !atomic_exchange(&a->fault_done, true)) {
            buf[n / 2] ^= 0x5a; /* after hashing: the chunk's digest no longer matches */
            sr_warn("fault injection: corrupted the chunk at offset %" PRIu64 " sent to %s", off, id);
        }
#endif
        Serviceradar__Agent__V1__ArtifactChunk m;
        serviceradar__agent__v1__artifact_chunk__init(&m);
        m.name = (char *)(uintptr_t)GW_ARTIFACT_NAME;
        m.version = c.version;
        m.offset = off;
        m.data.data = buf;
        m.data.len = n;
        m.sha256.data = d;
        m.sha256.len = 32;
        m.total_size = c.size;
        m.total_sha256.data = c.digest;
        m.total_sha256.len = 32;
        r = srg_call_send_msg(call, &m.base, (int)a->cfg->artifact_send_timeout_ms);
        if (r < 0) {
            status = r == -ETIMEDOUT ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED;
            snprintf(msg, sizeof(msg), "stream ended at offset %" PRIu64 ": %s", off,
                     r == -ETIMEDOUT ? "send timed out" : "cancelled by the agent or the gateway");
            goto done;
        }
        off += n;
        sent += n;
    }
done:
    if (sent) {
        pthread_mutex_lock(&a->lock);
        a->stats.bytes_sent += sent;
        pthread_mutex_unlock(&a->lock);
    }
    if (status == GRPC_STATUS_OK && c.have) {
        int64_t ms = sr_mono_ms() - t0;
        sr_info("download by %s: trivy-db %s, %" PRIu64 " bytes sent in %" PRId64 " ms", id, c.version, sent, ms);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    if (fd >= 0)
        close(fd);
    download_finish(a, call, id, status, msg, false);
    atomic_fetch_sub(&a->active, 1);
}
