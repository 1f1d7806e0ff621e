/* The CA library and the serviceradar-pki command, checked against the openssl CLI and a real HTTP server
 * (libmicrohttpd) that redeems tokens the way the core's POST /api/v1/enroll does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sr_file.h"
#include "sr_pki.h"
#include "srtest.h"

typedef struct {
    char tmp[PATH_MAX];
    char ca[PATH_MAX];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f; /* teardown frees it */
    if (srtest_tmpdir(f->tmp, sizeof(f->tmp)) < 0)
        return -1;
    int n = snprintf(f->ca, sizeof(f->ca), "%s/ca", f->tmp);
    if (n < 0 || (size_t)n >= sizeof(f->ca))
        return -1;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    srtest_rmtree(f->tmp);
    free(f);
    return 0;
}

static void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    assert_true(r > 0 && (size_t)r < n);
}

/* Runs argv (argv[0] a path), stdout+stderr into out_path when given; returns the exit status. */
static int run(const char *out_path, const char *const argv[]) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        char *const *av;
        memcpy(&av, &argv, sizeof(av)); /* execv's prototype predates const */
        execv(argv[0], av);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path) {
    char *buf = NULL;
    int r = sr_file_read_all(path, 1 << 20, &buf, NULL);
    if (r < 0)
        fail_msg("could not read %s: %s", path, strerror(-r));
    return buf;
}

static X509 *load_cert(const char *path) {
    FILE *fp = fopen(path, "re");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

static X509 *pem_cert(const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

static int file_mode(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

/* openssl verify [-crl_check -CRLfile dir/ca.crl] -purpose P -CAfile dir/ca.crt cert -> exit status */
static int openssl_verify(const char *dir, const char *cert, const char *purpose, int crl) {
    char cafile[PATH_MAX], crlfile[PATH_MAX];
    pathf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    pathf(crlfile, sizeof(crlfile), "%s/ca.crl", dir);
    if (crl) {
        const char *argv[] = {SR_OPENSSL_BIN, "verify", "-crl_check", "-CRLfile", crlfile, "-purpose", purpose,
                              "-CAfile", cafile, cert, NULL};
        return run(NULL, argv);
    }
    const char *argv[] = {SR_OPENSSL_BIN, "verify", "-purpose", purpose, "-CAfile", cafile, cert, NULL};
    return run(NULL, argv);
}

static void write_text(const char *path, const char *text) {
    assert_int_equal(sr_file_write_atomic(path, text, strlen(text), 0644), 0);
}

static void init_ca(const fixture *f) { assert_int_equal(sr_pki_init_ca(f->ca, "Test CA", 30), 0); }

/* ---- CA, issue, verify with the openssl CLI ---- */

static void test_init_and_issue(void **state) {
    fixture *f = *state;
    init_ca(f);
    assert_int_equal(sr_pki_init_ca(f->ca, "Again", 30), -EEXIST);
    char path[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    assert_int_equal(file_mode(f->ca), 0700);
    pathf(path, sizeof(path), "%s/ca.key", f->ca);
    assert_int_equal(file_mode(path), 0600);
    pathf(path, sizeof(path), "%s/ca.crl", f->ca);
    assert_int_equal(file_mode(path), 0644);

    /* The CA itself. */
    pathf(path, sizeof(path), "%s/ca.crt", f->ca);
    X509 *ca = load_cert(path);
    assert_true(X509_check_ca(ca) >= 1);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_key_usage(ca) & KU_CRL_SIGN);
    X509_free(ca);

    /* A server certificate with DNS and IP names. */
    const char *const sans[] = {"gw.example.net", "10.1.2.3", "::1", NULL};
    pathf(cert, sizeof(cert), "%s/gw.crt", f->tmp);
    pathf(key, sizeof(key), "%s/gw.key", f->tmp);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_SERVER, "gw.example.net", sans, 10, cert, key), 0);
    assert_int_equal(file_mode(key), 0600);
    assert_int_equal(openssl_verify(f->ca, cert, "sslserver", 0), 0);
    assert_int_equal(openssl_verify(f->ca, cert, "sslclient", 0), 2);
    assert_int_equal(openssl_verify(f->ca, cert, "sslserver", 1), 0); /* the empty CRL is valid */
    X509 *x = load_cert(cert);
    uint32_t xku = X509_get_extended_key_usage(x);
    assert_true(xku & XKU_SSL_SERVER);
    assert_false(xku & XKU_SSL_CLIENT);
    assert_int_equal(X509_check_host(x, "gw.example.net", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "other.example.net", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "10.1.2.4", 0), 0);
    assert_int_equal(X509_check_ca(x), 0);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    assert_true(BN_num_bits(bn) > 64 && BN_num_bits(bn) <= 127);
    assert_false(BN_is_negative(bn));
    BN_free(bn);
    X509_free(x);

    /* Without SANs the CN is the name. */
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_SERVER, "localhost", NULL, 10, cert, key), 0);
    x = load_cert(cert);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    X509_free(x);

    /* A client certificate. */
    pathf(cert, sizeof(cert), "%s/a.crt", f->tmp);
    pathf(key, sizeof(key), "%s/a.key", f->tmp);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "agent-1", NULL, 10, cert, key), 0);
    assert_int_equal(openssl_verify(f->ca, cert, "sslclient", 0), 0);
    assert_int_equal(openssl_verify(f->ca, cert, "sslserver", 0), 2);
    x = load_cert(cert);
    xku = X509_get_extended_key_usage(x);
    assert_true(xku & XKU_SSL_CLIENT);
    assert_false(xku & XKU_SSL_SERVER);
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
    X509_free(x);
    char cn[SR_PKI_CN_MAX + 1];
    assert_int_equal(sr_pki_cert_file_cn(cert, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "agent-1");
    assert_int_equal(sr_pki_cert_file_cn(cert, cn, 4), -ENOBUFS);

    /* issued.txt lists both. */
    pathf(path, sizeof(path), "%s/issued.txt", f->ca);
    char *issued = slurp(path);
    assert_non_null(strstr(issued, " server gw.example.net\n"));
    assert_non_null(strstr(issued, " client agent-1\n"));
    free(issued);
}

static void test_issue_rejects(void **state) {
    fixture *f = *state;
    char cert[PATH_MAX], key[PATH_MAX];
    pathf(cert, sizeof(cert), "%s/x.crt", f->tmp);
    pathf(key, sizeof(key), "%s/x.key", f->tmp);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "agent-1", NULL, 10, cert, key), -ENOENT);
    init_ca(f);
    const char *const bad_san[] = {"bad name", NULL};
    const char *const bad_san2[] = {"a..b", NULL};
    const char *const san[] = {"ok.example", NULL};
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_SERVER, "gw", bad_san, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_SERVER, "gw", bad_san2, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "agent-1", san, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "bad id", NULL, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "", NULL, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, NULL, NULL, 10, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "agent-1", NULL, 0, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "agent-1", NULL, SR_PKI_DAYS_MAX + 1, cert, key), -EINVAL);
    assert_int_equal(sr_pki_issue(f->ca, (sr_pki_kind)7, "agent-1", NULL, 10, cert, key), -EINVAL);
    assert_int_equal(access(cert, F_OK), -1);
    assert_int_equal(sr_pki_init_ca(f->ca, "", 10), -EINVAL);
    char sub[PATH_MAX];
    pathf(sub, sizeof(sub), "%s/other", f->tmp);
    assert_int_equal(sr_pki_init_ca(sub, "CA", 0), -EINVAL);
    assert_int_equal(sr_pki_init_ca(sub, "CA\n", 10), -EINVAL);
}

/* ---- revocation ---- */

static void serial_hex(const char *cert, char *buf, size_t n) {
    X509 *x = load_cert(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = BN_bn2hex(bn);
    snprintf(buf, n, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
}

static void test_revoke(void **state) {
    fixture *f = *state;
    init_ca(f);
    char a[PATH_MAX], ak[PATH_MAX], b[PATH_MAX], bk[PATH_MAX], c[PATH_MAX], ck[PATH_MAX];
    pathf(a, sizeof(a), "%s/a.crt", f->tmp);
    pathf(ak, sizeof(ak), "%s/a.key", f->tmp);
    pathf(b, sizeof(b), "%s/b.crt", f->tmp);
    pathf(bk, sizeof(bk), "%s/b.key", f->tmp);
    pathf(c, sizeof(c), "%s/c.crt", f->tmp);
    pathf(ck, sizeof(ck), "%s/c.key", f->tmp);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "a", NULL, 10, a, ak), 0);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "b", NULL, 10, b, bk), 0);
    assert_int_equal(sr_pki_issue(f->ca, SR_PKI_CLIENT, "c", NULL, 10, c, ck), 0);
    assert_int_equal(openssl_verify(f->ca, a, "sslclient", 1), 0);
    assert_int_equal(openssl_verify(f->ca, b, "sslclient", 1), 0);

    assert_int_equal(sr_pki_revoke(f->ca, a), 0); /* by certificate */
    assert_int_equal(openssl_verify(f->ca, a, "sslclient", 1), 2);
    assert_int_equal(openssl_verify(f->ca, b, "sslclient", 1), 0);

    char hex[64], colons[128];
    serial_hex(b, hex, sizeof(hex));
    /* by serial, in the "aa:bb:.." form openssl prints and lower case */
    size_t k = 0;
    for (size_t i = 0; hex[i]; i++) {
        if (i && i % 2 == 0)
            colons[k++] = ':';
        colons[k++] = (char)(hex[i] | 0x20);
    }
    colons[k] = '\0';
    assert_int_equal(sr_pki_revoke(f->ca, colons), 0);
    assert_int_equal(openssl_verify(f->ca, b, "sslclient", 1), 2);
    assert_int_equal(openssl_verify(f->ca, a, "sslclient", 1), 2);
    assert_int_equal(openssl_verify(f->ca, c, "sslclient", 1), 0);
    assert_int_equal(sr_pki_revoke(f->ca, hex), 0); /* again: no duplicate */

    char path[PATH_MAX];
    pathf(path, sizeof(path), "%s/revoked.txt", f->ca);
    char *list = slurp(path);
    size_t lines = 0;
    for (char *p = list; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    assert_non_null(strstr(list, hex));
    free(list);

    assert_int_equal(sr_pki_revoke(f->ca, "not-hex"), -EINVAL);
    assert_int_equal(sr_pki_revoke(f->ca, "0"), -EINVAL);
    assert_int_equal(sr_pki_revoke(f->ca, "00112233445566778899aabbccddeeff0011223344"), -EINVAL); /* 21 bytes */
    assert_int_equal(sr_pki_revoke(f->ca, ""), -EINVAL);

    /* A certificate of another CA. */
    char other[PATH_MAX], oc[PATH_MAX], ok[PATH_MAX];
    pathf(other, sizeof(other), "%s/other", f->tmp);
    pathf(oc, sizeof(oc), "%s/o.crt", f->tmp);
    pathf(ok, sizeof(ok), "%s/o.key", f->tmp);
    assert_int_equal(sr_pki_init_ca(other, "Other", 10), 0);
    assert_int_equal(sr_pki_issue(other, SR_PKI_CLIENT, "a", NULL, 10, oc, ok), 0);
    assert_int_equal(sr_pki_revoke(f->ca, oc), -EXDEV);
    assert_int_equal(sr_pki_revoke(f->ca, ak), -EINVAL); /* a key, not a certificate */
    char nodir[PATH_MAX];
    pathf(nodir, sizeof(nodir), "%s/none", f->tmp);
    assert_int_equal(sr_pki_revoke(nodir, "01"), -ENOENT);
}

/* ---- CSR signing ---- */

static EVP_PKEY *gen_key(const char *curve, unsigned rsa_bits) {
    EVP_PKEY *k = curve ? EVP_EC_gen(curve) : EVP_RSA_gen(rsa_bits);
    assert_non_null(k);
    return k;
}

/* A CSR signed by sign_key, carrying pub_key (a mismatch makes the signature invalid), optional CN and
 * optional extensions. */
static char *make_csr(EVP_PKEY *sign_key, EVP_PKEY *pub_key, const char *cn, const char *san, int ca) {
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    if (cn)
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_NAME_free(name);
    X509_REQ_set_pubkey(req, pub_key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
    if (san)
        sk_X509_EXTENSION_push(exts, X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_alt_name, san));
    if (ca)
        sk_X509_EXTENSION_push(exts, X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    if (sk_X509_EXTENSION_num(exts) > 0)
        X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(req, sign_key, EVP_sha256()) > 0);
    if (pub_key != sign_key) {
        /* Signed over one key, carrying another: the self-signature no longer verifies. */
        X509_REQ_set_pubkey(req, sign_key);
        X509_REQ_sign(req, sign_key, EVP_sha256());
        X509_REQ_set_pubkey(req, pub_key);
    }
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *pem = strndup(data, (size_t)n);
    BIO_free(b);
    X509_REQ_free(req);
    return pem;
}

static void test_sign_csr(void **state) {
    fixture *f = *state;
    init_ca(f);
    char *key = NULL, *csr = NULL, *cert = NULL, path[PATH_MAX];

    /* Good CSR; the certificate verifies as a client and nothing else. */
    assert_int_equal(sr_pki_csr_new("agent-7", &key, &csr), 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, csr, strlen(csr), "agent-7", 5, &cert), 0);
    pathf(path, sizeof(path), "%s/a7.crt", f->tmp);
    write_text(path, cert);
    assert_int_equal(openssl_verify(f->ca, path, "sslclient", 1), 0);
    assert_int_equal(openssl_verify(f->ca, path, "sslserver", 0), 2);
    char cn[SR_PKI_CN_MAX + 1], fp[SR_PKI_FINGERPRINT_SIZE], ca_path[PATH_MAX];
    assert_int_equal(sr_pki_cert_file_cn(path, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "agent-7");
    pathf(ca_path, sizeof(ca_path), "%s/ca.crt", f->ca);
    assert_int_equal(sr_pki_fingerprint(ca_path, fp, sizeof(fp)), 0);
    char *ca_pem = slurp(ca_path);
    assert_int_equal(sr_pki_check_enrollment(key, cert, ca_pem, fp, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "agent-7");
    free(cert);
    cert = NULL;

    /* expected_cn NULL: the CSR's own CN, which must be a valid agent id. */
    assert_int_equal(sr_pki_sign_csr(f->ca, csr, strlen(csr), NULL, 5, &cert), 0);
    free(cert);
    cert = NULL;
    /* CN mismatch. */
    assert_int_equal(sr_pki_sign_csr(f->ca, csr, strlen(csr), "agent-8", 5, &cert), -EPERM);
    assert_null(cert);
    free(key);
    free(csr);

    /* No CN: forced to expected_cn; refused without one. */
    assert_int_equal(sr_pki_csr_new(NULL, &key, &csr), 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, csr, strlen(csr), NULL, 5, &cert), -EINVAL);
    assert_int_equal(sr_pki_sign_csr(f->ca, csr, strlen(csr), "forced", 5, &cert), 0);
    write_text(path, cert);
    assert_int_equal(sr_pki_cert_file_cn(path, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "forced");
    /* check_enrollment: a different key, a different CA fingerprint. */
    char *key2 = NULL, *csr2 = NULL;
    assert_int_equal(sr_pki_csr_new(NULL, &key2, &csr2), 0);
    assert_int_equal(sr_pki_check_enrollment(key2, cert, ca_pem, fp, NULL, 0), -EBADMSG);
    assert_int_equal(sr_pki_check_enrollment(key, cert, ca_pem,
                                             "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                             NULL, 0),
                     -EPERM);
    assert_int_equal(sr_pki_check_enrollment(key, ca_pem, ca_pem, fp, NULL, 0), -EBADMSG); /* no clientAuth */
    free(key2);
    free(csr2);
    free(key);
    free(csr);
    free(ca_pem);
    free(cert);
    cert = NULL;

    /* Not a valid agent id as CN. */
    EVP_PKEY *ec = gen_key("P-256", 0);
    char *bad = make_csr(ec, ec, "has space", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, bad, strlen(bad), NULL, 5, &cert), -EINVAL);
    assert_int_equal(sr_pki_sign_csr(f->ca, bad, strlen(bad), "x", 5, &cert), -EPERM);
    free(bad);

    /* Extensions asked for in the CSR are ignored: no SAN, no CA. */
    char *ext = make_csr(ec, ec, "agent-x", "DNS:evil.example", 1);
    assert_int_equal(sr_pki_sign_csr(f->ca, ext, strlen(ext), "agent-x", 5, &cert), 0);
    X509 *x = pem_cert(cert);
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
    assert_int_equal(X509_check_ca(x), 0);
    X509_free(x);
    free(cert);
    cert = NULL;
    free(ext);

    /* Bad self-signature. */
    EVP_PKEY *other = gen_key("P-256", 0);
    char *forged = make_csr(ec, other, "agent-x", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, forged, strlen(forged), "agent-x", 5, &cert), -EBADMSG);
    free(forged);
    EVP_PKEY_free(other);

    /* Keys: P-384 and RSA 1024 refused, RSA 2048 accepted. */
    EVP_PKEY *p384 = gen_key("P-384", 0);
    char *c384 = make_csr(p384, p384, "agent-x", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, c384, strlen(c384), "agent-x", 5, &cert), -EKEYREJECTED);
    free(c384);
    EVP_PKEY_free(p384);
    EVP_PKEY *rsa1k = gen_key(NULL, 1024);
    char *c1k = make_csr(rsa1k, rsa1k, "agent-x", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, c1k, strlen(c1k), "agent-x", 5, &cert), -EKEYREJECTED);
    free(c1k);
    EVP_PKEY_free(rsa1k);
    EVP_PKEY *rsa2k = gen_key(NULL, 2048);
    char *c2k = make_csr(rsa2k, rsa2k, "agent-r", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, c2k, strlen(c2k), "agent-r", 5, &cert), 0);
    write_text(path, cert);
    assert_int_equal(openssl_verify(f->ca, path, "sslclient", 1), 0);
    free(cert);
    cert = NULL;
    free(c2k);
    EVP_PKEY_free(rsa2k);

    /* Garbage, empty, truncated, oversized. */
    const char *garbage = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    assert_int_equal(sr_pki_sign_csr(f->ca, garbage, strlen(garbage), "a", 5, &cert), -EBADMSG);
    assert_int_equal(sr_pki_sign_csr(f->ca, "hello", 5, "a", 5, &cert), -EBADMSG);
    assert_int_equal(sr_pki_sign_csr(f->ca, "", 0, "a", 5, &cert), -EBADMSG);
    char *good = make_csr(ec, ec, "a", NULL, 0);
    assert_int_equal(sr_pki_sign_csr(f->ca, good, strlen(good) / 2, "a", 5, &cert), -EBADMSG);
    char *big = calloc(1, SR_PKI_CSR_MAX + 2);
    memset(big, 'A', SR_PKI_CSR_MAX + 1);
    assert_int_equal(sr_pki_sign_csr(f->ca, big, SR_PKI_CSR_MAX + 1, "a", 5, &cert), -EFBIG);
    free(big);
    assert_int_equal(sr_pki_sign_csr(f->ca, good, strlen(good), "a", 0, &cert), -EINVAL);
    assert_int_equal(sr_pki_sign_csr(f->ca, good, strlen(good), "bad/id", 5, &cert), -EINVAL);
    assert_null(cert);
    free(good);
    EVP_PKEY_free(ec);
}

static void test_fingerprint(void **state) {
    fixture *f = *state;
    init_ca(f);
    char ca_path[PATH_MAX], out[PATH_MAX], fp[SR_PKI_FINGERPRINT_SIZE], fp2[SR_PKI_FINGERPRINT_SIZE];
    pathf(ca_path, sizeof(ca_path), "%s/ca.crt", f->ca);
    pathf(out, sizeof(out), "%s/fp.txt", f->tmp);
    assert_int_equal(sr_pki_fingerprint(ca_path, fp, sizeof(fp)), 0);
    assert_int_equal(strlen(fp), SR_PKI_FINGERPRINT_SIZE - 1);
    char *pem = slurp(ca_path);
    assert_int_equal(sr_pki_fingerprint(pem, fp2, sizeof(fp2)), 0);
    assert_string_equal(fp, fp2);
    free(pem);
    assert_int_equal(sr_pki_fingerprint(ca_path, fp2, 10), -ENOBUFS);

    /* The same value as `openssl x509 -fingerprint -sha256` ("sha256 Fingerprint=AB:CD:..."). */
    const char *argv[] = {SR_OPENSSL_BIN, "x509", "-noout", "-fingerprint", "-sha256", "-in", ca_path, NULL};
    assert_int_equal(run(out, argv), 0);
    char *text = slurp(out);
    char *eq = strchr(text, '=');
    assert_non_null(eq);
    eq[strcspn(eq, "\n")] = '\0';
    assert_int_equal(sr_pki_fingerprint_parse(eq + 1, fp2, sizeof(fp2)), 0);
    assert_string_equal(fp, fp2);
    free(text);
    assert_int_equal(sr_pki_fingerprint_parse(fp, fp2, sizeof(fp2)), 0);
    assert_string_equal(fp, fp2);
    assert_int_equal(sr_pki_fingerprint_parse("sha256:abcd", fp2, sizeof(fp2)), -EINVAL);
    assert_int_equal(sr_pki_fingerprint_parse("", fp2, sizeof(fp2)), -EINVAL);
    char longer[100];
    snprintf(longer, sizeof(longer), "%s00", fp);
    assert_int_equal(sr_pki_fingerprint_parse(longer, fp2, sizeof(fp2)), -EINVAL);
    snprintf(longer, sizeof(longer), "%s", fp);
    longer[10] = 'g';
    assert_int_equal(sr_pki_fingerprint_parse(longer, fp2, sizeof(fp2)), -EINVAL);
}

static void test_agent_id(void **state) {
    (void)state;
    assert_true(sr_pki_agent_id_valid("agent-1"));
    assert_true(sr_pki_agent_id_valid("host.example.com_2"));
    assert_true(sr_pki_agent_id_valid("a"));
    char id[80];
    memset(id, 'a', 64);
    id[64] = '\0';
    assert_true(sr_pki_agent_id_valid(id));
    id[64] = 'a';
    id[65] = '\0';
    assert_false(sr_pki_agent_id_valid(id));
    assert_false(sr_pki_agent_id_valid(""));
    assert_false(sr_pki_agent_id_valid(NULL));
    assert_false(sr_pki_agent_id_valid("."));
    assert_false(sr_pki_agent_id_valid(".."));
    assert_false(sr_pki_agent_id_valid("a/b"));
    assert_false(sr_pki_agent_id_valid("a b"));
    assert_false(sr_pki_agent_id_valid("agent\n"));
    assert_false(sr_pki_agent_id_valid("h\xc3\xa9"));
}

/* ---- tokens ---- */

/* The path of the single token file in dir/tokens (asserts there is exactly one). */
static void only_token_file(const fixture *f, char *buf, size_t n) {
    char tdir[PATH_MAX];
    pathf(tdir, sizeof(tdir), "%s/tokens", f->ca);
    DIR *d = opendir(tdir);
    assert_non_null(d);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        pathf(buf, n, "%s/%s", tdir, de->d_name);
        count++;
    }
    closedir(d);
    assert_int_equal(count, 1);
}

static void test_tokens(void **state) {
    fixture *f = *state;
    char token[SR_PKI_TOKEN_SIZE];
    assert_int_equal(sr_pki_token_create(f->ca, "agent-1", 60, token, sizeof(token)), -ENOENT); /* no CA */
    init_ca(f);
    assert_int_equal(sr_pki_token_create(f->ca, "bad id", 60, token, sizeof(token)), -EINVAL);
    assert_int_equal(sr_pki_token_create(f->ca, "agent-1", 0, token, sizeof(token)), -EINVAL);
    assert_int_equal(sr_pki_token_create(f->ca, "agent-1", SR_PKI_TOKEN_TTL_MAX + 1, token, sizeof(token)), -EINVAL);
    assert_int_equal(sr_pki_token_create(f->ca, "agent-1", 60, token, 10), -ENOBUFS);
    assert_int_equal(sr_pki_token_create(f->ca, "agent-1", 60, token, sizeof(token)), 0);
    assert_int_equal(strlen(token), SR_PKI_TOKEN_LEN);
    assert_int_equal(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     SR_PKI_TOKEN_LEN);

    /* Only the hash is stored. */
    char tfile[PATH_MAX], tdir[PATH_MAX];
    only_token_file(f, tfile, sizeof(tfile));
    pathf(tdir, sizeof(tdir), "%s/tokens", f->ca);
    assert_int_equal(file_mode(tfile), 0600);
    assert_int_equal(file_mode(tdir), 0700);
    char *stored = slurp(tfile);
    assert_null(strstr(stored, token));
    assert_non_null(strstr(stored, "\"agent_id\":\"agent-1\""));
    free(stored);

    char *key = NULL, *csr = NULL, *cert = NULL, *ca = NULL;
    assert_int_equal(sr_pki_csr_new(NULL, &key, &csr), 0);

    /* A refused CSR leaves the token usable. */
    assert_int_equal(sr_pki_token_redeem(f->ca, token, "junk", 4, 5, &cert, &ca), -EBADMSG);
    char *wrong_key = NULL, *wrong_csr = NULL;
    assert_int_equal(sr_pki_csr_new("agent-2", &wrong_key, &wrong_csr), 0);
    assert_int_equal(sr_pki_token_redeem(f->ca, token, wrong_csr, strlen(wrong_csr), 5, &cert, &ca), -EPERM);
    free(wrong_key);
    free(wrong_csr);

    /* Redeemed once. */
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), 0);
    char fp[SR_PKI_FINGERPRINT_SIZE], ca_path[PATH_MAX], cn[SR_PKI_CN_MAX + 1];
    pathf(ca_path, sizeof(ca_path), "%s/ca.crt", f->ca);
    assert_int_equal(sr_pki_fingerprint(ca_path, fp, sizeof(fp)), 0);
    assert_int_equal(sr_pki_check_enrollment(key, cert, ca, fp, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "agent-1");
    char *ca_file = slurp(ca_path);
    assert_string_equal(ca, ca_file);
    free(ca_file);
    free(cert);
    free(ca);
    cert = ca = NULL;
    /* ... and only once. */
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), -ENOENT);
    assert_null(cert);
    assert_null(ca);

    /* Malformed and unknown tokens. */
    assert_int_equal(sr_pki_token_redeem(f->ca, "short", csr, strlen(csr), 5, &cert, &ca), -EINVAL);
    assert_int_equal(sr_pki_token_redeem(f->ca, "../../../../../../etc/passwd/xxxxxxxxxxxxxxxx", csr, strlen(csr), 5,
                                         &cert, &ca),
                     -EINVAL);
    assert_int_equal(sr_pki_token_redeem(f->ca, NULL, csr, strlen(csr), 5, &cert, &ca), -EINVAL);
    char unknown[SR_PKI_TOKEN_SIZE];
    memset(unknown, 'A', SR_PKI_TOKEN_LEN);
    unknown[SR_PKI_TOKEN_LEN] = '\0';
    assert_int_equal(sr_pki_token_redeem(f->ca, unknown, csr, strlen(csr), 5, &cert, &ca), -ENOENT);

    /* Expired: refused and deleted. */
    assert_int_equal(sr_pki_token_create(f->ca, "agent-3", 60, token, sizeof(token)), 0);
    only_token_file(f, tfile, sizeof(tfile));
    write_text(tfile, "{\"agent_id\":\"agent-3\",\"expires_unix\":1000}");
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), -ETIME);
    assert_int_equal(access(tfile, F_OK), -1);
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), -ENOENT);

    /* Corrupt token file. */
    assert_int_equal(sr_pki_token_create(f->ca, "agent-4", 60, token, sizeof(token)), 0);
    only_token_file(f, tfile, sizeof(tfile));
    write_text(tfile, "{\"agent_id\":\"../x\",\"expires_unix\":99999999999}");
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), -EIO);
    write_text(tfile, "not json");
    assert_int_equal(sr_pki_token_redeem(f->ca, token, csr, strlen(csr), 5, &cert, &ca), -EIO);
    unlink(tfile);
    free(key);
    free(csr);
}

typedef struct {
    const char *dir, *token, *csr;
    pthread_barrier_t *barrier;
    int result;
} redeem_job;

static void *redeem_thread(void *arg) {
    redeem_job *j = arg;
    char *cert = NULL, *ca = NULL;
    pthread_barrier_wait(j->barrier);
    j->result = sr_pki_token_redeem(j->dir, j->token, j->csr, strlen(j->csr), 5, &cert, &ca);
    free(cert);
    free(ca);
    return NULL;
}

static void test_concurrent_redeem(void **state) {
    fixture *f = *state;
    init_ca(f);
    char *key = NULL, *csr = NULL;
    assert_int_equal(sr_pki_csr_new(NULL, &key, &csr), 0);
    for (int round = 0; round < 10; round++) {
        char token[SR_PKI_TOKEN_SIZE];
        assert_int_equal(sr_pki_token_create(f->ca, "racer", 60, token, sizeof(token)), 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        redeem_job jobs[2] = {{f->ca, token, csr, &barrier, 1}, {f->ca, token, csr, &barrier, 1}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, redeem_thread, &jobs[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&barrier);
        int wins = (jobs[0].result == 0) + (jobs[1].result == 0);
        int lost = (jobs[0].result == -ENOENT) + (jobs[1].result == -ENOENT);
        assert_int_equal(wins, 1);
        assert_int_equal(lost, 1);
    }
    free(key);
    free(csr);
}

/* ---- the command line, with an enrollment server ---- */

typedef struct {
    char *data;
    size_t len;
} http_body;

static void http_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)c;
    (void)code;
    http_body *b = *con_cls;
    if (b)
        free(b->data);
    free(b);
    *con_cls = NULL;
}

static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static json_t *http_error(const char *code, const char *msg) {
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* POST /api/v1/enroll as the core serves it: cls is the CA directory. */
static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(http_body));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    http_body *b = *con_cls;
    if (*upload_size) {
        if (b->len + *upload_size > 64 * 1024)
            return MHD_NO;
        char *nd = realloc(b->data, b->len + *upload_size + 1);
        if (!nd)
            return MHD_NO;
        b->data = nd;
        memcpy(b->data + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || strcmp(url, "/api/v1/enroll") != 0)
        return http_reply(c, 404, http_error("not_found", "no such route"));
    json_t *req = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *token = NULL, *csr = NULL;
    if (!req || json_unpack(req, "{s:s, s:s}", "token", &token, "csr", &csr) != 0) {
        json_decref(req);
        return http_reply(c, 400, http_error("bad_request", "expected {\"token\",\"csr\"}"));
    }
    char *cert = NULL, *ca = NULL;
    int r = sr_pki_token_redeem(cls, token, csr, strlen(csr), 5, &cert, &ca);
    json_decref(req);
    if (r == -ENOENT || r == -ETIME)
        return http_reply(c, 403, http_error("forbidden", r == -ETIME ? "token expired" : "unknown or used token"));
    if (r < 0)
        return http_reply(c, 400, http_error("bad_request", strerror(-r)));
    json_t *ok = json_pack("{s:s, s:s}", "certificate", cert, "ca", ca);
    free(cert);
    free(ca);
    return http_reply(c, 200, ok);
}

static struct MHD_Daemon *http_start(const char *ca_dir, int *ret_port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, http_handler,
                                            (void *)(uintptr_t)ca_dir, MHD_OPTION_SOCK_ADDR, &a,
                                            MHD_OPTION_NOTIFY_COMPLETED, http_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    *ret_port = info->port;
    return d;
}

static bool contains(const char *path, const char *needle) {
    char *text = slurp(path);
    bool found = strstr(text, needle) != NULL;
    if (!found)
        print_message("%s does not contain \"%s\":\n%s\n", path, needle, text);
    free(text);
    return found;
}

static void test_cli_enroll(void **state) {
    fixture *f = *state;
    init_ca(f);
    int port = 0;
    struct MHD_Daemon *d = http_start(f->ca, &port);
    char core[64], out[PATH_MAX], log[PATH_MAX], ca_path[PATH_MAX], fp[SR_PKI_FINGERPRINT_SIZE];
    char token[SR_PKI_TOKEN_SIZE], path[PATH_MAX];
    snprintf(core, sizeof(core), "http://127.0.0.1:%d/", port);
    pathf(out, sizeof(out), "%s/agent", f->tmp);
    pathf(log, sizeof(log), "%s/cli.log", f->tmp);
    pathf(ca_path, sizeof(ca_path), "%s/ca.crt", f->ca);
    assert_int_equal(sr_pki_fingerprint(ca_path, fp, sizeof(fp)), 0);

    /* The token command prints the token, the fingerprint and the enroll command. */
    const char *tok_argv[] = {SR_PKI_BIN, "token", "--dir", f->ca, "--id", "edge-1", "--ttl", "10m", "--quiet", NULL};
    assert_int_equal(run(log, tok_argv), 0);
    char *printed = slurp(log);
    printed[strcspn(printed, "\n")] = '\0';
    assert_int_equal(strlen(printed), SR_PKI_TOKEN_LEN);
    snprintf(token, sizeof(token), "%s", printed);
    free(printed);

    /* A wrong fingerprint: refused, nothing written, even though the core accepted the token. */
    const char *zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    const char *bad_argv[] = {SR_PKI_BIN, "enroll", "--core", core, "--token", token, "--ca-fingerprint", zero,
                              "--out", out, NULL};
    assert_int_equal(run(log, bad_argv), 1);
    assert_true(contains(log, "refusing the enrollment"));
    assert_true(contains(log, fp));
    assert_int_equal(access(out, F_OK), -1);

    /* That token is used up. */
    const char *used_argv[] = {SR_PKI_BIN, "enroll", "--core", core, "--token", token, "--ca-fingerprint", fp,
                               "--out", out, NULL};
    assert_int_equal(run(log, used_argv), 1);
    assert_true(contains(log, "403"));
    assert_int_equal(access(out, F_OK), -1);

    /* A fresh token with the right fingerprint (in openssl's colon form). */
    const char *tok2_argv[] = {SR_PKI_BIN, "token", "--dir", f->ca, "--id", "edge-1", "--core", core, NULL};
    assert_int_equal(run(log, tok2_argv), 0);
    assert_true(contains(log, fp));
    assert_true(contains(log, " enroll --core "));
    char *text = slurp(log);
    char *t = strstr(text, "--token ");
    assert_non_null(t);
    snprintf(token, sizeof(token), "%.*s", SR_PKI_TOKEN_LEN, t + 8);
    free(text);
    char colon_fp[200];
    size_t k = 0;
    for (size_t i = 7; fp[i]; i++) {
        if (i > 7 && (i - 7) % 2 == 0)
            colon_fp[k++] = ':';
        colon_fp[k++] = (char)toupper((unsigned char)fp[i]);
    }
    colon_fp[k] = '\0';
    const char *ok_argv[] = {SR_PKI_BIN, "enroll", "--core", core, "--token", token, "--ca-fingerprint", colon_fp,
                             "--out", out, NULL};
    assert_int_equal(run(log, ok_argv), 0);
    assert_true(contains(log, "enrolled as agent edge-1"));
    assert_int_equal(file_mode(out), 0700);
    pathf(path, sizeof(path), "%s/agent.key", out);
    assert_int_equal(file_mode(path), 0600);
    char *key_pem = slurp(path);
    pathf(path, sizeof(path), "%s/agent.crt", out);
    char *cert_pem = slurp(path);
    assert_int_equal(openssl_verify(f->ca, path, "sslclient", 1), 0);
    char cn[SR_PKI_CN_MAX + 1];
    assert_int_equal(sr_pki_cert_file_cn(path, cn, sizeof(cn)), 0);
    assert_string_equal(cn, "edge-1");
    pathf(path, sizeof(path), "%s/ca.crt", out);
    char *ca_pem = slurp(path);
    assert_int_equal(sr_pki_check_enrollment(key_pem, cert_pem, ca_pem, fp, NULL, 0), 0);
    free(key_pem);
    free(cert_pem);
    free(ca_pem);

    /* Enrolling again into the same directory needs --force. */
    assert_int_equal(run(log, ok_argv), 1);
    assert_true(contains(log, "--force"));
    MHD_stop_daemon(d);

    /* A rogue core with its own CA: the client holds the real fingerprint and refuses. */
    char rogue[PATH_MAX], out2[PATH_MAX];
    pathf(rogue, sizeof(rogue), "%s/rogue", f->tmp);
    pathf(out2, sizeof(out2), "%s/agent2", f->tmp);
    assert_int_equal(sr_pki_init_ca(rogue, "Rogue", 10), 0);
    assert_int_equal(sr_pki_token_create(rogue, "edge-2", 60, token, sizeof(token)), 0);
    d = http_start(rogue, &port);
    snprintf(core, sizeof(core), "http://127.0.0.1:%d", port);
    const char *rogue_argv[] = {SR_PKI_BIN, "enroll", "--core", core, "--token", token, "--ca-fingerprint", fp,
                                "--out", out2, NULL};
    assert_int_equal(run(log, rogue_argv), 1);
    assert_true(contains(log, "refusing the enrollment"));
    assert_int_equal(access(out2, F_OK), -1);
    MHD_stop_daemon(d);

    /* Nothing listening. */
    const char *down_argv[] = {SR_PKI_BIN, "enroll", "--core", core, "--token", token, "--ca-fingerprint", fp,
                               "--out", out2, NULL};
    assert_int_equal(run(log, down_argv), 1);
    assert_true(contains(log, "could not enroll with"));
}

static void test_cli_commands(void **state) {
    fixture *f = *state;
    char log[PATH_MAX], path[PATH_MAX], dev[PATH_MAX];
    pathf(log, sizeof(log), "%s/cli.log", f->tmp);

    /* Usage errors and help. */
    const char *none[] = {SR_PKI_BIN, NULL};
    assert_int_equal(run(log, none), 2);
    const char *unknown[] = {SR_PKI_BIN, "frobnicate", NULL};
    assert_int_equal(run(log, unknown), 2);
    static const char *const cmds[] = {"init", "issue-gateway", "issue-agent", "revoke", "token", "enroll",
                                       "ensure-dev"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const char *help[] = {SR_PKI_BIN, cmds[i], "--help", NULL};
        assert_int_equal(run(log, help), 0);
        assert_true(contains(log, cmds[i]));
    }
    const char *missing[] = {SR_PKI_BIN, "issue-gateway", "--dir", f->ca, NULL};
    assert_int_equal(run(log, missing), 2);
    assert_true(contains(log, "needs --cn"));
    const char *wrong_opt[] = {SR_PKI_BIN, "init", "--dir", f->ca, "--san", "x", NULL};
    assert_int_equal(run(log, wrong_opt), 2);
    const char *bad_days[] = {SR_PKI_BIN, "init", "--dir", f->ca, "--days", "12x", NULL};
    assert_int_equal(run(log, bad_days), 2);

    /* init, issue, revoke. */
    const char *init[] = {SR_PKI_BIN, "init", "--dir", f->ca, "--cn", "CLI CA", "--days", "30", NULL};
    assert_int_equal(run(log, init), 0);
    assert_int_equal(run(log, init), 1);
    assert_true(contains(log, "already exists"));
    const char *gw[] = {SR_PKI_BIN, "issue-gateway", "--dir", f->ca, "--cn", "gw", "--san", "localhost",
                        "--san", "127.0.0.1", NULL};
    assert_int_equal(run(log, gw), 0);
    pathf(path, sizeof(path), "%s/gateway.crt", f->ca);
    assert_int_equal(openssl_verify(f->ca, path, "sslserver", 1), 0);
    assert_int_equal(run(log, gw), 1); /* exists: needs --force */
    const char *agent[] = {SR_PKI_BIN, "issue-agent", "--dir", f->ca, "--id", "agent-9", NULL};
    assert_int_equal(run(log, agent), 0);
    pathf(path, sizeof(path), "%s/agents/agent-9.crt", f->ca);
    assert_int_equal(openssl_verify(f->ca, path, "sslclient", 1), 0);
    const char *revoke[] = {SR_PKI_BIN, "revoke", "--dir", f->ca, "--cert", path, NULL};
    assert_int_equal(run(log, revoke), 0);
    assert_int_equal(openssl_verify(f->ca, path, "sslclient", 1), 2);
    const char *revoke_both[] = {SR_PKI_BIN, "revoke", "--dir", f->ca, "--cert", path, "--serial", "01", NULL};
    assert_int_equal(run(log, revoke_both), 2);
    const char *revoke_serial[] = {SR_PKI_BIN, "revoke", "--dir", f->ca, "--serial", "0x0badc0de", NULL};
    assert_int_equal(run(log, revoke_serial), 0);
    const char *bad_id[] = {SR_PKI_BIN, "issue-agent", "--dir", f->ca, "--id", "no/slash", NULL};
    assert_int_equal(run(log, bad_id), 2);

    /* ensure-dev: creates what is missing, then changes nothing. */
    pathf(dev, sizeof(dev), "%s/dev", f->tmp);
    const char *ensure[] = {SR_PKI_BIN, "ensure-dev", "--dir", dev, "--agent-id", "dev-agent", NULL};
    assert_int_equal(run(log, ensure), 0);
    assert_true(contains(log, "created"));
    static const char *const files[] = {"ca.crt", "ca.key", "ca.crl", "gateway.crt", "gateway.key", "agent.crt",
                                        "agent.key"};
    char *before[7];
    for (size_t i = 0; i < 7; i++) {
        pathf(path, sizeof(path), "%s/%s", dev, files[i]);
        before[i] = slurp(path);
    }
    pathf(path, sizeof(path), "%s/gateway.crt", dev);
    assert_int_equal(openssl_verify(dev, path, "sslserver", 1), 0);
    pathf(path, sizeof(path), "%s/agent.crt", dev);
    assert_int_equal(openssl_verify(dev, path, "sslclient", 1), 0);
    assert_int_equal(run(log, ensure), 0);
    char *second = slurp(log);
    assert_string_equal(second, "");
    free(second);
    for (size_t i = 0; i < 7; i++) {
        pathf(path, sizeof(path), "%s/%s", dev, files[i]);
        char *now = slurp(path);
        assert_string_equal(now, before[i]);
        free(now);
        free(before[i]);
    }
    /* A missing gateway key is reissued with its certificate only when both are gone. */
    pathf(path, sizeof(path), "%s/gateway.key", dev);
    unlink(path);
    assert_int_equal(run(log, ensure), 1);
    assert_true(contains(log, "without"));
    pathf(path, sizeof(path), "%s/gateway.crt", dev);
    unlink(path);
    assert_int_equal(run(log, ensure), 0);
    assert_true(contains(log, "gateway.crt"));
    /* Another agent id does not silently replace the agent certificate. */
    const char *other[] = {SR_PKI_BIN, "ensure-dev", "--dir", dev, "--agent-id", "someone-else", NULL};
    assert_int_equal(run(log, other), 1);
    assert_true(contains(log, "dev-agent"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_and_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_csr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test(test_agent_id),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_redeem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_enroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
