/* sr_spool: segment files of CRC32C-framed records plus a small two-slot meta file.
 *
 * On disk (all integers little-endian):
 *   meta                 two 64-byte slots {magic "SRSPMETA", u32 version, u32 0, u64 gen, u64 epoch,
 *                        u64 next_seq, u64 acked, pad, u32 crc32c of bytes 0..59 at 60}; the valid slot
 *                        with the highest gen wins, updates overwrite the other slot (pwrite + fdatasync)
 *   <first seq %020>.seg {magic "SRSPOOL1", u32 version, u32 0} then records
 *                        {u32 len, u32 crc32c(seq, len, data), u64 seq, data[len]}
 * "acked" is a watermark: every record with seq <= acked is acknowledged. Acks above the first
 * unacknowledged record are kept in memory only (after a restart they are sent again, which the
 * gateway deduplicates). See docs/internals/agent.md. */
#include "sr_spool.h"

#include "sr_cleanup.h"
#include "sr_crc32c.h"
#include "sr_file.h"
#include "sr_parse.h"
#include "sr_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEG_MAGIC "SRSPOOL1"
#define META_MAGIC "SRSPMETA"
#define SPOOL_VERSION 1u
#define SEG_HDR 16u
#define REC_HDR 16u
#define META_SLOT 64u
#define META_NAME "meta"
#define SEG_SUFFIX ".seg"
#define SEG_CAP_MAX (4u * 1024 * 1024)
#define SEG_CAP_MIN 4096u
/* A record read from disk larger than this is corruption; appends are capped the same way. */
#define RECORD_MAX (16u * 1024 * 1024)
#define MAX_SEGMENTS 65536u

typedef struct {
    uint64_t seq;
    uint64_t off; /* offset of the record header */
    uint32_t len; /* data length */
    bool acked;   /* acknowledged out of order (above the watermark) */
} spool_rec;

typedef struct {
    uint64_t id; /* first seq, the file name */
    int fd;
    uint64_t size;
    spool_rec *recs;
    size_t n, cap;
    size_t head; /* records before head have seq <= watermark */
} spool_seg;

struct sr_spool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int dirfd;
    int metafd;
    uint64_t max_bytes, seg_cap;
    uint64_t epoch, next_seq, acked, meta_gen;
    uint64_t last_seq; /* highest seq on disk or appended */
    spool_seg *segs;
    size_t nsegs, segs_cap;
    uint64_t bytes, pending;
    uint64_t dropped_records, dropped_bytes;
    bool roll_next; /* the active segment saw corruption: start a new one */
    bool woken;
};

/* ---- little-endian helpers ---- */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t record_crc(uint64_t seq, uint32_t len, const uint8_t *data) {
    uint8_t h[12];
    put_u64(h, seq);
    put_u32(h + 8, len);
    return sr_crc32c(sr_crc32c(0, h, sizeof(h)), data, len);
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int pwritev_full(int fd, struct iovec *iov, int iovcnt, uint64_t off) {
    while (iovcnt > 0) {
        ssize_t n = pwritev(fd, iov, iovcnt, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (uint64_t)n;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* ---- meta ---- */

static void meta_encode(const sr_spool *s, uint64_t gen, uint64_t next_seq, uint64_t acked, uint8_t *slot) {
    memset(slot, 0, META_SLOT);
    memcpy(slot, META_MAGIC, 8);
    put_u32(slot + 8, SPOOL_VERSION);
    put_u64(slot + 16, gen);
    put_u64(slot + 24, s->epoch);
    put_u64(slot + 32, next_seq);
    put_u64(slot + 40, acked);
    put_u32(slot + 60, sr_crc32c(0, slot, 60));
}

static bool meta_decode(const uint8_t *slot, uint64_t *gen, uint64_t *epoch, uint64_t *next_seq, uint64_t *acked) {
    if (memcmp(slot, META_MAGIC, 8) != 0 || get_u32(slot + 8) != SPOOL_VERSION)
        return false;
    if (get_u32(slot + 60) != sr_crc32c(0, slot, 60))
        return false;
    *gen = get_u64(slot + 16);
    *epoch = get_u64(slot + 24);
    *next_seq = get_u64(slot + 32);
    *acked = get_u64(slot + 40);
    return true;
}

/* Persists next_seq and acked in the slot not holding the current generation. */
static int meta_write(sr_spool *s, uint64_t next_seq, uint64_t acked) {
    uint8_t slot[META_SLOT];
    uint64_t gen = s->meta_gen + 1;
    meta_encode(s, gen, next_seq, acked, slot);
    struct iovec iov = {slot, sizeof(slot)};
    int r = pwritev_full(s->metafd, &iov, 1, (gen % 2) * META_SLOT);
    if (r < 0)
        return r;
    if (fdatasync(s->metafd) < 0)
        return -errno;
    s->meta_gen = gen;
    return 0;
}

static int fsync_dir(const sr_spool *s) { return fsync(s->dirfd) < 0 ? -errno : 0; }

/* Creates a fresh meta file (new epoch) atomically. */
static int meta_create(sr_spool *s, const char *dir) {
    uint64_t epoch = 0;
    while (epoch == 0) {
        ssize_t n = getrandom(&epoch, sizeof(epoch), 0);
        if (n < 0 && errno != EINTR)
            return -errno;
    }
    s->epoch = epoch;
    uint8_t buf[2 * META_SLOT] = {0};
    s->meta_gen = 0;
    meta_encode(s, 0, s->next_seq, s->acked, buf);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, META_NAME);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    int r = sr_file_write_atomic(path, buf, sizeof(buf), 0600);
    if (r < 0)
        return r;
    return fsync_dir(s);
}

/* Reads meta. Returns 1 when valid, 0 when missing or unreadable (both slots bad). */
static int meta_load(sr_spool *s) {
    _cleanup_close_ int fd = openat(s->dirfd, META_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    uint8_t buf[2 * META_SLOT] = {0};
    ssize_t n;
    do
        n = pread(fd, buf, sizeof(buf), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    bool found = false;
    for (unsigned i = 0; i < 2; i++) {
        uint64_t gen, epoch, next_seq, acked;
        if ((size_t)n < (i + 1) * META_SLOT || !meta_decode(buf + i * META_SLOT, &gen, &epoch, &next_seq, &acked))
            continue;
        if (found && gen <= s->meta_gen)
            continue;
        found = true;
        s->meta_gen = gen;
        s->epoch = epoch;
        s->next_seq = next_seq;
        s->acked = acked;
    }
    return found ? 1 : 0;
}

/* ---- segments ---- */

static void seg_close(spool_seg *g) {
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    free(g->recs);
    g->recs = NULL;
    g->n = g->cap = g->head = 0;
}

static int seg_push(spool_seg *g, uint64_t seq, uint64_t off, uint32_t len) {
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        spool_rec *nr = realloc(g->recs, ncap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        g->recs = nr;
        g->cap = ncap;
    }
    g->recs[g->n++] = (spool_rec){.seq = seq, .off = off, .len = len, .acked = false};
    return 0;
}

static void seg_name(uint64_t id, char *buf, size_t len) { snprintf(buf, len, "%020" PRIu64 SEG_SUFFIX, id); }

static int segs_reserve(sr_spool *s) {
    if (s->nsegs < s->segs_cap)
        return 0;
    if (s->nsegs >= MAX_SEGMENTS)
        return -ENOSPC;
    size_t ncap = s->segs_cap ? s->segs_cap * 2 : 8;
    spool_seg *ns = realloc(s->segs, ncap * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    s->segs = ns;
    s->segs_cap = ncap;
    return 0;
}

static bool rec_is_unacked(const sr_spool *s, const spool_rec *r) { return r->seq > s->acked && !r->acked; }

/* Forgets records [from, n) of segment g, counting the unacknowledged ones as dropped. */
static void seg_forget_from(sr_spool *s, spool_seg *g, size_t from) {
    for (size_t i = from; i < g->n; i++) {
        if (!rec_is_unacked(s, &g->recs[i]))
            continue;
        s->pending--;
        s->dropped_records++;
        s->dropped_bytes += REC_HDR + g->recs[i].len;
    }
    if (from < g->n)
        g->n = from;
    if (g->head > g->n)
        g->head = g->n;
}

/* Removes segment i from disk and memory. */
static void seg_remove(sr_spool *s, size_t i) {
    spool_seg *g = &s->segs[i];
    char name[64];
    seg_name(g->id, name, sizeof(name));
    (void)unlinkat(s->dirfd, name, 0);
    s->bytes -= g->size;
    seg_close(g);
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
}

static int seg_create(sr_spool *s, uint64_t id) {
    /* names are first seqs, except when that would not sort after the active segment */
    if (s->nsegs > 0 && id <= s->segs[s->nsegs - 1].id)
        id = s->segs[s->nsegs - 1].id + 1;
    int r = segs_reserve(s);
    if (r < 0)
        return r;
    char name[64];
    seg_name(id, name, sizeof(name));
    _cleanup_close_ int fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    uint8_t hdr[SEG_HDR] = {0};
    memcpy(hdr, SEG_MAGIC, 8);
    put_u32(hdr + 8, SPOOL_VERSION);
    struct iovec iov = {hdr, sizeof(hdr)};
    r = pwritev_full(fd, &iov, 1, 0);
    if (r == 0 && fdatasync(fd) < 0)
        r = -errno;
    if (r == 0)
        r = fsync_dir(s);
    if (r < 0) {
        (void)unlinkat(s->dirfd, name, 0);
        return r;
    }
    s->segs[s->nsegs++] = (spool_seg){.id = id, .fd = SR_TAKE_FD(fd), .size = SEG_HDR};
    s->bytes += SEG_HDR;
    return 0;
}

/* Reads one record header at off and verifies it (and its data, read into *buf). Returns 0,
 * -EBADMSG when the record is torn or corrupt, or a negative errno on I/O failure. */
static int record_read(int fd, uint64_t off, uint64_t file_size, uint64_t min_seq, uint8_t **buf, size_t *bufcap,
                       uint64_t *ret_seq, uint32_t *ret_len) {
    uint8_t h[REC_HDR];
    if (off + REC_HDR > file_size)
        return -EBADMSG;
    int r = pread_full(fd, h, sizeof(h), off);
    if (r < 0)
        return r == -ENODATA ? -EBADMSG : r;
    uint32_t len = get_u32(h);
    uint32_t crc = get_u32(h + 4);
    uint64_t seq = get_u64(h + 8);
    if (len > RECORD_MAX || off + REC_HDR + len > file_size || seq < min_seq || seq == 0)
        return -EBADMSG;
    if (len > *bufcap) {
        uint8_t *nb = realloc(*buf, len);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *bufcap = len;
    }
    if (len > 0) {
        r = pread_full(fd, *buf, len, off + REC_HDR);
        if (r < 0)
            return r == -ENODATA ? -EBADMSG : r;
    }
    if (record_crc(seq, len, *buf) != crc)
        return -EBADMSG;
    *ret_seq = seq;
    *ret_len = len;
    return 0;
}

/* Scans one segment file at open. The last segment's bad tail is truncated; an earlier
 * segment's bad remainder is left on disk and counted as dropped. */
static int seg_scan(sr_spool *s, spool_seg *g, bool last, uint8_t **buf, size_t *bufcap) {
    struct stat st;
    if (fstat(g->fd, &st) < 0)
        return -errno;
    uint64_t size = (uint64_t)st.st_size;
    uint8_t hdr[SEG_HDR];
    bool hdr_ok = size >= SEG_HDR && pread_full(g->fd, hdr, sizeof(hdr), 0) == 0 &&
                  memcmp(hdr, SEG_MAGIC, 8) == 0 && get_u32(hdr + 8) == SPOOL_VERSION;
    if (!hdr_ok) {
        if (!last) {
            g->size = size;
            s->bytes += size;
            if (size > 0) {
                s->dropped_records++;
                s->dropped_bytes += size;
            }
            return 0;
        }
        /* torn at creation (or garbage): start the active segment afresh */
        memset(hdr, 0, sizeof(hdr));
        memcpy(hdr, SEG_MAGIC, 8);
        put_u32(hdr + 8, SPOOL_VERSION);
        if (ftruncate(g->fd, 0) < 0)
            return -errno;
        struct iovec iov = {hdr, sizeof(hdr)};
        int r = pwritev_full(g->fd, &iov, 1, 0);
        if (r < 0)
            return r;
        if (fdatasync(g->fd) < 0)
            return -errno;
        g->size = SEG_HDR;
        s->bytes += SEG_HDR;
        return 0;
    }
    uint64_t off = SEG_HDR;
    while (off < size) {
        uint64_t seq;
        uint32_t len;
        int r = record_read(g->fd, off, size, s->last_seq + 1, buf, bufcap, &seq, &len);
        if (r == -EBADMSG)
            break;
        if (r < 0)
            return r;
        r = seg_push(g, seq, off, len);
        if (r < 0)
            return r;
        if (seq > s->acked)
            s->pending++;
        s->last_seq = seq;
        off += REC_HDR + len;
    }
    if (off < size) {
        if (last) {
            if (ftruncate(g->fd, (off_t)off) < 0)
                return -errno;
            if (fdatasync(g->fd) < 0)
                return -errno;
            size = off;
        } else {
            s->dropped_records++;
            s->dropped_bytes += size - off;
        }
    }
    g->size = size;
    s->bytes += size;
    return 0;
}

static int seg_cmp(const void *a, const void *b) {
    const spool_seg *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Finds the segment files in the directory and opens them, oldest first. */
static int segs_discover(sr_spool *s) {
    int dfd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int r = -errno;
        close(dfd);
        return r;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        size_t sl = strlen(SEG_SUFFIX);
        if (nl != 20 + sl || strcmp(de->d_name + 20, SEG_SUFFIX) != 0)
            continue;
        char digits[21];
        memcpy(digits, de->d_name, 20);
        digits[20] = '\0';
        uint64_t id;
        if (sr_parse_u64(digits, &id) < 0)
            continue;
        r = segs_reserve(s);
        if (r < 0)
            break;
        int fd = openat(s->dirfd, de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            r = -errno;
            break;
        }
        s->segs[s->nsegs++] = (spool_seg){.id = id, .fd = fd};
    }
    closedir(d);
    if (r == 0 && s->nsegs > 1)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
    return r;
}

/* Moves head pointers past acknowledged records and advances the watermark over records
 * acknowledged out of order. Returns true when the watermark moved. */
static bool advance_watermark(sr_spool *s) {
    uint64_t w = s->acked;
    for (size_t i = 0; i < s->nsegs; i++) {
        spool_seg *g = &s->segs[i];
        while (g->head < g->n && (g->recs[g->head].seq <= w || g->recs[g->head].acked)) {
            if (g->recs[g->head].seq > w)
                w = g->recs[g->head].seq;
            g->head++;
        }
        if (g->head < g->n)
            break;
    }
    bool moved = w != s->acked;
    s->acked = w;
    return moved;
}

/* Deletes leading segments (never the active one) that hold nothing unacknowledged. */
static void reclaim(sr_spool *s) {
    while (s->nsegs > 1 && s->segs[0].head >= s->segs[0].n)
        seg_remove(s, 0);
}

static void drop_oldest(sr_spool *s) {
    seg_forget_from(s, &s->segs[0], 0);
    seg_remove(s, 0);
}

sr_spool *sr_spool_free(sr_spool *s) {
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->nsegs; i++)
        seg_close(&s->segs[i]);
    free(s->segs);
    if (s->metafd >= 0)
        close(s->metafd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

static int spool_init_sync(sr_spool *s) {
    int r = pthread_mutex_init(&s->lock, NULL);
    if (r)
        return -r;
    r = sr_mono_cond_init(&s->cond);
    if (r < 0) {
        pthread_mutex_destroy(&s->lock);
        return r;
    }
    return 0;
}

int sr_spool_open(const char *dir, uint64_t max_bytes, sr_spool **ret) {
    if (!dir || !*dir || !ret || max_bytes < SEG_HDR + REC_HDR + 1)
        return -EINVAL;
    int r = sr_mkdir_p(dir, 0700);
    if (r < 0)
        return r;
    sr_spool *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->dirfd = s->metafd = -1;
    r = spool_init_sync(s);
    if (r < 0) {
        free(s);
        return r;
    }
    uint8_t *buf = NULL;
    size_t bufcap = 0;
    s->max_bytes = max_bytes;
    s->seg_cap = max_bytes / 8;
    if (s->seg_cap > SEG_CAP_MAX)
        s->seg_cap = SEG_CAP_MAX;
    if (s->seg_cap < SEG_CAP_MIN)
        s->seg_cap = SEG_CAP_MIN;
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        r = -errno;
        goto fail;
    }
    r = meta_load(s);
    if (r < 0)
        goto fail;
    bool have_meta = r == 1;
    if (!have_meta) {
        s->next_seq = 1;
        s->acked = 0;
    }
    r = segs_discover(s);
    if (r < 0)
        goto fail;
    for (size_t i = 0; i < s->nsegs; i++) {
        r = seg_scan(s, &s->segs[i], i + 1 == s->nsegs, &buf, &bufcap);
        if (r < 0)
            goto fail;
    }
    if (!have_meta) {
        /* lost or new: a fresh epoch; seqs continue above anything on disk so that the
         * spool's order stays strictly increasing */
        s->next_seq = s->last_seq + 1;
        r = meta_create(s, dir);
        if (r < 0)
            goto fail;
    }
    if (s->next_seq <= s->last_seq)
        s->next_seq = s->last_seq + 1;
    if (s->next_seq <= s->acked)
        s->next_seq = s->acked + 1;
    if (s->last_seq < s->acked)
        s->last_seq = s->acked;
    s->metafd = openat(s->dirfd, META_NAME, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (s->metafd < 0) {
        r = -errno;
        goto fail;
    }
    (void)advance_watermark(s);
    reclaim(s);
    while (s->nsegs > 1 && s->bytes > s->max_bytes)
        drop_oldest(s);
    if (s->nsegs == 0) {
        r = seg_create(s, s->next_seq);
        if (r < 0)
            goto fail;
    }
    free(buf);
    *ret = s;
    return 0;
fail:
    free(buf);
    sr_spool_free(s);
    return r;
}

uint64_t sr_spool_epoch(const sr_spool *s) { return s->epoch; }

int sr_spool_next_seq(sr_spool *s, uint64_t *ret_seq) {
    pthread_mutex_lock(&s->lock);
    uint64_t seq = s->next_seq;
    int r = meta_write(s, seq + 1, s->acked);
    if (r == 0)
        s->next_seq = seq + 1;
    pthread_mutex_unlock(&s->lock);
    if (r == 0)
        *ret_seq = seq;
    return r;
}

static int append_locked(sr_spool *s, uint64_t seq, const uint8_t *data, size_t len) {
    if (seq == 0 || seq <= s->last_seq)
        return -EINVAL;
    uint64_t need = REC_HDR + (uint64_t)len;
    if (len > RECORD_MAX || SEG_HDR + need > s->max_bytes)
        return -EMSGSIZE;
    spool_seg *act = &s->segs[s->nsegs - 1];
    int r;
    if (s->roll_next || (act->n > 0 && act->size + need > s->seg_cap)) {
        r = seg_create(s, seq);
        if (r < 0)
            return r;
        s->roll_next = false;
        reclaim(s);
    }
    /* make room: the oldest records go first, never the active segment */
    while (s->bytes + need > s->max_bytes) {
        if (s->nsegs < 2) {
            r = seg_create(s, seq);
            if (r < 0)
                return r;
        }
        drop_oldest(s);
    }
    act = &s->segs[s->nsegs - 1];
    uint8_t h[REC_HDR];
    put_u32(h, (uint32_t)len);
    put_u32(h + 4, record_crc(seq, (uint32_t)len, data));
    put_u64(h + 8, seq);
    struct iovec iov[2] = {{h, sizeof(h)}, {(void *)(uintptr_t)data, len}};
    r = pwritev_full(act->fd, iov, len ? 2 : 1, act->size);
    if (r == 0 && fdatasync(act->fd) < 0)
        r = -errno;
    if (r == 0)
        r = seg_push(act, seq, act->size, (uint32_t)len);
    if (r < 0) {
        if (ftruncate(act->fd, (off_t)act->size) < 0) {
            /* the torn bytes are cut at the next open */
        }
        return r;
    }
    act->size += need;
    s->bytes += need;
    s->pending++;
    s->last_seq = seq;
    if (seq >= s->next_seq)
        s->next_seq = seq + 1;
    return 0;
}

int sr_spool_append(sr_spool *s, uint64_t seq, const uint8_t *data, size_t len) {
    if (!data && len > 0)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    int r = append_locked(s, seq, data, len);
    if (r == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int sr_spool_append_packed(sr_spool *s, sr_spool_pack_fn pack, void *userdata, uint64_t *ret_seq) {
    if (!pack)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    uint64_t seq = s->next_seq;
    int r = meta_write(s, seq + 1, s->acked);
    if (r == 0) {
        s->next_seq = seq + 1;
        uint8_t *buf = NULL;
        size_t len = 0;
        r = pack(seq, &buf, &len, userdata);
        if (r == 0)
            r = append_locked(s, seq, buf, len);
        if (r == 0)
            pthread_cond_broadcast(&s->cond);
        free(buf);
    }
    pthread_mutex_unlock(&s->lock);
    if (r == 0 && ret_seq)
        *ret_seq = seq;
    return r;
}

typedef struct {
    uint64_t seg_id;
    size_t fd_index;
    uint64_t seq, off;
    uint32_t len;
} peek_item;

static spool_seg *seg_find(sr_spool *s, uint64_t id, size_t *ret_index) {
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].id == id) {
            if (ret_index)
                *ret_index = i;
            return &s->segs[i];
        }
    return NULL;
}

/* A record failed its check while being read: forget it and the rest of its segment. */
static void mark_corrupt(sr_spool *s, uint64_t seg_id, uint64_t seq) {
    pthread_mutex_lock(&s->lock);
    size_t gi;
    spool_seg *g = seg_find(s, seg_id, &gi);
    if (g) {
        for (size_t i = 0; i < g->n; i++)
            if (g->recs[i].seq == seq) {
                seg_forget_from(s, g, i);
                break;
            }
        if (gi + 1 == s->nsegs)
            s->roll_next = true;
        (void)advance_watermark(s);
    }
    pthread_mutex_unlock(&s->lock);
}

int sr_spool_peek(sr_spool *s, size_t max_records, size_t max_bytes, sr_spool_visit_fn fn, void *userdata) {
    if (!fn)
        return -EINVAL;
    if (max_records == 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    size_t n_items = max_records < s->pending ? max_records : (size_t)s->pending;
    if (n_items == 0) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    _cleanup_free_ peek_item *items = calloc(n_items, sizeof(*items));
    _cleanup_free_ int *fds = calloc(s->nsegs, sizeof(*fds));
    if (!items || !fds) {
        pthread_mutex_unlock(&s->lock);
        return -ENOMEM;
    }
    size_t count = 0, nfds = 0, total = 0, maxlen = 0;
    int r = 0;
    for (size_t gi = 0; gi < s->nsegs && count < n_items && r == 0; gi++) {
        spool_seg *g = &s->segs[gi];
        bool have_fd = false;
        for (size_t i = g->head; i < g->n && count < n_items; i++) {
            const spool_rec *rec = &g->recs[i];
            if (!rec_is_unacked(s, rec))
                continue;
            if (count > 0 && total + rec->len > max_bytes) {
                n_items = count; /* stop here */
                break;
            }
            if (!have_fd) {
                int fd = fcntl(g->fd, F_DUPFD_CLOEXEC, 0);
                if (fd < 0) {
                    r = -errno;
                    break;
                }
                fds[nfds++] = fd;
                have_fd = true;
            }
            items[count++] = (peek_item){g->id, nfds - 1, rec->seq, rec->off, rec->len};
            total += rec->len;
            if (rec->len > maxlen)
                maxlen = rec->len;
        }
    }
    pthread_mutex_unlock(&s->lock);

    uint8_t *buf = NULL;
    size_t bufcap = 0;
    size_t visited = 0;
    uint64_t bad_seg = 0;
    bool have_bad = false;
    if (r == 0 && maxlen > 0) {
        buf = malloc(maxlen);
        bufcap = maxlen;
        if (!buf)
            r = -ENOMEM;
    }
    for (size_t i = 0; i < count && r == 0; i++) {
        const peek_item *it = &items[i];
        if (have_bad && it->seg_id == bad_seg)
            continue;
        uint64_t seq;
        uint32_t len;
        int rr = record_read(fds[it->fd_index], it->off, UINT64_MAX, it->seq, &buf, &bufcap, &seq, &len);
        if (rr == 0 && (seq != it->seq || len != it->len))
            rr = -EBADMSG;
        if (rr == -EBADMSG) {
            mark_corrupt(s, it->seg_id, it->seq);
            have_bad = true;
            bad_seg = it->seg_id;
            continue;
        }
        if (rr < 0) {
            r = rr;
            break;
        }
        visited++;
        if (fn(seq, buf, len, userdata) != 0)
            break;
    }
    free(buf);
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    return r < 0 ? r : (int)(visited > INT_MAX ? INT_MAX : visited);
}

static spool_rec *rec_find(sr_spool *s, uint64_t seq) {
    /* the segment holding seq is the last one whose id <= seq (ids are first seqs) */
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].id <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* ids come from file names, which could disagree with their records after damage:
     * fall back to scanning neighbours */
    for (size_t k = 0; k < s->nsegs; k++) {
        size_t gi = (lo > 0 ? lo - 1 : 0);
        gi = (gi + k) % s->nsegs;
        spool_seg *g = &s->segs[gi];
        size_t a = 0, b = g->n;
        while (a < b) {
            size_t m = a + (b - a) / 2;
            if (g->recs[m].seq < seq)
                a = m + 1;
            else
                b = m;
        }
        if (a < g->n && g->recs[a].seq == seq)
            return &g->recs[a];
        if (g->n > 0 && g->recs[0].seq <= seq && g->recs[g->n - 1].seq >= seq)
            return NULL; /* within this segment's range but absent */
    }
    return NULL;
}

int sr_spool_ack(sr_spool *s, uint64_t seq) {
    pthread_mutex_lock(&s->lock);
    int r = 0;
    spool_rec *rec = seq > s->acked ? rec_find(s, seq) : NULL;
    if (rec && !rec->acked) {
        rec->acked = true;
        s->pending--;
        uint64_t before = s->acked;
        if (advance_watermark(s)) {
            r = meta_write(s, s->next_seq, s->acked);
            if (r < 0) {
                /* not durable: keep the old watermark so that a restart resends */
                s->acked = before;
            } else {
                reclaim(s);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int sr_spool_wait(sr_spool *s, int timeout_ms) {
    pthread_mutex_lock(&s->lock);
    struct timespec deadline = sr_mono_deadline_ts(timeout_ms);
    while (s->pending == 0 && !s->woken && timeout_ms != 0) {
        int e = timeout_ms < 0 ? pthread_cond_wait(&s->cond, &s->lock)
                               : pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
        if (e == ETIMEDOUT)
            break;
    }
    int r = s->pending > 0 ? 1 : 0;
    s->woken = false;
    pthread_mutex_unlock(&s->lock);
    return r;
}

void sr_spool_wakeup(sr_spool *s) {
    pthread_mutex_lock(&s->lock);
    s->woken = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void sr_spool_get_stats(sr_spool *s, sr_spool_stats *ret) {
    pthread_mutex_lock(&s->lock);
    *ret = (sr_spool_stats){
        .records = s->pending,
        .bytes = s->bytes,
        .dropped_records = s->dropped_records,
        .dropped_bytes = s->dropped_bytes,
        .next_seq = s->next_seq,
    };
    pthread_mutex_unlock(&s->lock);
}
