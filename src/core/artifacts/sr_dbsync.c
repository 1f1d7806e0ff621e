/* The Trivy DB sync job (sr_dbsync.h): source digest -> compare with the signalled version ->
 * download to a temporary file (SHA-256 on the way) -> Object Store -> KV signal. */
#include "sr_dbsync.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_base64.h"
#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_fetch.h"
#include "sr_file.h"
#include "sr_jobs_builtin.h"
#include "sr_log.h"
#include "sr_objstore.h"
#include "sr_oci.h"
#include "sr_pg.h"
#include "sr_time.h"

#define PASSWORD_MAX 4096
#define DIGEST_FILE_MAX 65536
#define KV_VALUE_MAX 8192
#define KV_HISTORY 5
#define PROGRESS_UNKNOWN_STEP (16u * 1024u * 1024u) /* a progress line this often when the size is unknown */
#define PROGRESS_MIN_STEP (64u * 1024u)
#define LEASE_RENEW_MS 30000 /* progress reaches the jobs row at least this often */
#define TMP_PREFIX "trivy-db."
#define TMP_SUFFIX ".part"
#define DEFAULT_NATS_TIMEOUT_MS 10000

struct sr_dbsync {
    char *source, *ca_file, *username, *password_file, *work_dir;
    char sha256[65]; /* pinned digest or "" */
    char display[SR_OCI_SOURCE_MAX + 1];
    sr_oci_source_kind kind;
    sr_oci_ref ref;
    int64_t timeout_ms;
    uint64_t max_bytes;
    int64_t lease_ms;
    int64_t nats_timeout_ms;
    natsConnection *nc;
    atomic_int cancel;
};

/* What a run knows about the bundle to install. */
typedef struct {
    char hex[65];  /* expected SHA-256 */
    uint64_t size; /* expected size; 0 unknown (mirror) */
} bundle;

/* Progress reporting of one run: log lines, the jobs row's last_message and its lease. */
typedef struct {
    sr_dbsync *ds;
    PGconn *conn;       /* NULL: no job row to update */
    const char *job;
    char owner[128];
    uint64_t total;     /* expected size; 0 unknown */
    uint64_t step, next;
    int64_t started_ms, last_row_ms;
    char err[256];
} progress;

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static bool hex64(const char *s) {
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

int sr_dbsync_new(const sr_dbsync_config *cfg, sr_dbsync **ret, char *err, size_t errlen) {
    sr_oci_source_kind kind;
    sr_oci_ref ref;
    memset(&ref, 0, sizeof(ref));
    char perr[512];
    if (sr_oci_source_parse(cfg->source, &kind, &ref, perr, sizeof(perr)) < 0) {
        sr_errf(err, errlen, "trivy_db.source: %s", perr);
        return -EINVAL;
    }
    if (cfg->sha256 && cfg->sha256[0] && !hex64(cfg->sha256)) {
        sr_errf(err, errlen, "trivy_db.sha256: expected 64 hex digits");
        return -EINVAL;
    }
    if (cfg->password_file && cfg->password_file[0] && !(cfg->username && cfg->username[0])) {
        sr_errf(err, errlen, "trivy_db.password_file needs trivy_db.username");
        return -EINVAL;
    }
    if (!cfg->work_dir || !cfg->work_dir[0] || !cfg->nc || cfg->max_bytes == 0) {
        sr_errf(err, errlen, "trivy_db: work_dir, a NATS connection and max_bytes are required");
        return -EINVAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sr_errf(err, errlen, "could not initialise libcurl");
        return -ENOMEM;
    }
    sr_dbsync *ds = calloc(1, sizeof(*ds));
    if (!ds) {
        curl_global_cleanup();
        sr_errf(err, errlen, "could not create the trivy_db job: out of memory");
        return -ENOMEM;
    }
    ds->source = strdup(cfg->source);
    ds->ca_file = dup_or_null(cfg->ca_file);
    ds->username = dup_or_null(cfg->username);
    ds->password_file = dup_or_null(cfg->password_file);
    ds->work_dir = strdup(cfg->work_dir);
    if (!ds->source || !ds->work_dir || (cfg->ca_file && cfg->ca_file[0] && !ds->ca_file) ||
        (cfg->username && cfg->username[0] && !ds->username) ||
        (cfg->password_file && cfg->password_file[0] && !ds->password_file)) {
        sr_dbsync_free(ds);
        sr_errf(err, errlen, "could not create the trivy_db job: out of memory");
        return -ENOMEM;
    }
    if (cfg->sha256 && cfg->sha256[0])
        for (int i = 0; i < 64; i++)
            ds->sha256[i] = (char)(cfg->sha256[i] >= 'A' && cfg->sha256[i] <= 'F' ? cfg->sha256[i] - 'A' + 'a'
                                                                                  : cfg->sha256[i]);
    sr_oci_source_display(cfg->source, ds->display, sizeof(ds->display));
    ds->kind = kind;
    ds->ref = ref;
    ds->timeout_ms = cfg->timeout_ms;
    ds->max_bytes = cfg->max_bytes;
    ds->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : 600000;
    ds->nats_timeout_ms = cfg->nats_timeout_ms > 0 ? cfg->nats_timeout_ms : DEFAULT_NATS_TIMEOUT_MS;
    ds->nc = cfg->nc;
    atomic_init(&ds->cancel, 0);
    *ret = ds;
    return 0;
}

void sr_dbsync_cancel(sr_dbsync *ds) {
    if (ds)
        atomic_store(&ds->cancel, 1);
}

const char *sr_dbsync_source(const sr_dbsync *ds) { return ds->display; }

sr_dbsync *sr_dbsync_free(sr_dbsync *ds) {
    if (!ds)
        return NULL;
    free(ds->source);
    free(ds->ca_file);
    free(ds->username);
    free(ds->password_file);
    free(ds->work_dir);
    free(ds);
    curl_global_cleanup();
    return NULL;
}

/* ---- progress ---- */

/* $1 name, $2 owner, $3 message, $4 lease ms. The lease is renewed, never shortened. */
static const char q_progress[] =
    "UPDATE jobs SET last_message = $3, "
    "lease_until = greatest(lease_until, now() + $4::bigint * interval '1 millisecond') "
    "WHERE name = $1 AND lease_owner = $2";
static const char q_owner[] = "SELECT lease_owner FROM jobs WHERE name = $1 AND last_status = 'running'";

static void progress_init(progress *p, sr_dbsync *ds, sr_jobs_run *run) {
    memset(p, 0, sizeof(*p));
    p->ds = ds;
    p->started_ms = sr_mono_ms();
    p->last_row_ms = p->started_ms;
    if (!run)
        return;
    /* Right after the claim the row's lease_owner is this runner's: remember it so the progress
     * updates below touch the row only while the lease is still ours. */
    const char *vals[] = {sr_jobs_run_name(run)};
    _cleanup_pgresult_ PGresult *res = PQexecParams(sr_jobs_run_conn(run), q_owner, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        (void)snprintf(p->owner, sizeof(p->owner), "%s", PQgetvalue(res, 0, 0));
        p->conn = sr_jobs_run_conn(run);
        p->job = sr_jobs_run_name(run);
    }
}

/* Writes msg to the job's row and renews the lease: 0, -ESTALE (lease lost) or -EIO. */
static int progress_row(progress *p, const char *msg) {
    p->last_row_ms = sr_mono_ms();
    if (!p->conn)
        return 0;
    char lease[24];
    (void)snprintf(lease, sizeof(lease), "%" PRId64, p->ds->lease_ms);
    const char *vals[] = {p->job, p->owner, msg, lease};
    _cleanup_pgresult_ PGresult *res = PQexecParams(p->conn, q_progress, 4, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char m[200];
        sr_pg_errmsg(p->conn, res, m, sizeof(m));
        sr_errf(p->err, sizeof(p->err), "could not record progress: %s", m);
        return -EIO;
    }
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        sr_errf(p->err, sizeof(p->err), "lease lost to another runner");
        return -ESTALE;
    }
    return 0;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static double rate_mib_s(uint64_t bytes, int64_t ms) { return ms > 0 ? mib(bytes) * 1000.0 / (double)ms : 0.0; }

/* sr_fetch_opts.progress: a log line and a row update every step (10% or 16 MiB), and the
 * row (lease) at least every LEASE_RENEW_MS. */
static int on_progress(void *ud, uint64_t done, uint64_t announced) {
    progress *p = ud;
    uint64_t total = p->total ? p->total : announced;
    if (!p->step) {
        p->step = total ? total / 10 : PROGRESS_UNKNOWN_STEP;
        if (p->step < PROGRESS_MIN_STEP)
            p->step = PROGRESS_MIN_STEP;
        p->next = p->step;
    }
    int64_t now = sr_mono_ms();
    bool step = done >= p->next || (total && done == total);
    if (!step && now - p->last_row_ms < LEASE_RENEW_MS)
        return 0;
    while (p->next <= done)
        p->next += p->step;
    char msg[256];
    double rate = rate_mib_s(done, now - p->started_ms);
    if (total)
        (void)snprintf(msg, sizeof(msg), "downloading: %.1f of %.1f MiB (%d%%), %.1f MiB/s", mib(done), mib(total),
                       (int)(done * 100 / total), rate);
    else
        (void)snprintf(msg, sizeof(msg), "downloading: %.1f MiB, %.1f MiB/s", mib(done), rate);
    if (step)
        sr_info("trivy-db: %s from %s", msg, p->ds->display);
    return progress_row(p, msg);
}

/* ---- NATS ---- */

static int nats_errno(natsStatus s) {
    switch (s) {
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_NOT_FOUND:
        return -ENOENT;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
        return -ENOTCONN;
    default:
        return -EIO;
    }
}

static int nats_fail(natsStatus s, const char *what, char *err, size_t errlen) {
    natsStatus ls = NATS_OK;
    const char *detail = nats_GetLastError(&ls);
    sr_errf(err, errlen, "could not %s: %s%s%s", what, natsStatus_GetText(s), detail && ls != NATS_OK ? ": " : "",
            detail && ls != NATS_OK ? detail : "");
    return nats_errno(s);
}

/* The KV bucket, created (file storage) when missing. */
static int kv_open(jsCtx *js, kvStore **ret, char *err, size_t errlen) {
    natsStatus s = js_KeyValue(ret, js, SR_DBSYNC_BUCKET);
    if (s == NATS_OK)
        return 0;
    if (s != NATS_NOT_FOUND)
        return nats_fail(s, "open KV bucket " SR_DBSYNC_BUCKET, err, errlen);
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = SR_DBSYNC_BUCKET;
    kc.Description = "ServiceRadar artifact versions (trivy-db)";
    kc.History = KV_HISTORY;
    kc.StorageType = js_FileStorage;
    kc.Replicas = 1;
    s = js_CreateKeyValue(ret, js, &kc);
    return s == NATS_OK ? 0 : nats_fail(s, "create KV bucket " SR_DBSYNC_BUCKET, err, errlen);
}

/* The signalled version ("sha256:<hex>") and size; "" when none (or unreadable: then it is
 * simply replaced). */
static int kv_current(kvStore *kv, char version[SR_OCI_DIGEST_LEN + 1], uint64_t *size, char *err, size_t errlen) {
    version[0] = '\0';
    *size = 0;
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, kv, SR_DBSYNC_OBJECT);
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK)
        return nats_fail(s, "read KV key " SR_DBSYNC_BUCKET "/" SR_DBSYNC_OBJECT, err, errlen);
    json_t *v = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
    kvEntry_Destroy(e);
    const json_t *ver = json_object_get(v, "version");
    const json_t *sz = json_object_get(v, "size");
    if (json_is_string(ver) && sr_oci_digest_valid(json_string_value(ver)) && json_is_integer(sz) &&
        json_integer_value(sz) >= 0) {
        memcpy(version, json_string_value(ver), SR_OCI_DIGEST_LEN + 1);
        *size = (uint64_t)json_integer_value(sz);
    }
    json_decref(v);
    return 0;
}

static int hex_to_bin(const char *hex, unsigned char out[32]) {
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -EINVAL;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* True when the store holds the object with this content (the meta's digest and size). */
static bool object_matches(sr_objstore *os, const char *hex, uint64_t size) {
    unsigned char bin[32];
    char want[64] = "SHA-256=";
    sr_objstore_info info;
    char oerr[256];
    if (hex_to_bin(hex, bin) < 0 || sr_base64url_encode(bin, 32, true, want + 8, sizeof(want) - 8) < 0 ||
        sr_objstore_info_get(os, SR_DBSYNC_OBJECT, &info, oerr, sizeof(oerr)) < 0)
        return false;
    return info.size == size && strcmp(info.digest, want) == 0;
}

static int kv_signal(kvStore *kv, const sr_dbsync *ds, const char *hex, uint64_t size, char *err, size_t errlen) {
    char version[SR_OCI_DIGEST_LEN + 1];
    (void)snprintf(version, sizeof(version), "sha256:%s", hex);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "event", SR_DBSYNC_EVENT, "name",
                          SR_DBSYNC_OBJECT, "version", version, "sha256", hex, "size", (json_int_t)size, "bucket",
                          SR_DBSYNC_BUCKET, "object", SR_DBSYNC_OBJECT, "source", ds->display, "updated_unix_ms",
                          (json_int_t)sr_now_unix_ms());
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!text) {
        sr_errf(err, errlen, "could not encode the update signal: out of memory");
        return -ENOMEM;
    }
    size_t n = strlen(text);
    int r = 0;
    if (n > KV_VALUE_MAX) {
        sr_errf(err, errlen, "could not encode the update signal: %zu bytes", n);
        r = -E2BIG;
    } else {
        uint64_t rev = 0;
        natsStatus s = kvStore_Put(&rev, kv, SR_DBSYNC_OBJECT, text, (int)n);
        if (s != NATS_OK)
            r = nats_fail(s, "put KV key " SR_DBSYNC_BUCKET "/" SR_DBSYNC_OBJECT, err, errlen);
    }
    free(text);
    return r;
}

/* ---- sources ---- */

static int read_password(const sr_dbsync *ds, char **ret, char *err, size_t errlen) {
    *ret = NULL;
    if (!ds->password_file)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(ds->password_file, PASSWORD_MAX, &buf, &len);
    if (r < 0) {
        sr_errf(err, errlen, "could not read trivy_db.password_file %s: %s", ds->password_file,
                r == -EFBIG ? "larger than 4 KiB" : strerror(-r));
        return r;
    }
    size_t n = strcspn(buf, "\r\n"); /* the first line */
    buf[n] = '\0';
    *ret = buf;
    return 0;
}

static void free_secret(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void fetch_opts(sr_dbsync *ds, progress *p, bool allow_http, sr_fetch_opts *o) {
    *o = (sr_fetch_opts){.ca_file = ds->ca_file, .stall_ms = ds->timeout_ms, .allow_http = allow_http,
                         .cancel = &ds->cancel, .progress = p ? on_progress : NULL, .progress_ud = p};
}

/* The mirror's digest file URL: <url>.sha256 (before a query string). */
static int digest_url(const char *url, char *out, size_t outlen) {
    size_t base = strcspn(url, "?");
    int w = snprintf(out, outlen, "%.*s.sha256%s", (int)base, url, url + base);
    return (w < 0 || (size_t)w >= outlen) ? -ENAMETOOLONG : 0;
}

/* The last path segment of a URL (for sha256sum lines). */
static void url_basename(const char *url, char *out, size_t outlen) {
    size_t end = strcspn(url, "?");
    size_t start = end;
    while (start > 0 && url[start - 1] != '/')
        start--;
    (void)snprintf(out, outlen, "%.*s", (int)(end - start), url + start);
}

static int mirror_digest(sr_dbsync *ds, const char *password, bundle *b, char *err, size_t errlen) {
    if (ds->sha256[0]) {
        memcpy(b->hex, ds->sha256, sizeof(b->hex));
        return 0;
    }
    char url[SR_OCI_SOURCE_MAX + 16], name[256];
    if (digest_url(ds->source, url, sizeof(url)) < 0) {
        sr_errf(err, errlen, "could not build the digest URL of %s", ds->display);
        return -ENAMETOOLONG;
    }
    url_basename(ds->source, name, sizeof(name));
    sr_fetch_opts o;
    fetch_opts(ds, NULL, strncmp(ds->source, "http://", 7) == 0, &o);
    sr_fetch_req rq = {.url = url, .username = ds->username, .password = password, .fd = -1,
                       .max_bytes = DIGEST_FILE_MAX};
    sr_fetch_resp resp;
    char ferr[512];
    int r = sr_fetch(&o, &rq, &resp, ferr, sizeof(ferr));
    if (r < 0) {
        sr_errf(err, errlen, "could not get the digest of %s: %s", ds->display, ferr);
        goto out;
    }
    if (resp.status != 200) {
        sr_errf(err, errlen,
                "could not get the digest of %s: %s.sha256 answered HTTP %ld and trivy_db.sha256 is not set; "
                "refusing to install unverified data",
                ds->display, ds->display, resp.status);
        r = resp.status == 404 ? -ENOENT : -EIO;
        goto out;
    }
    char perr[256];
    r = sr_oci_sha256sum_parse(resp.body, resp.body_len, name, b->hex, perr, sizeof(perr));
    if (r < 0)
        sr_errf(err, errlen, "could not get the digest of %s: %s.sha256: %s", ds->display, ds->display, perr);
out:
    sr_fetch_resp_done(&resp);
    return r;
}

static int mirror_download(sr_dbsync *ds, const char *password, const bundle *b, int fd, progress *p,
                           uint64_t *ret_size, char *err, size_t errlen) {
    sr_fetch_opts o;
    fetch_opts(ds, p, strncmp(ds->source, "http://", 7) == 0, &o);
    sr_fetch_req rq = {.url = ds->source, .username = ds->username, .password = password, .fd = fd,
                       .max_bytes = ds->max_bytes};
    sr_fetch_resp resp;
    char ferr[512];
    int r = sr_fetch(&o, &rq, &resp, ferr, sizeof(ferr));
    if (r < 0) {
        sr_errf(err, errlen, "could not download %s: %s%s", ds->display, p->err[0] ? p->err : ferr,
                r == -EFBIG ? " (trivy_db.max_bytes)" : "");
        goto out;
    }
    if (resp.status != 200) {
        sr_errf(err, errlen, "could not download %s: HTTP %ld%s%.200s%s", ds->display, resp.status,
                resp.body_len ? " (" : "", resp.body ? resp.body : "", resp.body_len ? ")" : "");
        r = resp.status == 404 ? -ENOENT : -EIO;
        goto out;
    }
    char hex[65];
    sr_fetch_hex(resp.sha256, hex);
    if (strcmp(hex, b->hex) != 0) {
        sr_errf(err, errlen, "could not verify %s: its SHA-256 is %s, expected %s", ds->display, hex, b->hex);
        r = -EBADMSG;
        goto out;
    }
    *ret_size = resp.bytes;
out:
    sr_fetch_resp_done(&resp);
    return r;
}

/* Removes temporary files left by a crashed run. */
static void remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > strlen(TMP_PREFIX) + strlen(TMP_SUFFIX) && strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
            strcmp(e->d_name + n - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0)
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* ---- the run ---- */

int sr_dbsync_run(sr_dbsync *ds, sr_jobs_run *run, char *msg, size_t msglen, char *err, size_t errlen) {
    progress prog;
    progress_init(&prog, ds, run);
    char *password = NULL;
    jsCtx *js = NULL;
    sr_objstore *os = NULL;
    kvStore *kv = NULL;
    sr_oci_client *oci = NULL;
    char tmp[4096] = "";
    int fd = -1;
    bundle b;
    memset(&b, 0, sizeof(b));
    sr_oci_layer layer;
    memset(&layer, 0, sizeof(layer));
    int r = read_password(ds, &password, err, errlen);
    if (r < 0)
        goto out;
    r = sr_mkdir_p(ds->work_dir, 0700);
    if (r < 0) {
        sr_errf(err, errlen, "could not create trivy_db.work_dir %s: %s", ds->work_dir, strerror(-r));
        goto out;
    }
    remove_stale(ds->work_dir);

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = ds->nats_timeout_ms;
    natsStatus s = natsConnection_JetStream(&js, ds->nc, &jo);
    if (s != NATS_OK) {
        r = nats_fail(s, "use JetStream", err, errlen);
        goto out;
    }
    sr_objstore_config oc = {.description = "ServiceRadar artifacts (trivy-db)", .timeout_ms = ds->nats_timeout_ms};
    r = sr_objstore_open(js, SR_DBSYNC_BUCKET, 1, &oc, &os, err, errlen);
    if (r < 0)
        goto out;
    r = kv_open(js, &kv, err, errlen);
    if (r < 0)
        goto out;
    char current[SR_OCI_DIGEST_LEN + 1];
    uint64_t current_size = 0;
    r = kv_current(kv, current, &current_size, err, errlen);
    if (r < 0)
        goto out;

    /* What the source offers. */
    if (ds->kind == SR_OCI_SOURCE_OCI) {
        sr_oci_opts oo = {.username = ds->username, .password = password};
        fetch_opts(ds, &prog, ds->ref.plain_http, &oo.fetch);
        r = sr_oci_client_new(&oo, &ds->ref, &oci, err, errlen);
        if (r < 0)
            goto out;
        r = sr_oci_client_layer(oci, SR_OCI_MT_TRIVY_DB, &layer, err, errlen);
        if (r < 0)
            goto out;
        memcpy(b.hex, layer.digest + 7, sizeof(b.hex));
        b.size = layer.size;
        if (ds->sha256[0] && strcmp(ds->sha256, b.hex) != 0) {
            sr_errf(err, errlen, "%s offers %s, trivy_db.sha256 pins sha256:%s", ds->display, layer.digest,
                    ds->sha256);
            r = -EBADMSG;
            goto out;
        }
        if (b.size > ds->max_bytes) {
            sr_errf(err, errlen, "could not download %s: the bundle has %" PRIu64 " bytes, more than trivy_db.max_bytes (%" PRIu64 ")",
                    ds->display, b.size, ds->max_bytes);
            r = -EFBIG;
            goto out;
        }
    } else {
        r = mirror_digest(ds, password, &b, err, errlen);
        if (r < 0)
            goto out;
    }
    char version[SR_OCI_DIGEST_LEN + 1];
    (void)snprintf(version, sizeof(version), "sha256:%s", b.hex);
    if (strcmp(version, current) == 0 && (!b.size || b.size == current_size) &&
        object_matches(os, b.hex, current_size)) {
        (void)snprintf(msg, msglen, "up to date: %s (%" PRIu64 " bytes) from %s", version, current_size,
                       ds->display);
        r = 0;
        goto out;
    }

    /* Download into a temporary file, verified on the way. */
    int w = snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "XXXXXX" TMP_SUFFIX, ds->work_dir);
    if (w < 0 || (size_t)w >= sizeof(tmp)) {
        tmp[0] = '\0';
        sr_errf(err, errlen, "trivy_db.work_dir: path too long");
        r = -ENAMETOOLONG;
        goto out;
    }
    fd = mkostemps(tmp, (int)strlen(TMP_SUFFIX), O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not create a temporary file in %s: %s", ds->work_dir, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    sr_info("trivy-db: downloading %s from %s (was %s)", version, ds->display, current[0] ? current : "none");
    prog.total = b.size;
    int64_t t0 = sr_mono_ms();
    prog.started_ms = t0; /* rates of the transfer alone */
    uint64_t size = b.size;
    if (oci)
        r = sr_oci_client_blob(oci, &layer, fd, ds->max_bytes, err, errlen);
    else
        r = mirror_download(ds, password, &b, fd, &prog, &size, err, errlen);
    if (r < 0) {
        if (prog.err[0] && (r == -ESTALE || r == -EIO))
            sr_errf(err, errlen, "could not download %s: %s", ds->display, prog.err);
        goto out;
    }
    int64_t took = sr_mono_ms() - t0;
    if (atomic_load(&ds->cancel)) {
        sr_errf(err, errlen, "cancelled: core stopping");
        r = -ECANCELED;
        goto out;
    }

    /* Store, then signal: a reader that sees the new version finds the object complete. */
    char note[128];
    (void)snprintf(note, sizeof(note), "storing %s (%" PRIu64 " bytes) in the object store", version, size);
    r = progress_row(&prog, note);
    if (r < 0) {
        sr_errf(err, errlen, "%s", prog.err);
        goto out;
    }
    char desc[128];
    (void)snprintf(desc, sizeof(desc), "Trivy DB bundle (db.tar.gz) %s", version);
    sr_objstore_info info;
    r = sr_objstore_put_file(os, SR_DBSYNC_OBJECT, tmp, desc, 0, &info, err, errlen);
    if (r < 0)
        goto out;
    if (info.size != size) {
        sr_errf(err, errlen, "could not store %s: the object store holds %" PRIu64 " bytes, expected %" PRIu64,
                version, info.size, size);
        r = -EIO;
        goto out;
    }
    r = kv_signal(kv, ds, b.hex, size, err, errlen);
    if (r < 0)
        goto out;
    (void)snprintf(msg, msglen, "updated to %s (%" PRIu64 " bytes in %.1f s, %.1f MiB/s) from %s, was %s", version,
                   size, (double)took / 1000.0, rate_mib_s(size, took), ds->display, current[0] ? current : "none");
    sr_info("trivy-db: %s", msg);
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        (void)unlink(tmp);
    oci = sr_oci_client_free(oci);
    if (kv)
        kvStore_Destroy(kv);
    os = sr_objstore_free(os);
    if (js)
        jsCtx_Destroy(js);
    free_secret(password);
    if (r < 0 && atomic_load(&ds->cancel) && r != -ECANCELED) {
        char reason[400];
        (void)snprintf(reason, sizeof(reason), "%s", err);
        sr_errf(err, errlen, "cancelled: core stopping (%s)", reason);
    }
    return r;
}

static int job_fn(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    const sr_jobs_params *p = params;
    if (!p || !p->dbsync) {
        sr_errf(err, errlen, "trivy_db_sync: not configured on this core");
        return -EINVAL;
    }
    return sr_dbsync_run(p->dbsync, run, msg, msglen, err, errlen);
}

const sr_jobs_def sr_dbsync_job = {SR_DBSYNC_JOB, SR_DBSYNC_DEFAULT_INTERVAL_MS, job_fn};

int sr_dbsync_setup(const sr_core_config *cfg, natsConnection *nc, sr_jobs_builtin_setup *s, sr_dbsync **ret,
                    char *err, size_t errlen) {
    *ret = NULL;
    if (!cfg->trivy_db_enabled)
        return 0;
    char work_dir[4096];
    if (sr_core_config_trivy_db_work_dir(cfg, work_dir, sizeof(work_dir)) < 0) {
        sr_errf(err, errlen, "trivy_db.work_dir: path too long");
        return -ENAMETOOLONG;
    }
    sr_dbsync_config dc = {
        .source = cfg->trivy_db_source,
        .ca_file = cfg->trivy_db_ca_file,
        .username = cfg->trivy_db_username,
        .password_file = cfg->trivy_db_password_file,
        .sha256 = cfg->trivy_db_sha256,
        .work_dir = work_dir,
        .timeout_ms = cfg->trivy_db_timeout_ms,
        .max_bytes = cfg->trivy_db_max_bytes,
        .lease_ms = cfg->jobs_lease_ms,
        .nc = nc,
    };
    sr_dbsync *ds = NULL;
    int r = sr_dbsync_new(&dc, &ds, err, errlen);
    if (r < 0)
        return r;
    r = sr_jobs_builtin_setup_add(s, &sr_dbsync_job, cfg->trivy_db_interval_ms);
    if (r < 0) {
        sr_dbsync_free(ds);
        sr_errf(err, errlen, "could not add job " SR_DBSYNC_JOB ": too many optional jobs");
        return r;
    }
    s->params.dbsync = ds;
    *ret = ds;
    return 0;
}
