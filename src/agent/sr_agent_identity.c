#include "sr_agent_identity.h"

#include "sr_cleanup.h"

#include <errno.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

int sr_agent_identity_cn(const char *cert_file, char *buf, size_t buflen) {
    _cleanup_fclose_ FILE *f = fopen(cert_file, "re");
    if (!f)
        return -errno;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    if (!x)
        return -EBADMSG;
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    X509_free(x);
    if (n <= 0)
        return -ENODATA;
    if ((size_t)n != strlen(cn))
        return -EBADMSG; /* embedded NUL */
    if ((size_t)n >= buflen)
        return -ENAMETOOLONG;
    memcpy(buf, cn, (size_t)n + 1);
    return 0;
}
