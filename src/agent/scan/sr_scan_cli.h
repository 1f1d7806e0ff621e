/* sr_scan_cli: `serviceradar-agent --scan ROOT`: one Trivy scan of a directory, printed. */
#pragma once
#include <stdint.h>
#include <stdio.h>

/* Scans root with the DB in db_dir; writes the Trivy JSON report to out and, when sbom_path is
 * set, the CycloneDX SBOM there. Errors go to stderr. Returns the process exit code (0, 1). */
int sr_scan_cli(const char *root, const char *db_dir, int parallel, int64_t timeout_ms, const char *sbom_path,
                FILE *out);
