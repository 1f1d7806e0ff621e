#include "gw_crl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sr_file.h"

#define GW_CRL_MAX_BYTES (64 * 1024 * 1024)
#define GW_CA_MAX_BYTES (4 * 1024 * 1024)
#define GW_CERT_MAX_PEM (64 * 1024)

struct gw_crl {
    char *ca_file, *crl_file;
    pthread_rwlock_t lock;
    X509_CRL *crl;        /* current, verified */
    struct stat loaded;   /* identity of the file it came from */
    pthread_mutex_t reload_lock; /* one reloader at a time */
};

static X509_CRL *crl_parse(const char *buf, size_t len) {
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    if (!bio)
        return NULL;
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    if (!crl) {
        (void)BIO_reset(bio);
        crl = d2i_X509_CRL_bio(bio, NULL);
    }
    BIO_free(bio);
    ERR_clear_error(); /* leave no stale errors for other OpenSSL users on this thread */
    return crl;
}

/* Verifies crl against every CA in the PEM bundle whose subject is the CRL issuer. */
static int crl_verify(X509_CRL *crl, const char *ca_file) {
    char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(ca_file, GW_CA_MAX_BYTES, &buf, &len);
    if (r < 0)
        return r;
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    if (!bio) {
        free(buf);
        return -ENOMEM;
    }
    int found = 0, ok = 0;
    X509 *ca;
    while (!ok && (ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        found = 1;
        if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0) {
            EVP_PKEY *pk = X509_get0_pubkey(ca);
            if (pk && X509_CRL_verify(crl, pk) == 1)
                ok = 1;
        }
        X509_free(ca);
    }
    BIO_free(bio);
    free(buf);
    ERR_clear_error(); /* the loop ends on a "no start line" error */
    if (!found)
        return -EBADMSG;
    return ok ? 0 : -EKEYREJECTED;
}

/* Reads, parses and verifies the CRL file; on success *ret and *st describe it. */
static int crl_load(const char *ca_file, const char *crl_file, X509_CRL **ret, struct stat *st) {
    int fd = open(crl_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat s;
    int r = fstat(fd, &s) < 0 ? -errno : 0;
    close(fd);
    if (r < 0)
        return r;
    char *buf = NULL;
    size_t len = 0;
    r = sr_file_read_all(crl_file, GW_CRL_MAX_BYTES, &buf, &len);
    if (r < 0)
        return r;
    X509_CRL *crl = crl_parse(buf, len);
    free(buf);
    if (!crl)
        return -EBADMSG;
    r = crl_verify(crl, ca_file);
    if (r < 0) {
        X509_CRL_free(crl);
        return r;
    }
    *ret = crl;
    *st = s;
    return 0;
}

int gw_crl_new(const char *ca_file, const char *crl_file, gw_crl **ret) {
    gw_crl *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->reload_lock, NULL);
    c->ca_file = strdup(ca_file);
    c->crl_file = strdup(crl_file);
    if (!c->ca_file || !c->crl_file) {
        gw_crl_free(c);
        return -ENOMEM;
    }
    int r = crl_load(c->ca_file, c->crl_file, &c->crl, &c->loaded);
    if (r < 0) {
        gw_crl_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

gw_crl *gw_crl_free(gw_crl *c) {
    if (!c)
        return NULL;
    X509_CRL_free(c->crl);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->reload_lock);
    free(c->ca_file);
    free(c->crl_file);
    free(c);
    return NULL;
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int gw_crl_refresh(gw_crl *c) {
    struct stat st;
    if (stat(c->crl_file, &st) < 0)
        return -errno;
    pthread_rwlock_rdlock(&c->lock);
    int unchanged = same_file(&st, &c->loaded);
    pthread_rwlock_unlock(&c->lock);
    if (unchanged)
        return 0;

    pthread_mutex_lock(&c->reload_lock);
    pthread_rwlock_rdlock(&c->lock);
    unchanged = same_file(&st, &c->loaded); /* another thread may have reloaded it meanwhile */
    pthread_rwlock_unlock(&c->lock);
    if (unchanged) {
        pthread_mutex_unlock(&c->reload_lock);
        return 0;
    }
    X509_CRL *crl = NULL;
    struct stat loaded;
    int r = crl_load(c->ca_file, c->crl_file, &crl, &loaded);
    if (r == 0) {
        pthread_rwlock_wrlock(&c->lock);
        X509_CRL *old = c->crl;
        c->crl = crl;
        c->loaded = loaded;
        pthread_rwlock_unlock(&c->lock);
        X509_CRL_free(old);
        r = 1;
    } else {
        /* remember the bad file so a broken CRL is not re-parsed on every call; the old
         * CRL stays in force until a good one replaces it */
        pthread_rwlock_wrlock(&c->lock);
        c->loaded = st;
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_mutex_unlock(&c->reload_lock);
    return r;
}

int gw_crl_check(gw_crl *c, const char *cert_pem) {
    size_t len = cert_pem ? strnlen(cert_pem, GW_CERT_MAX_PEM + 1) : 0;
    if (len == 0 || len > GW_CERT_MAX_PEM)
        return -EBADMSG;
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)len);
    if (!bio)
        return -ENOMEM;
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!x) {
        ERR_clear_error();
        return -EBADMSG;
    }
    X509_REVOKED *rev = NULL;
    pthread_rwlock_rdlock(&c->lock);
    int found = X509_CRL_get0_by_cert(c->crl, &rev, x);
    pthread_rwlock_unlock(&c->lock);
    X509_free(x);
    ERR_clear_error();
    /* 1: revoked; 2: listed with reason removeFromCRL (not revoked any more) */
    return found == 1 ? -EKEYREVOKED : 0;
}
