/* sr_logtail_journal: the systemd journal through sd-journal. See sr_logtail_journal.h. */
#include "sr_logtail_journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sr_parse.h"

static const char *const auth_programs[] = {"sshd",    "sshd-session", "sshd-auth", "sudo",    "su",
                                            "login",   "systemd-logind", "passwd",  "chpasswd", "useradd",
                                            "userdel", "usermod",      "groupadd",  "groupdel", "unix_chkpwd"};

const char *sr_logjournal_source(const char *program, int facility) {
    if (facility == 4 || facility == 10)
        return "auth";
    if (program) {
        const char *slash = strrchr(program, '/');
        const char *base = slash ? slash + 1 : program;
        for (size_t i = 0; i < sizeof(auth_programs) / sizeof(auth_programs[0]); i++)
            if (strcmp(base, auth_programs[i]) == 0)
                return "auth";
    }
    return "journald";
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool sr_logjournal_present(const char *dir) {
    if (dir && dir[0])
        return is_dir(dir);
    return is_dir("/var/log/journal") || is_dir("/run/log/journal");
}

#ifdef SR_HAVE_JOURNALD
#include <systemd/sd-journal.h>

#define FIELD_MAX (SR_LOGPARSE_WORD_MAX - 1)

struct sr_logjournal {
    sd_journal *j;
    bool have_entry; /* positioned on an entry that was returned */
    bool hold;       /* the next call returns the current entry again */
    char host[SR_LOGPARSE_WORD_MAX], prog[SR_LOGPARSE_WORD_MAX];
};

bool sr_logjournal_supported(void) { return true; }

int sr_logjournal_open(const char *dir, sr_logjournal **ret, char *err, size_t errlen) {
    sr_logjournal *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    int r = dir && dir[0] ? sd_journal_open_directory(&j->j, dir, 0) : sd_journal_open(&j->j, SD_JOURNAL_LOCAL_ONLY);
    if (r < 0) {
        snprintf(err, errlen, "could not open the journal%s%s: %s", dir && dir[0] ? " in " : "", dir && dir[0] ? dir : "",
                 strerror(-r));
        free(j);
        return r;
    }
    /* MESSAGE is kept up to SR_LOGPARSE_RAW_MAX bytes; one byte more tells a longer one */
    (void)sd_journal_set_data_threshold(j->j, SR_LOGPARSE_RAW_MAX + 16);
    /* inotify watches, so that sd_journal_process sees files that are added or rotated */
    r = sd_journal_get_fd(j->j);
    if (r < 0) {
        snprintf(err, errlen, "could not watch the journal: %s", strerror(-r));
        sd_journal_close(j->j);
        free(j);
        return r;
    }
    *ret = j;
    return 0;
}

sr_logjournal *sr_logjournal_free(sr_logjournal *j) {
    if (!j)
        return NULL;
    sd_journal_close(j->j);
    free(j);
    return NULL;
}

int sr_logjournal_seek(sr_logjournal *j, const char *cursor, bool from_start, char *err, size_t errlen) {
    int r;
    j->have_entry = j->hold = false;
    if (cursor && cursor[0]) {
        r = sd_journal_seek_cursor(j->j, cursor);
        if (r < 0) {
            snprintf(err, errlen, "could not seek the journal to the remembered cursor: %s", strerror(-r));
            return r;
        }
        r = sd_journal_next(j->j);
        if (r < 0) {
            snprintf(err, errlen, "could not read the journal: %s", strerror(-r));
            return r;
        }
        if (r > 0) {
            j->have_entry = true;
            if (sd_journal_test_cursor(j->j, cursor) <= 0)
                j->hold = true; /* the remembered entry is gone: this one was not read yet */
        }
        return 0;
    }
    if (from_start) {
        r = sd_journal_seek_head(j->j);
    } else {
        r = sd_journal_seek_tail(j->j);
        if (r >= 0) {
            r = sd_journal_previous(j->j); /* on the last entry: reading starts after it */
            if (r > 0)
                j->have_entry = true;
            else if (r == 0)
                r = sd_journal_seek_head(j->j); /* empty: everything that comes is new */
        }
    }
    if (r < 0) {
        snprintf(err, errlen, "could not seek the journal: %s", strerror(-r));
        return r;
    }
    return 0;
}

/* The value of field name (without "NAME="), or NULL; *len its bytes as returned. */
static const char *field(sd_journal *sj, const char *name, size_t *len) {
    const void *d;
    size_t n;
    if (sd_journal_get_data(sj, name, &d, &n) < 0)
        return NULL;
    size_t k = strlen(name) + 1;
    if (n < k)
        return NULL;
    *len = n - k;
    return (const char *)d + k;
}

/* Copies a short field NUL-terminated into buf (cut at FIELD_MAX bytes; the parser sanitizes). */
static const char *field_str(sd_journal *sj, const char *name, char *buf) {
    size_t n;
    const char *v = field(sj, name, &n);
    if (!v || n == 0)
        return NULL;
    if (n > FIELD_MAX)
        n = FIELD_MAX;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static int field_int(sd_journal *sj, const char *name, int64_t lo, int64_t hi, int64_t *ret) {
    char buf[32];
    size_t n;
    const char *v = field(sj, name, &n);
    if (!v || n == 0 || n >= sizeof(buf))
        return -ENOENT;
    memcpy(buf, v, n);
    buf[n] = '\0';
    int64_t x;
    if (sr_parse_i64(buf, lo, hi, &x) < 0)
        return -EINVAL;
    *ret = x;
    return 0;
}

int sr_logjournal_next(sr_logjournal *j, sr_logjournal_entry *ret) {
    if (j->hold) {
        j->hold = false;
    } else {
        int r = sd_journal_next(j->j);
        if (r <= 0)
            return r;
        j->have_entry = true;
    }
    sd_journal *sj = j->j;
    sr_logjournal_entry e = {.h = {.severity = -1, .facility = -1}};
    uint64_t us;
    if (sd_journal_get_realtime_usec(sj, &us) == 0 && us / 1000 <= (uint64_t)INT64_MAX) {
        e.h.time_unix_ms = (int64_t)(us / 1000);
        e.h.has_time = true;
    }
    e.h.hostname = field_str(sj, "_HOSTNAME", j->host);
    e.h.program = field_str(sj, "SYSLOG_IDENTIFIER", j->prog);
    if (!e.h.program)
        e.h.program = field_str(sj, "_COMM", j->prog);
    int64_t v;
    if (field_int(sj, "_PID", 1, UINT32_MAX / 2, &v) == 0 || field_int(sj, "SYSLOG_PID", 1, UINT32_MAX / 2, &v) == 0)
        e.h.pid = (uint32_t)v;
    if (field_int(sj, "PRIORITY", 0, 7, &v) == 0)
        e.h.severity = (int)v;
    if (field_int(sj, "SYSLOG_FACILITY", 0, 23, &v) == 0)
        e.h.facility = (int)v;
    size_t n = 0;
    const char *m = field(sj, "MESSAGE", &n);
    e.message = m ? m : "";
    e.message_len = m ? n : 0;
    *ret = e;
    return 1;
}

void sr_logjournal_unread(sr_logjournal *j) {
    if (j->have_entry)
        j->hold = true;
}

int sr_logjournal_cursor(sr_logjournal *j, char **ret) {
    if (!j->have_entry)
        return -EADDRNOTAVAIL;
    int r = sd_journal_get_cursor(j->j, ret);
    if (r < 0)
        return r;
    if (strlen(*ret) > SR_LOGJOURNAL_CURSOR_MAX) {
        free(*ret);
        *ret = NULL;
        return -ENAMETOOLONG;
    }
    return 0;
}

void sr_logjournal_refresh(sr_logjournal *j) { (void)sd_journal_process(j->j); }

#else /* built without libsystemd */

struct sr_logjournal {
    int unused;
};

bool sr_logjournal_supported(void) { return false; }

int sr_logjournal_open(const char *dir, sr_logjournal **ret, char *err, size_t errlen) {
    (void)dir;
    (void)ret;
    snprintf(err, errlen, "this agent was built without journald support (SR_JOURNALD=OFF)");
    return -EOPNOTSUPP;
}

sr_logjournal *sr_logjournal_free(sr_logjournal *j) {
    free(j);
    return NULL;
}

int sr_logjournal_seek(sr_logjournal *j, const char *cursor, bool from_start, char *err, size_t errlen) {
    (void)j;
    (void)cursor;
    (void)from_start;
    snprintf(err, errlen, "built without journald support");
    return -EOPNOTSUPP;
}

int sr_logjournal_next(sr_logjournal *j, sr_logjournal_entry *ret) {
    (void)j;
    (void)ret;
    return -EOPNOTSUPP;
}

void sr_logjournal_unread(sr_logjournal *j) { (void)j; }

int sr_logjournal_cursor(sr_logjournal *j, char **ret) {
    (void)j;
    (void)ret;
    return -EOPNOTSUPP;
}

void sr_logjournal_refresh(sr_logjournal *j) { (void)j; }

#endif
