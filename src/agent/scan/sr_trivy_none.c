/* sr_trivy without the bridge (-DSR_TRIVY=OFF): the agent reports the capability as absent. */
#include "sr_trivy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sr_trivy_available(void) {
    return 0;
}

const char *sr_trivy_version(void) {
    return "";
}

static int unsupported(char **err) {
    if (err)
        *err = strdup("this agent was built without the Trivy bridge (SR_TRIVY=OFF)");
    return -ENOTSUP;
}

int sr_trivy_scan(const char *root, const char *db_dir, const sr_trivy_scan_opts *opts, sr_trivy_result *ret,
                  char **err) {
    (void)root, (void)db_dir, (void)opts, (void)ret;
    return unsupported(err);
}

void sr_trivy_result_done(sr_trivy_result *r) {
    (void)r;
}

int sr_trivy_db_install(const char *bundle_path, const char *dest_dir, char **metadata, char **err) {
    (void)bundle_path, (void)dest_dir, (void)metadata;
    return unsupported(err);
}
