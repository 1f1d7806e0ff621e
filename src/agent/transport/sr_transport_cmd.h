/* sr_transport_cmd: commands the gateway sends down the Control stream, run by the agent.
 * Internal to the transport (and its fuzz harness). Input comes from the network: every
 * string is bounded and sanitised before it is echoed back. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "serviceradar/agent/v1/agent.pb-c.h"

typedef struct {
    int ok;
    char output[256]; /* JSON document ("" when none) */
    char error[256];  /* printable ASCII ("" when ok) */
} sr_transport_cmd_result;

/* Runs cmd and fills res. Never fails: unknown or malformed commands give ok = 0. */
void sr_transport_cmd_run(const Serviceradar__Agent__V1__Command *cmd, int64_t now_unix_ms,
                          sr_transport_cmd_result *res);

/* Decodes one GatewayMessage from the Control stream. 0 with *ret (free with
 * protobuf_c_message_free_unpacked), -EBADMSG when it does not decode or carries nothing. */
int sr_transport_decode_gateway_msg(const uint8_t *buf, size_t len, Serviceradar__Agent__V1__GatewayMessage **ret);
