/* Job scan_parts_retention: sets of scan parts that never completed (an agent that went away
 * in the middle of an upload, parts lost past the stream's age) are deleted once their newest
 * part is older than retention.scan_parts_age; the scan's document is marked 'expired'.
 * Built into sr_core_jobs (listed in sr_jobs_builtin.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_jobs_builtin.h"
#include "sr_jobs_int.h"
#include "sr_parse.h"
#include "sr_pg.h"

#define SETS_PER_STATEMENT 1000

/* $1 age in ms, $2 sets per statement. Returns the sets and the parts deleted. */
static const char q_expire_sets[] =
    "WITH old AS (SELECT agent_id, scan_id, target, kind FROM scan_parts GROUP BY 1, 2, 3, 4 "
    "HAVING max(received_at) < now() - $1::bigint * interval '1 millisecond' LIMIT $2::integer), "
    "gone AS (DELETE FROM scan_parts p USING old o WHERE p.agent_id = o.agent_id AND p.scan_id = o.scan_id "
    "AND p.target = o.target AND p.kind = o.kind RETURNING 1), "
    "marked AS (UPDATE scans s SET "
    "report_status = CASE WHEN s.report_status = 'receiving' AND EXISTS (SELECT 1 FROM old o WHERE "
    "o.agent_id = s.agent_id AND o.scan_id = s.scan_id AND o.target = s.target AND o.kind = 'report') "
    "THEN 'expired' ELSE s.report_status END, "
    "sbom_status = CASE WHEN s.sbom_status = 'receiving' AND EXISTS (SELECT 1 FROM old o WHERE "
    "o.agent_id = s.agent_id AND o.scan_id = s.scan_id AND o.target = s.target AND o.kind = 'sbom') "
    "THEN 'expired' ELSE s.sbom_status END, "
    "error = COALESCE(s.error, 'parts incomplete past retention.scan_parts_age'), processed_at = now() "
    "WHERE (s.agent_id, s.scan_id, s.target) IN (SELECT agent_id, scan_id, target FROM old) RETURNING 1) "
    "SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM gone), (SELECT count(*) FROM marked)";

static int scan_parts_retention(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err,
                                size_t errlen) {
    const sr_jobs_params *p = params;
    char age[24], lim[24];
    (void)snprintf(age, sizeof(age), "%" PRId64, p->scan_parts_age_ms);
    (void)snprintf(lim, sizeof(lim), "%d", SETS_PER_STATEMENT);
    const char *vals[] = {age, lim};
    int64_t sets = 0, parts = 0;
    for (;;) {
        (void)snprintf(msg, msglen, "deleted %" PRId64 " incomplete scan documents (%" PRId64 " parts)", sets, parts);
        int r = sr_jobs_run_step(run, err, errlen);
        if (r <= 0)
            return r < 0 ? r : 1;
        _cleanup_pgresult_ PGresult *res = NULL;
        r = sr_jobs_query(sr_jobs_run_conn(run), q_expire_sets, 2, vals, &res, "delete incomplete scan parts", err,
                          errlen);
        if (r < 0)
            return r;
        int64_t n = 0, np = 0;
        if (sr_parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n) < 0 ||
            sr_parse_i64(PQgetvalue(res, 0, 1), 0, INT64_MAX, &np) < 0) {
            sr_errf(err, errlen, "could not delete incomplete scan parts: no row count");
            return -EPROTO;
        }
        sets += n;
        parts += np;
        if (n < SETS_PER_STATEMENT) {
            (void)snprintf(msg, msglen, "deleted %" PRId64 " incomplete scan documents (%" PRId64 " parts)", sets,
                           parts);
            return 0;
        }
    }
}

const sr_jobs_def sr_jobs_scan_parts_retention = {"scan_parts_retention", 3600000, scan_parts_retention};
