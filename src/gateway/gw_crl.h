/* Certificate revocation for agent calls: the peer's leaf certificate is looked up in the
 * CA's CRL (OpenSSL 3). The CRL's signature is verified against the CA bundle on every load,
 * and the file is reloaded when its modification time (or size, or inode) changes. Thread
 * safe: checks run concurrently, reloads take a write lock. */
#pragma once

typedef struct gw_crl gw_crl;

/* ca_file: PEM bundle that holds the CRL issuer. crl_file: PEM or DER. Returns 0,
 * -ENOENT/-EACCES (unreadable), -EBADMSG (not a CRL or a certificate bundle), -EKEYREJECTED
 * (no CA in the bundle signed this CRL). */
int gw_crl_new(const char *ca_file, const char *crl_file, gw_crl **ret);
gw_crl *gw_crl_free(gw_crl *c);

/* Reloads the CRL if the file changed since the last load. Returns 0 (unchanged), 1
 * (reloaded) or a negative errno (the previous CRL stays in force). */
int gw_crl_refresh(gw_crl *c);

/* Checks a PEM certificate. Returns 0 (not revoked), -EKEYREVOKED (listed in the CRL) or
 * -EBADMSG (the PEM does not parse). */
int gw_crl_check(gw_crl *c, const char *cert_pem);
