/* sr_vuln_store: applies a parsed Trivy report or an SBOM of one scanned target to PostgreSQL
 * (migrations/0008_vulns.sql), inside the caller's transaction. Nothing here logs; see
 * docs/internals/vulns.md for the lifecycle rules. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_trivy_report.h"

typedef struct {
    const char *agent_id;
    const char *scan_id;
    const char *target;   /* "host" or "container:<id>" */
    int64_t finished_ms;  /* the scan's finished time (at most the time it arrived) */
} sr_vuln_scan_key;

typedef struct {
    int stale;            /* older than the last applied report of the target: findings untouched */
    int64_t packages;     /* packages of the report */
    int64_t vulnerabilities; /* findings listed */
    int64_t opened, reopened, fixed;
} sr_vuln_apply_result;

/* In the caller's open transaction. When a report of the same (agent_id, target) with a later
 * finished time was already applied, only the vulnerability records are updated and
 * ret->stale is 1. Otherwise: packages, host_packages (+ package_files), vulnerabilities and
 * findings are upserted; open findings this report does not list become fixed (fixed_at =
 * finished time); host packages it does not list get removed_at. Returns 0, -EBADMSG (the
 * database rejected the data; err has its message; the transaction is aborted: roll back to a
 * savepoint) or -EIO (connection or other failure). */
int sr_vuln_apply_report(PGconn *pg, const sr_vuln_scan_key *k, const sr_trivy_report *rep,
                         sr_vuln_apply_result *ret, char *err, size_t errlen);

/* Keeps doc as the target's SBOM unless a newer one (later finished time) is stored.
 * 0, -EBADMSG or -EIO as above. */
int sr_vuln_store_sbom(PGconn *pg, const sr_vuln_scan_key *k, const uint8_t *doc, size_t len,
                       const uint8_t sha256[32], char *err, size_t errlen);
