/* Fuzzes what the agent decodes from the gateway: a Control-stream GatewayMessage (and the
 * command it carries, run and answered as the transport would) and an UploadAck. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_transport_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Serviceradar__Agent__V1__GatewayMessage *gm = NULL;
    if (sr_transport_decode_gateway_msg(data, size, &gm) == 0) {
        if (gm->msg_case == SERVICERADAR__AGENT__V1__GATEWAY_MESSAGE__MSG_COMMAND) {
            sr_transport_cmd_result res;
            sr_transport_cmd_run(gm->command, 1700000000000, &res);
            Serviceradar__Agent__V1__CommandResult cr;
            serviceradar__agent__v1__command_result__init(&cr);
            cr.command_id = gm->command->command_id;
            cr.ok = res.ok;
            cr.output = res.output;
            cr.error = res.error;
            size_t len = serviceradar__agent__v1__command_result__get_packed_size(&cr);
            uint8_t *out = malloc(len ? len : 1);
            if (out) {
                serviceradar__agent__v1__command_result__pack(&cr, out);
                free(out);
            }
            /* the echoed text must stay printable ASCII */
            for (const char *p = res.error; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                    abort();
        }
        protobuf_c_message_free_unpacked(&gm->base, NULL);
    }
    Serviceradar__Agent__V1__UploadAck *ack = serviceradar__agent__v1__upload_ack__unpack(NULL, size, data);
    if (ack)
        serviceradar__agent__v1__upload_ack__free_unpacked(ack, NULL);
    return 0;
}
