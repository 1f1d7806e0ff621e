/* sr_agent_identity: the agent id is the common name of the agent's certificate. */
#pragma once
#include <stddef.h>

/* Reads the first certificate of a PEM file and writes its subject CN into buf.
 * Returns 0, -ENOENT/-EACCES (file), -EBADMSG (no PEM certificate), -ENODATA (no CN),
 * -ENAMETOOLONG (CN does not fit). */
int sr_agent_identity_cn(const char *cert_file, char *buf, size_t buflen);
