#include "sr_scan_cmd.h"

#include <stdlib.h>

#include "sr_log.h"

static void progress(unsigned percent, const char *message, void *userdata) {
    sr_cmd_progress(userdata, percent, message);
}

static int cancelled(void *userdata) {
    return sr_cmd_cancelled(userdata);
}

static void handle_scan(sr_cmd_ctx *ctx, const char *payload, void *userdata) {
    (void)payload;
    sr_scan *s = userdata;
    char *summary = NULL;
    char err[512] = "";
    sr_info("scan: run requested by command %s", sr_cmd_id(ctx));
    int r = sr_scan_run_now(s, progress, ctx, cancelled, &summary, err, sizeof(err));
    if (r < 0)
        sr_warn("scan: command %s failed: %s", sr_cmd_id(ctx), err);
    sr_cmd_finish(ctx, r == 0, summary, r == 0 ? NULL : err);
    free(summary);
}

int sr_scan_attach(sr_scan *s, sr_transport *t) {
    return sr_transport_register_command(t, SR_SCAN_COMMAND, handle_scan, s);
}

void sr_scan_on_db_installed(const char *version, const char *db_dir, void *userdata) {
    (void)db_dir;
    sr_scan *s = userdata;
    sr_scan_set_db_version(s, version);
    sr_scan_request(s, "new Trivy DB");
}
