/* sr_logtail: file following, rotation, offsets and batching. See sr_logtail.h. */
#include "sr_logtail.h"

#include "sr_cleanup.h"
#include "sr_logtail_journal.h"
#include "sr_file.h"
#include "sr_parse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLL_MS 250
#define READ_CHUNK (64 * 1024)
#define DEFAULT_BATCH_BYTES (1024 * 1024)
#define STATE_MAX (1024 * 1024)
#define SIBLINGS_MAX 4096
#define BATCHES_PER_POLL 8
#define NSTR 8 /* raw, hostname, program, message, user, src_ip, outcome, action */
#define JOURNAL_FILE UINT32_MAX /* entry.file of a journal record */

typedef struct {
    uint32_t file;
    const char *source; /* a string literal */
    uint64_t offset, original_bytes;
    int64_t read_ms, time_ms;
    bool has_time, cut;
    uint32_t pid;
    int severity, facility;
    uint16_t src_port;
    size_t str[NSTR];
    size_t raw_len;
    uint8_t n_fields;
    size_t fkey[SR_LOGPARSE_FIELDS_MAX], fval[SR_LOGPARSE_FIELDS_MAX];
} entry;

struct sr_logtail_batch {
    entry *v;
    size_t n, cap;
    char *text;
    size_t len, tcap;
    const struct sr_logtail *owner;
    sr_logparse_record *scratch; /* for sr_logtail_batch_entry */
};

typedef struct {
    char *path;
    const char *source;
    sr_logparse *parser;
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t pos;         /* next byte to read */
    uint64_t line_start;  /* offset of the first byte of the line being assembled */
    char *line;           /* at most SR_LOGPARSE_RAW_MAX bytes kept */
    size_t llen;
    uint64_t lskipped;    /* bytes of the line beyond what is kept */
    bool skip_to_newline; /* started in the middle of a line: drop up to the next newline */
    bool rotation_seen;   /* the path names another inode; switch at the next EOF */
    bool draining;        /* fd is a sibling found at start (an inode rotated while stopped) */
    int last_err;         /* reported once per change */
    bool committed;       /* cdev/cino/coff hold the position the state file may record */
    dev_t cdev;
    ino_t cino;
    uint64_t coff;        /* every line before it is in the spool */
} tfile;

typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
    uint64_t offset;
} saved;

struct sr_logtail {
    tfile *files;
    size_t n_files;
    char *state_path;
    bool from_start, first_round;
    int64_t flush_ms;
    size_t max_records, max_bytes;
    sr_logtail_emit_fn emit;
    void *userdata;
    saved *saved;
    size_t n_saved;
    sr_logtail_batch batch;
    int64_t batch_started_ms;
    bool blocked;
    bool state_dirty;
    int state_err, state_err_reported;
    char *buf;
    sr_logparse_record *rec;
    sr_logtail_stats stats;
    /* journald */
    sr_logjournal *journal;
    sr_logparse *jparser;
    char *jcursor;  /* committed: every entry up to it is in the spool */
    char *jpending; /* the cursor of the last journal entry in the batch */
    char *jnote;    /* why the journal is not read (logs.journald=auto), reported once */
    int jlast_err;
};

/* ---- file list ---- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int sr_logtail_parse_files(char *buf, sr_logtail_file *files, size_t max, char *err, size_t errlen) {
    size_t n = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        if (!item[0])
            continue;
        if (n >= max) {
            snprintf(err, errlen, "more than %zu files", max);
            return -EINVAL;
        }
        char *eq = strrchr(item, '=');
        const char *source = NULL;
        if (eq) {
            *eq = '\0';
            source = trim(eq + 1);
            item = trim(item);
            if (strcmp(source, "auth") != 0 && strcmp(source, "syslog") != 0) {
                snprintf(err, errlen, "unknown source \"%s\" for %s: expected auth or syslog", source, item);
                return -EINVAL;
            }
        }
        if (item[0] != '/' || strlen(item) > 1024) {
            snprintf(err, errlen, "\"%s\" is not an absolute path of at most 1024 bytes", item);
            return -EINVAL;
        }
        for (const char *c = item; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                snprintf(err, errlen, "path \"%s\" holds a control character", item);
                return -EINVAL;
            }
        for (size_t i = 0; i < n; i++)
            if (strcmp(files[i].path, item) == 0) {
                snprintf(err, errlen, "%s is listed twice", item);
                return -EINVAL;
            }
        if (!source) {
            const char *base = strrchr(item, '/') + 1;
            source = strstr(base, "auth.log") || strcmp(base, "secure") == 0 || strncmp(base, "secure.", 7) == 0 ||
                             ends_with(base, "-secure")
                         ? "auth"
                         : "syslog";
        }
        files[n++] = (sr_logtail_file){item, source};
    }
    return (int)n;
}

/* ---- batch ---- */

static int text_add(sr_logtail_batch *b, const char *s, size_t *ret_off) {
    size_t n = strlen(s) + 1;
    if (b->len + n > b->tcap) {
        size_t cap = b->tcap ? b->tcap : 64 * 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t)
            return -ENOMEM;
        b->text = t;
        b->tcap = cap;
    }
    memcpy(b->text + b->len, s, n);
    *ret_off = b->len;
    b->len += n;
    return 0;
}

static int batch_add(sr_logtail_batch *b, uint32_t file, const char *source, const sr_logparse_record *r,
                     uint64_t offset, uint64_t orig, bool cut, int64_t read_ms) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        entry *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    size_t len0 = b->len;
    entry *e = &b->v[b->n];
    *e = (entry){.file = file, .source = source, .offset = offset, .original_bytes = orig, .read_ms = read_ms,
                 .time_ms = r->time_unix_ms, .has_time = r->has_time, .cut = cut, .pid = r->pid,
                 .severity = r->severity, .facility = r->facility, .src_port = r->src_port,
                 .raw_len = r->raw_len};
    const char *strs[NSTR] = {r->raw, r->hostname, r->program, r->message, r->user, r->src_ip, r->outcome, r->action};
    int rc = 0;
    for (size_t i = 0; i < NSTR && rc == 0; i++)
        rc = text_add(b, strs[i], &e->str[i]);
    for (size_t i = 0; i < r->n_fields && rc == 0; i++) {
        rc = text_add(b, r->fields[i].key, &e->fkey[i]);
        if (rc == 0)
            rc = text_add(b, r->fields[i].value, &e->fval[i]);
        e->n_fields = (uint8_t)(i + 1);
    }
    if (rc < 0) {
        b->len = len0;
        return rc;
    }
    b->n++;
    return 0;
}

static void batch_clear(sr_logtail_batch *b) {
    b->n = 0;
    b->len = 0;
}

size_t sr_logtail_batch_count(const sr_logtail_batch *b) { return b->n; }

void sr_logtail_batch_entry(const sr_logtail_batch *b, size_t i, sr_logtail_entry *ret) {
    const entry *e = &b->v[i];
    sr_logparse_record *r = b->scratch;
    const char *t = b->text;
    r->raw = t + e->str[0];
    r->raw_len = e->raw_len;
    r->hostname = t + e->str[1];
    r->program = t + e->str[2];
    r->message = t + e->str[3];
    r->user = t + e->str[4];
    r->src_ip = t + e->str[5];
    r->outcome = t + e->str[6];
    r->action = t + e->str[7];
    r->time_unix_ms = e->time_ms;
    r->has_time = e->has_time;
    r->pid = e->pid;
    r->severity = e->severity;
    r->facility = e->facility;
    r->src_port = e->src_port;
    r->n_fields = e->n_fields;
    for (size_t k = 0; k < e->n_fields; k++)
        r->fields[k] = (sr_logparse_field){t + e->fkey[k], t + e->fval[k]};
    const char *path = e->file == JOURNAL_FILE ? "journald" : b->owner->files[e->file].path;
    *ret = (sr_logtail_entry){.source = e->source, .path = path, .offset = e->offset,
                              .read_unix_ms = e->read_ms, .original_bytes = e->original_bytes, .cut = e->cut,
                              .rec = r};
}

/* ---- state file ---- */

static bool cursor_ok(const char *c) {
    size_t n = strlen(c);
    if (n == 0 || n > SR_LOGJOURNAL_CURSOR_MAX)
        return false;
    for (; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return false;
    return true;
}

/* "serviceradar-logtail 1\n" then "<dev> <ino> <offset> <path>\n" per file and
 * "journal <cursor>\n" for the journal. */
static int state_load(sr_logtail *t, char *err, size_t errlen) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(t->state_path, STATE_MAX, &buf, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        snprintf(err, errlen, "could not read the log offsets %s: %s", t->state_path, strerror(-r));
        return r;
    }
    char *save = NULL;
    size_t lineno = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "serviceradar-logtail 1") != 0)
                goto bad;
            continue;
        }
        if (strncmp(line, "journal ", 8) == 0) {
            if (!cursor_ok(line + 8) || t->jcursor)
                goto bad;
            t->jcursor = strdup(line + 8);
            if (!t->jcursor)
                return -ENOMEM;
            continue;
        }
        char *f[3], *p = line;
        for (int k = 0; k < 3; k++) {
            f[k] = p;
            p = strchr(p, ' ');
            if (!p)
                goto bad;
            *p++ = '\0';
        }
        uint64_t dev, ino, off;
        if (sr_parse_u64(f[0], &dev) < 0 || sr_parse_u64(f[1], &ino) < 0 || sr_parse_u64(f[2], &off) < 0 ||
            p[0] != '/')
            goto bad;
        if (t->n_saved >= SR_LOGTAIL_MAX_FILES * 4)
            break;
        saved *nv = realloc(t->saved, (t->n_saved + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        t->saved = nv;
        char *path = strdup(p);
        if (!path)
            return -ENOMEM;
        t->saved[t->n_saved++] = (saved){path, (dev_t)dev, (ino_t)ino, off};
    }
    if (lineno == 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "could not read the log offsets %s: line %zu is malformed (remove the file to start over)",
             t->state_path, lineno);
    return -EBADMSG;
}

static const saved *saved_for(const sr_logtail *t, const char *path) {
    for (size_t i = 0; i < t->n_saved; i++)
        if (strcmp(t->saved[i].path, path) == 0)
            return &t->saved[i];
    return NULL;
}

/* The committed positions (never those of lines still in a batch). */
static int state_write(sr_logtail *t) {
    size_t cap = 64 + (t->jcursor ? strlen(t->jcursor) + 16 : 0);
    for (size_t i = 0; i < t->n_files; i++)
        cap += strlen(t->files[i].path) + 80;
    _cleanup_free_ char *out = malloc(cap);
    if (!out)
        return -ENOMEM;
    size_t n = (size_t)snprintf(out, cap, "serviceradar-logtail 1\n");
    for (size_t i = 0; i < t->n_files; i++) {
        const tfile *f = &t->files[i];
        dev_t dev = f->cdev;
        ino_t ino = f->cino;
        uint64_t off = f->coff;
        if (!f->committed) {
            const saved *s = saved_for(t, f->path); /* not open (missing): keep what we knew */
            if (!s)
                continue;
            dev = s->dev;
            ino = s->ino;
            off = s->offset;
        }
        n += (size_t)snprintf(out + n, cap - n, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n", (uint64_t)dev,
                              (uint64_t)ino, off, f->path);
    }
    if (t->jcursor)
        n += (size_t)snprintf(out + n, cap - n, "journal %s\n", t->jcursor);
    int r = sr_file_write_atomic(t->state_path, out, n, 0600);
    if (r == 0)
        t->state_dirty = false;
    return r;
}

/* ---- lifecycle ---- */

sr_logtail *sr_logtail_free(sr_logtail *t) {
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n_files; i++) {
        tfile *f = &t->files[i];
        if (f->fd >= 0)
            close(f->fd);
        free(f->path);
        free(f->line);
        sr_logparse_free(f->parser);
    }
    free(t->files);
    for (size_t i = 0; i < t->n_saved; i++)
        free(t->saved[i].path);
    free(t->saved);
    free(t->state_path);
    free(t->batch.v);
    free(t->batch.text);
    free(t->batch.scratch);
    free(t->buf);
    free(t->rec);
    sr_logjournal_free(t->journal);
    sr_logparse_free(t->jparser);
    free(t->jcursor);
    free(t->jpending);
    free(t->jnote);
    free(t);
    return NULL;
}

/* Opens the journal and positions it after the remembered cursor (else at its tail, or head with
 * from_start). SR_LOGTAIL_JOURNAL_AUTO: a failure is kept for the first poll to report. */
static int journal_start(sr_logtail *t, const sr_logtail_config *cfg, const sr_logparse_options *po, char *err,
                         size_t errlen) {
    int r = sr_logparse_new(po, &t->jparser);
    if (r < 0) {
        snprintf(err, errlen, "could not create a log parser: %s", strerror(-r));
        return r;
    }
    char why[512];
    r = sr_logjournal_open(cfg->journal_dir, &t->journal, why, sizeof(why));
    if (r == 0) {
        r = sr_logjournal_seek(t->journal, t->jcursor, cfg->from_start, why, sizeof(why));
        if (r < 0)
            t->journal = sr_logjournal_free(t->journal);
    }
    if (r < 0) {
        if (cfg->journal == SR_LOGTAIL_JOURNAL_ON) {
            snprintf(err, errlen, "%s", why);
            return r;
        }
        t->jnote = strdup(why);
        return t->jnote ? 0 : -ENOMEM;
    }
    if (!t->jcursor) {
        /* first run: where reading starts is committed at once (as for files) */
        char *c = NULL;
        if (sr_logjournal_cursor(t->journal, &c) == 0) {
            t->jcursor = c;
            t->state_dirty = true;
        }
    }
    return 0;
}

int sr_logtail_new(const sr_logtail_config *cfg, sr_logtail **ret, char *err, size_t errlen) {
    if (cfg->n_files > SR_LOGTAIL_MAX_FILES || !cfg->emit || !cfg->state_path || cfg->max_batch_records == 0 ||
        cfg->flush_ms <= 0) {
        snprintf(err, errlen, "invalid log tailer configuration");
        return -EINVAL;
    }
    sr_logtail *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->n_files = cfg->n_files;
    t->from_start = cfg->from_start;
    t->first_round = true;
    t->flush_ms = cfg->flush_ms;
    t->max_records = cfg->max_batch_records;
    t->max_bytes = cfg->max_batch_bytes ? cfg->max_batch_bytes : DEFAULT_BATCH_BYTES;
    t->emit = cfg->emit;
    t->userdata = cfg->userdata;
    t->batch.owner = t;
    t->files = calloc(cfg->n_files ? cfg->n_files : 1, sizeof(*t->files));
    t->state_path = strdup(cfg->state_path);
    t->buf = malloc(READ_CHUNK);
    t->rec = malloc(sizeof(*t->rec));
    t->batch.scratch = malloc(sizeof(*t->batch.scratch));
    if (!t->files || !t->state_path || !t->buf || !t->rec || !t->batch.scratch)
        goto nomem;
    sr_logparse_options po = {.tz = cfg->tz};
    for (size_t i = 0; i < cfg->n_files; i++) {
        tfile *f = &t->files[i];
        f->fd = -1;
        f->source = strcmp(cfg->files[i].source, "auth") == 0 ? "auth" : "syslog";
        f->path = strdup(cfg->files[i].path);
        f->line = malloc(SR_LOGPARSE_RAW_MAX);
        if (!f->path || !f->line)
            goto nomem;
        int r = sr_logparse_new(&po, &f->parser);
        if (r < 0) {
            snprintf(err, errlen, "could not create a log parser: %s", strerror(-r));
            sr_logtail_free(t);
            return r;
        }
    }
    int r = state_load(t, err, errlen);
    if (r == 0 && cfg->journal != SR_LOGTAIL_JOURNAL_OFF)
        r = journal_start(t, cfg, &po, err, errlen);
    if (r < 0) {
        sr_logtail_free(t);
        return r;
    }
    *ret = t;
    return 0;
nomem:
    sr_logtail_free(t);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

void sr_logtail_get_stats(const sr_logtail *t, sr_logtail_stats *ret) { *ret = t->stats; }

/* ---- reading ---- */

static void report(tfile *f, int code, char *err, size_t errlen, const char *verb, const char *why) {
    if (f->last_err == code)
        return;
    f->last_err = code;
    if (code != 0 && errlen && err[0] == '\0')
        snprintf(err, errlen, "could not %s %s: %s", verb, f->path, why);
}

/* Opens path without following a symlink; regular files only. */
static int open_regular(const char *path, struct stat *st) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

static void commit(tfile *f, dev_t dev, ino_t ino, uint64_t off) {
    f->committed = true;
    f->cdev = dev;
    f->cino = ino;
    f->coff = off;
}

static void set_fd(tfile *f, int fd, const struct stat *st, uint64_t pos) {
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->pos = f->line_start = pos;
    f->llen = 0;
    f->lskipped = 0;
    f->skip_to_newline = false;
    f->rotation_seen = false;
}

/* The remembered inode among the siblings of path (a rotation while the agent was stopped). */
static int find_sibling(const char *path, dev_t dev, ino_t ino, struct stat *ret_st) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dl = (size_t)(slash - path);
    if (dl == 0)
        dl = 1;
    if (dl >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    const char *base = slash + 1;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int fd = -ENOENT;
    struct dirent *de;
    size_t seen = 0;
    while ((de = readdir(d)) && seen++ < SIBLINGS_MAX) {
        if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] == '\0')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_dev != dev || st.st_ino != ino)
            continue;
        int r = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (r >= 0 && fstat(r, ret_st) == 0 && ret_st->st_ino == ino && ret_st->st_dev == dev) {
            fd = r;
            break;
        }
        if (r >= 0)
            close(r);
    }
    closedir(d);
    return fd;
}

/* First sight of a file (at start or when it appears). */
static void open_file(sr_logtail *t, tfile *f, char *err, size_t errlen) {
    struct stat st;
    int fd = open_regular(f->path, &st);
    if (fd < 0) {
        if (fd == -ENOENT)
            report(f, 0, err, errlen, "", ""); /* watched for appearance */
        else
            report(f, fd, err, errlen, "open", fd == -ELOOP    ? "a symlink (not followed)"
                                               : fd == -EINVAL ? "not a regular file"
                                                               : strerror(-fd));
        return;
    }
    report(f, 0, err, errlen, "", "");
    const saved *s = saved_for(t, f->path);
    if (s && s->dev == st.st_dev && s->ino == st.st_ino) {
        set_fd(f, fd, &st, s->offset <= (uint64_t)st.st_size ? s->offset : 0);
        commit(f, s->dev, s->ino, s->offset);
        return;
    }
    if (s) {
        struct stat ost;
        int old = find_sibling(f->path, s->dev, s->ino, &ost);
        if (old >= 0 && s->offset <= (uint64_t)ost.st_size) {
            close(fd);
            set_fd(f, old, &ost, s->offset);
            commit(f, s->dev, s->ino, s->offset);
            f->draining = true;
            f->rotation_seen = true;
            return;
        }
        if (old >= 0)
            close(old);
        set_fd(f, fd, &st, 0); /* rotated while stopped and the old file is gone */
        commit(f, st.st_dev, st.st_ino, 0);
        t->state_dirty = true;
        return;
    }
    if (t->first_round && !t->from_start && st.st_size > 0) {
        set_fd(f, fd, &st, (uint64_t)st.st_size);
        /* start at the end; if the last line is unfinished, its rest is not a line of ours */
        char c = '\n';
        if (pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n')
            f->skip_to_newline = true;
    } else {
        set_fd(f, fd, &st, 0);
    }
    /* nothing of this file was emitted: where reading starts is committed at once, so a restart
     * before the first batch neither skips nor repeats */
    commit(f, f->dev, f->ino, f->line_start);
    t->state_dirty = true;
}

static bool batch_full(const sr_logtail *t) {
    return t->batch.n >= t->max_records || t->batch.len + 3 * SR_LOGPARSE_RAW_MAX > t->max_bytes;
}

static int take_line(sr_logtail *t, size_t fi, int64_t now_unix_ms, int64_t now_mono_ms) {
    tfile *f = &t->files[fi];
    uint64_t orig = f->llen + f->lskipped;
    bool cut = f->lskipped > 0;
    sr_logparse_line(f->parser, f->line, f->llen, now_unix_ms, t->rec);
    int r = batch_add(&t->batch, (uint32_t)fi, f->source, t->rec, f->line_start, orig, cut, now_unix_ms);
    if (r < 0)
        return r;
    if (t->batch.n == 1)
        t->batch_started_ms = now_mono_ms;
    t->stats.lines++;
    if (cut)
        t->stats.cut_lines++;
    return 0;
}

/* Consumes buf[0..n) read at offset f->pos. Stops early (returning the bytes used) when the
 * batch fills up. */
static size_t consume(sr_logtail *t, size_t fi, const char *buf, size_t n, int64_t now_unix_ms, int64_t now_mono_ms) {
    tfile *f = &t->files[fi];
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - buf) : n;
        if (f->skip_to_newline) {
            if (!nl)
                return n;
            f->skip_to_newline = false;
            f->line_start = f->pos + end + 1;
            i = end + 1;
            continue;
        }
        size_t k = end - i;
        size_t room = SR_LOGPARSE_RAW_MAX - f->llen;
        size_t keep = k < room ? k : room;
        memcpy(f->line + f->llen, buf + i, keep);
        f->llen += keep;
        f->lskipped += k - keep;
        if (!nl)
            return n;
        if (take_line(t, fi, now_unix_ms, now_mono_ms) < 0) {
            /* out of memory: leave the line for the next poll */
            f->llen -= keep;
            f->lskipped -= k - keep;
            return i;
        }
        f->llen = 0;
        f->lskipped = 0;
        f->line_start = f->pos + end + 1;
        i = end + 1;
        if (batch_full(t))
            return i;
    }
    return n;
}

typedef enum { READ_EOF, READ_FULL, READ_ERROR } read_result;

/* Reads file fi until EOF or a full batch. */
static read_result read_file(sr_logtail *t, size_t fi, int64_t now_unix_ms, int64_t now_mono_ms, char *err,
                      size_t errlen) {
    tfile *f = &t->files[fi];
    while (!batch_full(t)) {
        ssize_t n = pread(f->fd, t->buf, READ_CHUNK, (off_t)f->pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            report(f, -errno, err, errlen, "read", strerror(errno));
            return READ_ERROR;
        }
        if (n == 0) {
            report(f, 0, err, errlen, "", "");
            return READ_EOF;
        }
        size_t used = consume(t, fi, t->buf, (size_t)n, now_unix_ms, now_mono_ms);
        f->pos += used;
        t->stats.bytes += used;
        if (used < (size_t)n)
            return batch_full(t) ? READ_FULL : READ_ERROR; /* out of memory: try again later */
    }
    return READ_FULL;
}

static void journal_report(sr_logtail *t, int code, char *err, size_t errlen, const char *what) {
    if (t->jlast_err == code)
        return;
    t->jlast_err = code;
    if (code != 0 && errlen && err[0] == '\0')
        snprintf(err, errlen, "could not %s the journal: %s", what, strerror(-code));
}

/* Reads journal entries until there are no more or the batch is full. */
static read_result read_journal(sr_logtail *t, int64_t now_unix_ms, int64_t now_mono_ms, char *err, size_t errlen) {
    sr_logjournal_refresh(t->journal);
    while (!batch_full(t)) {
        sr_logjournal_entry e;
        int r = sr_logjournal_next(t->journal, &e);
        if (r == 0) {
            journal_report(t, 0, err, errlen, "");
            return READ_EOF;
        }
        if (r < 0) {
            journal_report(t, r, err, errlen, "read");
            return READ_ERROR;
        }
        char *cur = NULL;
        r = sr_logjournal_cursor(t->journal, &cur);
        if (r < 0) {
            sr_logjournal_unread(t->journal);
            journal_report(t, r, err, errlen, "get a cursor of");
            return READ_ERROR;
        }
        sr_logparse_message(t->jparser, &e.h, e.message, e.message_len, now_unix_ms, t->rec);
        r = batch_add(&t->batch, JOURNAL_FILE, sr_logjournal_source(t->rec->program, t->rec->facility), t->rec, 0,
                      e.message_len, false, now_unix_ms);
        if (r < 0) {
            free(cur); /* out of memory: the entry is read again at the next poll */
            sr_logjournal_unread(t->journal);
            return READ_ERROR;
        }
        free(t->jpending);
        t->jpending = cur;
        if (t->batch.n == 1)
            t->batch_started_ms = now_mono_ms;
        t->stats.lines++;
        t->stats.journal_entries++;
        t->stats.bytes += e.message_len;
    }
    return READ_FULL;
}

/* At EOF: rotation, truncation, or nothing. */
static void check_path(sr_logtail *t, size_t fi, int64_t now_unix_ms, int64_t now_mono_ms, char *err,
                       size_t errlen) {
    tfile *f = &t->files[fi];
    struct stat st;
    if (lstat(f->path, &st) < 0 || !S_ISREG(st.st_mode))
        return; /* deleted or renamed away: keep the open file until a new one appears */
    if (st.st_dev == f->dev && st.st_ino == f->ino) {
        struct stat cur;
        if (fstat(f->fd, &cur) == 0 && (uint64_t)cur.st_size < f->pos) {
            /* copytruncate: the file was emptied under us */
            f->pos = f->line_start = 0;
            f->llen = f->lskipped = 0;
            f->skip_to_newline = false;
            t->stats.truncations++;
            t->state_dirty = true;
        }
        return;
    }
    if (!f->rotation_seen) {
        f->rotation_seen = true; /* one more poll for lines written late to the old file */
        return;
    }
    /* the old file is finished: an unterminated last line is still a line */
    if ((f->llen > 0 || f->lskipped > 0) && !f->skip_to_newline) {
        if (take_line(t, fi, now_unix_ms, now_mono_ms) < 0)
            return;
    }
    int fd = open_regular(f->path, &st);
    if (fd < 0) {
        report(f, fd, err, errlen, "open", strerror(-fd));
        return;
    }
    set_fd(f, fd, &st, 0);
    f->draining = false;
    t->stats.rotations++;
    t->state_dirty = true;
}

/* Emits the batch; on success the offsets (all lines before each line_start are in it) are
 * written at once. */
static int flush(sr_logtail *t) {
    if (t->batch.n == 0)
        return 0;
    int r = t->emit(&t->batch, t->userdata);
    if (r < 0) {
        t->blocked = true;
        t->stats.emit_failures++;
        return r;
    }
    t->blocked = false;
    t->stats.batches++;
    batch_clear(&t->batch);
    for (size_t i = 0; i < t->n_files; i++)
        if (t->files[i].fd >= 0)
            commit(&t->files[i], t->files[i].dev, t->files[i].ino, t->files[i].line_start);
    if (t->jpending) {
        free(t->jcursor);
        t->jcursor = t->jpending;
        t->jpending = NULL;
    }
    t->state_dirty = true;
    t->state_err = state_write(t);
    return 0;
}

int sr_logtail_flush(sr_logtail *t) {
    int r = flush(t);
    if (r == 0 && t->state_dirty)
        r = t->state_err = state_write(t);
    return r < 0 ? r : t->state_err;
}

int64_t sr_logtail_poll(sr_logtail *t, int64_t now_mono_ms, int64_t now_unix_ms, char *err, size_t errlen) {
    if (errlen)
        err[0] = '\0';
    if (t->jnote) {
        if (errlen)
            snprintf(err, errlen, "journal not read: %s", t->jnote);
        free(t->jnote);
        t->jnote = NULL;
    }
    if (t->blocked && flush(t) < 0)
        return POLL_MS; /* still no room: read nothing, move no offset */
    for (int round = 0; round < BATCHES_PER_POLL; round++) {
        bool more = false;
        for (size_t i = 0; i < t->n_files; i++) {
            tfile *f = &t->files[i];
            if (f->fd < 0)
                open_file(t, f, err, errlen);
            if (f->fd < 0)
                continue;
            if (batch_full(t)) {
                more = true;
                break;
            }
            read_result rr = read_file(t, i, now_unix_ms, now_mono_ms, err, errlen);
            if (rr == READ_EOF) {
                ino_t before = f->ino;
                check_path(t, i, now_unix_ms, now_mono_ms, err, errlen);
                if (f->ino != before)
                    more = true; /* switched to the new file: read it in this poll */
            } else if (rr == READ_FULL) {
                more = true;
            }
        }
        if (t->journal) {
            if (batch_full(t))
                more = true;
            else if (read_journal(t, now_unix_ms, now_mono_ms, err, errlen) == READ_FULL)
                more = true;
        }
        t->first_round = false;
        if (batch_full(t)) {
            if (flush(t) < 0)
                return POLL_MS;
        }
        if (!more)
            break;
    }
    int64_t wait = POLL_MS;
    if (t->batch.n > 0) {
        int64_t due = t->batch_started_ms + t->flush_ms - now_mono_ms;
        if (due <= 0) {
            if (flush(t) < 0)
                return POLL_MS;
        } else if (due < wait) {
            wait = due;
        }
    }
    if (t->state_dirty)
        t->state_err = state_write(t);
    if (t->state_err != t->state_err_reported) {
        t->state_err_reported = t->state_err;
        if (t->state_err < 0 && errlen && !err[0])
            snprintf(err, errlen, "could not write the log offsets %s: %s", t->state_path, strerror(-t->state_err));
    }
    return wait;
}
