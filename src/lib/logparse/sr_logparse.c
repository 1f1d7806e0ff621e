/* sr_logparse: sanitising, the syslog header (RFC 3164, RFC 5424, ISO-8601) and dispatch to
 * the semantic handlers. */
#include "sr_logparse_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONNECTIONS 512
#define MAX_CONNECTIONS 65536

struct sr_logparse {
    sr_logparse_tz tz;
    sr_logparse_conns *conns;
};

int sr_logparse_new(const sr_logparse_options *opts, sr_logparse **ret) {
    sr_logparse_options o = opts ? *opts : (sr_logparse_options){0};
    if (o.max_connections == 0)
        o.max_connections = DEFAULT_CONNECTIONS;
    if (o.max_connections > MAX_CONNECTIONS || (o.tz.kind == SR_LOGPARSE_TZ_OFFSET && (o.tz.offset_s > 14 * 3600 ||
                                                                                       o.tz.offset_s < -14 * 3600)))
        return -EINVAL;
    sr_logparse *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->tz = o.tz;
    p->conns = sr_logparse_conns_new(o.max_connections);
    if (!p->conns) {
        free(p);
        return -ENOMEM;
    }
    *ret = p;
    return 0;
}

sr_logparse *sr_logparse_free(sr_logparse *p) {
    if (!p)
        return NULL;
    sr_logparse_conns_free(p->conns);
    free(p);
    return NULL;
}

/* Copies s into out as valid UTF-8: each byte of an invalid or truncated sequence and each NUL
 * becomes U+FFFD; stops before max bytes would be exceeded. Returns the bytes written; *ret_cut
 * tells whether input was left over. */
static size_t sanitize(const unsigned char *s, size_t n, char *out, size_t max, bool *ret_cut) {
    static const char repl[] = "\xef\xbf\xbd";
    size_t o = 0, i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = 0; /* continuation bytes */
        uint32_t cp = 0;
        bool ok = true;
        if (c == 0) {
            ok = false;
        } else if (c < 0x80) {
            k = 0;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            ok = false;
        }
        if (ok && k > 0) {
            if (n - i <= k) {
                ok = false;
            } else {
                for (size_t j = 1; j <= k && ok; j++) {
                    if ((s[i + j] & 0xc0) != 0x80)
                        ok = false;
                    else
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if (ok && ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
                           (cp >= 0xd800 && cp <= 0xdfff)))
                    ok = false;
            }
        }
        size_t need = ok ? k + 1 : 3;
        if (o + need > max) {
            *ret_cut = true;
            return o;
        }
        if (ok)
            memcpy(out + o, s + i, k + 1);
        else
            memcpy(out + o, repl, 3);
        o += need;
        i += ok ? k + 1 : 1;
    }
    *ret_cut = false;
    return o;
}

static size_t skip_spaces(sr_logparse_sl s, size_t i) {
    while (i < s.n && s.p[i] == ' ')
        i++;
    return i;
}

static size_t token_end(sr_logparse_sl s, size_t i) {
    while (i < s.n && s.p[i] != ' ')
        i++;
    return i;
}

typedef struct {
    sr_logparse_sl program;
    sr_logparse_sl pam_module; /* "pam_unix" of "su(pam_unix)[123]:" */
    uint32_t pid;
    bool has_pid;
} tag;

/* Parses a syslog tag token: "prog[pid]:", "prog:", "prog(pam_x)[pid]:", "[prog]:", "[prog]" or
 * "prog[pid]". */
static bool parse_tag(sr_logparse_sl t, tag *ret) {
    tag g = {0};
    bool colon = sr_logparse_sl_ends(t, ":");
    if (colon)
        t.n--;
    if (t.n == 0)
        return false;
    if (t.p[0] == '[') {
        if (t.n < 3 || t.p[t.n - 1] != ']')
            return false;
        g.program = sr_logparse_sl_sub(t, 1, t.n - 1);
    } else if (t.p[t.n - 1] == ']') {
        long lb = sr_logparse_sl_rfind(t, "[");
        if (lb <= 0)
            return false;
        if (!sr_logparse_sl_uint(sr_logparse_sl_sub(t, (size_t)lb + 1, t.n - 1), UINT32_MAX / 2, &g.pid))
            return false;
        g.has_pid = true;
        g.program = sr_logparse_sl_sub(t, 0, (size_t)lb);
    } else if (colon) {
        g.program = t;
    } else {
        return false;
    }
    if (g.program.n == 0)
        return false;
    for (size_t i = 0; i < g.program.n; i++) {
        char c = g.program.p[i];
        if (c == '[' || c == ']' || c == ':' || c == '=' || c == '"' || c == '\'' || (unsigned char)c < 0x20)
            return false;
    }
    long lp = sr_logparse_sl_find(g.program, 0, "(");
    if (lp > 0 && sr_logparse_sl_ends(g.program, ")")) {
        g.pam_module = sr_logparse_sl_sub(g.program, (size_t)lp + 1, g.program.n - 1);
        g.program = sr_logparse_sl_sub(g.program, 0, (size_t)lp);
    }
    *ret = g;
    return true;
}

static void set_pri(sr_logparse_record *rec, unsigned pri) {
    rec->facility = (int)(pri / 8);
    rec->severity = (int)(pri % 8);
}

/* "<PRI>" at the start; returns bytes consumed. */
static size_t parse_pri(sr_logparse_sl s, sr_logparse_record *rec) {
    if (s.n < 3 || s.p[0] != '<')
        return 0;
    size_t i = 1;
    unsigned v = 0;
    while (i < s.n && i <= 4 && s.p[i] >= '0' && s.p[i] <= '9')
        v = v * 10 + (unsigned)(s.p[i++] - '0');
    if (i == 1 || i > 4 || i >= s.n || s.p[i] != '>' || v > 191)
        return 0;
    set_pri(rec, v);
    return i + 1;
}

static int facility_code(sr_logparse_sl s) {
    static const char *const names[] = {"kern",   "user",   "mail",   "daemon", "auth",   "syslog",
                                        "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
                                        "ntp",    "audit",  "alert",  "clock",  "local0", "local1",
                                        "local2", "local3", "local4", "local5", "local6", "local7"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (sr_logparse_sl_eq(s, names[i]))
            return (int)i;
    return -1;
}

static int severity_code(sr_logparse_sl s) {
    static const char *const names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (sr_logparse_sl_eq(s, names[i]))
            return (int)i;
    if (sr_logparse_sl_eq(s, "error"))
        return 3;
    if (sr_logparse_sl_eq(s, "warn"))
        return 4;
    return -1;
}

/* Solaris "[ID 800047 auth.info] " before the message: facility and severity. Returns the
 * bytes to skip. */
static size_t solaris_id(sr_logparse_sl m, sr_logparse_record *rec) {
    if (!sr_logparse_sl_starts(m, "[ID "))
        return 0;
    long rb = sr_logparse_sl_find(m, 4, "] ");
    if (rb < 0)
        return 0;
    sr_logparse_sl inner = sr_logparse_sl_sub(m, 4, (size_t)rb);
    long sp = sr_logparse_sl_find(inner, 0, " ");
    if (sp < 0)
        return 0;
    sr_logparse_sl fs = sr_logparse_sl_after(inner, (size_t)sp + 1);
    long dot = sr_logparse_sl_find(fs, 0, ".");
    if (dot > 0) {
        int f = facility_code(sr_logparse_sl_sub(fs, 0, (size_t)dot));
        int v = severity_code(sr_logparse_sl_after(fs, (size_t)dot + 1));
        if (f >= 0 && v >= 0 && rec->facility < 0) {
            rec->facility = f;
            rec->severity = v;
        }
    }
    return (size_t)rb + 2;
}

/* RFC 5424 after "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]. */
static bool parse_5424(const sr_logparse *p, sr_logparse_sl s, size_t i, sr_logparse_record *rec, tag *g,
                       size_t *ret_msg) {
    sr_logparse_sl f[5];
    for (int k = 0; k < 5; k++) {
        size_t e = token_end(s, i);
        if (e == i)
            return false;
        f[k] = sr_logparse_sl_sub(s, i, e);
        if (e >= s.n)
            i = e;
        else
            i = e + 1;
    }
    if (!sr_logparse_sl_eq(f[0], "-")) {
        int64_t t;
        if (sr_logparse_time_iso(f[0], &p->tz, &t) != f[0].n)
            return false;
        rec->time_unix_ms = t;
        rec->has_time = true;
    }
    if (!sr_logparse_sl_eq(f[1], "-"))
        rec->hostname = sr_logparse_rec_copy(rec, f[1], SR_LOGPARSE_WORD_MAX);
    if (!sr_logparse_sl_eq(f[2], "-"))
        g->program = f[2];
    if (!sr_logparse_sl_eq(f[3], "-") && sr_logparse_sl_uint(f[3], UINT32_MAX / 2, &g->pid))
        g->has_pid = true;
    if (!sr_logparse_sl_eq(f[4], "-"))
        sr_logparse_rec_field(rec, "syslog.msgid", f[4]);
    /* structured data: "-" or one or more [id k="v"...] with \] \" \\ escaped inside values */
    if (i < s.n && s.p[i] == '-') {
        i++;
    } else if (i < s.n && s.p[i] == '[') {
        size_t sd = i;
        while (i < s.n && s.p[i] == '[') {
            bool quoted = false;
            i++;
            while (i < s.n) {
                char c = s.p[i];
                if (quoted && c == '\\' && i + 1 < s.n) {
                    i += 2;
                    continue;
                }
                if (c == '"')
                    quoted = !quoted;
                else if (c == ']' && !quoted)
                    break;
                i++;
            }
            if (i >= s.n)
                return false;
            i++;
        }
        sr_logparse_rec_field(rec, "syslog.sd", sr_logparse_sl_sub(s, sd, i));
    } else {
        return false;
    }
    if (i < s.n && s.p[i] == ' ')
        i++;
    if (sr_logparse_sl_starts(sr_logparse_sl_after(s, i), "\xef\xbb\xbf"))
        i += 3;
    *ret_msg = i;
    return true;
}

static sr_logparse_sl basename_of(sr_logparse_sl prog) {
    long sl = sr_logparse_sl_rfind(prog, "/");
    return sl >= 0 ? sr_logparse_sl_after(prog, (size_t)sl + 1) : prog;
}

static bool is_sshd(sr_logparse_sl b) {
    return sr_logparse_sl_eq(b, "sshd") || sr_logparse_sl_eq(b, "sshd-session") || sr_logparse_sl_eq(b, "sshd-auth");
}

static void semantics(sr_logparse *p, sr_logparse_record *rec, sr_logparse_sl prog, sr_logparse_sl pam_module,
                      sr_logparse_sl body) {
    sr_logparse_sl b = basename_of(prog);
    if (sr_logparse_pam(rec, body, pam_module))
        return;
    if (is_sshd(b)) {
        if (sr_logparse_sshd(rec, body) && sr_logparse_sl_starts(sr_logparse_sl_make(rec->action, strlen(rec->action)),
                                                                 "ssh_"))
            sr_logparse_conns_apply(p->conns, rec);
        return;
    }
    if (sr_logparse_sl_eq(b, "sudo")) {
        (void)sr_logparse_sudo(rec, body);
        return;
    }
    if (sr_logparse_sl_eq(b, "su")) {
        (void)sr_logparse_su(rec, body);
        return;
    }
    (void)sr_logparse_accounts(rec, b, body);
}

static void rec_reset(sr_logparse_record *rec, int64_t read_unix_ms, size_t len) {
    rec->store_used_ = 0;
    rec->flags_ = 0;
    rec->n_fields = 0;
    rec->time_unix_ms = read_unix_ms;
    rec->has_time = false;
    rec->hostname = rec->program = rec->message = rec->user = rec->src_ip = rec->outcome = rec->action = "";
    rec->pid = 0;
    rec->src_port = 0;
    rec->severity = rec->facility = -1;
    rec->orig_len = len;
}

void sr_logparse_line(sr_logparse *p, const char *line, size_t len, int64_t read_unix_ms, sr_logparse_record *rec) {
    rec_reset(rec, read_unix_ms, len);
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;

    bool cut = false;
    char *raw = rec->store_;
    size_t n = sanitize((const unsigned char *)line, len, raw, SR_LOGPARSE_RAW_MAX, &cut);
    raw[n] = '\0';
    rec->store_used_ = n + 1;
    rec->raw = raw;
    rec->raw_len = n;
    if (cut)
        sr_logparse_rec_field_str(rec, "log.truncated", "true");

    sr_logparse_sl s = sr_logparse_sl_make(raw, n);
    size_t i = parse_pri(s, rec);
    tag g = {0};
    size_t msg = i;
    bool header = false;
    if (i > 0 && sr_logparse_sl_starts(sr_logparse_sl_after(s, i), "1 ")) {
        size_t m5424;
        if (parse_5424(p, s, i + 2, rec, &g, &m5424)) {
            msg = m5424;
            header = true;
        }
    }
    if (!header) {
        sr_logparse_sl rest = sr_logparse_sl_after(s, i);
        int64_t t;
        size_t used = sr_logparse_time_iso(rest, &p->tz, &t);
        if (!used)
            used = sr_logparse_time_year_first(rest, &p->tz, &t);
        if (!used)
            used = sr_logparse_time_rfc3164(rest, &p->tz, read_unix_ms, &t);
        if (used) {
            rec->time_unix_ms = t;
            rec->has_time = true;
            header = true;
            size_t a = skip_spaces(s, i + used);
            size_t ae = token_end(s, a);
            tag tg;
            if (ae > a && parse_tag(sr_logparse_sl_sub(s, a, ae), &tg)) {
                g = tg; /* no host name: the tag follows the time */
                msg = ae;
            } else if (ae > a) {
                rec->hostname = sr_logparse_rec_copy(rec, sr_logparse_sl_sub(s, a, ae), SR_LOGPARSE_WORD_MAX);
                size_t b = skip_spaces(s, ae);
                size_t be = token_end(s, b);
                if (be > b && parse_tag(sr_logparse_sl_sub(s, b, be), &tg)) {
                    g = tg;
                    msg = be;
                } else {
                    msg = b;
                }
            } else {
                msg = a;
            }
            if (g.program.n > 0 && msg < n && s.p[msg] == ' ')
                msg++;
        }
    }
    if (g.program.n > 0)
        rec->program = sr_logparse_rec_copy(rec, g.program, SR_LOGPARSE_WORD_MAX);
    if (g.has_pid)
        rec->pid = g.pid;
    if (g.pam_module.n > 0)
        sr_logparse_rec_field(rec, "pam.module", g.pam_module);
    if (msg > n)
        msg = n;
    rec->message = raw + msg; /* a suffix of raw: NUL-terminated */
    if (!header || g.program.n == 0)
        return;
    sr_logparse_sl m = sr_logparse_sl_after(s, msg);
    sr_logparse_sl body = sr_logparse_sl_after(m, solaris_id(m, rec));
    semantics(p, rec, g.program, g.pam_module, body);
}

/* Sanitizes s (at most max - 1 bytes kept) into the record's store. */
static const char *store_text(sr_logparse_record *rec, const char *s, size_t n, size_t max, bool *ret_cut) {
    bool cut = false;
    if (!s || sizeof(rec->store_) - rec->store_used_ < max) {
        if (ret_cut)
            *ret_cut = false;
        return "";
    }
    char *out = rec->store_ + rec->store_used_;
    size_t k = sanitize((const unsigned char *)s, n, out, max - 1, &cut);
    out[k] = '\0';
    rec->store_used_ += k + 1;
    if (ret_cut)
        *ret_cut = cut;
    return out;
}

void sr_logparse_message(sr_logparse *p, const sr_logparse_header *h, const char *msg, size_t len,
                         int64_t read_unix_ms, sr_logparse_record *rec) {
    rec_reset(rec, read_unix_ms, len);
    if (h->has_time) {
        rec->time_unix_ms = h->time_unix_ms;
        rec->has_time = true;
    }
    rec->pid = h->pid <= UINT32_MAX / 2 ? h->pid : 0;
    rec->severity = h->severity >= 0 && h->severity <= 7 ? h->severity : -1;
    rec->facility = h->facility >= 0 && h->facility <= 23 ? h->facility : -1;
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    bool cut = false;
    const char *m = store_text(rec, msg, len, SR_LOGPARSE_RAW_MAX + 1, &cut);
    size_t mlen = strlen(m);
    rec->hostname = h->hostname ? store_text(rec, h->hostname, strlen(h->hostname), SR_LOGPARSE_WORD_MAX, NULL) : "";
    sr_logparse_sl prog = {0}, pam_module = {0};
    if (h->program) {
        const char *pr = store_text(rec, h->program, strlen(h->program), SR_LOGPARSE_WORD_MAX, NULL);
        prog = sr_logparse_sl_make(pr, strlen(pr));
        long lp = sr_logparse_sl_find(prog, 0, "(");
        if (lp > 0 && sr_logparse_sl_ends(prog, ")")) { /* "su(pam_unix)" */
            pam_module = sr_logparse_sl_sub(prog, (size_t)lp + 1, prog.n - 1);
            prog = sr_logparse_sl_sub(prog, 0, (size_t)lp);
        }
        rec->program = sr_logparse_rec_copy(rec, prog, SR_LOGPARSE_WORD_MAX);
        prog = sr_logparse_sl_make(rec->program, strlen(rec->program));
    }
    if (pam_module.n > 0)
        sr_logparse_rec_field(rec, "pam.module", pam_module);

    /* raw: "2024-01-01T00:00:00.123+00:00 host program[pid]: message", at most RAW_MAX bytes */
    char *raw = rec->store_ + rec->store_used_;
    size_t room = sizeof(rec->store_) - rec->store_used_;
    if (room > SR_LOGPARSE_RAW_MAX + 1)
        room = SR_LOGPARSE_RAW_MAX + 1;
    time_t secs = (time_t)(rec->time_unix_ms >= 0 ? rec->time_unix_ms / 1000 : (rec->time_unix_ms - 999) / 1000);
    int ms = (int)(rec->time_unix_ms - (int64_t)secs * 1000);
    struct tm tm;
    int k;
    if (gmtime_r(&secs, &tm))
        k = snprintf(raw, room, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+00:00 ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    else
        k = snprintf(raw, room, "- ");
    size_t n = k > 0 ? (size_t)k : 0;
    if (n < room && rec->hostname[0])
        n += (size_t)snprintf(raw + n, room - n, "%s ", rec->hostname);
    if (n < room && rec->program[0])
        n += (size_t)snprintf(raw + n, room - n, rec->pid ? "%s[%u]: " : "%s: ", rec->program, (unsigned)rec->pid);
    if (n >= room)
        n = room - 1; /* only a message can make raw long; the header alone fits */
    size_t take = mlen < room - 1 - n ? mlen : room - 1 - n;
    while (take < mlen && take > 0 && ((unsigned char)m[take] & 0xc0) == 0x80)
        take--; /* cut on a character boundary */
    memcpy(raw + n, m, take);
    n += take;
    raw[n] = '\0';
    rec->store_used_ += n + 1;
    rec->raw = raw;
    rec->raw_len = n;
    rec->message = m;
    if (cut || take < mlen)
        sr_logparse_rec_field_str(rec, "log.truncated", "true");
    if (prog.n == 0)
        return;
    sr_logparse_sl ms_ = sr_logparse_sl_make(m, mlen);
    sr_logparse_sl body = sr_logparse_sl_after(ms_, solaris_id(ms_, rec));
    semantics(p, rec, prog, pam_module, body);
}
