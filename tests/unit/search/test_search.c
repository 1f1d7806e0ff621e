/* Unit tests: the full-text tokenizer and tsvector literal builder (src/lib/search), over
 * real auth log lines and Falco alert outputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_search.h"

/* Renders the token stream as "tok@pos" for whole tokens and "+part@pos" for parts. */
typedef struct {
    char buf[16384];
    size_t len;
    int count;
} render;

static int render_tok(void *ud, const char *tok, size_t len, uint32_t pos, int whole) {
    render *r = ud;
    int n = snprintf(r->buf + r->len, sizeof(r->buf) - r->len, "%s%s%.*s@%u", r->len ? " " : "",
                     whole ? "" : "+", (int)len, tok, pos);
    assert_true(n > 0 && (size_t)n < sizeof(r->buf) - r->len);
    r->len += (size_t)n;
    r->count++;
    return 0;
}

static void expect_tokens(const char *text, const char *want) {
    render r = {.len = 0};
    r.buf[0] = '\0';
    assert_int_equal(sr_search_tokenize(text, strlen(text), render_tok, &r), 0);
    if (strcmp(r.buf, want) != 0)
        fail_msg("tokens of \"%s\"\n  got:  %s\n  want: %s", text, r.buf, want);
}

static void expect_tsvector(const char *text, const char *want) {
    char out[8192];
    size_t len = 0;
    assert_int_equal(sr_search_tsvector(text, strlen(text), out, sizeof(out), &len), 0);
    if (strcmp(out, want) != 0)
        fail_msg("tsvector of \"%s\"\n  got:  %s\n  want: %s", text, out, want);
    assert_int_equal(len, strlen(out));
}

static void test_words(void **state) {
    (void)state;
    expect_tokens("", "");
    expect_tokens("   \t\n ", "");
    expect_tokens("Failed password for root", "failed@1 password@2 for@3 root@4");
    /* trailing . , : go; punctuation-only chunks take no position */
    expect_tokens("Accepted password, for vagrant: done. -- ...", "accepted@1 password@2 for@3 vagrant@4 done@5");
    /* delimiters */
    expect_tokens("a[b](c)<d>{e},f;g\"h'i`j=k|l!m", "a@1 b@2 c@3 d@4 e@5 f@6 g@7 h@8 i@9 j@10 k@11 l@12 m@13");
}

static void test_auth_lines(void **state) {
    (void)state;
    expect_tokens("Feb 20 08:35:22 slave22 sshd[5774]: Failed password for root from 216.160.83.57 port 29160 ssh2",
                  "feb@1 20@2 08:35:22@3 +08@3 +35@3 +22@3 slave22@4 sshd@5 5774@6 failed@7 password@8 for@9 "
                  "root@10 from@11 216.160.83.57@12 port@13 29160@14 ssh2@15");
    expect_tokens("Feb 21 23:35:33 localhost sudo: vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; "
                  "COMMAND=/bin/ls",
                  "feb@1 21@2 23:35:33@3 +23@3 +35@3 +33@3 localhost@4 sudo@5 vagrant@6 tty@7 pts/0@8 +pts@8 +0@8 "
                  "pwd@9 /home/vagrant@10 +home@10 +vagrant@10 user@11 root@12 command@13 /bin/ls@14 +bin@14 +ls@14");
    expect_tokens("Feb  7 15:10:42 example pure-ftpd: (pam_unix) authentication failure; logname= uid=0 euid=0 "
                  "tty=pure-ftpd ruser=sample-user rhost=192.168.1.1",
                  "feb@1 7@2 15:10:42@3 +15@3 +10@3 +42@3 example@4 pure-ftpd@5 +pure@5 +ftpd@5 pam_unix@6 +pam@6 "
                  "+unix@6 authentication@7 failure@8 logname@9 uid@10 0@11 euid@12 0@13 tty@14 pure-ftpd@15 "
                  "+pure@15 +ftpd@15 ruser@16 sample-user@17 +sample@17 +user@17 rhost@18 192.168.1.1@19");
    /* a host name made of an address stays a dotted name, with its parts */
    expect_tokens("rhost=71-13-115-12.static.mdsn.wi.charter.com",
                  "rhost@1 71-13-115-12.static.mdsn.wi.charter.com@2 +71@2 +13@2 +115@2 +12@2 +static@2 +mdsn@2 "
                  "+wi@2 +charter@2 +com@2");
    /* leading zeros are not an IPv4 address */
    expect_tokens("from 192.030.0.6", "from@1 192.030.0.6@2 +192@2 +030@2 +0@2 +6@2");
    expect_tokens("su(pam_unix)[23164]: user=osaudit",
                  "su@1 pam_unix@2 +pam@2 +unix@2 23164@3 user@4 osaudit@5");
    expect_tokens("error: Could not stat AuthorizedKeysCommand \"/usr/local/sbin/ssh-ldap-authorized_keys\"",
                  "error@1 could@2 not@3 stat@4 authorizedkeyscommand@5 /usr/local/sbin/ssh-ldap-authorized_keys@6 "
                  "+usr@6 +local@6 +sbin@6 +ssh@6 +ldap@6 +authorized@6 +keys@6");
}

static void test_falco_outputs(void **state) {
    (void)state;
    expect_tokens("Critical A shell was spawned (user=root k8s.ns=default container=ee97d9c4186f "
                  "image=docker.io/library/alpine)",
                  "critical@1 a@2 shell@3 was@4 spawned@5 user@6 root@7 k8s.ns@8 +k8s@8 +ns@8 default@9 "
                  "container@10 ee97d9c4186f@11 image@12 docker.io/library/alpine@13 +docker@13 +io@13 +library@13 "
                  "+alpine@13");
    expect_tokens("k8s.ns.name www-data user@host.example.com",
                  "k8s.ns.name@1 +k8s@1 +ns@1 +name@1 www-data@2 +www@2 +data@2 user@host.example.com@3 +user@3 "
                  "+host@3 +example@3 +com@3");
    expect_tokens("fd.name=/etc/shadow", "fd.name@1 +fd@1 +name@1 /etc/shadow@2 +etc@2 +shadow@2");
}

static void test_identifiers(void **state) {
    (void)state;
    expect_tokens("CVE-2024-3094 found", "cve-2024-3094@1 +cve@1 +2024@1 +3094@1 found@2");
    /* hashes are whole alphanumeric tokens */
    expect_tokens("md5 D41D8CD98F00B204E9800998ECF8427E", "md5@1 d41d8cd98f00b204e9800998ecf8427e@2");
    expect_tokens("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855@1");
    expect_tokens("C:\\Windows\\System32", "c:\\windows\\system32@1 +c@1 +windows@1 +system32@1");
}

static void test_ip(void **state) {
    (void)state;
    expect_tokens("10.0.2.2.", "10.0.2.2@1");
    expect_tokens("::1 ::ffff:1.2.3.4 FE80:0:0::1:", "::1@1 ::ffff:1.2.3.4@2 fe80::1@3");
    expect_tokens("2001:db8::, next", "2001:db8::@1 next@2");
    expect_tokens("from 10.0.0.5:22 to 10.0.0.0/8",
                  "from@1 10.0.0.5:22@2 +10.0.0.5@2 +22@2 to@3 10.0.0.0/8@4 +10.0.0.0@4 +8@4");
    expect_tokens("[2001:db8::1]:443", "2001:db8::1@1 443@2");
    /* an IPv6 address with a colon suffix is not an ip:port */
    expect_tokens("fe80::1:22x", "fe80::1:22x@1 +fe80@1 +1@1 +22x@1");
}

static void test_utf8(void **state) {
    (void)state;
    expect_tokens("Caf\xc3\xa9 na\xc3\xafve-word", "caf\xc3\xa9@1 na\xc3\xafve-word@2 +na\xc3\xafve@2 +word@2");
    /* invalid UTF-8 is dropped, valid neighbours stay */
    expect_tokens("ok \xff\xfe bad\xc3 fine", "ok@1 fine@4");
    /* NUL is a delimiter */
    render r = {.len = 0};
    r.buf[0] = '\0';
    assert_int_equal(sr_search_tokenize("a\0b", 3, render_tok, &r), 0);
    assert_string_equal(r.buf, "a@1 b@2");
}

static void test_caps(void **state) {
    (void)state;
    /* a long token is cut to the cap, at a UTF-8 boundary */
    char text[2000];
    memset(text, 'a', sizeof(text));
    render r = {.len = 0};
    assert_int_equal(sr_search_tokenize(text, sizeof(text), render_tok, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(strlen(r.buf), SR_SEARCH_TOKEN_MAX + 2);
    text[SR_SEARCH_TOKEN_MAX - 1] = '\xc3';
    text[SR_SEARCH_TOKEN_MAX] = '\xa9';
    r.len = 0;
    r.count = 0;
    assert_int_equal(sr_search_tokenize(text, sizeof(text), render_tok, &r), 0);
    assert_int_equal(strlen(r.buf), SR_SEARCH_TOKEN_MAX - 1 + 2);
    /* many parts: capped */
    char dots[200];
    for (size_t i = 0; i < sizeof(dots); i += 2) {
        dots[i] = 'x';
        dots[i + 1] = '.';
    }
    dots[sizeof(dots) - 1] = 'y';
    r.len = 0;
    r.count = 0;
    assert_int_equal(sr_search_tokenize(dots, sizeof(dots), render_tok, &r), 0);
    assert_int_equal(r.count, 1 + SR_SEARCH_PARTS_MAX);
    assert_int_equal(sr_search_tokenize("x", 1, NULL, NULL), -EINVAL);
}

typedef struct {
    uint32_t maxpos;
    int count;
    int stop_at;
} counter;

static int count_tok(void *ud, const char *tok, size_t len, uint32_t pos, int whole) {
    (void)tok;
    (void)len;
    (void)whole;
    counter *c = ud;
    if (pos > c->maxpos)
        c->maxpos = pos;
    c->count++;
    return (c->stop_at && c->count == c->stop_at) ? -ECANCELED : 0;
}

static void test_limits(void **state) {
    (void)state;
    size_t big = 3 * SR_SEARCH_MAX_TOKENS;
    char *many = malloc(big);
    assert_non_null(many);
    for (size_t i = 0; i < big; i += 2) {
        many[i] = 'w';
        many[i + 1] = ' ';
    }
    counter c = {0};
    assert_int_equal(sr_search_tokenize(many, big, count_tok, &c), 0);
    assert_int_equal(c.maxpos, SR_SEARCH_POS_MAX);
    assert_int_equal(c.count, SR_SEARCH_MAX_TOKENS);
    /* the callback stops the walk */
    counter s = {.stop_at = 3};
    assert_int_equal(sr_search_tokenize(many, big, count_tok, &s), -ECANCELED);
    assert_int_equal(s.count, 3);
    /* the tsvector keeps 256 positions per lexeme at most and stays valid */
    size_t outlen = 1 << 20;
    char *out = malloc(outlen);
    assert_non_null(out);
    size_t len = 0;
    assert_int_equal(sr_search_tsvector(many, big, out, outlen, &len), 0);
    assert_true(strncmp(out, "'w':1,2,3,", 10) == 0);
    int commas = 0;
    for (size_t i = 0; i < len; i++)
        commas += out[i] == ',';
    assert_int_equal(commas, SR_SEARCH_LEXEME_POS_MAX - 1);
    free(out);
    free(many);
    assert_int_equal(sr_search_tokenize(NULL, 1, count_tok, &c), -EINVAL);
    assert_int_equal(sr_search_tokenize(NULL, 0, count_tok, &c), 0);
}

static void test_tsvector(void **state) {
    (void)state;
    expect_tsvector("", "");
    expect_tsvector("b a b", "'a':2 'b':1,3");
    expect_tsvector("pam_unix unix", "'pam':1 'pam_unix':1 'unix':1,2");
    expect_tsvector("C:\\x", "'c':1 'c:\\\\x':1 'x':1");
    /* a compound whose parts repeat keeps each position once */
    expect_tsvector("a-a", "'a':1 'a-a':1");
    expect_tsvector("Failed password for root from 216.160.83.57 port 29160 ssh2",
                    "'216.160.83.57':6 '29160':8 'failed':1 'for':3 'from':5 'password':2 'port':7 'root':4 "
                    "'ssh2':9");
    /* quotes never survive the tokenizer, but the quoting helper handles them */
    char q[32];
    size_t p = 0;
    assert_int_equal(sr_search_quote_lexeme("it's\\", 5, q, sizeof(q), &p), 0);
    assert_string_equal(q, "'it''s\\\\'");
    assert_int_equal(p, strlen(q));
    p = 0;
    assert_int_equal(sr_search_quote_lexeme("abcdef", 6, q, 8, &p), -ENOBUFS);
    assert_int_equal(p, 0);
    assert_int_equal(sr_search_quote_lexeme("abcdef", 6, q, 9, &p), 0);
    /* too small: -ENOBUFS and an empty string */
    char small[8];
    assert_int_equal(sr_search_tsvector("hello world", 11, small, sizeof(small), NULL), -ENOBUFS);
    assert_string_equal(small, "");
    assert_int_equal(sr_search_tsvector("x", 1, NULL, 0, NULL), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),      cmocka_unit_test(test_auth_lines), cmocka_unit_test(test_falco_outputs),
        cmocka_unit_test(test_identifiers), cmocka_unit_test(test_ip),        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_caps),        cmocka_unit_test(test_limits),    cmocka_unit_test(test_tsvector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
