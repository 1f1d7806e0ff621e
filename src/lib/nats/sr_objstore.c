/* NATS Object Store (ADR-20) on nats.c JetStream. Writes chunks with synchronous publishes (one
 * chunk in flight); reads chunks one at a time with direct-get requests (next message by subject), so
 * memory stays at one chunk whatever the object size. */
#include "sr_objstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sr_base64.h"
#include "sr_err.h"
#include "sr_parse.h"
#include "sr_utf8.h"

#define BUCKET_MAX 200
#define NUID_LEN 22
#define DIGEST_PREFIX "SHA-256="
#define DEFAULT_TIMEOUT_MS 5000

struct sr_objstore {
    jsCtx *js; /* borrowed */
    char bucket[BUCKET_MAX + 1];
    char stream[BUCKET_MAX + 8];
    int64_t timeout_ms;
    bool direct; /* stream allows direct get */
};

/* The parsed meta of an object, with the JSON kept for rewriting (delete). */
typedef struct {
    json_t *json;
    sr_objstore_info info;
    bool deleted;
    bool link;
} objmeta;

static int status_errno(natsStatus s) {
    switch (s) {
    case NATS_OK:
        return 0;
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_NOT_FOUND:
        return -ENOENT;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    case NATS_INVALID_ARG:
        return -EINVAL;
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
        return -ENOTCONN;
    default:
        return -EIO;
    }
}

/* "could not <what>: <status text>[ (<detail>)]"; returns the errno of s. */
static int nats_fail(natsStatus s, jsErrCode jerr, char *err, size_t errlen, const char *what, const char *obj) {
    natsStatus ls = NATS_OK;
    const char *detail = nats_GetLastError(&ls);
    if (!detail || ls == NATS_OK)
        detail = "";
    if (jerr)
        sr_errf(err, errlen, "could not %s %s: %s (jetstream error %d) %s", what, obj, natsStatus_GetText(s), (int)jerr,
                detail);
    else
        sr_errf(err, errlen, "could not %s %s: %s %s", what, obj, natsStatus_GetText(s), detail);
    return status_errno(s);
}

static bool token_valid(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int name_check(const char *name, char *err, size_t errlen) {
    if (!name || !*name) {
        sr_errf(err, errlen, "invalid object name: empty");
        return -EINVAL;
    }
    size_t n = strlen(name);
    if (n > SR_OBJSTORE_NAME_MAX) {
        sr_errf(err, errlen, "invalid object name: %zu bytes, at most %d", n, SR_OBJSTORE_NAME_MAX);
        return -EINVAL;
    }
    if (!sr_utf8_valid(name, n)) {
        sr_errf(err, errlen, "invalid object name: not valid UTF-8");
        return -EINVAL;
    }
    return 0;
}

#define SUBJ_MAX (4 + BUCKET_MAX + 3 + ((SR_OBJSTORE_NAME_MAX + 2) / 3) * 4 + 1)

static void meta_subject(const sr_objstore *os, const char *name, char out[SUBJ_MAX]) {
    char enc[((SR_OBJSTORE_NAME_MAX + 2) / 3) * 4 + 1];
    (void)sr_base64url_encode(name, strlen(name), true, enc, sizeof(enc)); /* names are capped: it fits */
    snprintf(out, SUBJ_MAX, "$O.%s.M.%s", os->bucket, enc);
}

static void chunk_subject(const sr_objstore *os, const char *nuid, char out[SUBJ_MAX]) {
    snprintf(out, SUBJ_MAX, "$O.%s.C.%s", os->bucket, nuid);
}

static int nuid_new(char out[NUID_LEN + 1], char *err, size_t errlen) {
    static const char tab[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[NUID_LEN];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        sr_errf(err, errlen, "could not generate an object id: random source failed");
        return -EIO;
    }
    for (size_t i = 0; i < NUID_LEN; i++)
        out[i] = tab[rnd[i] % 62];
    out[NUID_LEN] = '\0';
    return 0;
}

static void digest_string(const unsigned char sha[32], char out[64]) {
    char enc[45];
    (void)sr_base64url_encode(sha, 32, true, enc, sizeof(enc)); /* Go's base64.URLEncoding: padded */
    snprintf(out, 64, DIGEST_PREFIX "%s", enc);
}

/* Copies s into dst (cap bytes with NUL), cutting at a UTF-8 character boundary. */
static void copy_truncated(char *dst, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static jsOptions wait_opts(const sr_objstore *os) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = os->timeout_ms;
    return o;
}

int sr_objstore_open(jsCtx *js, const char *bucket, int create, const sr_objstore_config *cfg, sr_objstore **ret,
                     char *err, size_t errlen) {
    if (!js || !ret) {
        sr_errf(err, errlen, "could not open object store: missing argument");
        return -EINVAL;
    }
    if (!bucket || !token_valid(bucket, BUCKET_MAX)) {
        sr_errf(err, errlen, "invalid bucket name \"%.64s\": want 1 to %d of [A-Za-z0-9_-]", bucket ? bucket : "",
                BUCKET_MAX);
        return -EINVAL;
    }
    if (cfg && (cfg->max_bytes < 0 || cfg->replicas < 0 || cfg->timeout_ms < 0)) {
        sr_errf(err, errlen, "could not open bucket %s: negative limit in configuration", bucket);
        return -EINVAL;
    }
    sr_objstore *os = calloc(1, sizeof(*os));
    if (!os) {
        sr_errf(err, errlen, "could not open bucket %s: out of memory", bucket);
        return -ENOMEM;
    }
    os->js = js;
    snprintf(os->bucket, sizeof(os->bucket), "%s", bucket);
    snprintf(os->stream, sizeof(os->stream), "OBJ_%s", bucket);
    os->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;

    jsOptions o = wait_opts(os);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, os->stream, &o, &jerr);
    if (s == NATS_NOT_FOUND && create) {
        char all_chunks[SUBJ_MAX], all_meta[SUBJ_MAX];
        snprintf(all_chunks, sizeof(all_chunks), "$O.%s.C.>", bucket);
        snprintf(all_meta, sizeof(all_meta), "$O.%s.M.>", bucket);
        const char *subjects[2] = {all_chunks, all_meta};
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = os->stream;
        sc.Description = cfg ? cfg->description : NULL;
        sc.Subjects = subjects;
        sc.SubjectsLen = 2;
        sc.MaxBytes = cfg && cfg->max_bytes > 0 ? cfg->max_bytes : -1;
        sc.Replicas = cfg && cfg->replicas > 0 ? cfg->replicas : 1;
        sc.Storage = js_FileStorage;
        sc.Discard = js_DiscardNew;
        sc.AllowRollup = true;
        sc.AllowDirect = true;
        jerr = 0;
        s = js_AddStream(&si, js, &sc, &o, &jerr);
        if (s != NATS_OK) {
            int r = nats_fail(s, jerr, err, errlen, "create bucket stream", os->stream);
            free(os);
            return r;
        }
    } else if (s == NATS_NOT_FOUND) {
        sr_errf(err, errlen, "could not open bucket %s: stream %s does not exist", bucket, os->stream);
        free(os);
        return -ENOENT;
    } else if (s != NATS_OK) {
        int r = nats_fail(s, jerr, err, errlen, "look up bucket stream", os->stream);
        free(os);
        return r;
    }
    os->direct = si && si->Config && si->Config->AllowDirect;
    jsStreamInfo_Destroy(si);
    *ret = os;
    return 0;
}

sr_objstore *sr_objstore_free(sr_objstore *os) {
    free(os);
    return NULL;
}

static void objmeta_done(objmeta *m) {
    json_decref(m->json);
    m->json = NULL;
}

/* NULL when the fields of a meta are usable, else what is wrong. */
static const char *meta_check(const char *name, const char *nuid, const char *digest, const json_t *size,
                              const json_t *chunks) {
    if (!name || strlen(name) > SR_OBJSTORE_NAME_MAX)
        return "bad name";
    if (!nuid || !token_valid(nuid, sizeof(((sr_objstore_info *)NULL)->nuid) - 1))
        return "bad nuid";
    if (size && (!json_is_integer(size) || json_integer_value(size) < 0))
        return "bad size";
    if (chunks && (!json_is_integer(chunks) || json_integer_value(chunks) < 0 ||
                   json_integer_value(chunks) > (json_int_t)UINT32_MAX))
        return "bad chunk count";
    if (digest && strlen(digest) >= sizeof(((sr_objstore_info *)NULL)->digest))
        return "bad digest";
    return NULL;
}

/* Parses a meta message into m (m->json owned by m on success). */
static int meta_parse(const sr_objstore *os, const char *data, size_t len, objmeta *m, char *err, size_t errlen) {
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        sr_errf(err, errlen, "could not parse object meta in bucket %s: %s", os->bucket, j ? "not an object" : je.text);
        json_decref(j);
        return -EBADMSG;
    }
    memset(m, 0, sizeof(*m));
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *nuid = json_string_value(json_object_get(j, "nuid"));
    const char *desc = json_string_value(json_object_get(j, "description"));
    const char *digest = json_string_value(json_object_get(j, "digest"));
    json_t *size = json_object_get(j, "size"), *chunks = json_object_get(j, "chunks");
    json_t *opts = json_object_get(j, "options");
    json_t *link = json_is_object(opts) ? json_object_get(opts, "link") : NULL;
    m->deleted = json_is_true(json_object_get(j, "deleted"));
    m->link = link && !json_is_null(link);
    const char *why = meta_check(name, nuid, digest, size, chunks);
    if (why || !name || !nuid) {
        sr_errf(err, errlen, "could not parse object meta in bucket %s: %s", os->bucket, why ? why : "incomplete");
        json_decref(j);
        return -EBADMSG;
    }
    copy_truncated(m->info.name, sizeof(m->info.name), name);
    copy_truncated(m->info.nuid, sizeof(m->info.nuid), nuid);
    copy_truncated(m->info.description, sizeof(m->info.description), desc ? desc : "");
    copy_truncated(m->info.digest, sizeof(m->info.digest), digest ? digest : "");
    m->info.size = size ? (uint64_t)json_integer_value(size) : 0;
    m->info.chunks = chunks ? (uint32_t)json_integer_value(chunks) : 0;
    m->json = j;
    return 0;
}

/* Loads the current meta of name (deleted ones included). -ENOENT when there is none. */
static int meta_load(const sr_objstore *os, const char *name, objmeta *m, char *err, size_t errlen) {
    char subj[SUBJ_MAX];
    meta_subject(os, name, subj);
    jsOptions o = wait_opts(os);
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&msg, os->js, os->stream, subj, &o, &jerr);
    if (s == NATS_NOT_FOUND && jerr == JSStreamNotFoundErr) {
        sr_errf(err, errlen, "could not read object %s: bucket stream %s does not exist", name, os->stream);
        return -ENOENT;
    }
    if (s == NATS_NOT_FOUND) {
        sr_errf(err, errlen, "object %s not found in bucket %s", name, os->bucket);
        return -ENOENT;
    }
    if (s != NATS_OK)
        return nats_fail(s, jerr, err, errlen, "read meta of object", name);
    int len = natsMsg_GetDataLength(msg);
    int r;
    if (len < 0 || (size_t)len > SR_OBJSTORE_META_MAX) {
        sr_errf(err, errlen, "could not read object %s: meta of %d bytes, at most %u", name, len,
                (unsigned)SR_OBJSTORE_META_MAX);
        r = -EBADMSG;
    } else {
        r = meta_parse(os, natsMsg_GetData(msg), (size_t)len, m, err, errlen);
        if (r == 0)
            m->info.mtime_ns = natsMsg_GetTime(msg);
    }
    natsMsg_Destroy(msg);
    return r;
}

/* Loads a live (not deleted, not link) object. */
static int meta_load_live(const sr_objstore *os, const char *name, objmeta *m, char *err, size_t errlen) {
    int r = meta_load(os, name, m, err, errlen);
    if (r < 0)
        return r;
    if (m->deleted) {
        objmeta_done(m);
        sr_errf(err, errlen, "object %s not found in bucket %s (deleted)", name, os->bucket);
        return -ENOENT;
    }
    if (m->link) {
        objmeta_done(m);
        sr_errf(err, errlen, "could not read object %s: links are not supported", name);
        return -ENOTSUP;
    }
    return 0;
}

static int publish(const sr_objstore *os, const char *subj, const void *data, size_t len, bool rollup, char *err,
                   size_t errlen) {
    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subj, NULL, data, (int)len);
    if (s == NATS_OK && rollup)
        s = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
    if (s != NATS_OK) {
        natsMsg_Destroy(msg);
        return nats_fail(s, 0, err, errlen, "build message for", subj);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = os->timeout_ms;
    po.ExpectStream = os->stream;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    s = js_PublishMsg(&pa, os->js, msg, &po, &jerr);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(msg);
    if (s != NATS_OK)
        return nats_fail(s, jerr, err, errlen, "publish to", subj);
    return 0;
}

static int purge_subject(const sr_objstore *os, const char *subj, char *err, size_t errlen) {
    jsOptions o = wait_opts(os);
    o.Stream.Purge.Subject = subj;
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream(os->js, os->stream, &o, &jerr);
    if (s != NATS_OK)
        return nats_fail(s, jerr, err, errlen, "purge", subj);
    return 0;
}

static void mtime_now(char out[40]) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09ldZ", (long)ts.tv_nsec);
}

/* Reads up to cap bytes (fewer only at end of file). */
static ssize_t read_full(int fd, unsigned char *buf, size_t cap) {
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int put_meta(const sr_objstore *os, const char *name, const char *description, size_t chunk_size,
                    const sr_objstore_info *ni, char *err, size_t errlen) {
    char mtime[40], subj[SUBJ_MAX];
    mtime_now(mtime);
    json_t *j = json_object();
    int bad = !j;
    bad |= json_object_set_new(j, "name", json_string(name));
    if (description && *description)
        bad |= json_object_set_new(j, "description", json_string(description));
    bad |= json_object_set_new(j, "options", json_pack("{s:I}", "max_chunk_size", (json_int_t)chunk_size));
    bad |= json_object_set_new(j, "bucket", json_string(os->bucket));
    bad |= json_object_set_new(j, "nuid", json_string(ni->nuid));
    bad |= json_object_set_new(j, "size", json_integer((json_int_t)ni->size));
    bad |= json_object_set_new(j, "mtime", json_string(mtime));
    bad |= json_object_set_new(j, "chunks", json_integer((json_int_t)ni->chunks));
    bad |= json_object_set_new(j, "digest", json_string(ni->digest));
    char *doc = bad ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!doc) {
        sr_errf(err, errlen, "could not encode meta of object %s", name);
        return -ENOMEM;
    }
    meta_subject(os, name, subj);
    int r = publish(os, subj, doc, strlen(doc), true, err, errlen);
    free(doc);
    return r;
}

int sr_objstore_put_file(sr_objstore *os, const char *name, const char *path, const char *description,
                         size_t chunk_size, sr_objstore_info *ret, char *err, size_t errlen) {
    if (!os || !path) {
        sr_errf(err, errlen, "could not put object: missing argument");
        return -EINVAL;
    }
    int r = name_check(name, err, errlen);
    if (r < 0)
        return r;
    if (description && (strlen(description) >= sizeof(ret->description) ||
                        !sr_utf8_valid(description, strlen(description)))) {
        sr_errf(err, errlen, "could not put object %s: description not UTF-8 or longer than %zu bytes", name,
                sizeof(ret->description) - 1);
        return -EINVAL;
    }
    if (chunk_size == 0)
        chunk_size = SR_OBJSTORE_CHUNK_DEFAULT;
    if (chunk_size > SR_OBJSTORE_CHUNK_MAX) {
        sr_errf(err, errlen, "could not put object %s: chunk size %zu above %u", name, chunk_size,
                (unsigned)SR_OBJSTORE_CHUNK_MAX);
        return -EINVAL;
    }

    objmeta old = {0};
    bool have_old = false;
    r = meta_load(os, name, &old, err, errlen);
    if (r == 0)
        have_old = true;
    else if (r != -ENOENT && r != -EBADMSG)
        return r; /* a malformed old meta is simply replaced */

    sr_objstore_info ni = {0};
    char csubj[SUBJ_MAX];
    unsigned char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    bool chunks_sent = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not open %s: %s", path, strerror(-r));
        goto out;
    }
    r = nuid_new(ni.nuid, err, errlen);
    if (r < 0)
        goto out;
    chunk_subject(os, ni.nuid, csubj);
    buf = malloc(chunk_size);
    md = EVP_MD_CTX_new();
    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        sr_errf(err, errlen, "could not put object %s: out of memory", name);
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read_full(fd, buf, chunk_size);
        if (n < 0) {
            r = (int)n;
            sr_errf(err, errlen, "could not read %s: %s", path, strerror(-r));
            goto out;
        }
        if (n == 0)
            break;
        if (ni.chunks == UINT32_MAX) {
            sr_errf(err, errlen, "could not put object %s: too many chunks", name);
            r = -EFBIG;
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        chunks_sent = true;
        r = publish(os, csubj, buf, (size_t)n, false, err, errlen);
        if (r < 0)
            goto out;
        ni.chunks++;
        ni.size += (uint64_t)n;
        if ((size_t)n < chunk_size)
            break;
    }
    unsigned char sha[32];
    unsigned int shalen = 0;
    if (EVP_DigestFinal_ex(md, sha, &shalen) != 1 || shalen != sizeof(sha)) {
        sr_errf(err, errlen, "could not put object %s: digest failed", name);
        r = -EIO;
        goto out;
    }
    digest_string(sha, ni.digest);
    r = put_meta(os, name, description, chunk_size, &ni, err, errlen);
    if (r < 0)
        goto out;
    chunks_sent = false; /* the chunks now belong to the stored object */

    /* The new meta is stored: the old object's chunks can go (best effort, as nats.go). */
    if (have_old && !old.deleted && strcmp(old.info.nuid, ni.nuid) != 0) {
        char osubj[SUBJ_MAX];
        chunk_subject(os, old.info.nuid, osubj);
        (void)purge_subject(os, osubj, NULL, 0);
    }
    copy_truncated(ni.name, sizeof(ni.name), name);
    copy_truncated(ni.description, sizeof(ni.description), description ? description : "");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ni.mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (ret)
        *ret = ni;
    r = 0;
out:
    if (r < 0 && chunks_sent)
        (void)purge_subject(os, csubj, NULL, 0);
    EVP_MD_CTX_free(md);
    free(buf);
    if (fd >= 0)
        close(fd);
    objmeta_done(&old);
    return r;
}

int sr_objstore_info_get(sr_objstore *os, const char *name, sr_objstore_info *ret, char *err, size_t errlen) {
    if (!os) {
        sr_errf(err, errlen, "could not read object info: missing store");
        return -EINVAL;
    }
    int r = name_check(name, err, errlen);
    if (r < 0)
        return r;
    objmeta m;
    r = meta_load_live(os, name, &m, err, errlen);
    if (r < 0)
        return r;
    if (ret)
        *ret = m.info;
    objmeta_done(&m);
    return 0;
}

static int parse_seq(natsMsg *msg, uint64_t *ret) {
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, "Nats-Sequence", &v) != NATS_OK || !v || !*v)
        return -EBADMSG;
    uint64_t n = 0;
    if (sr_parse_u64(v, &n) < 0 || n == 0)
        return -EBADMSG;
    *ret = n;
    return 0;
}

int sr_objstore_get(sr_objstore *os, const char *name, int (*cb)(void *ud, const void *data, size_t len), void *ud,
                    sr_objstore_info *ret, char *err, size_t errlen) {
    if (!os || !cb) {
        sr_errf(err, errlen, "could not get object: missing argument");
        return -EINVAL;
    }
    int r = name_check(name, err, errlen);
    if (r < 0)
        return r;
    objmeta m;
    r = meta_load_live(os, name, &m, err, errlen);
    if (r < 0)
        return r;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        sr_errf(err, errlen, "could not get object %s: out of memory", name);
        r = -ENOMEM;
        goto out;
    }
    if (m.info.chunks > 0 && !os->direct) {
        sr_errf(err, errlen, "could not get object %s: stream %s does not allow direct get", name, os->stream);
        r = -ENOTSUP;
        goto out;
    }
    char csubj[SUBJ_MAX];
    chunk_subject(os, m.info.nuid, csubj);
    uint64_t seq = 0, total = 0;
    for (uint32_t i = 0; i < m.info.chunks; i++) {
        jsOptions o = wait_opts(os);
        jsDirectGetMsgOptions dg;
        memset(&dg, 0, sizeof(dg));
        dg.Sequence = seq + 1;
        dg.NextBySubject = csubj;
        natsMsg *msg = NULL;
        natsStatus s = js_DirectGetMsg(&msg, os->js, os->stream, &o, &dg);
        if (s == NATS_NOT_FOUND) {
            sr_errf(err, errlen, "object %s is corrupt: chunk %" PRIu32 " of %" PRIu32 " missing", name, i + 1,
                    m.info.chunks);
            r = -EBADMSG;
            goto out;
        }
        if (s != NATS_OK) {
            r = nats_fail(s, 0, err, errlen, "read chunk of object", name);
            goto out;
        }
        int len = natsMsg_GetDataLength(msg);
        if (parse_seq(msg, &seq) < 0 || len < 0 || (size_t)len > SR_OBJSTORE_CHUNK_MAX ||
            total + (uint64_t)len > m.info.size) {
            natsMsg_Destroy(msg);
            sr_errf(err, errlen, "object %s is corrupt: chunk %" PRIu32 " malformed or beyond size %" PRIu64, name,
                    i + 1, m.info.size);
            r = -EBADMSG;
            goto out;
        }
        total += (uint64_t)len;
        EVP_DigestUpdate(md, natsMsg_GetData(msg), (size_t)len);
        int cr = cb(ud, natsMsg_GetData(msg), (size_t)len);
        natsMsg_Destroy(msg);
        if (cr != 0) {
            sr_errf(err, errlen, "could not get object %s: stopped by the reader", name);
            r = -ECANCELED;
            goto out;
        }
    }
    if (total != m.info.size) {
        sr_errf(err, errlen, "object %s is corrupt: %" PRIu64 " bytes, meta says %" PRIu64, name, total, m.info.size);
        r = -EBADMSG;
        goto out;
    }
    unsigned char sha[32];
    unsigned int shalen = 0;
    char want[64];
    if (EVP_DigestFinal_ex(md, sha, &shalen) != 1 || shalen != sizeof(sha)) {
        sr_errf(err, errlen, "could not get object %s: digest failed", name);
        r = -EIO;
        goto out;
    }
    digest_string(sha, want);
    /* nats.go always writes a digest; an empty object without one is accepted as nats.go does */
    if (strcmp(want, m.info.digest) != 0 && !(m.info.size == 0 && m.info.digest[0] == '\0')) {
        sr_errf(err, errlen, "object %s is corrupt: digest %s, meta says %s", name, want, m.info.digest);
        r = -EBADMSG;
        goto out;
    }
    if (ret)
        *ret = m.info;
    r = 0;
out:
    EVP_MD_CTX_free(md);
    objmeta_done(&m);
    return r;
}

typedef struct {
    int fd;
    int error; /* negative errno of the first failed write */
} filesink;

static int file_write_cb(void *ud, const void *data, size_t len) {
    filesink *fs = ud;
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fs->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fs->error = -errno;
            return 1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sr_objstore_get_file(sr_objstore *os, const char *name, const char *path, sr_objstore_info *ret, char *err,
                         size_t errlen) {
    if (!os || !path || !*path) {
        sr_errf(err, errlen, "could not get object to file: missing argument");
        return -EINVAL;
    }
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        sr_errf(err, errlen, "could not get object to %s: not a file path", path);
        return -EINVAL;
    }
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    else
        snprintf(dir, sizeof(dir), ".");
    int n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        sr_errf(err, errlen, "could not get object to %s: path too long", path);
        return -ENAMETOOLONG;
    }
    filesink fs = {.fd = mkostemp(tmp, O_CLOEXEC), .error = 0};
    if (fs.fd < 0) {
        int r = -errno;
        sr_errf(err, errlen, "could not create a temporary file in %s: %s", dir, strerror(-r));
        return r;
    }
    sr_objstore_info info;
    int r = sr_objstore_get(os, name, file_write_cb, &fs, &info, err, errlen);
    if (r == -ECANCELED && fs.error) {
        r = fs.error;
        sr_errf(err, errlen, "could not write %s: %s", tmp, strerror(-r));
    }
    if (r == 0 && fsync(fs.fd) < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not fsync %s: %s", tmp, strerror(-r));
    }
    if (close(fs.fd) < 0 && r == 0) {
        r = -errno;
        sr_errf(err, errlen, "could not close %s: %s", tmp, strerror(-r));
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not rename %s to %s: %s", tmp, path, strerror(-r));
    }
    if (r < 0) {
        (void)unlink(tmp);
        return r;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* durability of the rename; the file itself is complete */
        close(dfd);
    }
    if (ret)
        *ret = info;
    return 0;
}

int sr_objstore_delete(sr_objstore *os, const char *name, char *err, size_t errlen) {
    if (!os) {
        sr_errf(err, errlen, "could not delete object: missing store");
        return -EINVAL;
    }
    int r = name_check(name, err, errlen);
    if (r < 0)
        return r;
    objmeta m;
    r = meta_load(os, name, &m, err, errlen);
    if (r < 0)
        return r;
    if (m.deleted) {
        objmeta_done(&m);
        sr_errf(err, errlen, "object %s not found in bucket %s (deleted)", name, os->bucket);
        return -ENOENT;
    }
    /* Same marker as nats.go: the meta kept, deleted set, size, chunks and digest cleared. */
    int bad = json_object_set_new(m.json, "deleted", json_true());
    bad |= json_object_set_new(m.json, "size", json_integer(0));
    bad |= json_object_set_new(m.json, "chunks", json_integer(0));
    bad |= json_object_set_new(m.json, "mtime", json_string("0001-01-01T00:00:00Z"));
    (void)json_object_del(m.json, "digest");
    char *doc = bad ? NULL : json_dumps(m.json, JSON_COMPACT);
    if (!doc) {
        objmeta_done(&m);
        sr_errf(err, errlen, "could not encode delete marker of object %s", name);
        return -ENOMEM;
    }
    char subj[SUBJ_MAX];
    meta_subject(os, name, subj);
    r = publish(os, subj, doc, strlen(doc), true, err, errlen);
    free(doc);
    if (r == 0) {
        chunk_subject(os, m.info.nuid, subj);
        r = purge_subject(os, subj, err, errlen);
    }
    objmeta_done(&m);
    return r;
}
