/* sr_logparse against real lines with ground truth, read at run time from SR_LOGS_DATA. The data is
 * third-party and lives beside the repository, not in it: when the directory is absent, the
 * "ground-truth" run exits 77 (ctest: skipped) with a message saying so; a missing file in a
 * present directory fails the test.
 *  - fail2ban's sshd.log and pam-generic.log: every "# failJSON:" label applies to the next line;
 *  - Wazuh's ruleset tests (sshd, pam, su, sudo, syslog .ini): decoder and rule per line;
 *  - elastic-beats' auth_test.log: the fields its system/auth module extracts.
 * Then unit cases for the header formats, time zones, year inference, sanitising and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sr_file.h"
#include "sr_logparse.h"

/* fail2ban's test suite fixes the clock at 1124013600 (2005-08-14 12:00 in Europe/Zurich) and reads
 * zone-less times as Zurich wall-clock time. We parse zone-less times as UTC, so the label's wall
 * clock is compared as UTC, and the reference for the year is that wall clock read as UTC. */
#define F2B_REF_MS (INT64_C(1124013600000) + INT64_C(7200000))
/* Labels of lines with an explicit zone are Zurich summer time (UTC+2) in both cases present. */
#define F2B_ZURICH_SUMMER_MS INT64_C(7200000)

static char *read_data(const char *rel) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", SR_LOGS_DATA, rel);
    char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, 1 << 22, &buf, &len);
    if (r < 0)
        fail_msg("could not read ground-truth file %s: %s (set SR_SHARED_LOGS_DIR at configure time)", path,
                 strerror(-r));
    return buf;
}

static sr_logparse *parser(void) {
    sr_logparse *p = NULL;
    assert_int_equal(sr_logparse_new(NULL, &p), 0);
    return p;
}

static const char *field(const sr_logparse_record *r, const char *k) {
    const char *v = sr_logparse_field_get(r, k);
    return v ? v : "";
}

/* label host vs parsed source: an address compares in canonical form, a name as written */
static bool attributed_to(const sr_logparse_record *r, const char *host) {
    unsigned char a[16];
    char canon[INET6_ADDRSTRLEN] = "";
    if (inet_pton(AF_INET, host, a) == 1)
        inet_ntop(AF_INET, a, canon, sizeof(canon));
    else if (inet_pton(AF_INET6, host, a) == 1)
        inet_ntop(AF_INET6, a, canon, sizeof(canon));
    if (canon[0])
        return strcmp(r->src_ip, canon) == 0;
    return strcmp(field(r, "src_host"), host) == 0;
}

static bool attributed(const sr_logparse_record *r) { return r->src_ip[0] || field(r, "src_host")[0]; }

/* "2005-06-21T16:47:48" as UTC ms */
static int64_t label_time(const char *s) {
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        fail_msg("bad label time %s", s);
    return (int64_t)timegm(&tm) * 1000;
}

typedef struct {
    const char *line;  /* exact text of the labelled line */
    bool label_match;  /* what the label says */
    const char *why;
} exception;

/* Labels that judge by fail2ban's heuristics or a mode other than its most inclusive one; each
 * is checked against what the parser reports instead. */
static const exception f2b_exceptions[] = {
    {"Mar  7 18:53:23 bar sshd[1558]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
     "ruser=sudoer rhost=192.0.2.114",
     true,
     "fail2ban counts a PAM failure as an sshd failure once one connection tries a second user name; it is "
     "reported as a PAM failure (pam_auth), not as sshd's verdict"},
    {"Mar  7 18:53:24 bar sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2", true,
     "fail2ban marks a successful login after failures for other user names; it is a success"},
    {"Mar  7 18:53:34 bar sshd[1559]: Accepted password for known from 192.0.2.116 port 52100 ssh2", true,
     "as above: a successful login after failures for another user name"},
    {"Mar 19 16:47:50 srv sshd[5672]: Disconnected from authenticating user admin 192.0.2.6 port 33553 [preauth]",
     false,
     "label of fail2ban's normal mode (its block is not tested in aggressive mode); extra/aggressive mode counts "
     "the same message (the Nov 26 16:47:51 line), as we do"},
    {"Nov 25 17:12:13 webmail pop(pam_unix)[4920]: authentication failure; logname= uid=0 euid=0 tty= ruser= "
     "rhost=192.168.10.3 user=mailuser",
     false,
     "fail2ban dropped the pre-0.99.2.0 Linux-PAM format (\"nolonger supported\"); Wazuh's pam decoder counts the "
     "same format as a failed login (rule 5503), as we do"},
};

static const exception *find_exception(const char *line) {
    for (size_t i = 0; i < sizeof(f2b_exceptions) / sizeof(f2b_exceptions[0]); i++)
        if (strcmp(f2b_exceptions[i].line, line) == 0)
            return &f2b_exceptions[i];
    return NULL;
}

typedef enum { SUBJECT_SSHD, SUBJECT_PAM } subject;

static bool is_failed_login(const sr_logparse_record *r, subject s) {
    if (strcmp(r->outcome, "failure") != 0)
        return false;
    return s == SUBJECT_SSHD ? strncmp(r->action, "ssh_", 4) == 0 : strcmp(r->action, "pam_auth") == 0;
}

typedef struct {
    size_t labels, agree, exceptions, times;
} f2b_stats;

static void run_fail2ban(const char *rel, subject subj, f2b_stats *st) {
    char *buf = read_data(rel);
    sr_logparse *p = parser();
    sr_logparse_record *rec = malloc(sizeof(*rec));
    assert_non_null(rec);
    json_t *label = NULL;
    size_t lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (strncmp(line, "# failJSON:", 11) == 0) {
            json_error_t je;
            json_decref(label);
            label = json_loads(line + 11, 0, &je);
            if (!label)
                fail_msg("%s:%zu: bad label: %s", rel, lineno, je.text);
            continue;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        sr_logparse_line(p, line, strlen(line), F2B_REF_MS, rec);
        if (!label)
            continue;
        json_t *lb = label;
        label = NULL;
        const char *constraint = json_string_value(json_object_get(lb, "constraint"));
        if (constraint && strstr(constraint, "!= 'aggressive'")) {
            json_decref(lb); /* a label for the modes other than the most inclusive one */
            continue;
        }
        bool match = json_is_true(json_object_get(lb, "match"));
        const char *host = json_string_value(json_object_get(lb, "host"));
        const char *user = json_string_value(json_object_get(lb, "user"));
        const char *tlabel = json_string_value(json_object_get(lb, "time"));
        st->labels++;
        bool fail = is_failed_login(rec, subj);
        bool ok;
        if (match)
            ok = fail && (!host || attributed_to(rec, host)) && (!user || strcmp(rec->user, user) == 0);
        else
            ok = !(fail && attributed(rec));
        const exception *ex = find_exception(line);
        if (ex) {
            if (ex->label_match != match)
                fail_msg("%s:%zu: exception table disagrees with the label", rel, lineno);
            if (ok)
                fail_msg("%s:%zu: listed as an exception but agrees with its label: drop it from the table", rel,
                         lineno);
            st->exceptions++;
        } else if (!ok) {
            fail_msg("%s:%zu: label match=%d host=%s user=%s, parsed action=%s outcome=%s src_ip=%s src_host=%s "
                     "user=%s\n  %s",
                     rel, lineno, match, host ? host : "-", user ? user : "-", rec->action, rec->outcome,
                     rec->src_ip, field(rec, "src_host"), rec->user, line);
        } else {
            st->agree++;
        }
        if (tlabel) {
            assert_true(rec->has_time);
            int64_t want = label_time(tlabel);
            bool zoned = strchr(line, 'T') && (strstr(line, "+00:00") || strstr(line, "-04:00"));
            int64_t got = rec->time_unix_ms / 1000 * 1000 + (zoned ? F2B_ZURICH_SUMMER_MS : 0);
            if (got != want)
                fail_msg("%s:%zu: time %s, parsed %lld ms", rel, lineno, tlabel, (long long)rec->time_unix_ms);
            st->times++;
        }
        json_decref(lb);
    }
    json_decref(label);
    free(rec);
    sr_logparse_free(p);
    free(buf);
}

static void test_fail2ban_sshd(void **state) {
    (void)state;
    f2b_stats st = {0};
    run_fail2ban("fail2ban/sshd.log", SUBJECT_SSHD, &st);
    printf("fail2ban sshd.log: %zu of %zu labels agree, %zu documented exceptions; %zu label times equal\n",
           st.agree, st.labels, st.exceptions, st.times);
    assert_int_equal(st.agree + st.exceptions, st.labels);
    assert_true(st.labels >= 150);
}

static void test_fail2ban_pam(void **state) {
    (void)state;
    f2b_stats st = {0};
    run_fail2ban("fail2ban/pam-generic.log", SUBJECT_PAM, &st);
    printf("fail2ban pam-generic.log: %zu of %zu labels agree, %zu documented exceptions; %zu label times equal\n",
           st.agree, st.labels, st.exceptions, st.times);
    assert_int_equal(st.agree + st.exceptions, st.labels);
    assert_true(st.labels >= 9);
}

/* ---- Wazuh ruleset tests ---- */

typedef struct {
    const char *rule;
    const char *action, *outcome, *user, *src_ip;
    const char *k1, *v1, *k2, *v2;
} wazuh_expect;

/* What each rule means for the lines that trigger it ("pass"). NULL: not checked. */
static const wazuh_expect wazuh_rules[] = {
    {"5503", "pam_auth", "failure", "osaudit", "", "pam.ruser", "dcid", NULL, NULL},
    {"5504", "pam_auth", "failure", "", "", "pam.user_unknown", "true", "pam.module", "pam_unix"},
    {"5501", "pam_session", "success", "news", NULL, "pam.session", "opened", NULL, NULL},
    {"5502", "pam_session", "", "news", NULL, "pam.session", "closed", NULL, NULL},
    {"2502", "pam_auth", "failure", "root", "10.0.3.1", "pam.more_failures", "2", "tty", "ssh"},
    {"5740", "ssh_disconnect", "", NULL, "192.168.1.1", NULL, NULL, NULL, NULL},
    {"5753", "ssh_connect", "failure", NULL, "202.191.177.33", NULL, NULL, NULL, NULL},
    {"5752", "ssh_connect", "failure", NULL, NULL, NULL, NULL, NULL, NULL},
    {"5710", NULL, NULL, NULL, "192.241.237.101", "ssh.invalid_user", "true", NULL, NULL},
    {"5716", "ssh_login", "failure", "root", "192.168.1.1", "ssh.method", "none", NULL, NULL},
    {"5757", "ssh_connect", "", NULL, "192.168.18.54", "ssh.reverse_mapping_mismatch", "true", NULL, NULL},
    {"5758", "ssh_login", "failure", "root", "", "src_host", "183.106.179.x", NULL, NULL},
    {"5302", "su", "failure", "ldap", NULL, "su.target_user", "root", "tty", "ttyq4"},
    {"5301", "su", "failure", "ger", NULL, "su.target_user", "fwmaster", "tty", "/dev/ttyp0"},
    {"5305", "su", "success", "dcid", NULL, "su.target_user", "root", "tty", "/dev/ttyp1"},
    {"5403", "sudo", "success", NULL, NULL, "sudo.target_user", "root", NULL, NULL},
    {"5401", "sudo", "failure", "mike", NULL, "sudo.incorrect_attempts", "1", "sudo.command", "/bin/ls"},
    {"5404", "sudo", "failure", "mike", NULL, "sudo.incorrect_attempts", "3", "tty", "pts/0"},
    {"5405", "sudo", "failure", "ddp2", NULL, "sudo.reason", "user NOT in sudoers", "sudo.target_user", "root"},
};

static void check_expect(const char *where, const sr_logparse_record *r, const wazuh_expect *e) {
#define CHECK(got, want, what)                                                                                         \
    do {                                                                                                               \
        if ((want) && strcmp((got), (want)) != 0)                                                                      \
            fail_msg("%s: %s is \"%s\", expected \"%s\"", where, what, got, want);                                     \
    } while (0)
    CHECK(r->action, e->action, "action");
    CHECK(r->outcome, e->outcome, "outcome");
    CHECK(r->user, e->user, "user");
    CHECK(r->src_ip, e->src_ip, "src_ip");
    if (e->k1)
        CHECK(field(r, e->k1), e->v1, e->k1);
    if (e->k2)
        CHECK(field(r, e->k2), e->v2, e->k2);
#undef CHECK
}

static void run_wazuh(const char *rel, size_t *ret_lines) {
    char *buf = read_data(rel);
    sr_logparse *p = parser();
    sr_logparse_record *rec = malloc(sizeof(*rec));
    assert_non_null(rec);
    /* a block: "[title]", "log N pass|fail = LINE"..., "rule = R", "decoder = D" */
    char *lines[64];
    bool pass[64];
    size_t n = 0, total = 0;
    char rule[32] = "";
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
        if (!line || line[0] == '[') {
            n = 0;
            rule[0] = '\0';
            if (!line)
                break;
            continue;
        }
        if (strncmp(line, "log ", 4) == 0) {
            char *eq = strstr(line, " = ");
            assert_non_null(eq);
            assert_true(n < 64);
            pass[n] = strstr(line, " pass ") != NULL && strstr(line, " pass ") < eq;
            lines[n++] = eq + 3;
            continue;
        }
        if (strncmp(line, "rule = ", 7) == 0) {
            snprintf(rule, sizeof(rule), "%s", line + 7);
            continue;
        }
        if (strncmp(line, "decoder =", 9) != 0)
            continue;
        const char *decoder = line + 9;
        while (*decoder == ' ')
            decoder++;
        for (size_t i = 0; i < n; i++) {
            char where[512];
            snprintf(where, sizeof(where), "%s rule %s: %.300s", rel, rule, lines[i]);
            sr_logparse_line(p, lines[i], strlen(lines[i]), F2B_REF_MS, rec);
            total++;
            if (!rec->has_time || !rec->hostname[0] || !rec->program[0])
                fail_msg("%s: header not parsed (time %d, host \"%s\", program \"%s\")", where, rec->has_time,
                         rec->hostname, rec->program);
            if (strcmp(decoder, "pam") == 0) {
                if (strcmp(field(rec, "pam.module"), "pam_unix") != 0)
                    fail_msg("%s: pam.module is \"%s\"", where, field(rec, "pam.module"));
            } else if (decoder[0] && strcmp(rec->program, decoder) != 0) {
                fail_msg("%s: program \"%s\", decoder %s", where, rec->program, decoder);
            }
            if (!pass[i])
                continue; /* the rule does not fire for this line: only the decoding is checked */
            for (size_t k = 0; k < sizeof(wazuh_rules) / sizeof(wazuh_rules[0]); k++)
                if (strcmp(wazuh_rules[k].rule, rule) == 0)
                    check_expect(where, rec, &wazuh_rules[k]);
        }
        n = 0;
    }
    free(rec);
    sr_logparse_free(p);
    free(buf);
    *ret_lines += total;
}

static void test_wazuh(void **state) {
    (void)state;
    size_t lines = 0;
    const char *files[] = {"wazuh-ruleset/sshd.ini", "wazuh-ruleset/pam.ini", "wazuh-ruleset/su.ini",
                           "wazuh-ruleset/sudo.ini", "wazuh-ruleset/syslog.ini"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        run_wazuh(files[i], &lines);
    printf("wazuh ruleset tests: %zu lines decoded as expected\n", lines);
    assert_true(lines >= 45);

    /* details the rule tests imply */
    sr_logparse *p = parser();
    sr_logparse_record *r = malloc(sizeof(*r));
    assert_non_null(r);
    const char *solaris = "Aug 18 07:30:25 192.168.1.5 sshd[20247]: [ID 800047 auth.notice] Failed none for root "
                          "from 192.168.1.1 port 36942 ssh2";
    sr_logparse_line(p, solaris, strlen(solaris), F2B_REF_MS, r);
    assert_string_equal(r->hostname, "192.168.1.5");
    assert_int_equal(r->facility, 4);
    assert_int_equal(r->severity, 5);
    assert_int_equal(r->src_port, 36942);
    const char *ng = "2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock begins to drop messages from pid 17840 due "
                     "to rate-limiting";
    sr_logparse_line(p, ng, strlen(ng), F2B_REF_MS, r);
    assert_int_equal(r->time_unix_ms, label_time("2015-11-13T13:40:01"));
    assert_string_equal(r->program, "rsyslogd-2177");
    assert_string_equal(r->message, "imuxsock begins to drop messages from pid 17840 due to rate-limiting");
    const char *nm = "Jul 18 10:51:43 localhost NetworkManager[1366]: <warn> (enp1s0) firewall zone remove failed";
    sr_logparse_line(p, nm, strlen(nm), F2B_REF_MS, r);
    assert_int_equal(r->pid, 1366);
    assert_string_equal(r->message, "<warn> (enp1s0) firewall zone remove failed");
    free(r);
    sr_logparse_free(p);
}

/* ---- elastic-beats system/auth ---- */

typedef struct {
    const char *action, *outcome, *user, *src_ip;
    unsigned port;
    const char *k1, *v1, *k2, *v2, *k3, *v3;
} beats_expect;

static const beats_expect beats[] = {
    {"ssh_login", "success", "vagrant", "10.0.2.2", 63673, "ssh.method", "publickey", "ssh.auth_info",
     "RSA 39:33:99:e9:a0:dc:f2:33:a3:e5:72:3b:7c:3a:56:84", NULL, NULL},
    {"ssh_login", "success", "vagrant", "192.168.33.1", 58803, "ssh.method", "password", NULL, NULL, NULL, NULL},
    {"ssh_login", "failure", "test", "10.0.2.2", 0, "ssh.invalid_user", "true", NULL, NULL, NULL, NULL},
    {"ssh_login", "failure", "root", "216.160.83.57", 29160, "ssh.method", "password", NULL, NULL, NULL, NULL},
    {"sudo", "success", "vagrant", "", 0, "sudo.command", "/bin/ls", "sudo.target_user", "root", "sudo.pwd",
     "/home/vagrant"},
    {"ssh_connect", "failure", "", "2.125.160.217", 0, NULL, NULL, NULL, NULL, NULL, NULL},
    {"sudo", "success", "vagrant", "", 0, "sudo.command", "/bin/cat /var/log/secure", "tty", "pts/1", NULL, NULL},
    {"sudo", "failure", "tsg", "", 0, "sudo.reason", "user NOT in sudoers", "sudo.command", "/bin/ls", "tty",
     "pts/1"},
    {"group_add", "success", "", "", 0, "group.name", "apache", "group.gid", "48", NULL, NULL},
    {"user_add", "success", "apache", "", 0, "account.uid", "48", "account.home", "/usr/share/httpd",
     "account.shell", "/sbin/nologin"},
};

static void test_beats(void **state) {
    (void)state;
    char *buf = read_data("elastic-beats/auth_test.log");
    sr_logparse *p = parser();
    sr_logparse_record *r = malloc(sizeof(*r));
    assert_non_null(r);
    size_t i = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        assert_true(i < sizeof(beats) / sizeof(beats[0]));
        const beats_expect *e = &beats[i];
        sr_logparse_line(p, line, strlen(line), F2B_REF_MS, r);
        char where[600];
        snprintf(where, sizeof(where), "auth_test.log line %zu: %.400s", i + 1, line);
        if (strcmp(r->action, e->action) || strcmp(r->outcome, e->outcome) || strcmp(r->user, e->user) ||
            strcmp(r->src_ip, e->src_ip) || r->src_port != e->port)
            fail_msg("%s: action=%s outcome=%s user=%s src_ip=%s port=%u", where, r->action, r->outcome, r->user,
                     r->src_ip, r->src_port);
        const char *kv[][2] = {{e->k1, e->v1}, {e->k2, e->v2}, {e->k3, e->v3}};
        for (size_t k = 0; k < 3; k++)
            if (kv[k][0] && strcmp(field(r, kv[k][0]), kv[k][1]) != 0)
                fail_msg("%s: %s is \"%s\", expected \"%s\"", where, kv[k][0], field(r, kv[k][0]), kv[k][1]);
        assert_true(r->has_time);
    }
    assert_int_equal(i, sizeof(beats) / sizeof(beats[0]));
    printf("elastic-beats auth_test.log: %zu of %zu lines as expected\n", i, i);
    free(r);
    sr_logparse_free(p);
    free(buf);
}

/* ---- unit cases ---- */

static sr_logparse_record *parse1(sr_logparse *p, const char *line, int64_t ref_ms) {
    static sr_logparse_record rec; /* test-only scratch */
    sr_logparse_line(p, line, strlen(line), ref_ms, &rec);
    return &rec;
}

static void test_header_formats(void **state) {
    (void)state;
    sr_logparse *p = parser();
    const int64_t ref = label_time("2024-03-01T00:00:00");
    sr_logparse_record *r;

    r = parse1(p, "<38>1 2019-07-08T17:40:16.954167-04:00 hostname.example.com sshd 57915 ID47 "
                  "[timeQuality tzKnown=\"1\" a=\"x\\]y\"] \xef\xbb\xbf" "Failed password for bob from 192.0.2.1 port 5 "
                  "ssh2",
               ref);
    assert_int_equal(r->facility, 4);
    assert_int_equal(r->severity, 6);
    assert_int_equal(r->time_unix_ms, label_time("2019-07-08T21:40:16") + 954);
    assert_string_equal(r->hostname, "hostname.example.com");
    assert_string_equal(r->program, "sshd");
    assert_int_equal(r->pid, 57915);
    assert_string_equal(field(r, "syslog.msgid"), "ID47");
    assert_string_equal(field(r, "syslog.sd"), "[timeQuality tzKnown=\"1\" a=\"x\\]y\"]");
    assert_string_equal(r->message, "Failed password for bob from 192.0.2.1 port 5 ssh2");
    assert_string_equal(r->outcome, "failure");

    r = parse1(p, "2024-01-01T00:00:00.123456+01:00 web-1 sudo[77]: alice : TTY=pts/0 ; PWD=/ ; USER=root ; "
                  "COMMAND=/bin/ls -l ; echo",
               ref);
    assert_int_equal(r->time_unix_ms, label_time("2023-12-31T23:00:00") + 123);
    assert_string_equal(r->hostname, "web-1");
    assert_int_equal(r->pid, 77);
    assert_string_equal(r->user, "alice");
    assert_string_equal(field(r, "sudo.command"), "/bin/ls -l ; echo");
    assert_string_equal(field(r, "sudo.target_user"), "root");
    assert_string_equal(field(r, "tty"), "pts/0");

    r = parse1(p, "<86>Feb 29 10:00:00 host su: (to root) alice on pts/1", ref);
    assert_int_equal(r->facility, 10);
    assert_int_equal(r->severity, 6);
    assert_int_equal(r->time_unix_ms, label_time("2024-02-29T10:00:00"));
    assert_string_equal(r->action, "su");
    assert_string_equal(r->outcome, "success");
    assert_string_equal(r->user, "alice");
    assert_string_equal(field(r, "su.target_user"), "root");

    /* no header: the whole line is the message */
    r = parse1(p, "just some text: with a colon", ref);
    assert_false(r->has_time);
    assert_int_equal(r->time_unix_ms, ref);
    assert_string_equal(r->message, "just some text: with a colon");
    assert_string_equal(r->program, "");
    assert_int_equal(r->severity, -1);

    /* time, host, no tag */
    r = parse1(p, "Mar  1 00:00:01 host free text here", ref);
    assert_true(r->has_time);
    assert_string_equal(r->hostname, "host");
    assert_string_equal(r->program, "");
    assert_string_equal(r->message, "free text here");

    /* an invalid date is no date */
    r = parse1(p, "Feb 30 10:00:00 host prog: x", ref);
    assert_false(r->has_time);
    r = parse1(p, "2024-13-01T00:00:00Z host prog: x", ref);
    assert_false(r->has_time);
    sr_logparse_free(p);
}

static void test_year_and_zone(void **state) {
    (void)state;
    sr_logparse *p = parser();
    /* read on 2024-01-02: a December line is from 2023; a line of late January is this year */
    int64_t ref = label_time("2024-01-02T08:00:00");
    assert_int_equal(parse1(p, "Dec 31 23:59:59 h x: y", ref)->time_unix_ms, label_time("2023-12-31T23:59:59"));
    assert_int_equal(parse1(p, "Jan 30 00:00:00 h x: y", ref)->time_unix_ms, label_time("2024-01-30T00:00:00"));
    assert_int_equal(parse1(p, "Feb  5 00:00:00 h x: y", ref)->time_unix_ms, label_time("2023-02-05T00:00:00"));
    /* Feb 29 read in a common year goes back to the last leap year */
    ref = label_time("2025-03-01T00:00:00");
    assert_int_equal(parse1(p, "Feb 29 12:00:00 h x: y", ref)->time_unix_ms, label_time("2024-02-29T12:00:00"));
    sr_logparse_free(p);

    sr_logparse_tz tz;
    assert_int_equal(sr_logparse_tz_parse("+05:30", &tz), 0);
    assert_int_equal(tz.offset_s, 5 * 3600 + 1800);
    assert_int_equal(sr_logparse_tz_parse("-0800", &tz), 0);
    assert_int_equal(tz.offset_s, -8 * 3600);
    assert_int_equal(sr_logparse_tz_parse("UTC", &tz), 0);
    assert_int_equal(tz.kind, SR_LOGPARSE_TZ_UTC);
    assert_int_equal(sr_logparse_tz_parse("local", &tz), 0);
    assert_int_equal(sr_logparse_tz_parse("+15:00", &tz), -EINVAL);
    assert_int_equal(sr_logparse_tz_parse("Europe/Paris", &tz), -EINVAL);
    assert_int_equal(sr_logparse_tz_parse("+5", &tz), -EINVAL);

    sr_logparse_options o = {.tz = {SR_LOGPARSE_TZ_OFFSET, -8 * 3600}};
    assert_int_equal(sr_logparse_new(&o, &p), 0);
    ref = label_time("2024-06-01T00:00:00");
    assert_int_equal(parse1(p, "May 31 16:00:00 h x: y", ref)->time_unix_ms, label_time("2024-06-01T00:00:00"));
    assert_int_equal(parse1(p, "2024-05-31T16:00:00 h x: y", ref)->time_unix_ms, label_time("2024-06-01T00:00:00"));
    /* an explicit zone wins over the default */
    assert_int_equal(parse1(p, "2024-05-31T16:00:00Z h x: y", ref)->time_unix_ms, label_time("2024-05-31T16:00:00"));
    sr_logparse_free(p);
    o.tz.offset_s = 15 * 3600;
    assert_int_equal(sr_logparse_new(&o, &p), -EINVAL);
}

static void test_sanitize_and_limits(void **state) {
    (void)state;
    sr_logparse *p = parser();
    sr_logparse_record *r = malloc(sizeof(*r));
    assert_non_null(r);
    /* invalid UTF-8 and NUL become U+FFFD; the end of line goes */
    const char bad[] = "Jan  1 00:00:00 h sshd[1]: Invalid user \xff\xc0\x80x\0y from 10.0.0.1\r\n";
    sr_logparse_line(p, bad, sizeof(bad) - 1, 0, r);
    assert_string_equal(r->user, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbdy");
    assert_string_equal(r->src_ip, "10.0.0.1");
    assert_int_equal(r->orig_len, sizeof(bad) - 1);
    assert_int_equal(r->raw_len, strlen(r->raw));
    assert_false(strchr(r->raw, '\r'));

    /* a long line is cut at SR_LOGPARSE_RAW_MAX on a character boundary */
    size_t n = 3 * SR_LOGPARSE_RAW_MAX;
    char *big = malloc(n);
    assert_non_null(big);
    memcpy(big, "Jan  1 00:00:00 h sudo: bob : TTY=x ; COMMAND=", 46);
    for (size_t i = 46; i + 1 < n; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    sr_logparse_line(p, big, n - (n - 46) % 2, 0, r);
    assert_true(r->raw_len <= SR_LOGPARSE_RAW_MAX);
    assert_true(r->raw_len > SR_LOGPARSE_RAW_MAX - 4);
    assert_string_equal(field(r, "log.truncated"), "true");
    assert_true(strlen(field(r, "sudo.command")) < SR_LOGPARSE_VALUE_MAX);
    free(big);

    /* attacker-chosen user names cannot choose the address */
    const char *inj = "Jan  1 00:00:00 h sshd[2]: Failed password for invalid user x from 10.9.9.9 port 1 ssh2 "
                      "from 192.0.2.7 port 22 ssh2";
    sr_logparse_line(p, inj, strlen(inj), 0, r);
    assert_string_equal(r->src_ip, "192.0.2.7");
    assert_string_equal(r->user, "x from 10.9.9.9 port 1 ssh2");
    /* IPv4-mapped addresses are reported as IPv4; v6 in canonical form */
    const char *v6 = "Jan  1 00:00:00 h sshd[3]: Failed password for root from 2001:DB8:0:0::1 port 22 ssh2";
    sr_logparse_line(p, v6, strlen(v6), 0, r);
    assert_string_equal(r->src_ip, "2001:db8::1");
    free(r);
    sr_logparse_free(p);
}

static void test_connection_table(void **state) {
    (void)state;
    sr_logparse *p = parser();
    const int64_t ref = label_time("2024-03-01T00:00:00");
    sr_logparse_record *r;
    r = parse1(p, "Mar  1 00:00:00 h sshd[10]: Connection from 198.51.100.9 port 4000 on 10.0.0.1 port 22", ref);
    assert_string_equal(r->action, "ssh_connect");
    r = parse1(p, "Mar  1 00:00:01 h sshd[10]: Disconnecting: Too many authentication failures for root [preauth]",
               ref);
    assert_string_equal(r->outcome, "failure");
    assert_string_equal(r->src_ip, "198.51.100.9");
    assert_string_equal(field(r, "ssh.src_inferred"), "true");
    /* the same pid on another host is another connection */
    r = parse1(p, "Mar  1 00:00:01 other sshd[10]: Disconnecting: Too many authentication failures [preauth]", ref);
    assert_string_equal(r->src_ip, "");
    /* a failure that named no address is reported when the address appears */
    r = parse1(p, "Mar  1 00:00:02 other sshd[10]: Connection closed by 203.0.113.5 port 1", ref);
    assert_string_equal(r->outcome, "failure");
    assert_string_equal(field(r, "ssh.earlier_failure"), "true");
    /* a connection that ended is forgotten; so is one older than ten minutes */
    r = parse1(p, "Mar  1 00:00:03 other sshd[10]: Disconnecting: Too many authentication failures [preauth]", ref);
    assert_string_equal(r->src_ip, "");
    r = parse1(p, "Mar  1 00:20:00 h sshd[10]: Disconnecting: Too many authentication failures [preauth]", ref);
    assert_string_equal(r->src_ip, "");
    /* a bounded table: thousands of connections never grow it */
    sr_logparse_options o = {.max_connections = 4};
    sr_logparse *small;
    assert_int_equal(sr_logparse_new(&o, &small), 0);
    char line[200];
    for (int i = 1; i <= 5000; i++) {
        snprintf(line, sizeof(line), "Mar  1 00:00:00 h sshd[%d]: Connection from 10.0.%d.%d port 1", i, i / 256 % 256,
                 i % 256);
        (void)parse1(small, line, ref);
    }
    r = parse1(small, "Mar  1 00:00:00 h sshd[5000]: fatal: Read from socket failed: reset [preauth]", ref);
    assert_string_equal(r->src_ip, "10.0.19.136");
    r = parse1(small, "Mar  1 00:00:00 h sshd[1]: fatal: Read from socket failed: reset [preauth]", ref);
    assert_string_equal(r->src_ip, "");
    sr_logparse_free(small);
    sr_logparse_free(p);
}

/* "ground-truth" runs the cases over the third-party data and exits 77 (ctest: skipped, shown in
 * its summary) when that data is absent; without an argument, the self-contained cases run. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "ground-truth") == 0) {
        struct stat st;
        if (stat(SR_LOGS_DATA, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "SKIPPED: ground-truth directory %s is absent (third-party data, not in the repository; "
                            "set SR_SHARED_LOGS_DIR at configure time)\n",
                    SR_LOGS_DATA);
            return 77;
        }
        const struct CMUnitTest truth[] = {
            cmocka_unit_test(test_fail2ban_sshd),
            cmocka_unit_test(test_fail2ban_pam),
            cmocka_unit_test(test_wazuh),
            cmocka_unit_test(test_beats),
        };
        return cmocka_run_group_tests(truth, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_formats),
        cmocka_unit_test(test_year_and_zone),
        cmocka_unit_test(test_sanitize_and_limits),
        cmocka_unit_test(test_connection_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
