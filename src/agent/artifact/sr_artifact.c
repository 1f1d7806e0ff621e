/* Agent side of the Trivy DB distribution. See sr_artifact.h and docs/internals/artifacts.md. */
#include "sr_artifact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/status.h>
#include <openssl/evp.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_sha256.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srg.h"

#ifdef SR_AGENT_HAVE_TRIVY
#include "sr_trivy.h"
#endif

#define PATH_DOWNLOAD "/serviceradar.agent.v1.AgentGateway/Download"
#define SR_ARTIFACT_RECV_SLICE_MS 250 /* receive timeout between two cancellation checks */
#define SR_ARTIFACT_MAX_ATTEMPTS 1000 /* Download calls for one version before giving up */
#define SR_ARTIFACT_MAX_RESTARTS 2    /* whole-file digest mismatches before giving up */
#define SR_ARTIFACT_PROGRESS_MS 1000

struct sr_artifact {
    sr_artifact_config cfg;
    char data_dir[PATH_MAX];
    char art_dir[PATH_MAX];   /* <data_dir>/artifacts */
    char part[PATH_MAX];      /* <art_dir>/trivy-db.part */
    char state[PATH_MAX];     /* <art_dir>/trivy-db.state */
    char installed_path[PATH_MAX]; /* <art_dir>/trivy-db.installed */
    char trivy_dir[PATH_MAX]; /* <data_dir>/trivy */
    char db_dir[PATH_MAX];    /* <trivy_dir>/db */
    char db_new[PATH_MAX];    /* <trivy_dir>/db.new */
    sr_transport *t;

    pthread_mutex_t run_lock; /* one download at a time (command or resume) */
    pthread_mutex_t lock;     /* the fields below */
    char installed[SR_ARTIFACT_VERSION_MAX + 1];
    srg_call *live;           /* cancelled by sr_artifact_stop */
    bool stopping;
    pthread_t resume_thread;
    bool resume_started;
    sr_artifact_doc resume;   /* the partial download found at start */
    bool have_resume;
#ifdef SR_FAULT_INJECTION
    uint64_t fault_kill_at;   /* SR_FAULT_ARTIFACT_KILL_AT: SIGKILL ourselves past this offset */
#endif
};

/* What one run reports (the command output). */
typedef struct {
    uint64_t resumed_from, fetched, bad_chunks;
    unsigned attempts;
    int64_t ms;
    char *metadata; /* from the installer */
} run_report;

/* ---- small helpers ---- */

static int join_path(char *out, size_t outlen, const char *dir, const char *name) {
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static bool stopping(sr_artifact *a) {
    pthread_mutex_lock(&a->lock);
    bool s = a->stopping;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static bool cancelled(sr_artifact *a, sr_cmd_ctx *ctx) { return stopping(a) || (ctx && sr_cmd_cancelled(ctx)); }

/* Sleeps ms in slices, returning early (true) when cancelled. */
static bool sleep_cancellable(sr_artifact *a, sr_cmd_ctx *ctx, int64_t ms) {
    int64_t end = sr_mono_ms() + ms;
    for (;;) {
        if (cancelled(a, ctx))
            return true;
        int64_t left = end - sr_mono_ms();
        if (left <= 0)
            return false;
        sr_sleep_ms(left < 100 ? left : 100);
    }
}

static int64_t jitter(int64_t cap) {
    uint64_t v = 0;
    if (cap <= 0)
        return 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = (uint64_t)sr_mono_ms();
    return (int64_t)(v % (uint64_t)(cap + 1));
}

static int fsync_dir(const char *dir) {
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return -errno;
    return 0;
}

/* Removes a directory tree (the DB directories hold a few plain files; depth is bounded). */
static int remove_tree_at(int parent, const char *name, int depth) {
    if (depth > 8)
        return -ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            return unlinkat(parent, name, 0) < 0 ? -errno : 0;
        return errno == ENOENT ? 0 : -errno;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_type == DT_DIR) {
            int k = remove_tree_at(dirfd(d), e->d_name, depth + 1);
            if (k < 0 && r == 0)
                r = k;
        } else if (unlinkat(dirfd(d), e->d_name, 0) < 0 && r == 0) {
            r = -errno;
        }
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0 && errno != ENOENT)
        r = -errno;
    return r;
}

static int remove_tree(const char *path) { return remove_tree_at(AT_FDCWD, path, 0); }

static int pwrite_all(int fd, const void *data, size_t len, uint64_t off) {
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int read_doc(const char *path, sr_artifact_doc *ret, char *err, size_t errlen) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, SR_ARTIFACT_DOC_MAX, &buf, &len);
    if (r < 0)
        return r;
    return sr_artifact_parse_doc(buf, len, ret, err, errlen);
}

static int write_doc(const char *path, const sr_artifact_doc *d, int with_offset) {
    char buf[512];
    int r = sr_artifact_format_doc(d, with_offset, buf, sizeof(buf));
    if (r < 0)
        return r;
    return sr_file_write_atomic(path, buf, strlen(buf), 0600);
}

/* ---- the installer ---- */

static sr_artifact_install_fn default_installer(void) {
#ifdef SR_AGENT_HAVE_TRIVY
    if (sr_trivy_available())
        return sr_trivy_db_install;
#endif
    return NULL;
}

int sr_artifact_trivy_usable(void) { return default_installer() != NULL; }

/* ---- downloading ---- */

typedef enum { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_FAIL } attempt_outcome;

typedef struct {
    sr_artifact *a;
    sr_cmd_ctx *ctx;
    const sr_artifact_doc *want;
    int fd;            /* the .part file */
    uint64_t offset;   /* bytes held */
    uint64_t synced;   /* bytes known on disk (state file) */
    unsigned bad_in_row;
    run_report *rep;
    int64_t t0, last_progress;
    uint64_t progress_base;
    EVP_MD_CTX *md;
} dl_state;

/* fsyncs the .part and records the offset in the state file. */
static int checkpoint(dl_state *s) {
    if (fdatasync(s->fd) < 0)
        return -errno;
    sr_artifact_doc d = *s->want;
    d.offset = s->offset;
    int r = write_doc(s->a->state, &d, 1);
    if (r == 0)
        s->synced = s->offset;
    return r;
}

static void progress(dl_state *s, bool force) {
    int64_t now = sr_mono_ms();
    if (!s->ctx || (!force && now - s->last_progress < SR_ARTIFACT_PROGRESS_MS))
        return;
    s->last_progress = now;
    double secs = (double)(now - s->t0) / 1000.0;
    double rate = secs > 0 ? (double)(s->offset - s->progress_base) / 1e6 / secs : 0;
    char msg[160];
    snprintf(msg, sizeof(msg), "trivy-db: %.1f of %.1f MB, %.1f MB/s", (double)s->offset / 1e6,
             (double)s->want->size / 1e6, rate);
    sr_cmd_progress(s->ctx, (unsigned)(s->offset * 100 / s->want->size), msg);
}

/* Checks one chunk against what we asked for. 0 (write it), -EBADMSG (its SHA-256 does not
 * match: drop it and fetch again), -EPROTO (anything else: this call is useless). */
static int check_chunk(dl_state *s, const Serviceradar__Agent__V1__ArtifactChunk *c, char *err, size_t errlen) {
    const sr_artifact_doc *w = s->want;
    if (!c->version || strcmp(c->version, w->version) != 0 || c->total_size != w->size ||
        c->total_sha256.len != 32 || memcmp(c->total_sha256.data, w->digest, 32) != 0) {
        sr_errf(err, errlen, "chunk at offset %" PRIu64 " is not of trivy-db %s", c->offset, w->version);
        return -EPROTO;
    }
    if (c->offset != s->offset) {
        sr_errf(err, errlen, "chunk at offset %" PRIu64 " where %" PRIu64 " was expected", c->offset, s->offset);
        return -EPROTO;
    }
    if (c->data.len == 0 || c->data.len > SR_ARTIFACT_CHUNK_MAX || c->data.len > w->size - s->offset) {
        sr_errf(err, errlen, "chunk at offset %" PRIu64 " has %zu bytes", c->offset, c->data.len);
        return -EPROTO;
    }
    unsigned char d[32];
    unsigned int dl = 0;
    if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(s->md, c->data.data, c->data.len) != 1 ||
        EVP_DigestFinal_ex(s->md, d, &dl) != 1 || dl != 32) {
        sr_errf(err, errlen, "could not hash a chunk");
        return -EPROTO;
    }
    if (c->sha256.len != 32 || memcmp(c->sha256.data, d, 32) != 0) {
        sr_errf(err, errlen, "chunk at offset %" PRIu64 " (%zu bytes) failed its SHA-256 check", c->offset,
                c->data.len);
        return -EBADMSG;
    }
    return 0;
}

static int set_live(sr_artifact *a, srg_call *c) {
    pthread_mutex_lock(&a->lock);
    bool stop = a->stopping;
    a->live = stop ? NULL : c;
    pthread_mutex_unlock(&a->lock);
    return stop ? -ECANCELED : 0;
}

/* One Download call from s->offset. */
static attempt_outcome attempt(dl_state *s, srg_channel *ch, char *err, size_t errlen) {
    sr_artifact *a = s->a;
    const sr_transport_config *tc = sr_transport_config_of(a->t);
    srg_call *c = NULL;
    Serviceradar__Agent__V1__ArtifactChunk *chunk = NULL;
    attempt_outcome out = ATTEMPT_RETRY;
    int r = srg_call_start(ch, PATH_DOWNLOAD, 0, &c);
    if (r < 0) {
        sr_errf(err, errlen, "could not start a download call: %s", strerror(-r));
        return ATTEMPT_RETRY;
    }
    if (set_live(a, c) < 0) {
        srg_call_free(c);
        sr_errf(err, errlen, "stopping");
        return ATTEMPT_FAIL;
    }
    Serviceradar__Agent__V1__ArtifactRequest req;
    serviceradar__agent__v1__artifact_request__init(&req);
    req.name = (char *)(uintptr_t)SR_ARTIFACT_NAME;
    req.version = (char *)(uintptr_t)s->want->version;
    req.offset = s->offset;
    int tmo = tc->call_timeout_ms > INT32_MAX ? INT32_MAX : (int)tc->call_timeout_ms;
    r = srg_call_send_msg(c, &req.base, tmo);
    if (r == 0)
        r = srg_call_close_send(c);
    if (r < 0) {
        sr_errf(err, errlen, "could not send the download request: %s", strerror(-r));
        goto out;
    }
    int64_t idle = a->cfg.idle_timeout_ms, last = sr_mono_ms();
    for (;;) {
        if (cancelled(a, s->ctx)) {
            sr_errf(err, errlen, "cancelled");
            out = ATTEMPT_FAIL;
            goto out;
        }
        r = srg_call_recv_msg(c, &serviceradar__agent__v1__artifact_chunk__descriptor, SR_ARTIFACT_RECV_SLICE_MS,
                              (ProtobufCMessage **)&chunk);
        if (r == -ETIMEDOUT) {
            if (sr_mono_ms() - last > idle) {
                sr_errf(err, errlen, "no chunk for %" PRId64 " ms", idle);
                goto out;
            }
            continue;
        }
        if (r == 0)
            break; /* the gateway finished: read the status below */
        if (r < 0) {
            sr_errf(err, errlen, "download stream broke at offset %" PRIu64 ": %s", s->offset,
                    r == -EBADMSG ? "a chunk does not decode" : strerror(-r));
            goto out;
        }
        last = sr_mono_ms();
        char cerr[256];
        r = check_chunk(s, chunk, cerr, sizeof(cerr));
        if (r == -EBADMSG) {
            s->bad_in_row++;
            s->rep->bad_chunks++;
            sr_warn("trivy-db %s: %s: dropped, fetching it again from offset %" PRIu64 " (%u in a row)",
                    s->want->version, cerr, s->offset, s->bad_in_row);
            sr_errf(err, errlen, "%s", cerr);
            out = s->bad_in_row >= a->cfg.max_chunk_failures ? ATTEMPT_FAIL : ATTEMPT_RETRY;
            if (out == ATTEMPT_FAIL)
                sr_errf(err, errlen, "%u chunks in a row failed their SHA-256 check (last: %s)", s->bad_in_row, cerr);
            goto out;
        }
        if (r < 0) {
            sr_errf(err, errlen, "%s", cerr);
            goto out;
        }
        r = pwrite_all(s->fd, chunk->data.data, chunk->data.len, s->offset);
        if (r < 0) {
            sr_errf(err, errlen, "could not write %s: %s", a->part, strerror(-r));
            out = ATTEMPT_FAIL;
            goto out;
        }
        s->offset += chunk->data.len;
        s->rep->fetched += chunk->data.len;
        s->bad_in_row = 0;
        protobuf_c_message_free_unpacked(&chunk->base, NULL);
        chunk = NULL;
        if (s->offset - s->synced >= a->cfg.sync_bytes || s->offset == s->want->size) {
            r = checkpoint(s);
            if (r < 0) {
                sr_errf(err, errlen, "could not sync %s: %s", a->part, strerror(-r));
                out = ATTEMPT_FAIL;
                goto out;
            }
        }
#ifdef SR_FAULT_INJECTION
        if (a->fault_kill_at && s->offset >= a->fault_kill_at) {
            sr_warn("fault injection: killing the agent at offset %" PRIu64 " (on disk: %" PRIu64 ")", s->offset,
                    s->synced);
            raise(SIGKILL);
        }
#endif
        progress(s, false);
    }
    int code = GRPC_STATUS_UNKNOWN;
    char msg[256] = "";
    r = srg_call_status(c, tmo, &code, msg, sizeof(msg));
    if (r < 0) {
        sr_errf(err, errlen, "no status from the gateway: %s", strerror(-r));
        goto out;
    }
    switch (code) {
    case GRPC_STATUS_OK:
        if (s->offset == s->want->size) {
            out = ATTEMPT_DONE;
        } else {
            sr_errf(err, errlen, "the gateway ended the download at offset %" PRIu64 " of %" PRIu64, s->offset,
                    s->want->size);
        }
        break;
    case GRPC_STATUS_NOT_FOUND:
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_UNIMPLEMENTED:
    case GRPC_STATUS_INVALID_ARGUMENT:
        sr_errf(err, errlen, "the gateway refused the download (status %d): %s", code, msg);
        out = ATTEMPT_FAIL;
        break;
    case GRPC_STATUS_OUT_OF_RANGE: /* our partial file is longer than the artifact: start over */
        sr_errf(err, errlen, "the gateway says offset %" PRIu64 " is out of range: %s", s->offset, msg);
        s->offset = 0;
        break;
    default: /* RESOURCE_EXHAUSTED (too many downloads), UNAVAILABLE, broken calls: back off and retry */
        sr_errf(err, errlen, "download ended with status %d: %s", code, msg);
        break;
    }
out:
    if (chunk)
        protobuf_c_message_free_unpacked(&chunk->base, NULL);
    pthread_mutex_lock(&a->lock);
    a->live = NULL;
    pthread_mutex_unlock(&a->lock);
    srg_call_free(c);
    return out;
}

/* Downloads want into the .part file (resuming a partial of the same version) and checks it
 * whole. 0, or a negative errno with err. */
static int download(sr_artifact *a, sr_cmd_ctx *ctx, const sr_artifact_doc *want, run_report *rep, char *err,
                    size_t errlen) {
    int r = sr_mkdir_p(a->art_dir, 0700);
    if (r < 0) {
        sr_errf(err, errlen, "could not create %s: %s", a->art_dir, strerror(-r));
        return r;
    }
    dl_state s = {.a = a, .ctx = ctx, .want = want, .fd = -1, .rep = rep, .t0 = sr_mono_ms()};
    sr_artifact_doc st;
    char serr[256];
    bool resume = read_doc(a->state, &st, serr, sizeof(serr)) == 0 && strcmp(st.version, want->version) == 0;
    s.fd = open(a->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s.fd < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not open %s: %s", a->part, strerror(-r));
        return r;
    }
    struct stat sb;
    if (resume && fstat(s.fd, &sb) == 0 && (uint64_t)sb.st_size >= st.offset)
        s.offset = st.offset; /* what the state file vouches for; a longer tail is dropped */
    if (ftruncate(s.fd, (off_t)s.offset) < 0) {
        r = -errno;
        sr_errf(err, errlen, "could not truncate %s: %s", a->part, strerror(-r));
        goto out;
    }
    s.synced = s.offset;
    if (!resume || s.offset == 0) {
        sr_artifact_doc d = *want;
        d.offset = 0;
        r = write_doc(a->state, &d, 1);
        if (r < 0) {
            sr_errf(err, errlen, "could not write %s: %s", a->state, strerror(-r));
            goto out;
        }
    }
    rep->resumed_from = s.offset;
    s.progress_base = s.offset;
    if (s.offset > 0)
        sr_info("trivy-db %s: resuming the download at offset %" PRIu64 " of %" PRIu64, want->version, s.offset,
                want->size);
    else
        sr_info("trivy-db %s: downloading %" PRIu64 " bytes", want->version, want->size);
    s.md = EVP_MD_CTX_new();
    if (!s.md) {
        r = -ENOMEM;
        sr_errf(err, errlen, "out of memory");
        goto out;
    }

    const sr_transport_config *tc = sr_transport_config_of(a->t);
    srg_channel *ch = NULL;
    unsigned restarts = 0, failures = 0;
    r = -EIO;
    for (unsigned n = 0; n < SR_ARTIFACT_MAX_ATTEMPTS; n++) {
        if (cancelled(a, ctx)) {
            sr_errf(err, errlen, "cancelled at offset %" PRIu64, s.offset);
            r = -ECANCELED;
            break;
        }
        if (!ch) {
            srg_channel_options o = {.server_name = tc->server_name};
            int cr = srg_channel_new_ex(tc->gateway, &tc->tls, &o, &ch);
            if (cr < 0) {
                sr_errf(err, errlen, "could not open a channel to %s: %s", tc->gateway, strerror(-cr));
                r = cr;
                break;
            }
        }
        rep->attempts++;
        uint64_t before = s.offset;
        attempt_outcome o = s.offset < want->size ? attempt(&s, ch, err, errlen) : ATTEMPT_DONE;
        if (o == ATTEMPT_FAIL) {
            r = cancelled(a, ctx) ? -ECANCELED : -EIO;
            break;
        }
        if (o == ATTEMPT_DONE) {
            unsigned char d[32];
            uint64_t size = 0;
            int hr = checkpoint(&s);
            if (hr == 0)
                hr = sr_sha256_file(a->part, d, &size);
            if (hr < 0) {
                sr_errf(err, errlen, "could not check %s: %s", a->part, strerror(-hr));
                r = hr;
                break;
            }
            if (size == want->size && memcmp(d, want->digest, 32) == 0) {
                progress(&s, true);
                r = 0;
                break;
            }
            /* every chunk verified, yet the whole does not: a corrupted partial file */
            if (++restarts > SR_ARTIFACT_MAX_RESTARTS) {
                sr_errf(err, errlen, "the downloaded file does not match size %" PRIu64 " and sha256 %s",
                        want->size, want->hex);
                r = -EBADMSG;
                break;
            }
            sr_warn("trivy-db %s: the whole file failed its SHA-256 check; downloading again from 0", want->version);
            s.offset = s.synced = 0;
            if (ftruncate(s.fd, 0) < 0) {
                r = -errno;
                sr_errf(err, errlen, "could not truncate %s: %s", a->part, strerror(-r));
                break;
            }
            continue;
        }
        /* retry with backoff (full jitter); progress resets the backoff */
        if (s.offset > before)
            failures = 0;
        int64_t cap = a->cfg.retry_min_ms;
        for (unsigned i = 0; i < failures && cap < a->cfg.retry_max_ms; i++)
            cap *= 2;
        if (cap > a->cfg.retry_max_ms)
            cap = a->cfg.retry_max_ms;
        failures++;
        sr_info("trivy-db %s: %s; retrying from offset %" PRIu64, want->version, err, s.offset);
        if (failures > 3) /* a fresh connection after repeated failures */
            ch = srg_channel_free(ch);
        if (sleep_cancellable(a, ctx, jitter(cap))) {
            sr_errf(err, errlen, "cancelled at offset %" PRIu64, s.offset);
            r = -ECANCELED;
            break;
        }
    }
    srg_channel_free(ch);
    if (s.offset > s.synced && s.fd >= 0)
        (void)checkpoint(&s);
out:
    EVP_MD_CTX_free(s.md);
    if (s.fd >= 0)
        close(s.fd);
    return r;
}

/* Installs the verified bundle and swaps it in. 0, or a negative errno with err; the previous
 * DB stays in place on failure. */
static int install(sr_artifact *a, const sr_artifact_doc *want, run_report *rep, char *err, size_t errlen) {
    sr_artifact_install_fn fn = a->cfg.install ? a->cfg.install : default_installer();
    if (!fn) {
        sr_errf(err, errlen, "this agent is built without the Trivy bridge");
        return -ENOTSUP;
    }
    int r = sr_mkdir_p(a->trivy_dir, 0700);
    if (r < 0) {
        sr_errf(err, errlen, "could not create %s: %s", a->trivy_dir, strerror(-r));
        return r;
    }
    (void)remove_tree(a->db_new); /* left over by a crash */
    char *meta = NULL, *ierr = NULL;
    r = fn(a->part, a->db_new, &meta, &ierr);
    if (r < 0) {
        sr_errf(err, errlen, "could not install trivy-db %s: %s", want->version, ierr ? ierr : strerror(-r));
        free(ierr);
        free(meta);
        (void)remove_tree(a->db_new);
        return r;
    }
    free(ierr);
    struct stat sb;
    bool have_old = stat(a->db_dir, &sb) == 0;
    if (have_old) {
        r = renameat2(AT_FDCWD, a->db_new, AT_FDCWD, a->db_dir, RENAME_EXCHANGE) < 0 ? -errno : 0;
        if (r == -EINVAL || r == -ENOSYS) { /* a filesystem without exchange: two renames */
            char old[PATH_MAX + 8];
            snprintf(old, sizeof(old), "%s.old", a->db_dir);
            (void)remove_tree(old);
            r = rename(a->db_dir, old) < 0 ? -errno : 0;
            if (r == 0 && rename(a->db_new, a->db_dir) < 0) {
                r = -errno;
                (void)rename(old, a->db_dir);
            }
            if (r == 0)
                (void)remove_tree(old);
        }
    } else {
        r = rename(a->db_new, a->db_dir) < 0 ? -errno : 0;
    }
    if (r < 0) {
        sr_errf(err, errlen, "could not put trivy-db %s in place at %s: %s", want->version, a->db_dir, strerror(-r));
        free(meta);
        (void)remove_tree(a->db_new);
        return r;
    }
    (void)fsync_dir(a->trivy_dir);
    if (have_old)
        (void)remove_tree(a->db_new); /* now the previous DB */
    (void)unlink(a->part); /* the bundle is installed: no partial download is left to resume */
    (void)unlink(a->state);
    r = write_doc(a->installed_path, want, 0);
    if (r < 0)
        sr_warn("trivy-db %s is installed but %s could not be written: %s (it is downloaded again after a restart)",
                want->version, a->installed_path, strerror(-r));
    pthread_mutex_lock(&a->lock);
    snprintf(a->installed, sizeof(a->installed), "%s", want->version);
    pthread_mutex_unlock(&a->lock);
    (void)fsync_dir(a->art_dir);
    rep->metadata = meta;
    return 0;
}

/* Brings want in: download (or resume), verify, install, announce. */
static int run(sr_artifact *a, sr_cmd_ctx *ctx, const sr_artifact_doc *want, run_report *rep, char *err,
               size_t errlen) {
    int64_t t0 = sr_mono_ms();
    pthread_mutex_lock(&a->lock);
    bool have = strcmp(a->installed, want->version) == 0;
    pthread_mutex_unlock(&a->lock);
    if (have) {
        sr_info("trivy-db %s is already installed", want->version);
        return 0;
    }
    int r = download(a, ctx, want, rep, err, errlen);
    rep->ms = sr_mono_ms() - t0;
    if (r < 0) {
        if (r != -ECANCELED) {
            sr_warn("trivy-db %s: download failed: %s", want->version, err);
            /* give up on this version entirely: the next update starts from 0 */
            (void)unlink(a->part);
            (void)unlink(a->state);
        }
        return r;
    }
    double secs = (double)rep->ms / 1000.0;
    sr_info("trivy-db %s: %" PRIu64 " bytes verified (%" PRIu64 " fetched from offset %" PRIu64 ", %u calls, %" PRIu64
            " bad chunks) in %.2f s",
            want->version, want->size, rep->fetched, rep->resumed_from, rep->attempts, rep->bad_chunks, secs);
    r = install(a, want, rep, err, errlen);
    if (r < 0) {
        sr_warn("%s; the previous DB stays in place", err);
        (void)unlink(a->part);
        (void)unlink(a->state);
        return r;
    }
    rep->ms = sr_mono_ms() - t0;
    sr_info("trivy-db %s installed in %s", want->version, a->db_dir);
    (void)sr_transport_set_artifact_version(a->t, SR_ARTIFACT_NAME, want->version);
    pthread_mutex_lock(&a->lock);
    sr_artifact_installed_fn hook = a->cfg.on_installed;
    void *ud = a->cfg.userdata;
    pthread_mutex_unlock(&a->lock);
    if (hook)
        hook(want->version, a->db_dir, ud);
    return 0;
}

static void handle_update(sr_cmd_ctx *ctx, const char *payload, void *userdata) {
    sr_artifact *a = userdata;
    sr_artifact_doc want;
    char err[512] = "";
    if (sr_artifact_parse_doc(payload, strlen(payload), &want, err, sizeof(err)) < 0) {
        sr_cmd_finish(ctx, 0, NULL, err);
        return;
    }
    if (pthread_mutex_trylock(&a->run_lock) != 0) {
        sr_cmd_finish(ctx, 0, NULL, "busy: a trivy-db download is already running");
        return;
    }
    run_report rep = {0};
    int r = run(a, ctx, &want, &rep, err, sizeof(err));
    pthread_mutex_unlock(&a->run_lock);
    if (r < 0) {
        sr_cmd_finish(ctx, 0, NULL, err);
        free(rep.metadata);
        return;
    }
    double secs = (double)rep.ms / 1000.0;
    size_t cap = 512 + (rep.metadata ? strlen(rep.metadata) : 0);
    _cleanup_free_ char *out = malloc(cap);
    if (out)
        snprintf(out, cap,
                 "{\"name\":\"%s\",\"version\":\"%s\",\"size\":%" PRIu64 ",\"resumed_from\":%" PRIu64
                 ",\"bytes_fetched\":%" PRIu64 ",\"bad_chunks\":%" PRIu64 ",\"calls\":%u,\"seconds\":%.3f,"
                 "\"mb_per_s\":%.1f,\"metadata\":%s}",
                 SR_ARTIFACT_NAME, want.version, want.size, rep.resumed_from, rep.fetched, rep.bad_chunks,
                 rep.attempts, secs, secs > 0 ? (double)rep.fetched / 1e6 / secs : 0.0,
                 rep.metadata && rep.metadata[0] == '{' ? rep.metadata : "null");
    free(rep.metadata);
    sr_cmd_finish(ctx, 1, out, NULL);
}

static void *resume_main(void *arg) {
    /* Named, so the scanner tells the agent's threads from Trivy's (docs/internals/scan.md). */
    pthread_setname_np(pthread_self(), "sr-artifact");
    sr_artifact *a = arg;
    pthread_mutex_lock(&a->run_lock);
    run_report rep = {0};
    char err[512] = "";
    int r = run(a, NULL, &a->resume, &rep, err, sizeof(err));
    pthread_mutex_unlock(&a->run_lock);
    free(rep.metadata);
    if (r < 0 && r != -ECANCELED)
        sr_warn("trivy-db %s: the interrupted download could not be completed: %s", a->resume.version, err);
    return NULL;
}

/* ---- lifecycle ---- */

int sr_artifact_new(const sr_artifact_config *cfg, sr_artifact **ret, char *err, size_t errlen) {
    if (!cfg || !cfg->data_dir || cfg->data_dir[0] != '/') {
        sr_errf(err, errlen, "artifacts: data_dir must be an absolute path");
        return -EINVAL;
    }
    sr_artifact *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = *cfg;
    if (!a->cfg.max_chunk_failures)
        a->cfg.max_chunk_failures = 5;
    if (a->cfg.retry_min_ms <= 0)
        a->cfg.retry_min_ms = 500;
    if (a->cfg.retry_max_ms <= 0)
        a->cfg.retry_max_ms = 30000;
    if (a->cfg.retry_max_ms < a->cfg.retry_min_ms)
        a->cfg.retry_max_ms = a->cfg.retry_min_ms;
    if (!a->cfg.sync_bytes)
        a->cfg.sync_bytes = 16u * 1024 * 1024;
    if (a->cfg.idle_timeout_ms <= 0)
        a->cfg.idle_timeout_ms = 30000;
    int r = snprintf(a->data_dir, sizeof(a->data_dir), "%s", cfg->data_dir) >= (int)sizeof(a->data_dir)
                ? -ENAMETOOLONG
                : 0;
    if (r == 0)
        r = join_path(a->art_dir, sizeof(a->art_dir), a->data_dir, "artifacts");
    if (r == 0)
        r = join_path(a->part, sizeof(a->part), a->art_dir, SR_ARTIFACT_NAME ".part");
    if (r == 0)
        r = join_path(a->state, sizeof(a->state), a->art_dir, SR_ARTIFACT_NAME ".state");
    if (r == 0)
        r = join_path(a->installed_path, sizeof(a->installed_path), a->art_dir, SR_ARTIFACT_NAME ".installed");
    if (r == 0)
        r = join_path(a->trivy_dir, sizeof(a->trivy_dir), a->data_dir, "trivy");
    if (r == 0)
        r = join_path(a->db_dir, sizeof(a->db_dir), a->trivy_dir, "db");
    if (r == 0)
        r = join_path(a->db_new, sizeof(a->db_new), a->trivy_dir, "db.new");
    if (r < 0) {
        free(a);
        sr_errf(err, errlen, "artifacts: data_dir is too long");
        return r;
    }
    pthread_mutex_init(&a->run_lock, NULL);
    pthread_mutex_init(&a->lock, NULL);

    sr_artifact_doc d;
    char derr[256] = "";
    struct stat sb;
    r = read_doc(a->installed_path, &d, derr, sizeof(derr));
    if (r == 0 && stat(a->db_dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(a->installed, sizeof(a->installed), "%s", d.version);
    else if (r != -ENOENT)
        sr_warn("artifacts: %s is not usable (%s): no trivy-db version is assumed installed", a->installed_path,
                r < 0 ? (derr[0] ? derr : strerror(-r)) : "the DB directory is missing");
    r = read_doc(a->state, &a->resume, derr, sizeof(derr));
    if (r == 0 && strcmp(a->resume.version, a->installed) != 0)
        a->have_resume = true;
    else if (r < 0 && r != -ENOENT)
        sr_warn("artifacts: %s is not usable (%s): a partial download starts over", a->state,
                derr[0] ? derr : strerror(-r));
#ifdef SR_FAULT_INJECTION
    const char *k = getenv("SR_FAULT_ARTIFACT_KILL_AT");
    uint64_t v = 0;
    if (k && sr_parse_u64(k, &v) == 0 && v > 0) {
        a->fault_kill_at = v;
        sr_warn("fault injection: the agent kills itself once a download passes offset %" PRIu64, v);
    }
#endif
    *ret = a;
    return 0;
}

const char *sr_artifact_installed_version(const sr_artifact *a) { return a->installed; }

const char *sr_artifact_db_dir(const sr_artifact *a) { return a->db_dir; }

int sr_artifact_attach(sr_artifact *a, sr_transport *t) {
    a->t = t;
    if (a->installed[0]) {
        int r = sr_transport_set_artifact_version(t, SR_ARTIFACT_NAME, a->installed);
        if (r < 0)
            return r;
    }
    int r = sr_transport_register_command(t, SR_ARTIFACT_COMMAND, handle_update, a);
    if (r < 0)
        return r;
    if (a->have_resume) {
        r = -pthread_create(&a->resume_thread, NULL, resume_main, a);
        if (r < 0)
            return r;
        a->resume_started = true;
    }
    return 0;
}

void sr_artifact_set_on_installed(sr_artifact *a, sr_artifact_installed_fn fn, void *userdata) {
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->cfg.on_installed = fn;
    a->cfg.userdata = userdata;
    pthread_mutex_unlock(&a->lock);
}

void sr_artifact_stop(sr_artifact *a) {
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    if (a->live)
        srg_call_cancel(a->live);
    pthread_mutex_unlock(&a->lock);
}

sr_artifact *sr_artifact_free(sr_artifact *a) {
    if (!a)
        return NULL;
    sr_artifact_stop(a);
    if (a->resume_started)
        pthread_join(a->resume_thread, NULL);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->run_lock);
    free(a);
    return NULL;
}
