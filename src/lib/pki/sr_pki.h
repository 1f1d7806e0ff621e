/* The ServiceRadar certificate authority: a directory of files managed with OpenSSL 3.
 *
 * Layout of a CA directory (created 0700; private keys 0600):
 *   ca.key        CA private key (EC P-256, PKCS#8 PEM, unencrypted)
 *   ca.crt        self-signed CA certificate (CA:TRUE, pathlen 0, keyCertSign + cRLSign)
 *   ca.crl        CRL signed by the CA, rewritten on every revocation (gateways load it)
 *   revoked.txt   one "SERIAL_HEX UNIX_TIME" line per revoked certificate
 *   issued.txt    one "SERIAL_HEX NOT_AFTER_UNIX server|client CN" line per issued certificate
 *   tokens/       one <sha256(token) hex>.json {"agent_id","expires_unix"} per open enrollment token
 *
 * Every certificate: X.509 v3, random positive 128-bit serial, SHA-256 signature, backdated 5 minutes
 * for clock skew. Server certificates carry serverAuth and subjectAltNames; client certificates carry
 * clientAuth only and their CN is the agent_id.
 *
 * Every function returns 0 or a negative errno and never logs. Output parameters (ret_...) are written
 * only on success. Heap strings returned through ret_... are NUL-terminated and freed with free().
 * Functions are safe to call from several threads at once (sr_pki_revoke serializes itself with a lock
 * file; token redemption claims the token atomically). */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SR_PKI_SERVER = 1, /* serverAuth, subjectAltNames */
    SR_PKI_CLIENT = 2, /* clientAuth */
} sr_pki_kind;

#define SR_PKI_DAYS_MAX 36500            /* validity bounds, in days: 1 .. SR_PKI_DAYS_MAX */
#define SR_PKI_CSR_MAX (16 * 1024)       /* largest CSR PEM accepted */
#define SR_PKI_CN_MAX 64                 /* longest common name (RFC 5280 ub-common-name) */
#define SR_PKI_SAN_MAX 32                /* most subjectAltNames on one certificate */
#define SR_PKI_AGENT_ID_MAX 64           /* agent_id: [A-Za-z0-9._-]{1,64} */
#define SR_PKI_TOKEN_LEN 43              /* base64url of 32 random bytes, no padding */
#define SR_PKI_TOKEN_SIZE 44             /* buffer for a token and its NUL */
#define SR_PKI_TOKEN_TTL_MAX (30 * 86400) /* longest token lifetime, seconds */
#define SR_PKI_FINGERPRINT_SIZE 72       /* "sha256:" + 64 hex digits + NUL */

/* Creates dir (0700, with parents) holding a new CA named common_name valid for days, an empty CRL,
 * an empty revoked.txt and issued.txt. -EEXIST when dir already holds ca.key or ca.crt (never overwrites);
 * -EINVAL for an empty/over-long name or days out of range. */
int sr_pki_init_ca(const char *dir, const char *common_name, int days);

/* Issues a certificate and a new EC P-256 key signed by the CA in dir, writing out_cert_path (0644) and
 * out_key_path (0600) atomically (replacing existing files). common_name is required. sans is a
 * NULL-terminated list of DNS names or IP addresses (NULL for none; server certificates only); a server
 * certificate without sans gets its common name as its only subjectAltName.
 * -EINVAL: bad name, SAN, kind or days; -ENOENT: no CA in dir. */
int sr_pki_issue(const char *dir, sr_pki_kind kind, const char *common_name, const char *const *sans, int days,
                 const char *out_cert_path, const char *out_key_path);

/* Signs a PEM CSR (len bytes, need not be NUL-terminated) as a client certificate with the CA in dir.
 * The CSR's self-signature must verify and its key must be EC P-256 or RSA 2048..8192 bits. Only the
 * public key is taken from the CSR: the subject is CN=<cn> alone and the extensions are ours (clientAuth).
 * With expected_cn, the certificate's CN is expected_cn: a CSR without a CN is accepted, a CSR with a
 * different CN is refused. Without it, the CSR's CN is used and must be a valid agent_id.
 * Returns 0 and *ret_cert_pem (heap), or
 *   -EFBIG        len > SR_PKI_CSR_MAX
 *   -EBADMSG      not a PEM CSR, or its signature does not verify
 *   -EKEYREJECTED key type or size not accepted
 *   -EPERM        CN differs from expected_cn
 *   -EINVAL       CN missing or not a valid agent_id, days out of range
 *   -ENOENT       no CA in dir */
int sr_pki_sign_csr(const char *dir, const char *csr_pem, size_t len, const char *expected_cn, int days,
                    char **ret_cert_pem);

/* Revokes a certificate: serial_or_cert_path is either a serial in hex ("0x" prefix and ':' separators
 * allowed, at most 20 bytes) or the path of a PEM certificate issued by this CA. Adds the serial to
 * revoked.txt and re-signs ca.crl. Revoking an already revoked serial re-signs the CRL and returns 0.
 * -EINVAL: neither a valid serial nor a readable certificate; -EXDEV: the certificate was issued by
 * another CA; -ENOENT: no CA in dir. */
int sr_pki_revoke(const char *dir, const char *serial_or_cert_path);

/* Writes the subject CN of the PEM certificate at path into buf. -ENOBUFS when buf is too small,
 * -ENODATA when the certificate has no CN, -EBADMSG when the file is not a PEM certificate. */
int sr_pki_cert_file_cn(const char *path, char *buf, size_t buflen);

/* Writes "sha256:<64 lowercase hex>" (the SHA-256 of the DER certificate, as `openssl x509 -fingerprint
 * -sha256` shows it) into buf (at least SR_PKI_FINGERPRINT_SIZE). cert_pem_or_path is a PEM certificate
 * when it starts with "-----BEGIN", otherwise a file path. */
int sr_pki_fingerprint(const char *cert_pem_or_path, char *buf, size_t buflen);

/* Normalizes a fingerprint typed by a person: "sha256:" prefix optional, hex in either case, ':'
 * separators allowed. Writes the canonical "sha256:<lowercase hex>" form; -EINVAL when malformed. */
int sr_pki_fingerprint_parse(const char *text, char *buf, size_t buflen);

/* 1 when id matches [A-Za-z0-9._-]{1,64} and is not "." or "..", else 0. */
int sr_pki_agent_id_valid(const char *id);

/* Creates a one-time enrollment token for agent_id valid for ttl_seconds (1 .. SR_PKI_TOKEN_TTL_MAX).
 * Writes the token (SR_PKI_TOKEN_LEN base64url characters) into ret_token (size >= SR_PKI_TOKEN_SIZE,
 * else -ENOBUFS). Only SHA-256(token) is stored, in dir/tokens/. -EINVAL: bad agent_id or ttl;
 * -ENOENT: no CA in dir. */
int sr_pki_token_create(const char *dir, const char *agent_id, int64_t ttl_seconds, char *ret_token,
                        size_t size);

/* Redeems an enrollment token: the handler of POST /api/v1/enroll. Signs csr_pem as sr_pki_sign_csr()
 * does with expected_cn = the token's agent_id, then consumes the token; of several concurrent redeems
 * of one token exactly one succeeds. A CSR that is refused leaves the token usable.
 * Returns 0 with *ret_cert_pem (the agent certificate) and *ret_ca_pem (ca.crt), both heap, or
 *   -EINVAL       token malformed (or days out of range)
 *   -ENOENT       unknown or already used token
 *   -ETIME        token expired (it is deleted)
 *   -EFBIG, -EBADMSG, -EKEYREJECTED, -EPERM   the CSR was refused, as for sr_pki_sign_csr()
 *   -EIO          the token file is corrupt, or the CA in dir is missing or unreadable
 * Suggested HTTP mapping: -EINVAL, -EFBIG, -EBADMSG, -EKEYREJECTED, -EPERM -> 400; -ENOENT, -ETIME ->
 * 403; anything else -> 500. */
int sr_pki_token_redeem(const char *dir, const char *token, const char *csr_pem, size_t len, int days,
                        char **ret_cert_pem, char **ret_ca_pem);

/* Generates a new EC P-256 key and a CSR signed with it (subject CN=cn, or an empty subject when cn is
 * NULL). Returns both as heap PEM strings; the key is PKCS#8. Used by the enrollment client. */
int sr_pki_csr_new(const char *cn, char **ret_key_pem, char **ret_csr_pem);

/* Checks what an enrollment returned before anything is written: ca_pem must be a CA certificate whose
 * fingerprint equals expected_ca_fingerprint (any form sr_pki_fingerprint_parse() accepts), cert_pem must
 * be signed by it, carry clientAuth and hold the public key of key_pem.
 * -EPERM: fingerprint mismatch; -EBADMSG: anything else wrong. When ret_cn is not NULL, the certificate's
 * CN is written there (cn_len >= SR_PKI_CN_MAX + 1). */
int sr_pki_check_enrollment(const char *key_pem, const char *cert_pem, const char *ca_pem,
                            const char *expected_ca_fingerprint, char *ret_cn, size_t cn_len);
