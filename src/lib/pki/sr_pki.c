/* The ServiceRadar CA: see sr_pki.h for the directory layout and the contract of each function. */
#include "sr_pki.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_parse.h"

#define PKI_CERT_FILE_MAX (64 * 1024)        /* a PEM certificate or key */
#define PKI_LIST_FILE_MAX (8 * 1024 * 1024)  /* revoked.txt */
#define PKI_REVOKED_MAX 100000               /* entries in revoked.txt */
#define PKI_TOKEN_FILE_MAX 4096
#define PKI_SERIAL_BYTES_MAX 20
#define PKI_BACKDATE_S 300
#define PKI_RSA_BITS_MIN 2048
#define PKI_RSA_BITS_MAX 8192

/* Scope cleanup for OpenSSL and jansson objects. */
#define PKI_CLEANUP(type, fn, name)                                                                                    \
    static inline void pki_cleanup_##name(type **p) {                                                                  \
        if (*p)                                                                                                        \
            fn(*p);                                                                                                    \
    }
PKI_CLEANUP(EVP_PKEY, EVP_PKEY_free, pkey)
PKI_CLEANUP(EVP_PKEY_CTX, EVP_PKEY_CTX_free, pkey_ctx)
PKI_CLEANUP(X509, X509_free, x509)
PKI_CLEANUP(X509_REQ, X509_REQ_free, req)
PKI_CLEANUP(X509_CRL, X509_CRL_free, crl)
PKI_CLEANUP(X509_NAME, X509_NAME_free, name)
PKI_CLEANUP(X509_REVOKED, X509_REVOKED_free, revoked)
PKI_CLEANUP(BIO, BIO_free_all, bio)
PKI_CLEANUP(BIGNUM, BN_free, bn)
PKI_CLEANUP(ASN1_INTEGER, ASN1_INTEGER_free, aint)
PKI_CLEANUP(ASN1_TIME, ASN1_TIME_free, atime)
PKI_CLEANUP(GENERAL_NAMES, GENERAL_NAMES_free, gens)
PKI_CLEANUP(json_t, json_decref, json)
#define _cleanup_pkey_ _cleanup_(pki_cleanup_pkey)
#define _cleanup_x509_ _cleanup_(pki_cleanup_x509)
#define _cleanup_bio_ _cleanup_(pki_cleanup_bio)
#define _cleanup_bn_ _cleanup_(pki_cleanup_bn)

/* A heap buffer holding secret bytes: wiped before it is freed. */
typedef struct {
    char *p;
    size_t len;
} pki_secret;
static void pki_secret_wipe(pki_secret *s) {
    if (s->p) {
        OPENSSL_cleanse(s->p, s->len);
        free(s->p);
        s->p = NULL;
    }
}
#define _cleanup_secret_ _cleanup_(pki_secret_wipe)

typedef struct {
    X509 *cert;
    EVP_PKEY *key;
} pki_ca;
static void pki_ca_release(pki_ca *ca) {
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = NULL;
    ca->key = NULL;
}
#define _cleanup_ca_ _cleanup_(pki_ca_release)

/* Errors from OpenSSL are returned as errnos; the thread's OpenSSL error queue is left empty. */
static int pki_ret(int r) {
    ERR_clear_error();
    return r;
}

static int path_join(char *buf, size_t n, const char *dir, const char *name) {
    int r = snprintf(buf, n, "%s/%s", dir, name);
    if (r < 0 || (size_t)r >= n)
        return -ENAMETOOLONG;
    return 0;
}

/* Copies a memory BIO's contents into a NUL-terminated heap string. */
static int bio_to_string(BIO *b, char **ret, size_t *ret_len) {
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0 || !data)
        return -EIO;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *ret = s;
    if (ret_len)
        *ret_len = (size_t)n;
    return 0;
}

static int cert_to_pem(X509 *x, char **ret) {
    _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
    if (!b || PEM_write_bio_X509(b, x) != 1)
        return -EIO;
    return bio_to_string(b, ret, NULL);
}

/* PKCS#8 PEM of a private key in a buffer that is wiped on release. */
static int key_to_pem(EVP_PKEY *k, pki_secret *ret) {
    _cleanup_bio_ BIO *b = BIO_new(BIO_s_secmem());
    if (!b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
        return -EIO;
    return bio_to_string(b, &ret->p, &ret->len);
}

static int pem_to_cert(const char *pem, size_t len, X509 **ret) {
    if (len > PKI_CERT_FILE_MAX)
        return -EFBIG;
    _cleanup_bio_ BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return -ENOMEM;
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (!x)
        return -EBADMSG;
    *ret = x;
    return 0;
}

static int cert_load(const char *path, X509 **ret) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, PKI_CERT_FILE_MAX, &buf, &len);
    if (r < 0)
        return r;
    return pem_to_cert(buf, len, ret);
}

static int key_load(const char *path, EVP_PKEY **ret) {
    _cleanup_secret_ pki_secret s = {0};
    int r = sr_file_read_all(path, PKI_CERT_FILE_MAX, &s.p, &s.len);
    if (r < 0)
        return r;
    _cleanup_bio_ BIO *b = BIO_new_mem_buf(s.p, (int)s.len);
    if (!b)
        return -ENOMEM;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    if (!k)
        return -EBADMSG;
    *ret = k;
    return 0;
}

static int ca_load(const char *dir, pki_ca *ret) {
    char path[PATH_MAX];
    _cleanup_ca_ pki_ca ca = {0};
    int r = path_join(path, sizeof(path), dir, "ca.crt");
    if (r < 0 || (r = cert_load(path, &ca.cert)) < 0)
        return r;
    r = path_join(path, sizeof(path), dir, "ca.key");
    if (r < 0 || (r = key_load(path, &ca.key)) < 0)
        return r;
    if (X509_check_private_key(ca.cert, ca.key) != 1)
        return -EBADMSG;
    *ret = ca;
    ca = (pki_ca){0};
    return 0;
}

static bool days_valid(int days) { return days >= 1 && days <= SR_PKI_DAYS_MAX; }

/* A common name for a CA or server: 1..64 printable ASCII characters. */
static bool name_valid(const char *s) {
    if (!s)
        return false;
    size_t n = strnlen(s, SR_PKI_CN_MAX + 1);
    if (n == 0 || n > SR_PKI_CN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

int sr_pki_agent_id_valid(const char *id) {
    if (!id)
        return 0;
    size_t n = strnlen(id, SR_PKI_AGENT_ID_MAX + 1);
    /* no leading/trailing dot and no "..": commands.agent.<id> must stay a valid NATS subject */
    if (n == 0 || n > SR_PKI_AGENT_ID_MAX || id[0] == '.' || id[n - 1] == '.' || strstr(id, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

/* DNS name for a subjectAltName: labels of [A-Za-z0-9-], an optional leading "*." wildcard. */
static bool dns_name_valid(const char *s) {
    size_t n = strnlen(s, 254);
    if (n == 0 || n > 253)
        return false;
    if (s[0] == '*') {
        if (s[1] != '.' || n < 3)
            return false;
        s += 2;
    }
    size_t label = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

static int random_serial(ASN1_INTEGER **ret) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return -EIO;
    b[0] &= 0x7f; /* positive */
    b[15] |= 0x01; /* never zero */
    _cleanup_bn_ BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
    if (!bn)
        return -ENOMEM;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    if (!ai)
        return -ENOMEM;
    *ret = ai;
    return 0;
}

static int name_with_cn(const char *cn, X509_NAME **ret) {
    _cleanup_(pki_cleanup_name) X509_NAME *n = X509_NAME_new();
    if (!n)
        return -ENOMEM;
    if (cn && X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
        return -EINVAL;
    *ret = SR_TAKE_PTR(n);
    return 0;
}

/* The single CN of a name. -ENODATA: none; -EINVAL: several, NUL inside, or too long. */
static int name_get_cn(const X509_NAME *name, char *buf, size_t buflen) {
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return -ENODATA;
    if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return -EINVAL;
    const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, d);
    if (n < 0)
        return -EINVAL;
    int r = 0;
    if (memchr(utf8, '\0', (size_t)n))
        r = -EINVAL;
    else if ((size_t)n >= buflen)
        r = -ENOBUFS;
    else {
        memcpy(buf, utf8, (size_t)n);
        buf[n] = '\0';
    }
    OPENSSL_free(utf8);
    return r;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (!e)
        return -EIO;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -EIO;
}

static int san_push(GENERAL_NAMES *gens, const char *s) {
    GENERAL_NAME *g = GENERAL_NAME_new();
    if (!g)
        return -ENOMEM;
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
    if (ip) {
        GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
    } else {
        ASN1_IA5STRING *dns = dns_name_valid(s) ? ASN1_IA5STRING_new() : NULL;
        if (!dns || ASN1_STRING_set(dns, s, (int)strlen(s)) != 1) {
            ASN1_IA5STRING_free(dns);
            GENERAL_NAME_free(g);
            return -EINVAL;
        }
        GENERAL_NAME_set0_value(g, GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return -ENOMEM;
    }
    return 0;
}

static int add_sans(X509 *x, const char *cn, const char *const *sans) {
    _cleanup_(pki_cleanup_gens) GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (!gens)
        return -ENOMEM;
    size_t n = 0;
    for (; sans && sans[n]; n++) {
        if (n >= SR_PKI_SAN_MAX)
            return -E2BIG;
        int r = san_push(gens, sans[n]);
        if (r < 0)
            return r;
    }
    if (n == 0) {
        int r = san_push(gens, cn);
        if (r < 0)
            return r;
    }
    return X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_REPLACE) == 1 ? 0 : -EIO;
}

/* Builds and signs a certificate for pub. ca == NULL: a self-signed CA certificate signed by self_key. */
static int build_cert(const pki_ca *ca, EVP_PKEY *self_key, EVP_PKEY *pub, const char *cn, sr_pki_kind kind,
                      const char *const *sans, int days, X509 **ret) {
    _cleanup_x509_ X509 *x = X509_new();
    _cleanup_(pki_cleanup_aint) ASN1_INTEGER *serial = NULL;
    _cleanup_(pki_cleanup_name) X509_NAME *subject = NULL;
    if (!x)
        return -ENOMEM;
    int r = random_serial(&serial);
    if (r < 0 || (r = name_with_cn(cn, &subject)) < 0)
        return r;
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, serial) != 1 ||
        X509_set_subject_name(x, subject) != 1 ||
        X509_set_issuer_name(x, ca ? X509_get_subject_name(ca->cert) : subject) != 1 ||
        X509_set_pubkey(x, pub) != 1)
        return -EIO;
    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -PKI_BACKDATE_S, NULL) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
        return -EIO;
    /* Nothing outlives its CA. */
    if (ca && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
        X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) != 1)
        return -EIO;

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca ? ca->cert : x, x, NULL, NULL, 0);
    if (!ca) {
        if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
            (r = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
            (r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
            (r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid")) < 0)
            return r;
    } else {
        if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
            (r = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) < 0 ||
            (r = add_ext(x, &ctx, NID_ext_key_usage, kind == SR_PKI_SERVER ? "serverAuth" : "clientAuth")) < 0 ||
            (r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
            (r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) < 0)
            return r;
        if (kind == SR_PKI_SERVER && (r = add_sans(x, cn, sans)) < 0)
            return r;
    }
    if (X509_sign(x, ca ? ca->key : self_key, EVP_sha256()) <= 0)
        return -EIO;
    *ret = SR_TAKE_PTR(x);
    return 0;
}

/* Appends "SERIAL NOT_AFTER KIND CN" to issued.txt (one write on an O_APPEND fd). */
static int issued_append(const char *dir, const X509 *x, sr_pki_kind kind, const char *cn) {
    char path[PATH_MAX];
    int r = path_join(path, sizeof(path), dir, "issued.txt");
    if (r < 0)
        return r;
    _cleanup_bn_ BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (!bn)
        return -ENOMEM;
    char *hex = BN_bn2hex(bn);
    if (!hex)
        return -ENOMEM;
    struct tm tm;
    long long not_after = 0;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        not_after = (long long)timegm(&tm);
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %lld %s %s\n", hex, not_after, kind == SR_PKI_SERVER ? "server" : "client",
                     cn);
    OPENSSL_free(hex);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    return sr_fd_write_all(fd, line, (size_t)n);
}

/* Serial in hex: optional 0x, ':' separators, 1..20 bytes, not zero. */
static int serial_parse(const char *s, BIGNUM **ret) {
    char hex[2 * PKI_SERIAL_BYTES_MAX + 1];
    size_t n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s; s++) {
        if (*s == ':')
            continue;
        if (!isxdigit((unsigned char)*s) || n >= sizeof(hex) - 1)
            return -EINVAL;
        hex[n++] = *s;
    }
    hex[n] = '\0';
    if (n == 0)
        return -EINVAL;
    BIGNUM *bn = NULL;
    if (BN_hex2bn(&bn, hex) != (int)n || !bn || BN_is_zero(bn)) {
        BN_free(bn);
        return -EINVAL;
    }
    *ret = bn;
    return 0;
}

typedef struct {
    BIGNUM *serial;
    int64_t when;
} pki_revoked;

typedef struct {
    pki_revoked *v;
    size_t n;
} pki_revoked_list;

static void revoked_list_release(pki_revoked_list *l) {
    for (size_t i = 0; i < l->n; i++)
        BN_free(l->v[i].serial);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Parses revoked.txt ("SERIAL_HEX UNIX_TIME" lines; blank lines and '#' comments skipped). */
static int revoked_load(const char *path, pki_revoked_list *ret) {
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, PKI_LIST_FILE_MAX, &buf, &len);
    if (r == -ENOENT) {
        *ret = (pki_revoked_list){0};
        return 0;
    }
    if (r < 0)
        return r;
    _cleanup_(revoked_list_release) pki_revoked_list l = {0};
    size_t cap = 0;
    char *save = buf;
    for (char *line = buf; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (*line == '\0' || *line == '#')
            continue;
        char *sp = strchr(line, ' ');
        if (!sp)
            return -EIO;
        *sp = '\0';
        BIGNUM *bn = NULL;
        int64_t when = 0;
        if (serial_parse(line, &bn) < 0)
            return -EIO;
        if (sr_parse_i64(sp + 1, 0, INT64_MAX / 2, &when) < 0) {
            BN_free(bn);
            return -EIO;
        }
        if (l.n == cap) {
            if (cap >= PKI_REVOKED_MAX) {
                BN_free(bn);
                return -E2BIG;
            }
            size_t ncap = cap ? cap * 2 : 64;
            pki_revoked *nv = realloc(l.v, ncap * sizeof(*nv));
            if (!nv) {
                BN_free(bn);
                return -ENOMEM;
            }
            l.v = nv;
            cap = ncap;
        }
        l.v[l.n++] = (pki_revoked){bn, when};
    }
    *ret = l;
    l = (pki_revoked_list){0};
    return 0;
}

static int crl_add(X509_CRL *crl, const pki_revoked *e) {
    _cleanup_(pki_cleanup_revoked) X509_REVOKED *rv = X509_REVOKED_new();
    _cleanup_(pki_cleanup_aint) ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(e->serial, NULL);
    _cleanup_(pki_cleanup_atime) ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)e->when);
    if (!rv || !serial || !when)
        return -ENOMEM;
    if (X509_REVOKED_set_serialNumber(rv, serial) != 1 || X509_REVOKED_set_revocationDate(rv, when) != 1 ||
        X509_CRL_add0_revoked(crl, rv) != 1)
        return -EIO;
    rv = NULL; /* owned by the CRL now */
    return 0;
}

/* Signs a CRL listing l and writes it to dir/ca.crl. nextUpdate is the CA's notAfter, so a CRL never
 * lapses while its CA is valid; every revocation re-signs it. */
static int crl_write(const char *dir, const pki_ca *ca, const pki_revoked_list *l) {
    char path[PATH_MAX];
    int r = path_join(path, sizeof(path), dir, "ca.crl");
    if (r < 0)
        return r;
    _cleanup_(pki_cleanup_crl) X509_CRL *crl = X509_CRL_new();
    _cleanup_(pki_cleanup_atime) ASN1_TIME *last = X509_time_adj_ex(NULL, 0, -60, NULL);
    _cleanup_(pki_cleanup_aint) ASN1_INTEGER *number = ASN1_INTEGER_new();
    if (!crl || !last || !number)
        return -ENOMEM;
    if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(ca->cert)) != 1)
        return -EIO;
    for (size_t i = 0; i < l->n; i++)
        if ((r = crl_add(crl, &l->v[i])) < 0)
            return r;
    if (X509_CRL_sort(crl) != 1)
        return -EIO;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ASN1_INTEGER_set_int64(number, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_REPLACE) != 1)
        return -EIO;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
    X509_EXTENSION *aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (!aki)
        return -EIO;
    int ok = X509_CRL_add_ext(crl, aki, -1);
    X509_EXTENSION_free(aki);
    if (ok != 1 || X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0)
        return -EIO;
    _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
    _cleanup_free_ char *pem = NULL;
    size_t len = 0;
    if (!b || PEM_write_bio_X509_CRL(b, crl) != 1)
        return -EIO;
    if ((r = bio_to_string(b, &pem, &len)) < 0)
        return r;
    return sr_file_write_atomic(path, pem, len, 0644);
}

static void unlink_in(const char *dir, const char *name) {
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), dir, name) == 0)
        unlink(path);
}

static int pki_init_ca(const char *dir, const char *common_name, int days) {
    if (!dir || !*dir || !name_valid(common_name) || !days_valid(days))
        return -EINVAL;
    char key_path[PATH_MAX], crt_path[PATH_MAX], path[PATH_MAX];
    int r = path_join(key_path, sizeof(key_path), dir, "ca.key");
    if (r < 0 || (r = path_join(crt_path, sizeof(crt_path), dir, "ca.crt")) < 0)
        return r;
    struct stat st;
    if (stat(crt_path, &st) == 0 || stat(key_path, &st) == 0)
        return -EEXIST;
    if ((r = sr_mkdir_p(dir, 0700)) < 0)
        return r;
    if (chmod(dir, 0700) < 0)
        return -errno;

    _cleanup_ca_ pki_ca ca = {0};
    pki_revoked_list empty = {0};
    ca.key = EVP_EC_gen("P-256");
    if (!ca.key)
        return -EIO;
    if ((r = build_cert(NULL, ca.key, ca.key, common_name, SR_PKI_CLIENT, NULL, days, &ca.cert)) < 0)
        return r;
    _cleanup_secret_ pki_secret key_pem = {0};
    _cleanup_free_ char *crt_pem = NULL;
    if ((r = key_to_pem(ca.key, &key_pem)) < 0 || (r = cert_to_pem(ca.cert, &crt_pem)) < 0)
        return r;
    /* ca.key is created exclusively first: of two concurrent inits only one proceeds. */
    if ((r = sr_file_write_new(key_path, key_pem.p, key_pem.len, 0600)) < 0)
        return r;
    if ((r = sr_file_write_new(crt_path, crt_pem, strlen(crt_pem), 0644)) < 0)
        goto fail;
    if ((r = path_join(path, sizeof(path), dir, "revoked.txt")) < 0 ||
        (r = sr_file_write_atomic(path, "", 0, 0600)) < 0)
        goto fail;
    if ((r = path_join(path, sizeof(path), dir, "issued.txt")) < 0 || (r = sr_file_write_atomic(path, "", 0, 0600)) < 0)
        goto fail;
    if ((r = crl_write(dir, &ca, &empty)) < 0)
        goto fail;
    return 0;
fail:
    unlink_in(dir, "ca.crl");
    unlink(crt_path);
    unlink(key_path);
    return r;
}

int sr_pki_init_ca(const char *dir, const char *common_name, int days) {
    return pki_ret(pki_init_ca(dir, common_name, days));
}

static int pki_issue(const char *dir, sr_pki_kind kind, const char *cn, const char *const *sans, int days,
                 const char *out_cert, const char *out_key) {
    if (!dir || !out_cert || !out_key || !days_valid(days) || !name_valid(cn))
        return -EINVAL;
    if (kind == SR_PKI_CLIENT) {
        if (sans && sans[0])
            return -EINVAL;
        if (!sr_pki_agent_id_valid(cn))
            return -EINVAL;
    } else if (kind != SR_PKI_SERVER) {
        return -EINVAL;
    }
    _cleanup_ca_ pki_ca ca = {0};
    int r = ca_load(dir, &ca);
    if (r < 0)
        return r;
    _cleanup_pkey_ EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        return -EIO;
    _cleanup_x509_ X509 *x = NULL;
    if ((r = build_cert(&ca, NULL, key, cn, kind, sans, days, &x)) < 0)
        return r;
    _cleanup_secret_ pki_secret key_pem = {0};
    _cleanup_free_ char *crt_pem = NULL;
    if ((r = key_to_pem(key, &key_pem)) < 0 || (r = cert_to_pem(x, &crt_pem)) < 0)
        return r;
    if ((r = issued_append(dir, x, kind, cn)) < 0)
        return r;
    if ((r = sr_file_write_atomic(out_key, key_pem.p, key_pem.len, 0600)) < 0)
        return r;
    return sr_file_write_atomic(out_cert, crt_pem, strlen(crt_pem), 0644);
}

int sr_pki_issue(const char *dir, sr_pki_kind kind, const char *common_name, const char *const *sans, int days,
                 const char *out_cert_path, const char *out_key_path) {
    return pki_ret(pki_issue(dir, kind, common_name, sans, days, out_cert_path, out_key_path));
}

/* EC P-256, or RSA 2048..8192 bits, with a public key that passes OpenSSL's checks. */
static int key_acceptable(EVP_PKEY *pk) {
    if (EVP_PKEY_is_a(pk, "EC")) {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
            return -EKEYREJECTED;
    } else if (EVP_PKEY_is_a(pk, "RSA")) {
        int bits = EVP_PKEY_get_bits(pk);
        if (bits < PKI_RSA_BITS_MIN || bits > PKI_RSA_BITS_MAX)
            return -EKEYREJECTED;
    } else {
        return -EKEYREJECTED;
    }
    _cleanup_(pki_cleanup_pkey_ctx) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!ctx)
        return -ENOMEM;
    return EVP_PKEY_public_check(ctx) == 1 ? 0 : -EKEYREJECTED;
}

/* Verifies a CSR and signs a client certificate for its key. Writes the CN used into cn_out. */
static int csr_sign(const pki_ca *ca, const char *csr_pem, size_t len, const char *expected_cn, int days,
                    X509 **ret, char cn_out[SR_PKI_CN_MAX + 1]) {
    if (!csr_pem || !days_valid(days))
        return -EINVAL;
    if (len > SR_PKI_CSR_MAX)
        return -EFBIG;
    if (len == 0)
        return -EBADMSG;
    if (expected_cn && !sr_pki_agent_id_valid(expected_cn))
        return -EINVAL;
    _cleanup_bio_ BIO *b = BIO_new_mem_buf(csr_pem, (int)len);
    if (!b)
        return -ENOMEM;
    _cleanup_(pki_cleanup_req) X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    if (!req)
        return -EBADMSG;
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub)
        return -EBADMSG;
    int r = key_acceptable(pub);
    if (r < 0)
        return r;
    if (X509_REQ_verify(req, pub) != 1)
        return -EBADMSG;

    char cn[SR_PKI_CN_MAX + 1];
    r = name_get_cn(X509_REQ_get_subject_name(req), cn, sizeof(cn));
    if (r == -ENOBUFS)
        r = -EINVAL;
    if (expected_cn) {
        if (r == 0 && strcmp(cn, expected_cn) != 0)
            return -EPERM;
        if (r < 0 && r != -ENODATA)
            return r;
        snprintf(cn, sizeof(cn), "%s", expected_cn);
    } else {
        if (r < 0)
            return -EINVAL;
        if (!sr_pki_agent_id_valid(cn))
            return -EINVAL;
    }
    if ((r = build_cert(ca, NULL, pub, cn, SR_PKI_CLIENT, NULL, days, ret)) < 0)
        return r;
    memcpy(cn_out, cn, sizeof(cn));
    return 0;
}

static int pki_sign_csr(const char *dir, const char *csr_pem, size_t len, const char *expected_cn, int days,
                    char **ret_cert_pem) {
    if (!dir || !ret_cert_pem)
        return -EINVAL;
    _cleanup_ca_ pki_ca ca = {0};
    int r = ca_load(dir, &ca);
    if (r < 0)
        return r;
    _cleanup_x509_ X509 *x = NULL;
    char cn[SR_PKI_CN_MAX + 1];
    if ((r = csr_sign(&ca, csr_pem, len, expected_cn, days, &x, cn)) < 0)
        return r;
    _cleanup_free_ char *pem = NULL;
    if ((r = cert_to_pem(x, &pem)) < 0 || (r = issued_append(dir, x, SR_PKI_CLIENT, cn)) < 0)
        return r;
    *ret_cert_pem = SR_TAKE_PTR(pem);
    return 0;
}

int sr_pki_sign_csr(const char *dir, const char *csr_pem, size_t len, const char *expected_cn, int days,
                    char **ret_cert_pem) {
    return pki_ret(pki_sign_csr(dir, csr_pem, len, expected_cn, days, ret_cert_pem));
}

static int pki_revoke(const char *dir, const char *arg) {
    if (!dir || !arg || !*arg)
        return -EINVAL;
    _cleanup_ca_ pki_ca ca = {0};
    int r = ca_load(dir, &ca);
    if (r < 0)
        return r;
    _cleanup_bn_ BIGNUM *serial = NULL;
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        _cleanup_x509_ X509 *x = NULL;
        if (cert_load(arg, &x) < 0)
            return -EINVAL;
        if (X509_check_issued(ca.cert, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(ca.cert)) != 1)
            return -EXDEV;
        serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        if (!serial)
            return -ENOMEM;
    } else if (serial_parse(arg, &serial) < 0) {
        return -EINVAL;
    }

    char path[PATH_MAX], lock_path[PATH_MAX];
    if ((r = path_join(path, sizeof(path), dir, "revoked.txt")) < 0 ||
        (r = path_join(lock_path, sizeof(lock_path), dir, ".lock")) < 0)
        return r;
    _cleanup_close_ int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0)
        return -errno;
    while (flock(lock, LOCK_EX) < 0)
        if (errno != EINTR)
            return -errno;

    _cleanup_(revoked_list_release) pki_revoked_list l = {0};
    if ((r = revoked_load(path, &l)) < 0)
        return r;
    bool present = false;
    for (size_t i = 0; i < l.n && !present; i++)
        present = BN_cmp(l.v[i].serial, serial) == 0;
    if (!present) {
        if (l.n >= PKI_REVOKED_MAX)
            return -E2BIG;
        pki_revoked *nv = realloc(l.v, (l.n + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l.v = nv;
        l.v[l.n++] = (pki_revoked){SR_TAKE_PTR(serial), (int64_t)time(NULL)};
        /* Rewrite the list from the parsed entries (comments are not kept). */
        size_t cap = l.n * 64, len = 0;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
            return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
            char *hex = BN_bn2hex(l.v[i].serial);
            if (!hex)
                return -ENOMEM;
            int n = snprintf(out + len, cap - len, "%s %lld\n", hex, (long long)l.v[i].when);
            OPENSSL_free(hex);
            if (n < 0 || (size_t)n >= cap - len)
                return -EIO;
            len += (size_t)n;
        }
        if ((r = sr_file_write_atomic(path, out, len, 0600)) < 0)
            return r;
    }
    return crl_write(dir, &ca, &l);
}

int sr_pki_revoke(const char *dir, const char *serial_or_cert_path) {
    return pki_ret(pki_revoke(dir, serial_or_cert_path));
}

int sr_pki_cert_file_cn(const char *path, char *buf, size_t buflen) {
    if (!path || !buf || buflen == 0)
        return -EINVAL;
    _cleanup_x509_ X509 *x = NULL;
    int r = cert_load(path, &x);
    if (r < 0)
        return pki_ret(r);
    char cn[SR_PKI_CN_MAX * 4 + 1];
    r = name_get_cn(X509_get_subject_name(x), cn, sizeof(cn));
    if (r < 0)
        return pki_ret(r == -ENOBUFS ? -EINVAL : r);
    if (strlen(cn) >= buflen)
        return -ENOBUFS;
    memcpy(buf, cn, strlen(cn) + 1);
    return 0;
}

static int cert_fingerprint(const X509 *x, char *buf, size_t buflen) {
    if (buflen < SR_PKI_FINGERPRINT_SIZE)
        return -ENOBUFS;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
        return -EIO;
    static const char digits[] = "0123456789abcdef";
    memcpy(buf, "sha256:", 7);
    for (unsigned i = 0; i < n; i++) {
        buf[7 + 2 * i] = digits[md[i] >> 4];
        buf[7 + 2 * i + 1] = digits[md[i] & 0xf];
    }
    buf[7 + 2 * n] = '\0';
    return 0;
}

int sr_pki_fingerprint(const char *cert_pem_or_path, char *buf, size_t buflen) {
    if (!cert_pem_or_path || !buf)
        return -EINVAL;
    _cleanup_x509_ X509 *x = NULL;
    int r;
    if (strncmp(cert_pem_or_path, "-----BEGIN", 10) == 0)
        r = pem_to_cert(cert_pem_or_path, strnlen(cert_pem_or_path, PKI_CERT_FILE_MAX + 1), &x);
    else
        r = cert_load(cert_pem_or_path, &x);
    if (r < 0)
        return pki_ret(r);
    return pki_ret(cert_fingerprint(x, buf, buflen));
}

int sr_pki_fingerprint_parse(const char *text, char *buf, size_t buflen) {
    if (!text || !buf)
        return -EINVAL;
    if (buflen < SR_PKI_FINGERPRINT_SIZE)
        return -ENOBUFS;
    if (strncasecmp(text, "sha256:", 7) == 0 || strncasecmp(text, "sha256=", 7) == 0)
        text += 7;
    char out[SR_PKI_FINGERPRINT_SIZE];
    size_t n = 7;
    memcpy(out, "sha256:", 7);
    for (; *text; text++) {
        if (*text == ':')
            continue;
        if (!isxdigit((unsigned char)*text) || n >= 7 + 64)
            return -EINVAL;
        out[n++] = (char)tolower((unsigned char)*text);
    }
    if (n != 7 + 64)
        return -EINVAL;
    out[n] = '\0';
    memcpy(buf, out, n + 1);
    return 0;
}

/* ---- enrollment tokens ---- */

static bool token_valid(const char *t) {
    if (!t || strnlen(t, SR_PKI_TOKEN_LEN + 1) != SR_PKI_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < SR_PKI_TOKEN_LEN; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

/* dir/tokens/<sha256(token) hex>.json */
static int token_path(const char *dir, const char *token, char *path, size_t n) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(token, SR_PKI_TOKEN_LEN, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
        return -EIO;
    char name[sizeof("tokens/") + 64 + sizeof(".json")];
    static const char digits[] = "0123456789abcdef";
    size_t k = 0;
    memcpy(name, "tokens/", 7);
    k = 7;
    for (size_t i = 0; i < sizeof(md); i++) {
        name[k++] = digits[md[i] >> 4];
        name[k++] = digits[md[i] & 0xf];
    }
    memcpy(name + k, ".json", sizeof(".json"));
    return path_join(path, n, dir, name);
}

/* 32 random bytes as base64url without padding. */
static int token_generate(char token[SR_PKI_TOKEN_SIZE]) {
    unsigned char raw[32];
    unsigned char b64[48];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -EIO;
    int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    int r = 0;
    if (n != SR_PKI_TOKEN_LEN + 1 || b64[SR_PKI_TOKEN_LEN] != '=') {
        r = -EIO;
    } else {
        for (size_t i = 0; i < SR_PKI_TOKEN_LEN; i++)
            token[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
        token[SR_PKI_TOKEN_LEN] = '\0';
    }
    OPENSSL_cleanse(b64, sizeof(b64));
    return r;
}

static int pki_token_create(const char *dir, const char *agent_id, int64_t ttl, char *ret_token, size_t size) {
    if (!dir || !ret_token || !sr_pki_agent_id_valid(agent_id) || ttl < 1 || ttl > SR_PKI_TOKEN_TTL_MAX)
        return -EINVAL;
    if (size < SR_PKI_TOKEN_SIZE)
        return -ENOBUFS;
    char path[PATH_MAX];
    struct stat st;
    int r = path_join(path, sizeof(path), dir, "ca.crt");
    if (r < 0)
        return r;
    if (stat(path, &st) < 0)
        return -errno;
    if ((r = path_join(path, sizeof(path), dir, "tokens")) < 0 || (r = sr_mkdir_p(path, 0700)) < 0)
        return r;
    _cleanup_(pki_cleanup_json) json_t *j =
        json_pack("{s:s, s:I}", "agent_id", agent_id, "expires_unix", (json_int_t)(time(NULL) + ttl));
    _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text)
        return -ENOMEM;
    char token[SR_PKI_TOKEN_SIZE];
    if ((r = token_generate(token)) < 0)
        return r;
    if ((r = token_path(dir, token, path, sizeof(path))) == 0 &&
        (r = sr_file_write_new(path, text, strlen(text), 0600)) == 0)
        memcpy(ret_token, token, SR_PKI_TOKEN_SIZE);
    OPENSSL_cleanse(token, sizeof(token));
    return r;
}

int sr_pki_token_create(const char *dir, const char *agent_id, int64_t ttl_seconds, char *ret_token, size_t size) {
    return pki_ret(pki_token_create(dir, agent_id, ttl_seconds, ret_token, size));
}

static int pki_token_redeem(const char *dir, const char *token, const char *csr_pem, size_t len, int days,
                        char **ret_cert_pem, char **ret_ca_pem) {
    if (!dir || !ret_cert_pem || !ret_ca_pem || !days_valid(days) || !token_valid(token))
        return -EINVAL;
    char path[PATH_MAX];
    int r = token_path(dir, token, path, sizeof(path));
    if (r < 0)
        return r;
    _cleanup_free_ char *text = NULL;
    size_t text_len = 0;
    if ((r = sr_file_read_all(path, PKI_TOKEN_FILE_MAX, &text, &text_len)) < 0)
        return r == -EFBIG ? -EIO : r;
    _cleanup_(pki_cleanup_json) json_t *j = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, NULL);
    const char *agent_id = NULL;
    json_int_t expires = 0;
    if (!j || json_unpack(j, "{s:s, s:I}", "agent_id", &agent_id, "expires_unix", &expires) != 0 ||
        !sr_pki_agent_id_valid(agent_id))
        return -EIO;
    if ((int64_t)time(NULL) >= (int64_t)expires) {
        unlink(path);
        return -ETIME;
    }

    _cleanup_ca_ pki_ca ca = {0};
    if ((r = ca_load(dir, &ca)) < 0)
        return r == -ENOENT ? -EIO : r; /* a token without its CA: not the client's fault */
    _cleanup_x509_ X509 *x = NULL;
    char cn[SR_PKI_CN_MAX + 1];
    if ((r = csr_sign(&ca, csr_pem, len, agent_id, days, &x, cn)) < 0)
        return r;
    _cleanup_free_ char *cert_pem = NULL, *ca_pem = NULL;
    if ((r = cert_to_pem(x, &cert_pem)) < 0 || (r = cert_to_pem(ca.cert, &ca_pem)) < 0)
        return r;
    if ((r = issued_append(dir, x, SR_PKI_CLIENT, cn)) < 0)
        return r;
    /* The claim: unlink succeeds for exactly one of several concurrent redeems. */
    if (unlink(path) < 0)
        return -errno;
    *ret_cert_pem = SR_TAKE_PTR(cert_pem);
    *ret_ca_pem = SR_TAKE_PTR(ca_pem);
    return 0;
}

int sr_pki_token_redeem(const char *dir, const char *token, const char *csr_pem, size_t len, int days,
                        char **ret_cert_pem, char **ret_ca_pem) {
    return pki_ret(pki_token_redeem(dir, token, csr_pem, len, days, ret_cert_pem, ret_ca_pem));
}

/* ---- enrollment client ---- */

static int pki_csr_new(const char *cn, char **ret_key_pem, char **ret_csr_pem) {
    if (!ret_key_pem || !ret_csr_pem || (cn && !name_valid(cn)))
        return -EINVAL;
    _cleanup_pkey_ EVP_PKEY *key = EVP_EC_gen("P-256");
    _cleanup_(pki_cleanup_req) X509_REQ *req = X509_REQ_new();
    _cleanup_(pki_cleanup_name) X509_NAME *subject = NULL;
    if (!key || !req)
        return -ENOMEM;
    int r = name_with_cn(cn, &subject);
    if (r < 0)
        return r;
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 || X509_REQ_set_subject_name(req, subject) != 1 ||
        X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
        return -EIO;
    _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
    _cleanup_free_ char *csr = NULL;
    if (!b || PEM_write_bio_X509_REQ(b, req) != 1)
        return -EIO;
    if ((r = bio_to_string(b, &csr, NULL)) < 0)
        return r;
    pki_secret key_pem = {0};
    if ((r = key_to_pem(key, &key_pem)) < 0)
        return r;
    *ret_key_pem = key_pem.p;
    *ret_csr_pem = SR_TAKE_PTR(csr);
    return 0;
}

int sr_pki_csr_new(const char *cn, char **ret_key_pem, char **ret_csr_pem) {
    return pki_ret(pki_csr_new(cn, ret_key_pem, ret_csr_pem));
}

static int pki_check_enrollment(const char *key_pem, const char *cert_pem, const char *ca_pem, const char *expected_fp,
                            char *ret_cn, size_t cn_len) {
    if (!key_pem || !cert_pem || !ca_pem || !expected_fp)
        return -EINVAL;
    char want[SR_PKI_FINGERPRINT_SIZE], got[SR_PKI_FINGERPRINT_SIZE];
    int r = sr_pki_fingerprint_parse(expected_fp, want, sizeof(want));
    if (r < 0)
        return r;
    _cleanup_x509_ X509 *ca = NULL;
    _cleanup_x509_ X509 *x = NULL;
    if (pem_to_cert(ca_pem, strnlen(ca_pem, PKI_CERT_FILE_MAX + 1), &ca) < 0)
        return -EBADMSG;
    if ((r = cert_fingerprint(ca, got, sizeof(got))) < 0)
        return r;
    if (CRYPTO_memcmp(want, got, sizeof(want)) != 0)
        return -EPERM;
    if (X509_check_ca(ca) < 1)
        return -EBADMSG;
    if (pem_to_cert(cert_pem, strnlen(cert_pem, PKI_CERT_FILE_MAX + 1), &x) < 0)
        return -EBADMSG;
    if (X509_check_issued(ca, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(ca)) != 1)
        return -EBADMSG;
    uint32_t xku = X509_get_extended_key_usage(x);
    if (xku == UINT32_MAX || !(xku & XKU_SSL_CLIENT))
        return -EBADMSG;
    _cleanup_pkey_ EVP_PKEY *key = NULL;
    {
        size_t klen = strnlen(key_pem, PKI_CERT_FILE_MAX + 1);
        if (klen > PKI_CERT_FILE_MAX)
            return -EBADMSG;
        _cleanup_bio_ BIO *b = BIO_new_mem_buf(key_pem, (int)klen);
        if (!b)
            return -ENOMEM;
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    }
    if (!key || X509_check_private_key(x, key) != 1)
        return -EBADMSG;
    char cn[SR_PKI_CN_MAX + 1];
    if (name_get_cn(X509_get_subject_name(x), cn, sizeof(cn)) < 0 || !sr_pki_agent_id_valid(cn))
        return -EBADMSG;
    if (ret_cn) {
        if (strlen(cn) >= cn_len)
            return -ENOBUFS;
        memcpy(ret_cn, cn, strlen(cn) + 1);
    }
    return 0;
}

int sr_pki_check_enrollment(const char *key_pem, const char *cert_pem, const char *ca_pem,
                            const char *expected_ca_fingerprint, char *ret_cn, size_t cn_len) {
    return pki_ret(pki_check_enrollment(key_pem, cert_pem, ca_pem, expected_ca_fingerprint, ret_cn, cn_len));
}
