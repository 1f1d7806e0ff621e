/* Fuzz target: a command document as the gateway receives it on commands.agent.<id>. */
#include <stddef.h>
#include <stdint.h>

#include "gw_command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gw_command c;
    char err[256];
    if (gw_command_parse((const char *)data, size, &c, err, sizeof(err)) == 0) {
        Serviceradar__Agent__V1__Command m;
        gw_command_to_proto(&c, &m);
        uint8_t buf[64];
        if (serviceradar__agent__v1__command__get_packed_size(&m) <= sizeof(buf))
            (void)serviceradar__agent__v1__command__pack(&m, buf);
        gw_command_clear(&c);
    }
    return 0;
}
