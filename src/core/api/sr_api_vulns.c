/* Vulnerability scan results (migrations/0008_vulns.sql): findings per host and over all hosts,
 * the summary by severity, one vulnerability with the hosts and packages it affects, the
 * packages of a host and its latest CycloneDX SBOM. Every statement is a constant string with
 * parameters; optional filters are "$n IS NULL OR ..." (the planner drops them for the values
 * given). Lists are keyset-paged: next_cursor is null on the last page. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_api_db.h"
#include "sr_api_internal.h"
#include "sr_cleanup.h"
#include "sr_parse.h"

#define MS(col) "floor(extract(epoch from " col ") * 1000)::bigint"
#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define AFFECTED_MAX 10000 /* findings listed for one vulnerability */
#define SBOM_TYPE "application/vnd.cyclonedx+json"

static const char *const SEVERITIES[] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

/* $1 agent or NULL, $2 status or NULL, $3 severities (text[]) or NULL, $4 target or NULL,
 * $5/$6 cursor (severity rank, id) or NULL, $7 page size + 1. Ordered by severity, then id. */
static const char q_findings[] =
    "SELECT f.id, f.agent_id, f.target, f.vulnerability_id, f.severity, f.severity_rank, f.status, p.type, p.name, "
    "p.version, p.purl, hp.path, f.installed_version, f.fixed_version, f.vendor_status, v.title, v.cvss_v3_score, "
    MS("f.first_seen") ", " MS("f.last_seen") ", " MS("f.fixed_at") ", " MS("f.reopened_at") ", f.last_scan_id "
    "FROM findings f JOIN packages p ON p.id = f.package_id JOIN host_packages hp ON hp.id = f.host_package_id "
    "JOIN vulnerabilities v ON v.id = f.vulnerability_id "
    "WHERE ($1::text IS NULL OR f.agent_id = $1) AND ($2::text IS NULL OR f.status = $2) "
    "AND ($3::text[] IS NULL OR f.severity = ANY ($3::text[])) AND ($4::text IS NULL OR f.target = $4) "
    "AND ($5::smallint IS NULL OR f.severity_rank < $5::smallint OR (f.severity_rank = $5::smallint AND "
    "f.id > $6::bigint)) ORDER BY f.severity_rank DESC, f.id LIMIT $7::integer";
/* The host is known to the core or has sent scans. */
static const char q_host_known[] =
    "SELECT EXISTS (SELECT 1 FROM hosts WHERE agent_id = $1) OR EXISTS (SELECT 1 FROM scans WHERE agent_id = $1)";
static const char q_summary[] =
    "SELECT severity, count(*), count(DISTINCT agent_id) FROM findings WHERE status = 'open' GROUP BY severity";
/* $1 host limit: per host, the hosts with the most critical (then high, ...) findings first. */
static const char q_summary_hosts[] =
    "SELECT agent_id, count(*) FILTER (WHERE severity_rank = 0), count(*) FILTER (WHERE severity_rank = 1), "
    "count(*) FILTER (WHERE severity_rank = 2), count(*) FILTER (WHERE severity_rank = 3), "
    "count(*) FILTER (WHERE severity_rank = 4) FROM findings WHERE status = 'open' GROUP BY agent_id "
    "ORDER BY 6 DESC, 5 DESC, 4 DESC, 3 DESC, 2 DESC, agent_id LIMIT $1::integer";
static const char q_vulnerability[] =
    "SELECT id, severity, cvss::text, cvss_v3_score, title, description, array_to_json(\"references\")::text, "
    "array_to_json(cwe_ids)::text, primary_url, " MS("published_at") ", " MS("last_modified_at") ", "
    "data_source::text, " MS("updated_at") " FROM vulnerabilities WHERE id = $1";
/* $1 id, $2 row limit: open ones first. */
static const char q_affected[] =
    "SELECT f.agent_id, f.target, f.status, f.severity, p.type, p.name, p.version, p.purl, hp.path, "
    "f.installed_version, f.fixed_version, " MS("f.first_seen") ", " MS("f.last_seen") ", " MS("f.fixed_at") " "
    "FROM findings f JOIN packages p ON p.id = f.package_id JOIN host_packages hp ON hp.id = f.host_package_id "
    "WHERE f.vulnerability_id = $1 ORDER BY f.status DESC, f.agent_id, f.target, p.name, f.id LIMIT $2::integer";
/* $1 agent, $2 target or NULL, $3 name or NULL, $4 'installed' | 'removed' | NULL (all), $5 cursor id or NULL,
 * $6 page size + 1 */
static const char q_packages[] =
    "SELECT hp.id, hp.target, p.type, p.name, p.version, p.purl, hp.path, hp.class, hp.src_name, hp.src_version, "
    "hp.arch, " MS("hp.first_seen") ", " MS("hp.last_seen") ", " MS("hp.removed_at") ", "
    "(SELECT count(*) FROM package_files pf WHERE pf.host_package_id = hp.id), "
    "(SELECT count(*) FROM findings f WHERE f.host_package_id = hp.id AND f.status = 'open') "
    "FROM host_packages hp JOIN packages p ON p.id = hp.package_id "
    "WHERE hp.agent_id = $1 AND ($2::text IS NULL OR hp.target = $2) AND ($3::text IS NULL OR p.name = $3) "
    "AND ($4::text IS NULL OR ($4 = 'installed') = (hp.removed_at IS NULL)) "
    "AND ($5::bigint IS NULL OR hp.id > $5::bigint) ORDER BY hp.id LIMIT $6::integer";
static const char q_sbom[] =
    "SELECT document, scan_id, " MS("finished_at") " FROM sboms WHERE agent_id = $1 AND target = $2";

/* ---- helpers ---- */


/* Appends v to arr (steals it); on failure drops arr and returns NULL. */
static json_t *append(json_t *arr, json_t *v) {
    if (!arr || !v || json_array_append_new(arr, v) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* "host" or "container:<id>" (id 1..128 of [A-Za-z0-9._-]), as the agents name targets. */
static int target_valid(const char *s) {
    if (strcmp(s, "host") == 0)
        return 1;
    if (strncmp(s, "container:", 10) != 0)
        return 0;
    size_t n = strspn(s + 10, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    return n > 0 && n <= 128 && s[10 + n] == '\0';
}

/* Page size from ?limit= (1..PAGE_MAX, default PAGE_DEFAULT). */
static int page_size(const sr_api_target *t, int64_t *ret, char *err, size_t errlen) {
    *ret = PAGE_DEFAULT;
    if (t->has_limit && sr_parse_i64(t->limit, 1, PAGE_MAX, ret) < 0) {
        snprintf(err, errlen, "invalid limit (expected 1..%d)", PAGE_MAX);
        return -EINVAL;
    }
    return 0;
}

/* ?severity=CRITICAL,high as the array literal {"CRITICAL","HIGH"}. */
static int severity_filter(const char *arg, char *out, size_t outlen, char *err, size_t errlen) {
    size_t o = 0;
    out[o++] = '{';
    const char *p = arg;
    int count = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (n == strlen(SEVERITIES[i]) && strncasecmp(p, SEVERITIES[i], n) == 0)
                found = i;
        if (found < 0) {
            snprintf(err, errlen, "invalid severity (expected a comma list of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)");
            return -EINVAL;
        }
        int w = snprintf(out + o, outlen - o, "%s\"%s\"", count ? "," : "", SEVERITIES[found]);
        if (w < 0 || (size_t)w >= outlen - o) {
            snprintf(err, errlen, "too many severities");
            return -EINVAL;
        }
        o += (size_t)w;
        count++;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (o + 2 > outlen) {
        snprintf(err, errlen, "too many severities");
        return -EINVAL;
    }
    out[o++] = '}';
    out[o] = '\0';
    return 0;
}

/* 1 when the host is known (hosts row or scans), 0 when not, -1 on a database error. */
static int host_known(PGconn *conn, const char *agent_id) {
    const char *vals[] = {agent_id};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(conn, q_host_known, 1, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return -1;
    return strcmp(PQgetvalue(r, 0, 0), "t") == 0;
}

/* ---- findings ---- */

static json_t *finding_from_row(const PGresult *r, int i) {
    json_t *pkg = json_pack("{s:o,s:o,s:o,s:o,s:o}", "type", sr_api_col_text(r, i, 7), "name", sr_api_col_text(r, i, 8),
                            "version", sr_api_col_text(r, i, 9), "purl", sr_api_col_text(r, i, 10), "path",
                            sr_api_col_text(r, i, 11));
    if (!pkg)
        return NULL;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                     sr_api_col_int(r, i, 0), "agent_id", sr_api_col_text(r, i, 1), "target", sr_api_col_text(r, i, 2),
                     "vulnerability_id", sr_api_col_text(r, i, 3), "severity", sr_api_col_text(r, i, 4), "status",
                     sr_api_col_text(r, i, 6), "package", pkg, "installed_version", sr_api_col_text(r, i, 12),
                     "fixed_version", sr_api_col_text(r, i, 13), "vendor_status", sr_api_col_text(r, i, 14), "title",
                     sr_api_col_text(r, i, 15), "cvss_v3_score", sr_api_col_real(r, i, 16), "first_seen",
                     sr_api_col_time(r, i, 17), "last_seen", sr_api_col_time(r, i, 18), "fixed_at",
                     sr_api_col_time(r, i, 19), "reopened_at", sr_api_col_time(r, i, 20), "last_scan_id",
                     sr_api_col_text(r, i, 21), "severity_rank", sr_api_col_int(r, i, 5));
}

enum MHD_Result sr_api_get_findings(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    char err[SR_API_ERR_MAX];
    int64_t page;
    if (page_size(t, &page, err, sizeof(err)) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    const char *status = "open";
    if (t->has_status) {
        if (strcmp(t->status, "all") == 0)
            status = NULL;
        else if (strcmp(t->status, "open") == 0 || strcmp(t->status, "fixed") == 0)
            status = t->status;
        else
            return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "invalid status (expected open, fixed or all)");
    }
    char sev[128];
    if (t->has_severity && severity_filter(t->severity, sev, sizeof(sev), err, sizeof(err)) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (t->has_target && !target_valid(t->target))
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "invalid target (expected host or container:<id>)");
    char rank[8] = "", after[24] = "";
    if (t->has_cursor) {
        int64_t rk, id;
        const char *dot = strchr(t->cursor, '.');
        if (!dot || (size_t)(dot - t->cursor) != 1 || t->cursor[0] < '0' || t->cursor[0] > '4' ||
            sr_parse_i64(dot + 1, 0, INT64_MAX, &id) < 0)
            return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "bad cursor");
        rk = t->cursor[0] - '0';
        snprintf(rank, sizeof(rank), "%" PRId64, rk);
        snprintf(after, sizeof(after), "%" PRId64, id);
    }
    int per_host = t->route == SR_ROUTE_HOST_FINDINGS;

    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    if (per_host) {
        int known = host_known(l.conn, t->id);
        if (known < 0)
            return sr_api_db_fail(api, c, &l, "read host");
        if (known == 0)
            return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown host: %s", t->id);
    }
    char lim[24];
    snprintf(lim, sizeof(lim), "%" PRId64, page + 1);
    const char *vals[7] = {per_host ? t->id : NULL, status, t->has_severity ? sev : NULL,
                           t->has_target ? t->target : NULL, t->has_cursor ? rank : NULL,
                           t->has_cursor ? after : NULL, lim};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_findings, 7, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "list findings");
    int n = PQntuples(r);
    int more = n > page;
    if (more)
        n = (int)page;
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        arr = append(arr, finding_from_row(r, i));
    json_t *next = json_null();
    if (more && n > 0) {
        char cur[48];
        snprintf(cur, sizeof(cur), "%s.%s", PQgetvalue(r, n - 1, 5), PQgetvalue(r, n - 1, 0));
        json_decref(next);
        next = json_string(cur);
    }
    if (!arr) {
        json_decref(next);
        return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
    }
    return sr_api_reply_json(api, c, MHD_HTTP_OK, json_pack("{s:o,s:o}", "findings", arr, "next_cursor", next));
}

/* ---- summary ---- */

static json_t *severity_counts(const int64_t n[5]) {
    int64_t total = 0;
    for (int i = 0; i < 5; i++)
        total += n[i];
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "CRITICAL", (json_int_t)n[4], "HIGH", (json_int_t)n[3], "MEDIUM",
                     (json_int_t)n[2], "LOW", (json_int_t)n[1], "UNKNOWN", (json_int_t)n[0], "total",
                     (json_int_t)total);
}

enum MHD_Result sr_api_get_findings_summary(sr_api *api, struct MHD_Connection *c) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_summary, 0, NULL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "count findings");
    int64_t all[5] = {0}, hosts[5] = {0};
    for (int i = 0; i < PQntuples(r); i++) {
        for (int s = 0; s < 5; s++) {
            if (strcmp(PQgetvalue(r, i, 0), SEVERITIES[s]) != 0)
                continue;
            (void)sr_parse_i64(PQgetvalue(r, i, 1), 0, INT64_MAX, &all[s]);
            (void)sr_parse_i64(PQgetvalue(r, i, 2), 0, INT64_MAX, &hosts[s]);
        }
    }
    char lim[24];
    snprintf(lim, sizeof(lim), "%d", SR_API_MAX_ROWS);
    const char *vals[] = {lim};
    _cleanup_pgresult_ PGresult *h = sr_api_exec(l.conn, q_summary_hosts, 1, vals);
    if (PQresultStatus(h) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "count findings per host");
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(h); i++) {
        int64_t n[5] = {0};
        for (int s = 0; s < 5; s++)
            (void)sr_parse_i64(PQgetvalue(h, i, 1 + s), 0, INT64_MAX, &n[s]);
        arr = append(arr, json_pack("{s:o,s:o}", "agent_id", sr_api_col_text(h, i, 0), "open", severity_counts(n)));
    }
    if (!arr)
        return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
    return sr_api_reply_json(api, c, MHD_HTTP_OK,
                             json_pack("{s:o,s:o,s:o}", "open", severity_counts(all), "hosts_with_open",
                                       severity_counts(hosts), "hosts", arr));
}

/* ---- one vulnerability ---- */

static json_t *affected_from_row(const PGresult *r, int i) {
    json_t *pkg = json_pack("{s:o,s:o,s:o,s:o,s:o}", "type", sr_api_col_text(r, i, 4), "name", sr_api_col_text(r, i, 5),
                            "version", sr_api_col_text(r, i, 6), "purl", sr_api_col_text(r, i, 7), "path",
                            sr_api_col_text(r, i, 8));
    if (!pkg)
        return NULL;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "agent_id", sr_api_col_text(r, i, 0), "target",
                     sr_api_col_text(r, i, 1), "status", sr_api_col_text(r, i, 2), "severity", sr_api_col_text(r, i, 3),
                     "package", pkg, "installed_version", sr_api_col_text(r, i, 9), "fixed_version",
                     sr_api_col_text(r, i, 10), "first_seen", sr_api_col_time(r, i, 11), "last_seen",
                     sr_api_col_time(r, i, 12), "fixed_at", sr_api_col_time(r, i, 13));
}

enum MHD_Result sr_api_get_vulnerability(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    const char *vals[] = {t->id, NULL};
    _cleanup_pgresult_ PGresult *v = sr_api_exec(l.conn, q_vulnerability, 1, vals);
    if (PQresultStatus(v) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "read vulnerability");
    if (PQntuples(v) == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown vulnerability: %s", t->id);
    char lim[24];
    snprintf(lim, sizeof(lim), "%d", AFFECTED_MAX + 1);
    vals[1] = lim;
    _cleanup_pgresult_ PGresult *a = sr_api_exec(l.conn, q_affected, 2, vals);
    if (PQresultStatus(a) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "list affected packages");
    int n = PQntuples(a);
    int truncated = n > AFFECTED_MAX;
    if (truncated)
        n = AFFECTED_MAX;
    json_t *arr = json_array();
    int64_t open = 0;
    for (int i = 0; arr && i < n; i++) {
        open += strcmp(PQgetvalue(a, i, 2), "open") == 0;
        arr = append(arr, affected_from_row(a, i));
    }
    if (!arr)
        return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
    json_t *body = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:b}", "id",
                             sr_api_col_text(v, 0, 0), "severity", sr_api_col_text(v, 0, 1), "cvss",
                             sr_api_col_json(v, 0, 2, json_object()), "cvss_v3_score", sr_api_col_real(v, 0, 3),
                             "title", sr_api_col_text(v, 0, 4), "description", sr_api_col_text(v, 0, 5), "references",
                             sr_api_col_json(v, 0, 6, json_array()), "cwe_ids", sr_api_col_json(v, 0, 7, json_array()),
                             "primary_url", sr_api_col_text(v, 0, 8), "published_at", sr_api_col_time(v, 0, 9),
                             "last_modified_at", sr_api_col_time(v, 0, 10), "data_source",
                             sr_api_col_json(v, 0, 11, json_null()), "updated_at", sr_api_col_time(v, 0, 12),
                             "affected", arr, "open_findings", (json_int_t)open, "affected_truncated", truncated);
    return sr_api_reply_json(api, c, MHD_HTTP_OK, body);
}

/* ---- packages ---- */

static json_t *package_from_row(const PGresult *r, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", sr_api_col_int(r, i, 0),
                     "target", sr_api_col_text(r, i, 1), "type", sr_api_col_text(r, i, 2), "name",
                     sr_api_col_text(r, i, 3), "version", sr_api_col_text(r, i, 4), "purl", sr_api_col_text(r, i, 5),
                     "path", sr_api_col_text(r, i, 6), "class", sr_api_col_text(r, i, 7), "src_name",
                     sr_api_col_text(r, i, 8), "src_version", sr_api_col_text(r, i, 9), "arch",
                     sr_api_col_text(r, i, 10), "first_seen", sr_api_col_time(r, i, 11), "last_seen",
                     sr_api_col_time(r, i, 12), "removed_at", sr_api_col_time(r, i, 13), "installed_files",
                     sr_api_col_int(r, i, 14), "open_findings", sr_api_col_int(r, i, 15));
}

enum MHD_Result sr_api_get_host_packages(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    char err[SR_API_ERR_MAX];
    int64_t page;
    if (page_size(t, &page, err, sizeof(err)) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    const char *status = "installed";
    if (t->has_status) {
        if (strcmp(t->status, "all") == 0)
            status = NULL;
        else if (strcmp(t->status, "installed") == 0 || strcmp(t->status, "removed") == 0)
            status = t->status;
        else
            return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                      "invalid status (expected installed, removed or all)");
    }
    if (t->has_target && !target_valid(t->target))
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "invalid target (expected host or container:<id>)");
    int64_t after = 0;
    if (t->has_cursor && sr_parse_i64(t->cursor, 0, INT64_MAX, &after) < 0)
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST, "bad cursor");
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    int known = host_known(l.conn, t->id);
    if (known < 0)
        return sr_api_db_fail(api, c, &l, "read host");
    if (known == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "unknown host: %s", t->id);
    char lim[24], cur[24];
    snprintf(lim, sizeof(lim), "%" PRId64, page + 1);
    snprintf(cur, sizeof(cur), "%" PRId64, after);
    const char *vals[6] = {t->id, t->has_target ? t->target : NULL, t->has_name ? t->name : NULL, status,
                           t->has_cursor ? cur : NULL, lim};
    _cleanup_pgresult_ PGresult *r = sr_api_exec(l.conn, q_packages, 6, vals);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "list packages");
    int n = PQntuples(r);
    int more = n > page;
    if (more)
        n = (int)page;
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        arr = append(arr, package_from_row(r, i));
    json_t *next = more && n > 0 ? json_string(PQgetvalue(r, n - 1, 0)) : json_null();
    if (!arr) {
        json_decref(next);
        return sr_api_reply_json(api, c, MHD_HTTP_OK, NULL);
    }
    return sr_api_reply_json(api, c, MHD_HTTP_OK, json_pack("{s:o,s:o}", "packages", arr, "next_cursor", next));
}

/* ---- SBOM ---- */

enum MHD_Result sr_api_get_host_sbom(sr_api *api, struct MHD_Connection *c, const sr_api_target *t) {
    const char *target = t->has_target ? t->target : "host";
    if (!target_valid(target))
        return sr_api_reply_error(api, c, MHD_HTTP_BAD_REQUEST,
                                  "invalid target (expected host or container:<id>)");
    enum MHD_Result done;
    _cleanup_(sr_api_lease_release) sr_api_lease l = {0};
    if (sr_api_lease_get(api, c, &l, &done) < 0)
        return done;
    const char *vals[] = {t->id, target};
    _cleanup_pgresult_ PGresult *r = PQexecParams(l.conn, q_sbom, 2, NULL, vals, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sr_api_db_fail(api, c, &l, "read sbom");
    if (PQntuples(r) == 0)
        return sr_api_reply_error(api, c, MHD_HTTP_NOT_FOUND, "no sbom for host %s, target %s", t->id, target);
    size_t len = (size_t)PQgetlength(r, 0, 0);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, PQgetvalue(r, 0, 0), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return sr_api_reply_error(api, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    char name[256];
    snprintf(name, sizeof(name), "attachment; filename=\"%s-%s.cdx.json\"", t->id, target);
    for (char *p = strchr(name, ':'); p; p = strchr(p + 1, ':'))
        *p = '_'; /* container:<id> */
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, SBOM_TYPE);
    (void)MHD_add_response_header(resp, "Content-Disposition", name);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return sr_api_reply(api, c, MHD_HTTP_OK, resp);
}
