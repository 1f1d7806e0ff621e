/* PAM, sudo, su and account-management messages. */
#include "sr_logparse_internal.h"

#include <string.h>

#define SL(s) sr_logparse_sl_make((s), strlen(s))

typedef sr_logparse_sl sl;

static void set(sr_logparse_record *rec, const char *action, const char *outcome) {
    rec->action = action;
    rec->outcome = outcome;
}

static bool word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The value of "key=" in a PAM key=value list: up to the next space. */
static bool kv_token(sl s, const char *key, sl *ret) {
    size_t k = strlen(key);
    for (size_t at = 0;;) {
        long i = sr_logparse_sl_find(s, at, key);
        if (i < 0)
            return false;
        at = (size_t)i + 1;
        if (i > 0 && s.p[i - 1] != ' ' && s.p[i - 1] != ';')
            continue;
        size_t b = (size_t)i + k, e = b;
        while (e < s.n && s.p[e] != ' ')
            e++;
        *ret = sr_logparse_sl_sub(s, b, e);
        return true;
    }
}

/* "logname=L uid=U euid=E tty=T ruser=R rhost=H[  user=X]" (pam_unix's fixed order). ruser and
 * user may be chosen by the remote side and hold anything, so rhost is the first " rhost="
 * whose value ends the text or is followed by " user=". */
static void pam_kv(sr_logparse_record *rec, sl kv) {
    sl v;
    if (kv_token(kv, "logname=", &v) && v.n > 0)
        sr_logparse_rec_field(rec, "pam.logname", v);
    if (kv_token(kv, "uid=", &v) && v.n > 0)
        sr_logparse_rec_field(rec, "pam.uid", v);
    if (kv_token(kv, "euid=", &v) && v.n > 0)
        sr_logparse_rec_field(rec, "pam.euid", v);
    if (kv_token(kv, "tty=", &v) && v.n > 0)
        sr_logparse_rec_field(rec, "tty", v);
    long ru = sr_logparse_sl_find(kv, 0, "ruser=");
    if (ru < 0)
        return;
    size_t from = (size_t)ru + 6;
    long chosen = -1;
    sl host = {kv.p, 0}, user = {kv.p, 0};
    bool has_user = false;
    long last = -1;
    for (size_t at = from;;) {
        long k = sr_logparse_sl_find(kv, at, "rhost=");
        if (k < 0)
            break;
        at = (size_t)k + 1;
        if (kv.p[k - 1] != ' ')
            continue;
        last = k;
        size_t b = (size_t)k + 6, e = b;
        while (e < kv.n && kv.p[e] != ' ')
            e++;
        size_t j = e;
        while (j < kv.n && kv.p[j] == ' ')
            j++;
        if (j == kv.n) {
            chosen = k;
            host = sr_logparse_sl_sub(kv, b, e);
            break;
        }
        if (j > e && sr_logparse_sl_starts(sr_logparse_sl_after(kv, j), "user=")) {
            chosen = k;
            host = sr_logparse_sl_sub(kv, b, e);
            user = sr_logparse_sl_trim(sr_logparse_sl_after(kv, j + 5));
            has_user = true;
            break;
        }
    }
    if (chosen < 0) {
        if (last < 0)
            return;
        chosen = last;
        size_t b = (size_t)last + 6, e = b;
        while (e < kv.n && kv.p[e] != ' ')
            e++;
        host = sr_logparse_sl_sub(kv, b, e);
    }
    sl ruser = sr_logparse_sl_sub(kv, from, (size_t)chosen - 1);
    if (ruser.n > 0)
        sr_logparse_rec_field(rec, "pam.ruser", ruser);
    if (has_user && user.n > 0)
        sr_logparse_rec_user(rec, user);
    else if (ruser.n > 0)
        sr_logparse_rec_user(rec, ruser);
    if (host.n > 0)
        (void)sr_logparse_rec_src(rec, host);
}

/* "X for user NAME[(uid=N)]" -> NAME */
static sl strip_uid(sl s) {
    long p = sr_logparse_sl_find(s, 0, "(uid=");
    if (p >= 0 && sr_logparse_sl_ends(s, ")"))
        s = sr_logparse_sl_sub(s, 0, (size_t)p);
    return sr_logparse_sl_trim(s);
}

bool sr_logparse_pam(sr_logparse_record *rec, sr_logparse_sl body, sr_logparse_sl tag_module) {
    sl b = sr_logparse_sl_trim(body);
    sl module = tag_module, service = {b.p, 0}, type = {b.p, 0};
    if (sr_logparse_sl_starts(b, "pam_")) {
        size_t i = 4;
        while (i < b.n && word_char(b.p[i]))
            i++;
        sl name = sr_logparse_sl_sub(b, 0, i);
        sl r = sr_logparse_sl_after(b, i);
        if (sr_logparse_sl_starts(r, "(")) {
            long close = sr_logparse_sl_find(r, 0, "): ");
            if (close < 0)
                return false;
            sl inner = sr_logparse_sl_sub(r, 1, (size_t)close);
            long colon = sr_logparse_sl_find(inner, 0, ":");
            if (colon >= 0) {
                service = sr_logparse_sl_sub(inner, 0, (size_t)colon);
                type = sr_logparse_sl_after(inner, (size_t)colon + 1);
            } else {
                type = inner;
            }
            b = sr_logparse_sl_after(r, (size_t)close + 3);
        } else if (sr_logparse_sl_starts(r, ": ")) {
            b = sr_logparse_sl_after(r, 2);
        } else {
            return false;
        }
        module = name;
    } else if (sr_logparse_sl_starts(b, "(pam_")) {
        long close = sr_logparse_sl_find(b, 0, ") ");
        if (close < 0)
            return false;
        module = sr_logparse_sl_sub(b, 1, (size_t)close);
        b = sr_logparse_sl_after(b, (size_t)close + 2);
    } else if (tag_module.n == 0) {
        return false;
    }
    sr_logparse_rec_field(rec, "pam.module", module);
    if (service.n > 0)
        sr_logparse_rec_field(rec, "pam.service", service);
    if (type.n > 0)
        sr_logparse_rec_field(rec, "pam.type", type);

    if (sr_logparse_sl_starts(b, "authentication failure")) {
        long semi = sr_logparse_sl_find(b, 0, ";");
        if (semi >= 0)
            pam_kv(rec, sr_logparse_sl_after(b, (size_t)semi + 1));
        set(rec, "pam_auth", "failure");
        return true;
    }
    long more = sr_logparse_sl_find(b, 0, " more authentication failure");
    if (more > 0) {
        sl n = sr_logparse_sl_sub(b, 0, (size_t)more);
        uint32_t v;
        if (sr_logparse_sl_uint(n, 1000000, &v)) {
            sr_logparse_rec_field(rec, "pam.more_failures", n);
            long semi = sr_logparse_sl_find(b, 0, ";");
            if (semi >= 0)
                pam_kv(rec, sr_logparse_sl_after(b, (size_t)semi + 1));
            set(rec, "pam_auth", "failure");
            return true;
        }
    }
    if (sr_logparse_sl_starts(b, "check pass; user unknown")) {
        sr_logparse_rec_field_str(rec, "pam.user_unknown", "true");
        set(rec, "pam_auth", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "auth could not identify password for [")) {
        sl u = sr_logparse_sl_after(b, 38);
        if (sr_logparse_sl_ends(u, "]"))
            u.n--;
        sr_logparse_rec_user(rec, u);
        set(rec, "pam_auth", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "session opened for user ")) {
        sl r = sr_logparse_sl_after(b, 24);
        long by = sr_logparse_sl_rfind(r, " by ");
        sl u = by >= 0 ? sr_logparse_sl_sub(r, 0, (size_t)by) : r;
        sr_logparse_rec_user(rec, strip_uid(u));
        if (by >= 0) {
            sl who = strip_uid(sr_logparse_sl_after(r, (size_t)by + 4));
            if (who.n > 0)
                sr_logparse_rec_field(rec, "pam.by", who);
        }
        sr_logparse_rec_field_str(rec, "pam.session", "opened");
        set(rec, "pam_session", "success");
        return true;
    }
    if (sr_logparse_sl_starts(b, "session closed for user ")) {
        sr_logparse_rec_user(rec, strip_uid(sr_logparse_sl_after(b, 24)));
        sr_logparse_rec_field_str(rec, "pam.session", "closed");
        set(rec, "pam_session", "");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Failed to create session")) {
        set(rec, "pam_session", "failure");
        return true;
    }
    return true; /* a PAM message we do not interpret: module, service and type are kept */
}

/* sudo: "USER : [REASON ; ]TTY=t ; PWD=p ; USER=u ; [GROUP=g ; ][TSID=x ; ][ENV=e ; ]COMMAND=c" */
bool sr_logparse_sudo(sr_logparse_record *rec, sr_logparse_sl body) {
    sl b = sr_logparse_sl_trim(body);
    long c = sr_logparse_sl_find(b, 0, " : ");
    if (c <= 0)
        return false;
    sl user = sr_logparse_sl_trim(sr_logparse_sl_sub(b, 0, (size_t)c));
    if (user.n == 0 || memchr(user.p, ' ', user.n))
        return false;
    sl r = sr_logparse_sl_after(b, (size_t)c + 3);
    if (sr_logparse_sl_find(r, 0, "COMMAND=") < 0 && sr_logparse_sl_find(r, 0, "TTY=") < 0)
        return false;
    sr_logparse_rec_user(rec, user);
    bool failed = false;
    while (r.n > 0) {
        sl item;
        if (sr_logparse_sl_starts(r, "COMMAND=")) {
            item = r; /* the command is last and may hold " ; " */
            r = sr_logparse_sl_after(r, r.n);
        } else {
            long semi = sr_logparse_sl_find(r, 0, " ; ");
            item = semi >= 0 ? sr_logparse_sl_sub(r, 0, (size_t)semi) : r;
            r = semi >= 0 ? sr_logparse_sl_after(r, (size_t)semi + 3) : sr_logparse_sl_after(r, r.n);
        }
        item = sr_logparse_sl_trim(item);
        long eq = sr_logparse_sl_find(item, 0, "=");
        bool is_kv = eq > 0;
        for (long i = 0; is_kv && i < eq; i++)
            if (!(item.p[i] >= 'A' && item.p[i] <= 'Z'))
                is_kv = false;
        if (!is_kv) {
            /* "user NOT in sudoers", "3 incorrect password attempts", "command not allowed" ... */
            failed = true;
            sr_logparse_rec_field(rec, "sudo.reason", item);
            long sp = sr_logparse_sl_find(item, 0, " incorrect password attempt");
            uint32_t v;
            if (sp > 0 && sr_logparse_sl_uint(sr_logparse_sl_sub(item, 0, (size_t)sp), 1000000, &v))
                sr_logparse_rec_field(rec, "sudo.incorrect_attempts", sr_logparse_sl_sub(item, 0, (size_t)sp));
            continue;
        }
        sl key = sr_logparse_sl_sub(item, 0, (size_t)eq), val = sr_logparse_sl_after(item, (size_t)eq + 1);
        if (sr_logparse_sl_eq(key, "TTY"))
            sr_logparse_rec_field(rec, "tty", val);
        else if (sr_logparse_sl_eq(key, "PWD"))
            sr_logparse_rec_field(rec, "sudo.pwd", val);
        else if (sr_logparse_sl_eq(key, "USER"))
            sr_logparse_rec_field(rec, "sudo.target_user", val);
        else if (sr_logparse_sl_eq(key, "GROUP"))
            sr_logparse_rec_field(rec, "sudo.target_group", val);
        else if (sr_logparse_sl_eq(key, "COMMAND"))
            sr_logparse_rec_field(rec, "sudo.command", val);
    }
    set(rec, "sudo", failed ? "failure" : "success");
    return true;
}

/* One word (no spaces). */
static bool word(sl s) { return s.n > 0 && !memchr(s.p, ' ', s.n); }

static void su_fill(sr_logparse_record *rec, sl user, sl target, sl tty, const char *outcome) {
    sr_logparse_rec_user(rec, user);
    if (target.n > 0)
        sr_logparse_rec_field(rec, "su.target_user", target);
    if (tty.n > 0)
        sr_logparse_rec_field(rec, "tty", tty);
    set(rec, "su", outcome);
}

/* "U to T on TTY" */
static bool su_to_on(sl s, sl *u, sl *t, sl *tty) {
    long to = sr_logparse_sl_find(s, 0, " to ");
    long on = sr_logparse_sl_rfind(s, " on ");
    if (to <= 0 || on <= to)
        return false;
    *u = sr_logparse_sl_sub(s, 0, (size_t)to);
    *t = sr_logparse_sl_sub(s, (size_t)to + 4, (size_t)on);
    *tty = sr_logparse_sl_after(s, (size_t)on + 4);
    return word(*u) && word(*t) && word(*tty);
}

bool sr_logparse_su(sr_logparse_record *rec, sr_logparse_sl body) {
    sl b = sr_logparse_sl_trim(body), u, t, tty;
    bool failed = false;
    sl r = b;
    /* shadow: "FAILED su for T by U" / "Successful su for T by U" */
    if (sr_logparse_sl_starts(b, "FAILED su for ") || sr_logparse_sl_starts(b, "Successful su for ")) {
        failed = b.p[0] == 'F';
        r = sr_logparse_sl_after(b, failed ? 14 : 18);
        long by = sr_logparse_sl_rfind(r, " by ");
        if (by <= 0)
            return false;
        su_fill(rec, sr_logparse_sl_after(r, (size_t)by + 4), sr_logparse_sl_sub(r, 0, (size_t)by), SL(""),
                failed ? "failure" : "success");
        return true;
    }
    /* util-linux: "(to T) U on TTY" / "FAILED SU (to T) U on TTY" */
    if (sr_logparse_sl_starts(b, "FAILED SU (to ")) {
        failed = true;
        r = sr_logparse_sl_after(b, 10);
    }
    if (sr_logparse_sl_starts(r, "(to ")) {
        long close = sr_logparse_sl_find(r, 0, ") ");
        long on = sr_logparse_sl_rfind(r, " on ");
        if (close < 0 || on <= close)
            return false;
        su_fill(rec, sr_logparse_sl_sub(r, (size_t)close + 2, (size_t)on), sr_logparse_sl_sub(r, 4, (size_t)close),
                sr_logparse_sl_after(r, (size_t)on + 4), failed ? "failure" : "success");
        return true;
    }
    /* old shadow: "+ TTY U:T" / "- TTY U:T" */
    if ((sr_logparse_sl_starts(b, "+ ") || sr_logparse_sl_starts(b, "- ")) && b.n > 2) {
        sl rest = sr_logparse_sl_after(b, 2);
        long sp = sr_logparse_sl_find(rest, 0, " ");
        if (sp <= 0)
            return false;
        sl ut = sr_logparse_sl_after(rest, (size_t)sp + 1);
        long colon = sr_logparse_sl_find(ut, 0, ":");
        if (colon <= 0 || !word(ut))
            return false;
        su_fill(rec, sr_logparse_sl_sub(ut, 0, (size_t)colon), sr_logparse_sl_after(ut, (size_t)colon + 1),
                sr_logparse_sl_sub(rest, 0, (size_t)sp), b.p[0] == '+' ? "success" : "failure");
        return true;
    }
    /* "failed: TTY changing from U to T" */
    if (sr_logparse_sl_starts(b, "failed: ")) {
        sl rest = sr_logparse_sl_after(b, 8);
        long ch = sr_logparse_sl_find(rest, 0, " changing from ");
        long to = sr_logparse_sl_rfind(rest, " to ");
        if (ch <= 0 || to <= ch)
            return false;
        su_fill(rec, sr_logparse_sl_sub(rest, (size_t)ch + 15, (size_t)to), sr_logparse_sl_after(rest, (size_t)to + 4),
                sr_logparse_sl_sub(rest, 0, (size_t)ch), "failure");
        return true;
    }
    /* BSD: "BAD SU U to T on TTY" / "U to T on TTY" */
    if (sr_logparse_sl_starts(b, "BAD SU ")) {
        if (!su_to_on(sr_logparse_sl_after(b, 7), &u, &t, &tty))
            return false;
        su_fill(rec, u, t, tty, "failure");
        return true;
    }
    if (su_to_on(b, &u, &t, &tty)) {
        su_fill(rec, u, t, tty, "success");
        return true;
    }
    return false;
}

/* "name=apache, UID=48, GID=48, home=/x, shell=/y" -> the value of key */
static bool comma_kv(sl s, const char *key, sl *ret) {
    size_t k = strlen(key);
    for (size_t at = 0;;) {
        long i = sr_logparse_sl_find(s, at, key);
        if (i < 0)
            return false;
        at = (size_t)i + 1;
        if (i > 0 && s.p[i - 1] != ' ')
            continue;
        size_t b = (size_t)i + k, e = b;
        while (e < s.n && s.p[e] != ',')
            e++;
        *ret = sr_logparse_sl_sub(s, b, e);
        return true;
    }
}

bool sr_logparse_accounts(sr_logparse_record *rec, sr_logparse_sl prog, sr_logparse_sl body) {
    sl b = sr_logparse_sl_trim(body), v;
    if (sr_logparse_sl_eq(prog, "useradd")) {
        if (sr_logparse_sl_starts(b, "new user: ")) {
            sl r = sr_logparse_sl_after(b, 10);
            if (!comma_kv(r, "name=", &v))
                return false;
            sr_logparse_rec_user(rec, v);
            if (comma_kv(r, "UID=", &v))
                sr_logparse_rec_field(rec, "account.uid", v);
            if (comma_kv(r, "GID=", &v))
                sr_logparse_rec_field(rec, "account.gid", v);
            if (comma_kv(r, "home=", &v))
                sr_logparse_rec_field(rec, "account.home", v);
            if (comma_kv(r, "shell=", &v))
                sr_logparse_rec_field(rec, "account.shell", v);
            set(rec, "user_add", "success");
            return true;
        }
        if (sr_logparse_sl_starts(b, "failed adding user '")) {
            sl r = sr_logparse_sl_after(b, 20);
            long q = sr_logparse_sl_find(r, 0, "'");
            if (q <= 0)
                return false;
            sr_logparse_rec_user(rec, sr_logparse_sl_sub(r, 0, (size_t)q));
            set(rec, "user_add", "failure");
            return true;
        }
        return false;
    }
    if (sr_logparse_sl_eq(prog, "groupadd") && sr_logparse_sl_starts(b, "new group: ")) {
        sl r = sr_logparse_sl_after(b, 11);
        if (!comma_kv(r, "name=", &v))
            return false;
        sr_logparse_rec_field(rec, "group.name", v);
        if (comma_kv(r, "GID=", &v))
            sr_logparse_rec_field(rec, "group.gid", v);
        set(rec, "group_add", "success");
        return true;
    }
    if (sr_logparse_sl_eq(prog, "userdel") && sr_logparse_sl_starts(b, "delete user '")) {
        sl r = sr_logparse_sl_after(b, 13);
        long q = sr_logparse_sl_find(r, 0, "'");
        if (q <= 0)
            return false;
        sr_logparse_rec_user(rec, sr_logparse_sl_sub(r, 0, (size_t)q));
        set(rec, "user_delete", "success");
        return true;
    }
    return false;
}
