/* Test helper for interop_grpcurl.sh: prints the last message of a JetStream subject as
 *   seq=<n> len=<bytes> Nats-Msg-Id=<..> Sr-Agent-Id=<..> Sr-Received-Ms=<..> msgs=<stream count>
 * usage: gw_js_get NATS_URL STREAM SUBJECT */
#include <inttypes.h>
#include <stdio.h>

#include <nats/nats.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: gw_js_get NATS_URL STREAM SUBJECT\n");
        return 2;
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsMsg *m = NULL;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    int rc = 1;
    natsStatus s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK)
        s = js_GetLastMsg(&m, js, argv[2], argv[3], NULL, &jerr);
    if (s == NATS_OK)
        s = js_GetStreamInfo(&si, js, argv[2], NULL, &jerr);
    if (s == NATS_OK) {
        const char *id = "", *agent = "", *recv = "";
        natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
        natsMsgHeader_Get(m, "Sr-Agent-Id", &agent);
        natsMsgHeader_Get(m, "Sr-Received-Ms", &recv);
        printf("seq=%" PRIu64 " len=%d Nats-Msg-Id=%s Sr-Agent-Id=%s Sr-Received-Ms=%s msgs=%" PRIu64 "\n",
               natsMsg_GetSequence(m), natsMsg_GetDataLength(m), id, agent, recv, si->State.Msgs);
        rc = 0;
    } else {
        fprintf(stderr, "gw_js_get: could not read %s from %s: %s\n", argv[3], argv[2], natsStatus_GetText(s));
    }
    jsStreamInfo_Destroy(si);
    natsMsg_Destroy(m);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}
