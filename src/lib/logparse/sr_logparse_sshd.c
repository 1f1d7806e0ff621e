/* sshd messages (OpenSSH, also SunSSH and older releases) and the connection table.
 *
 * What counts as a failure: a verdict that a login attempt failed (wrong password, invalid or
 * refused user, too many attempts) and a connection that ended or broke before authentication
 * ("[preauth]", identification and key exchange failures, negotiation failures). Not failures:
 * a public key the server did not accept for a valid user (clients offer their keys one after
 * the other; the attempt fails only when the connection ends without success) and OpenSSH's
 * "Disconnecting ...: Too many authentication failures" that follows the "maximum authentication
 * attempts exceeded" line of the same event. */
#include "sr_logparse_internal.h"

#include <stdlib.h>
#include <string.h>

#define SL(s) sr_logparse_sl_make((s), strlen(s))

typedef sr_logparse_sl sl;

static void set(sr_logparse_record *rec, const char *action, const char *outcome) {
    rec->action = action;
    rec->outcome = outcome;
}

static bool digits_only(sl s) {
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
    return true;
}

static void set_src(sr_logparse_record *rec, sl host, sl port) {
    if (sr_logparse_rec_src(rec, host))
        rec->flags_ |= SR_LOGPARSE_F_SRC_SET;
    uint32_t v;
    if (port.n > 0 && sr_logparse_sl_uint(port, 65535, &v))
        rec->src_port = (uint16_t)v;
}

/* "HOST port N" or "HOST" filling the whole of s. */
static bool host_port(sl s, sl *ret_host, sl *ret_port) {
    s = sr_logparse_sl_trim(s);
    long k = sr_logparse_sl_rfind(s, " port ");
    sl host = s, port = {s.p, 0};
    if (k > 0 && digits_only(sr_logparse_sl_after(s, (size_t)k + 6))) {
        host = sr_logparse_sl_sub(s, 0, (size_t)k);
        port = sr_logparse_sl_after(s, (size_t)k + 6);
    }
    if (host.n == 0 || memchr(host.p, ' ', host.n) || !sr_logparse_host_ok(host))
        return false;
    *ret_host = host;
    *ret_port = port;
    return true;
}

/* "[authenticating user U |invalid user U |user U ]HOST[ port N]": the host is the last word (with
 * its port); the user is what lies between the prefix and it (it may hold spaces). */
static bool remote_id(sr_logparse_record *rec, sl s) {
    s = sr_logparse_sl_trim(s);
    sl host, port;
    sl u = {s.p, 0};
    bool has_user = false, invalid = false;
    static const struct {
        const char *prefix;
        bool invalid;
    } prefixes[] = {{"authenticating user ", false}, {"invalid user ", true}, {"user ", false}};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (sr_logparse_sl_starts(s, prefixes[i].prefix)) {
            s = sr_logparse_sl_after(s, strlen(prefixes[i].prefix));
            has_user = true;
            invalid = prefixes[i].invalid;
            break;
        }
    }
    long k = sr_logparse_sl_rfind(s, " port ");
    sl hp = s;
    if (k > 0 && digits_only(sr_logparse_sl_after(s, (size_t)k + 6))) {
        long sp = -1;
        for (long j = k - 1; j >= 0; j--)
            if (s.p[j] == ' ') {
                sp = j;
                break;
            }
        hp = sr_logparse_sl_after(s, (size_t)(sp + 1));
        u = sr_logparse_sl_sub(s, 0, sp > 0 ? (size_t)sp : 0);
    } else {
        long sp = sr_logparse_sl_rfind(s, " ");
        hp = sr_logparse_sl_after(s, (size_t)(sp + 1));
        u = sr_logparse_sl_sub(s, 0, sp > 0 ? (size_t)sp : 0);
    }
    if (!host_port(hp, &host, &port))
        return false;
    if (has_user) {
        sr_logparse_rec_user(rec, u);
        if (invalid)
            sr_logparse_rec_field_str(rec, "ssh.invalid_user", "true");
    } else if (u.n > 0) {
        return false;
    }
    set_src(rec, host, port);
    return true;
}

typedef struct {
    size_t user_end; /* where the text before " from " ends */
    sl host, port;
    sl rest; /* after the address: "" or the text after ": " */
} from_hit;

/* Finds " from HOST[ port N][ on ...][ sshN][ via X]" ending the text or followed by ": ". The
 * first such occurrence wins: text before it (a user name) may hold "from", text after ": " is
 * the server's own (key fingerprints, ...). */
static bool find_from(sl s, from_hit *ret) {
    for (size_t at = 1; at + 5 <= s.n; at++) {
        long k = sr_logparse_sl_find(s, at, "from ");
        if (k < 0)
            return false;
        at = (size_t)k;
        if (s.p[k - 1] != ' ')
            continue;
        size_t i = (size_t)k + 5;
        size_t e = i;
        while (e < s.n && s.p[e] != ' ')
            e++;
        sl host = sr_logparse_sl_sub(s, i, e);
        bool colon_after = false;
        if (sr_logparse_sl_ends(host, ":") && e == s.n) {
            host.n--;
        }
        if (!sr_logparse_host_ok(host))
            continue;
        sl port = {s.p, 0};
        sl rest = sr_logparse_sl_after(s, e);
        if (sr_logparse_sl_starts(rest, " port ")) {
            size_t j = 6;
            while (j < rest.n && rest.p[j] >= '0' && rest.p[j] <= '9')
                j++;
            if (j == 6)
                continue;
            port = sr_logparse_sl_sub(rest, 6, j);
            rest = sr_logparse_sl_after(rest, j);
        }
        if (sr_logparse_sl_starts(rest, " ssh")) {
            size_t j = 4;
            while (j < rest.n && rest.p[j] >= '0' && rest.p[j] <= '9')
                j++;
            if (j == rest.n || rest.p[j] == ' ' || rest.p[j] == ':')
                rest = sr_logparse_sl_after(rest, j);
        }
        if (sr_logparse_sl_starts(rest, " via ")) {
            sl v = sr_logparse_sl_after(rest, 5);
            if (!memchr(v.p, ' ', v.n))
                rest = sr_logparse_sl_after(rest, rest.n);
        }
        if (rest.n == 0 || sr_logparse_sl_trim(rest).n == 0) {
            rest = sr_logparse_sl_after(rest, rest.n);
        } else if (sr_logparse_sl_starts(rest, ": ")) {
            rest = sr_logparse_sl_after(rest, 2);
            colon_after = true;
        } else {
            continue;
        }
        (void)colon_after;
        *ret = (from_hit){(size_t)k - 1, host, port, rest};
        return true;
    }
    return false;
}

/* "[invalid user |illegal user ]USER from HOST..." */
static bool user_from(sr_logparse_record *rec, sl s, from_hit *ret) {
    bool invalid = false;
    if (sr_logparse_sl_starts(s, "invalid user ") || sr_logparse_sl_starts(s, "illegal user ")) {
        invalid = true;
        s = sr_logparse_sl_after(s, 13);
    }
    from_hit h;
    if (!find_from(s, &h))
        return false;
    sl user = sr_logparse_sl_sub(s, 0, h.user_end);
    if (sr_logparse_sl_eq(user, "<invalid username>")) {
        invalid = true;
        user.n = 0;
    }
    sr_logparse_rec_user(rec, user);
    if (invalid)
        sr_logparse_rec_field_str(rec, "ssh.invalid_user", "true");
    set_src(rec, h.host, h.port);
    *ret = h;
    return true;
}

/* "Accepted|Failed|Postponed METHOD for ..." */
static bool auth_verdict(sr_logparse_record *rec, sl b) {
    int kind;
    if (sr_logparse_sl_starts(b, "Accepted "))
        kind = 0;
    else if (sr_logparse_sl_starts(b, "Failed "))
        kind = 1;
    else if (sr_logparse_sl_starts(b, "Postponed "))
        kind = 2;
    else
        return false;
    sl r = sr_logparse_sl_after(b, kind == 0 ? 9 : kind == 1 ? 7 : 10);
    long f = sr_logparse_sl_find(r, 0, " for ");
    if (f <= 0)
        return false;
    sl method = sr_logparse_sl_sub(r, 0, (size_t)f);
    if (memchr(method.p, ' ', method.n))
        return false;
    from_hit h;
    if (!user_from(rec, sr_logparse_sl_after(r, (size_t)f + 5), &h))
        return false;
    long slash = sr_logparse_sl_find(method, 0, "/");
    if (slash > 0) {
        sr_logparse_rec_field(rec, "ssh.submethod", sr_logparse_sl_after(method, (size_t)slash + 1));
        method = sr_logparse_sl_sub(method, 0, (size_t)slash);
    }
    sr_logparse_rec_field(rec, "ssh.method", method);
    if (h.rest.n > 0)
        sr_logparse_rec_field(rec, "ssh.auth_info", h.rest);
    bool invalid = sr_logparse_field_get(rec, "ssh.invalid_user") != NULL;
    if (kind == 0) {
        set(rec, "ssh_login", "success");
    } else if (kind == 2) {
        set(rec, "ssh_login", "");
    } else if (sr_logparse_sl_eq(method, "publickey") && !invalid) {
        /* one of the client's keys was refused; the login may still succeed with the next */
        set(rec, "ssh_login", "");
        sr_logparse_rec_field_str(rec, "ssh.key_rejected", "true");
    } else {
        set(rec, "ssh_login", "failure");
    }
    return true;
}

static void reason(sr_logparse_record *rec, sl r) {
    r = sr_logparse_sl_trim(r);
    if (r.n > 0)
        sr_logparse_rec_field(rec, "ssh.reason", r);
}

/* "Received disconnect from HOST[ port N]:[ ]CODE: TEXT" */
static bool received_disconnect(sr_logparse_record *rec, sl r, bool preauth) {
    size_t e = 0;
    while (e < r.n && r.p[e] != ' ')
        e++;
    sl host = sr_logparse_sl_sub(r, 0, e), port = {r.p, 0};
    sl rest = sr_logparse_sl_after(r, e);
    if (sr_logparse_sl_ends(host, ":")) {
        host.n--;
    } else if (sr_logparse_sl_starts(rest, " port ")) {
        size_t j = 6;
        while (j < rest.n && rest.p[j] >= '0' && rest.p[j] <= '9')
            j++;
        if (j == 6 || j >= rest.n || rest.p[j] != ':')
            return false;
        port = sr_logparse_sl_sub(rest, 6, j);
        rest = sr_logparse_sl_after(rest, j + 1);
    } else {
        return false;
    }
    if (!sr_logparse_host_ok(host))
        return false;
    set_src(rec, host, port);
    rest = sr_logparse_sl_trim(rest);
    size_t j = 0;
    while (j < rest.n && rest.p[j] >= '0' && rest.p[j] <= '9')
        j++;
    sl code = sr_logparse_sl_sub(rest, 0, j);
    sl text = sr_logparse_sl_after(rest, j < rest.n && rest.p[j] == ':' ? j + 1 : j);
    if (code.n > 0)
        sr_logparse_rec_field(rec, "ssh.disconnect_code", code);
    reason(rec, text);
    bool fail = preauth || sr_logparse_sl_eq(code, "14") || sr_logparse_sl_find(text, 0, "Auth fail") >= 0 ||
                sr_logparse_sl_find(text, 0, "auth fail") >= 0;
    set(rec, "ssh_disconnect", fail ? "failure" : "");
    rec->flags_ |= SR_LOGPARSE_F_CONN_END;
    return true;
}

/* "Disconnecting: REASON" (OpenSSH < 7.x) or "Disconnecting ID: REASON". */
static bool disconnecting(sr_logparse_record *rec, sl b) {
    if (sr_logparse_sl_starts(b, "Disconnecting: ")) {
        sl r = sr_logparse_sl_after(b, 15);
        reason(rec, r);
        if (sr_logparse_sl_starts(r, "Too many authentication failures")) {
            sl u = sr_logparse_sl_after(r, 32);
            if (sr_logparse_sl_starts(u, " for ")) {
                u = sr_logparse_sl_after(u, 5);
                if (sr_logparse_sl_starts(u, "invalid user ")) {
                    u = sr_logparse_sl_after(u, 13);
                    sr_logparse_rec_field_str(rec, "ssh.invalid_user", "true");
                }
                sr_logparse_rec_user(rec, sr_logparse_sl_trim(u));
            }
            set(rec, "ssh_login", "failure");
        } else {
            set(rec, "ssh_disconnect", "");
        }
        return true;
    }
    if (!sr_logparse_sl_starts(b, "Disconnecting "))
        return false;
    sl r = sr_logparse_sl_after(b, 14);
    /* the remote id ends with " port N: " */
    for (size_t at = 0;;) {
        long k = sr_logparse_sl_find(r, at, " port ");
        if (k < 0)
            return false;
        size_t j = (size_t)k + 6, d = j;
        while (j < r.n && r.p[j] >= '0' && r.p[j] <= '9')
            j++;
        at = (size_t)k + 1;
        if (j == d || !sr_logparse_sl_starts(sr_logparse_sl_after(r, j), ": "))
            continue;
        if (!remote_id(rec, sr_logparse_sl_sub(r, 0, j)))
            continue;
        sl why = sr_logparse_sl_after(r, j + 2);
        reason(rec, why);
        if (sr_logparse_sl_starts(why, "Too many authentication failures"))
            set(rec, "ssh_login", ""); /* the "maximum authentication attempts exceeded" line reported it */
        else if (sr_logparse_sl_starts(why, "Change of username or service not allowed"))
            set(rec, "ssh_login", "failure");
        else
            set(rec, "ssh_disconnect", "");
        return true;
    }
}

/* "Connection from HOST[ port N[ on HOST port N[ rdomain X]]]" */
static bool connection_from(sr_logparse_record *rec, sl r) {
    long on = sr_logparse_sl_find(r, 0, " on ");
    sl who = on > 0 ? sr_logparse_sl_sub(r, 0, (size_t)on) : r;
    sl host, port;
    if (!host_port(who, &host, &port))
        return false;
    set_src(rec, host, port);
    set(rec, "ssh_connect", "");
    return true;
}

/* "...: Connection from ID: REASON" (banner exchange, ssh_dispatch_run_fatal) */
static bool connection_from_reason(sr_logparse_record *rec, sl r) {
    for (size_t at = 0;;) {
        long k = sr_logparse_sl_find(r, at, ": ");
        if (k < 0)
            return remote_id(rec, r);
        at = (size_t)k + 1;
        if (remote_id(rec, sr_logparse_sl_sub(r, 0, (size_t)k))) {
            reason(rec, sr_logparse_sl_after(r, (size_t)k + 2));
            return true;
        }
    }
}

bool sr_logparse_sshd(sr_logparse_record *rec, sr_logparse_sl body) {
    sl b = sr_logparse_sl_trim(body);
    bool preauth = false;
    if (sr_logparse_sl_ends(b, " [preauth]")) {
        preauth = true;
        b = sr_logparse_sl_trim(sr_logparse_sl_sub(b, 0, b.n - 10));
    }
    if (sr_logparse_sl_starts(b, "error: "))
        b = sr_logparse_sl_after(b, 7);
    else if (sr_logparse_sl_starts(b, "fatal: "))
        b = sr_logparse_sl_after(b, 7);
    if (preauth)
        sr_logparse_rec_field_str(rec, "ssh.preauth", "true");

    if (auth_verdict(rec, b))
        return true;
    from_hit h;
    if (sr_logparse_sl_starts(b, "Invalid user ") || sr_logparse_sl_starts(b, "Illegal user ")) {
        sl r = sr_logparse_sl_after(b, 13);
        if (!find_from(r, &h))
            return false;
        sr_logparse_rec_user(rec, sr_logparse_sl_sub(r, 0, h.user_end));
        sr_logparse_rec_field_str(rec, "ssh.invalid_user", "true");
        set_src(rec, h.host, h.port);
        set(rec, "ssh_login", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "input_userauth_request: invalid user ")) {
        sr_logparse_rec_user(rec, sr_logparse_sl_trim(sr_logparse_sl_after(b, 37)));
        sr_logparse_rec_field_str(rec, "ssh.invalid_user", "true");
        set(rec, "ssh_login", ""); /* the "Invalid user" line of the same attempt is the verdict */
        return true;
    }
    if (sr_logparse_sl_starts(b, "User ")) {
        long k = sr_logparse_sl_rfind(b, " not allowed because ");
        if (k < 5)
            return false;
        sl who = sr_logparse_sl_sub(b, 5, (size_t)k);
        reason(rec, sr_logparse_sl_after(b, (size_t)k + 21));
        if (find_from(who, &h) && h.rest.n == 0) {
            sr_logparse_rec_user(rec, sr_logparse_sl_sub(who, 0, h.user_end));
            set_src(rec, h.host, h.port);
        } else {
            sr_logparse_rec_user(rec, who);
        }
        set(rec, "ssh_login", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "ROOT LOGIN REFUSED FROM ")) {
        sl host, port;
        if (!host_port(sr_logparse_sl_after(b, 24), &host, &port))
            return false;
        set_src(rec, host, port);
        sr_logparse_rec_user(rec, SL("root"));
        set(rec, "ssh_login", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "refused connect from ")) {
        /* tcp_wrappers: "refused connect from NAME (ADDRESS)" */
        long lp = sr_logparse_sl_rfind(b, " (");
        if (lp < 0 || !sr_logparse_sl_ends(b, ")"))
            return false;
        sl host = sr_logparse_sl_sub(b, (size_t)lp + 2, b.n - 1);
        if (!sr_logparse_host_ok(host))
            return false;
        set_src(rec, host, SL(""));
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "PAM: ")) {
        /* "PAM: Authentication failure for [illegal user ]USER from HOST[ via ADDR]" */
        sl r = sr_logparse_sl_after(b, 5);
        long f = sr_logparse_sl_find(r, 0, " for ");
        if (f <= 0 || !user_from(rec, sr_logparse_sl_after(r, (size_t)f + 5), &h))
            return false;
        reason(rec, sr_logparse_sl_sub(r, 0, (size_t)f));
        set(rec, "ssh_login", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "maximum authentication attempts exceeded for ")) {
        if (!user_from(rec, sr_logparse_sl_after(b, 45), &h))
            return false;
        reason(rec, SL("maximum authentication attempts exceeded"));
        set(rec, "ssh_login", "failure");
        return true;
    }
    if (disconnecting(rec, b))
        return true;
    static const char *const ends[] = {"Connection closed by ", "Connection reset by ", "Disconnected from "};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        if (sr_logparse_sl_starts(b, ends[i])) {
            if (!remote_id(rec, sr_logparse_sl_after(b, strlen(ends[i]))))
                return false;
            set(rec, "ssh_disconnect", preauth ? "failure" : "");
            rec->flags_ |= SR_LOGPARSE_F_CONN_END;
            return true;
        }
    }
    if (sr_logparse_sl_starts(b, "Received disconnect from "))
        return received_disconnect(rec, sr_logparse_sl_after(b, 25), preauth);
    if (sr_logparse_sl_starts(b, "Connection from "))
        return connection_from(rec, sr_logparse_sl_after(b, 16));
    if (sr_logparse_sl_starts(b, "Did not receive identification string from ")) {
        sl host, port;
        if (!host_port(sr_logparse_sl_after(b, 43), &host, &port))
            return false;
        set_src(rec, host, port);
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Bad protocol version identification ")) {
        /* the client's identification string comes first and may hold "from": the address is
         * the last "from" that ends the line */
        sl r = sr_logparse_sl_after(b, 36);
        long k = sr_logparse_sl_rfind(r, " from ");
        sl host, port;
        if (k < 0 || !host_port(sr_logparse_sl_after(r, (size_t)k + 6), &host, &port))
            return false;
        set_src(rec, host, port);
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "kex_exchange_identification: ")) {
        reason(rec, sr_logparse_sl_after(b, 29));
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "banner exchange: Connection from ") ||
        sr_logparse_sl_starts(b, "ssh_dispatch_run_fatal: Connection from ")) {
        long k = sr_logparse_sl_find(b, 0, "Connection from ");
        if (!connection_from_reason(rec, sr_logparse_sl_after(b, (size_t)k + 16)))
            return false;
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Timeout before authentication for ")) {
        sl r = sr_logparse_sl_after(b, 34);
        sl host, port;
        if (sr_logparse_sl_starts(r, "connection from ")) {
            r = sr_logparse_sl_after(r, 16);
            long to = sr_logparse_sl_find(r, 0, " ");
            host = to > 0 ? sr_logparse_sl_sub(r, 0, (size_t)to) : r;
            port = SL("");
            if (!sr_logparse_host_ok(host))
                return false;
        } else if (!host_port(r, &host, &port)) {
            return false;
        }
        set_src(rec, host, port);
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Unable to negotiate with ")) {
        sl r = sr_logparse_sl_after(b, 25);
        long c = sr_logparse_sl_find(r, 0, ": ");
        sl host, port;
        if (c <= 0 || !host_port(sr_logparse_sl_sub(r, 0, (size_t)c), &host, &port))
            return false;
        set_src(rec, host, port);
        reason(rec, sr_logparse_sl_after(r, (size_t)c + 2));
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Unable to negotiate ") ||
        (sr_logparse_sl_starts(b, "no matching ") && sr_logparse_sl_find(b, 0, " found") > 0)) {
        reason(rec, b);
        set(rec, "ssh_connect", "failure");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Read from socket failed: ")) {
        reason(rec, sr_logparse_sl_after(b, 25));
        set(rec, "ssh_disconnect", preauth ? "failure" : "");
        rec->flags_ |= SR_LOGPARSE_F_CONN_END;
        return true;
    }
    if (sr_logparse_sl_starts(b, "Read error from remote host ")) {
        sl r = sr_logparse_sl_after(b, 28);
        long c = sr_logparse_sl_rfind(r, ": ");
        sl host, port;
        if (c <= 0 || !host_port(sr_logparse_sl_sub(r, 0, (size_t)c), &host, &port))
            return false;
        set_src(rec, host, port);
        reason(rec, sr_logparse_sl_after(r, (size_t)c + 2));
        set(rec, "ssh_disconnect", preauth ? "failure" : "");
        rec->flags_ |= SR_LOGPARSE_F_CONN_END;
        return true;
    }
    if (sr_logparse_sl_starts(b, "SSH: Server;")) {
        /* a connection record of some patched sshd builds: "...;Remote: ADDR-PORT;..." */
        long k = sr_logparse_sl_find(b, 0, ";Remote: ");
        if (k < 0)
            return false;
        sl r = sr_logparse_sl_after(b, (size_t)k + 9);
        long semi = sr_logparse_sl_find(r, 0, ";");
        if (semi >= 0)
            r = sr_logparse_sl_sub(r, 0, (size_t)semi);
        long dash = sr_logparse_sl_rfind(r, "-");
        if (dash <= 0)
            return false;
        sl host = sr_logparse_sl_sub(r, 0, (size_t)dash);
        if (!sr_logparse_host_ok(host))
            return false;
        set_src(rec, host, sr_logparse_sl_after(r, (size_t)dash + 1));
        set(rec, "ssh_connect", "");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Address ")) {
        long k = sr_logparse_sl_find(b, 8, " maps to ");
        if (k < 0 || sr_logparse_sl_find(b, 0, "POSSIBLE BREAK-IN ATTEMPT") < 0)
            return false;
        sl host = sr_logparse_sl_sub(b, 8, (size_t)k);
        if (!sr_logparse_host_ok(host))
            return false;
        set_src(rec, host, SL(""));
        sr_logparse_rec_field_str(rec, "ssh.reverse_mapping_mismatch", "true");
        set(rec, "ssh_connect", "");
        return true;
    }
    if (sr_logparse_sl_starts(b, "Corrupted MAC on input") || sr_logparse_sl_starts(b, "Bad packet length ")) {
        reason(rec, b);
        set(rec, "ssh_connect", preauth ? "failure" : "");
        return true;
    }
    return false;
}

/* ---- connection table ---- */

#define STALE_MS (10 * 60 * 1000) /* far above sshd's LoginGraceTime (120 s) */
#define CONN_SRC_MAX 128

typedef struct {
    uint64_t host_hash;
    uint32_t pid;
    bool used, pending;
    uint16_t port;
    char src[CONN_SRC_MAX];
    int64_t seen_ms;
    uint64_t tick;
} conn;

struct sr_logparse_conns {
    conn *v;
    size_t cap;
    uint64_t tick;
};

sr_logparse_conns *sr_logparse_conns_new(size_t cap) {
    sr_logparse_conns *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->v = calloc(cap, sizeof(*c->v));
    if (!c->v) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    return c;
}

sr_logparse_conns *sr_logparse_conns_free(sr_logparse_conns *c) {
    if (c)
        free(c->v);
    free(c);
    return NULL;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

static conn *lookup(sr_logparse_conns *c, uint64_t hh, uint32_t pid, int64_t now_ms, bool create) {
    conn *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < c->cap; i++) {
        conn *e = &c->v[i];
        if (!e->used) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (e->host_hash == hh && e->pid == pid) {
            if (llabs(now_ms - e->seen_ms) > STALE_MS) {
                *e = (conn){0}; /* a new process with a reused pid */
                if (!create)
                    return NULL;
                free_slot = e;
                break;
            }
            return e;
        }
        if (!oldest || e->tick < oldest->tick)
            oldest = e;
    }
    if (!create)
        return NULL;
    conn *e = free_slot ? free_slot : oldest;
    if (!e)
        return NULL;
    *e = (conn){.host_hash = hh, .pid = pid, .used = true};
    return e;
}

void sr_logparse_conns_apply(sr_logparse_conns *c, sr_logparse_record *rec) {
    if (rec->pid == 0)
        return;
    uint64_t hh = fnv1a(rec->hostname);
    int64_t now = rec->time_unix_ms;
    const char *src_host = sr_logparse_field_get(rec, "src_host");
    const char *src = rec->src_ip[0] ? rec->src_ip : src_host ? src_host : "";
    bool failure = strcmp(rec->outcome, "failure") == 0;
    conn *e;
    if (src[0]) {
        e = lookup(c, hh, rec->pid, now, true);
        if (!e)
            return;
        if (e->pending && rec->outcome[0] == '\0' &&
            (strcmp(rec->action, "ssh_connect") == 0 || strcmp(rec->action, "ssh_disconnect") == 0)) {
            /* the connection failed earlier on a line that named no address */
            rec->outcome = "failure";
            sr_logparse_rec_field_str(rec, "ssh.earlier_failure", "true");
        }
        if (failure || strcmp(rec->outcome, "failure") == 0)
            e->pending = false;
        size_t n = strlen(src);
        if (n < sizeof(e->src)) {
            memcpy(e->src, src, n + 1);
            e->port = rec->src_port;
        }
    } else {
        e = lookup(c, hh, rec->pid, now, failure);
        if (!e)
            return;
        if (e->src[0]) {
            (void)sr_logparse_rec_src(rec, sr_logparse_sl_make(e->src, strlen(e->src)));
            if (!rec->src_port)
                rec->src_port = e->port;
            sr_logparse_rec_field_str(rec, "ssh.src_inferred", "true");
        } else if (failure) {
            e->pending = true;
        }
    }
    e->seen_ms = now;
    e->tick = ++c->tick;
    if (rec->flags_ & SR_LOGPARSE_F_CONN_END)
        *e = (conn){0};
}
