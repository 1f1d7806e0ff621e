#include "sr_scan_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sr_file.h"
#include "sr_time.h"
#include "sr_trivy.h"

int sr_scan_cli(const char *root, const char *db_dir, int parallel, int64_t timeout_ms, const char *sbom_path,
                FILE *out) {
    if (!sr_trivy_available()) {
        fprintf(stderr, "serviceradar-agent: built without the Trivy bridge (SR_TRIVY=OFF): cannot scan\n");
        return 1;
    }
    sr_trivy_scan_opts o = {.parallel = parallel, .timeout_s = (int)(timeout_ms / 1000)};
    sr_trivy_result res = {0};
    char *err = NULL;
    int64_t t0 = sr_mono_ms();
    int r = sr_trivy_scan(root, db_dir, &o, &res, &err);
    if (r < 0) {
        fprintf(stderr, "serviceradar-agent: could not scan %s: %s\n", root, err ? err : strerror(-r));
        free(err);
        return 1;
    }
    int rc = 0;
    if (fwrite(res.report, 1, res.report_len, out) != res.report_len || fputc('\n', out) == EOF || fflush(out) != 0) {
        fprintf(stderr, "serviceradar-agent: could not write the report: %s\n", strerror(errno));
        rc = 1;
    }
    if (sbom_path) {
        r = sr_file_write_atomic(sbom_path, res.sbom, res.sbom_len, 0644);
        if (r < 0) {
            fprintf(stderr, "serviceradar-agent: could not write %s: %s\n", sbom_path, strerror(-r));
            rc = 1;
        }
    }
    fprintf(stderr,
            "serviceradar-agent: scanned %s with trivy %s in %.2f s: %" PRIu64 " packages, %" PRIu64
            " vulnerabilities (report %zu bytes, SBOM %zu bytes)\n",
            root, sr_trivy_version(), (double)(sr_mono_ms() - t0) / 1000.0, res.packages, res.vulnerabilities,
            res.report_len, res.sbom_len);
    sr_trivy_result_done(&res);
    return rc;
}
