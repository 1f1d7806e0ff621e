/* Fuzz target: the bounded Trivy report reader the scan workers run on every assembled report
 * (sr_trivy_report_parse), and the CycloneDX check of SBOMs. Invariants: every vulnerability
 * points at a package of the report, strings are never NULL, severities are in range, the
 * CVSS text is at most its limit, the counts are within the limits. Input: a report. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_trivy_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256];
    (void)sr_cyclonedx_check((const char *)data, size, why, sizeof(why));
    sr_trivy_report *rep = NULL;
    if (sr_trivy_report_parse((const char *)data, size, &rep, why, sizeof(why)) != 0)
        return 0;
    if (rep->n_pkgs > SR_TRIVY_MAX_PACKAGES || rep->n_vulns > SR_TRIVY_MAX_VULNS || rep->n_files > SR_TRIVY_MAX_FILES)
        abort();
    size_t files = 0;
    for (size_t i = 0; i < rep->n_pkgs; i++) {
        const sr_trivy_pkg *p = &rep->pkgs[i];
        if (!p->type || !p->name || !*p->name || !p->version || !p->purl || !p->uid || !p->path || !p->src_name ||
            !p->src_version || !p->arch || !p->layer_digest || !p->class_name || !p->result_target)
            abort();
        for (size_t f = 0; f < p->n_files; f++)
            if (!p->files[f] || strlen(p->files[f]) > SR_TRIVY_MAX_PATH)
                abort();
        files += p->n_files;
    }
    if (files != rep->n_files)
        abort();
    for (size_t i = 0; i < rep->n_vulns; i++) {
        const sr_trivy_vuln *v = &rep->vulns[i];
        if (v->pkg >= rep->n_pkgs || !v->id || !*v->id || strlen(v->id) > SR_TRIVY_MAX_ID ||
            (unsigned)v->severity_rank > SR_TRIVY_SEV_CRITICAL ||
            strcmp(v->severity, sr_trivy_severity_name(v->severity_rank)) != 0 || !v->cvss_json ||
            strlen(v->cvss_json) > SR_TRIVY_MAX_CVSS_JSON || strlen(v->description) > SR_TRIVY_MAX_TEXT ||
            strlen(v->title) > SR_TRIVY_MAX_TEXT || v->n_refs > SR_TRIVY_MAX_REFS || v->n_cwes > SR_TRIVY_MAX_REFS ||
            !v->data_source_json || (v->has_cvss_v3 && (v->cvss_v3 < 0 || v->cvss_v3 > 10)))
            abort();
    }
    sr_trivy_report_free(rep);
    return 0;
}
