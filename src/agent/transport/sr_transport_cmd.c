/* Commands from the gateway. See sr_transport_cmd.h. */
#include "sr_transport_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SR_CMD_TYPE_ECHO_MAX 64

/* Copies at most cap bytes of s, replacing anything but printable ASCII with '?', so that
 * the text is valid UTF-8 and harmless in logs and JSON. */
static void sanitize(const char *s, size_t cap, char *out, size_t outlen) {
    size_t n = 0;
    if (outlen == 0)
        return;
    for (; s && s[n] && n < cap && n + 1 < outlen; n++) {
        unsigned char ch = (unsigned char)s[n];
        out[n] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
    }
    out[n] = '\0';
    if (s && s[n] && n + 4 < outlen) /* marked as cut */
        memcpy(out + n, "...", 4);
}

void sr_transport_cmd_run(const Serviceradar__Agent__V1__Command *cmd, int64_t now_unix_ms,
                          sr_transport_cmd_result *res) {
    memset(res, 0, sizeof(*res));
    const char *type = cmd && cmd->type ? cmd->type : "";
    if (strcmp(type, "ping") == 0) {
        res->ok = 1;
        snprintf(res->output, sizeof(res->output), "{\"pong\":true,\"agent_time_unix_ms\":%" PRId64 "}",
                 now_unix_ms);
        return;
    }
    char clean[SR_CMD_TYPE_ECHO_MAX + 8];
    sanitize(type, SR_CMD_TYPE_ECHO_MAX, clean, sizeof(clean));
    res->ok = 0;
    snprintf(res->error, sizeof(res->error), "unknown command type \"%s\"", clean);
}

int sr_transport_decode_gateway_msg(const uint8_t *buf, size_t len, Serviceradar__Agent__V1__GatewayMessage **ret) {
    Serviceradar__Agent__V1__GatewayMessage *m = serviceradar__agent__v1__gateway_message__unpack(NULL, len, buf);
    if (!m)
        return -EBADMSG;
    if (m->msg_case == SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG__NOT_SET) {
        serviceradar__agent__v1__gateway_message__free_unpacked(m, NULL);
        return -EBADMSG;
    }
    *ret = m;
    return 0;
}
