/* The report goes into four temporary tables by COPY (text format, streamed in 1 MiB pieces),
 * then set-based statements move it into the real tables. */
#include "sr_vuln_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_parse.h"
#include "sr_pg.h"

#define COPY_FLUSH (1024 * 1024)
#define SEEN "to_timestamp($4::bigint / 1000.0)"

static const char SQL_TEMP[] =
    "CREATE TEMP TABLE sr_scan_pkgs (k integer, type text COLLATE \"C\", name text COLLATE \"C\", "
    "version text COLLATE \"C\", purl text COLLATE \"C\", path text COLLATE \"C\", class text, result_target text, "
    "src_name text, src_version text, arch text, layer_digest text, from_vuln boolean, package_id bigint, "
    "host_package_id bigint) ON COMMIT DROP; "
    "CREATE TEMP TABLE sr_scan_files (k integer, path text COLLATE \"C\") ON COMMIT DROP; "
    "CREATE TEMP TABLE sr_scan_vulns (id text COLLATE \"C\", severity text, severity_rank smallint, cvss jsonb, "
    "cvss_v3_score real, title text, description text, refs text[], cwe_ids text[], primary_url text, "
    "published_ms bigint, modified_ms bigint, data_source jsonb) ON COMMIT DROP; "
    "CREATE TEMP TABLE sr_scan_findings (k integer, vulnerability_id text COLLATE \"C\", installed_version text, "
    "fixed_version text, vendor_status text, severity text, severity_rank smallint) ON COMMIT DROP";

/* $1 agent, $2 target, $3 scan id, $4 finished ms: true when a later report was applied. */
static const char SQL_STALE[] =
    "SELECT EXISTS (SELECT 1 FROM scans WHERE agent_id = $1 AND target = $2 AND report_status = 'processed' "
    "AND scan_id <> $3 AND finished_at > " SEEN ")";

static const char SQL_PACKAGES[] =
    "INSERT INTO packages (type, name, version, purl) SELECT DISTINCT type, name, version, purl FROM sr_scan_pkgs "
    "ORDER BY 1, 2, 3, 4 ON CONFLICT DO NOTHING";
static const char SQL_PACKAGE_IDS[] =
    "UPDATE sr_scan_pkgs t SET package_id = p.id FROM packages p "
    "WHERE p.type = t.type AND p.name = t.name AND p.version = t.version AND p.purl = t.purl";
static const char SQL_HOST_PACKAGES[] =
    "INSERT INTO host_packages AS h (agent_id, target, package_id, path, class, result_target, src_name, "
    "src_version, arch, layer_digest, first_seen, last_seen, last_scan_id) "
    "SELECT DISTINCT ON (package_id, path) $1, $2, package_id, path, class, result_target, src_name, src_version, "
    "arch, layer_digest, " SEEN ", " SEEN ", $3 FROM sr_scan_pkgs ORDER BY package_id, path, from_vuln, k "
    "ON CONFLICT (agent_id, target, package_id, path) DO UPDATE SET class = EXCLUDED.class, "
    "result_target = EXCLUDED.result_target, src_name = EXCLUDED.src_name, src_version = EXCLUDED.src_version, "
    "arch = EXCLUDED.arch, layer_digest = EXCLUDED.layer_digest, last_seen = GREATEST(h.last_seen, "
    "EXCLUDED.last_seen), removed_at = NULL, last_scan_id = EXCLUDED.last_scan_id";
static const char SQL_HOST_PACKAGE_IDS[] =
    "UPDATE sr_scan_pkgs t SET host_package_id = h.id FROM host_packages h "
    "WHERE h.agent_id = $1 AND h.target = $2 AND h.package_id = t.package_id AND h.path = t.path";
static const char SQL_REMOVED[] =
    "UPDATE host_packages SET removed_at = " SEEN " "
    "WHERE agent_id = $1 AND target = $2 AND removed_at IS NULL AND last_scan_id <> $3";
static const char SQL_FILES_ADD[] =
    "INSERT INTO package_files (host_package_id, path) SELECT DISTINCT t.host_package_id, f.path "
    "FROM sr_scan_files f JOIN sr_scan_pkgs t USING (k) ORDER BY 1, 2 ON CONFLICT DO NOTHING";
/* Files a listed package no longer has (packages made from a vulnerability carry no file list). */
static const char SQL_FILES_GONE[] =
    "DELETE FROM package_files pf WHERE pf.host_package_id IN (SELECT host_package_id FROM sr_scan_pkgs "
    "WHERE NOT from_vuln) AND NOT EXISTS (SELECT 1 FROM sr_scan_files f JOIN sr_scan_pkgs t USING (k) "
    "WHERE t.host_package_id = pf.host_package_id AND f.path = pf.path)";
/* The newest record of each id wins; an older one never overwrites a newer one, and an equal
 * one writes nothing. */
static const char SQL_VULNS[] =
    "INSERT INTO vulnerabilities AS v (id, severity, severity_rank, cvss, cvss_v3_score, title, description, "
    "\"references\", cwe_ids, primary_url, published_at, last_modified_at, data_source) "
    "SELECT DISTINCT ON (id) id, severity, severity_rank, cvss, cvss_v3_score, title, description, refs, cwe_ids, "
    "primary_url, to_timestamp(published_ms / 1000.0), to_timestamp(modified_ms / 1000.0), data_source "
    "FROM sr_scan_vulns ORDER BY id, modified_ms DESC NULLS LAST, severity_rank DESC "
    "ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, severity_rank = EXCLUDED.severity_rank, "
    "cvss = EXCLUDED.cvss, cvss_v3_score = EXCLUDED.cvss_v3_score, title = EXCLUDED.title, "
    "description = EXCLUDED.description, \"references\" = EXCLUDED.\"references\", cwe_ids = EXCLUDED.cwe_ids, "
    "primary_url = EXCLUDED.primary_url, published_at = EXCLUDED.published_at, "
    "last_modified_at = EXCLUDED.last_modified_at, data_source = EXCLUDED.data_source, updated_at = now() "
    "WHERE (v.last_modified_at IS NULL OR EXCLUDED.last_modified_at >= v.last_modified_at) AND "
    "(v.severity, v.cvss, v.cvss_v3_score, v.title, v.description, v.\"references\", v.cwe_ids, v.primary_url, "
    "v.published_at, v.last_modified_at, v.data_source) IS DISTINCT FROM (EXCLUDED.severity, EXCLUDED.cvss, "
    "EXCLUDED.cvss_v3_score, EXCLUDED.title, EXCLUDED.description, EXCLUDED.\"references\", EXCLUDED.cwe_ids, "
    "EXCLUDED.primary_url, EXCLUDED.published_at, EXCLUDED.last_modified_at, EXCLUDED.data_source)";
static const char SQL_REOPENING[] =
    "SELECT count(*) FROM findings f WHERE f.agent_id = $1 AND f.target = $2 AND f.status = 'fixed' AND EXISTS "
    "(SELECT 1 FROM sr_scan_findings s JOIN sr_scan_pkgs t USING (k) WHERE t.host_package_id = f.host_package_id "
    "AND s.vulnerability_id = f.vulnerability_id)";
static const char SQL_FINDINGS[] =
    "WITH up AS (INSERT INTO findings AS f (agent_id, target, vulnerability_id, host_package_id, package_id, "
    "installed_version, fixed_version, vendor_status, severity, severity_rank, status, first_seen, last_seen, "
    "last_scan_id) "
    "SELECT DISTINCT ON (t.host_package_id, s.vulnerability_id) $1, $2, s.vulnerability_id, t.host_package_id, "
    "t.package_id, s.installed_version, s.fixed_version, s.vendor_status, s.severity, s.severity_rank, 'open', "
    SEEN ", " SEEN ", $3 FROM sr_scan_findings s JOIN sr_scan_pkgs t USING (k) "
    "ORDER BY t.host_package_id, s.vulnerability_id, s.severity_rank DESC, s.k "
    "ON CONFLICT (agent_id, target, vulnerability_id, host_package_id) DO UPDATE SET "
    "installed_version = EXCLUDED.installed_version, fixed_version = EXCLUDED.fixed_version, "
    "vendor_status = EXCLUDED.vendor_status, severity = EXCLUDED.severity, severity_rank = EXCLUDED.severity_rank, "
    "reopened_at = CASE WHEN f.status = 'fixed' THEN EXCLUDED.last_seen ELSE f.reopened_at END, status = 'open', "
    "fixed_at = NULL, last_seen = GREATEST(f.last_seen, EXCLUDED.last_seen), last_scan_id = EXCLUDED.last_scan_id "
    "RETURNING (xmax = 0) AS inserted) "
    "SELECT count(*), count(*) FILTER (WHERE inserted) FROM up";
static const char SQL_FIXED[] =
    "UPDATE findings SET status = 'fixed', fixed_at = " SEEN " "
    "WHERE agent_id = $1 AND target = $2 AND status = 'open' AND last_scan_id <> $3";
static const char SQL_SBOM[] =
    "INSERT INTO sboms AS b (agent_id, target, scan_id, finished_at, sha256, document) "
    "VALUES ($1, $2, $3, " SEEN ", $5, $6) "
    "ON CONFLICT (agent_id, target) DO UPDATE SET scan_id = EXCLUDED.scan_id, finished_at = EXCLUDED.finished_at, "
    "sha256 = EXCLUDED.sha256, document = EXCLUDED.document, stored_at = now() "
    "WHERE EXCLUDED.finished_at >= b.finished_at AND EXCLUDED.sha256 <> b.sha256";

/* ---- errors ---- */

static int db_fail(PGconn *pg, PGresult *res, const char *what, char *err, size_t errlen) {
    char m[400];
    sr_pg_errmsg(pg, res, m, sizeof(m));
    int data = sr_pg_is_data_error(res);
    if (res)
        PQclear(res);
    sr_errf(err, errlen, "could not %s: %s", what, m);
    return data ? -EBADMSG : -EIO;
}

/* Runs sql with the four key parameters; *ret gets the result when wanted. */
static int run(PGconn *pg, const char *sql, const sr_vuln_scan_key *k, int nparams, PGresult **ret, const char *what,
               char *err, size_t errlen) {
    char ms[24];
    snprintf(ms, sizeof(ms), "%" PRId64, k->finished_ms);
    const char *vals[4] = {k->agent_id, k->target, k->scan_id, ms};
    PGresult *res = nparams > 0 ? PQexecParams(pg, sql, nparams, NULL, vals, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return db_fail(pg, res, what, err, errlen);
    if (ret)
        *ret = res;
    else
        PQclear(res);
    return 0;
}

static int64_t value_i64(const PGresult *res, int row, int col) {
    int64_t v = 0;
    if (PQntuples(res) > row && !PQgetisnull(res, row, col))
        (void)sr_parse_i64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX, &v);
    return v;
}

/* ---- COPY text encoding ---- */

typedef struct {
    PGconn *pg;
    char *buf;
    size_t len, cap;
    int failed;
} copyw;

static void cw_put(copyw *w, const char *s, size_t n) {
    if (w->failed)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 2 * COPY_FLUSH;
        while (cap < w->len + n)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = -ENOMEM;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void cw_flush(copyw *w, int force) {
    if (w->failed || w->len == 0 || (!force && w->len < COPY_FLUSH))
        return;
    if (PQputCopyData(w->pg, w->buf, (int)w->len) != 1)
        w->failed = -EIO;
    w->len = 0;
}

/* One text field, escaped for COPY's text format; NULL writes \N. */
static void cw_text(copyw *w, const char *s, int last) {
    if (!s) {
        cw_put(w, "\\N", 2);
    } else {
        size_t run = 0, i = 0;
        for (; s[i]; i++) {
            const char *esc = NULL;
            switch (s[i]) {
            case '\\': esc = "\\\\"; break;
            case '\t': esc = "\\t"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            default: break;
            }
            if (esc) {
                cw_put(w, s + run, i - run);
                cw_put(w, esc, 2);
                run = i + 1;
            }
        }
        cw_put(w, s + run, i - run);
    }
    cw_put(w, last ? "\n" : "\t", 1);
    if (last)
        cw_flush(w, 0);
}

static void cw_i64(copyw *w, int has, int64_t v, int last) {
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, v);
    cw_text(w, has ? num : NULL, last);
}

/* A text[] field: the array literal {"a","b"} (quotes and backslashes escaped for the array
 * parser), then escaped as COPY text. */
static void cw_array(copyw *w, const char *const *items, size_t n, int last) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 3 + 2 * strlen(items[i]);
    _cleanup_free_ char *lit = malloc(cap);
    if (!lit) {
        w->failed = -ENOMEM;
        return;
    }
    size_t o = 0;
    lit[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            lit[o++] = ',';
        lit[o++] = '"';
        for (const char *p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                lit[o++] = '\\';
            lit[o++] = *p;
        }
        lit[o++] = '"';
    }
    lit[o++] = '}';
    lit[o] = '\0';
    cw_text(w, lit, last);
}

/* Streams the rows `emit` writes into COPY sql. */
static int copy_rows(PGconn *pg, const char *sql, const char *table, const sr_trivy_report *rep,
                     void (*emit)(copyw *, const sr_trivy_report *), char *err, size_t errlen) {
    char what[64];
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        snprintf(what, sizeof(what), "start COPY into %s", table);
        return db_fail(pg, res, what, err, errlen);
    }
    PQclear(res);
    copyw w = {.pg = pg};
    emit(&w, rep);
    cw_flush(&w, 1);
    free(w.buf);
    if (PQputCopyEnd(pg, w.failed ? "client error" : NULL) != 1) {
        snprintf(what, sizeof(what), "finish COPY into %s", table);
        return db_fail(pg, NULL, what, err, errlen);
    }
    res = PQgetResult(pg);
    ExecStatusType st = PQresultStatus(res);
    PGresult *extra;
    while ((extra = PQgetResult(pg)) != NULL)
        PQclear(extra);
    if (w.failed == -ENOMEM) {
        if (res)
            PQclear(res);
        sr_errf(err, errlen, "could not COPY into %s: out of memory", table);
        return -EIO;
    }
    if (st != PGRES_COMMAND_OK) {
        snprintf(what, sizeof(what), "COPY into %s", table);
        return db_fail(pg, res, what, err, errlen);
    }
    PQclear(res);
    return 0;
}

static void emit_pkgs(copyw *w, const sr_trivy_report *rep) {
    for (size_t i = 0; i < rep->n_pkgs && !w->failed; i++) {
        const sr_trivy_pkg *p = &rep->pkgs[i];
        cw_i64(w, 1, (int64_t)i, 0);
        cw_text(w, p->type, 0);
        cw_text(w, p->name, 0);
        cw_text(w, p->version, 0);
        cw_text(w, p->purl, 0);
        cw_text(w, p->path, 0);
        cw_text(w, p->class_name, 0);
        cw_text(w, p->result_target, 0);
        cw_text(w, p->src_name, 0);
        cw_text(w, p->src_version, 0);
        cw_text(w, p->arch, 0);
        cw_text(w, p->layer_digest, 0);
        cw_text(w, p->from_vuln ? "t" : "f", 1);
    }
}

static void emit_files(copyw *w, const sr_trivy_report *rep) {
    for (size_t i = 0; i < rep->n_pkgs && !w->failed; i++) {
        const sr_trivy_pkg *p = &rep->pkgs[i];
        for (size_t f = 0; f < p->n_files; f++) {
            cw_i64(w, 1, (int64_t)i, 0);
            cw_text(w, p->files[f], 1);
        }
    }
}

static void emit_vulns(copyw *w, const sr_trivy_report *rep) {
    for (size_t i = 0; i < rep->n_vulns && !w->failed; i++) {
        const sr_trivy_vuln *v = &rep->vulns[i];
        char score[32];
        snprintf(score, sizeof(score), "%g", v->cvss_v3);
        cw_text(w, v->id, 0);
        cw_text(w, v->severity, 0);
        cw_i64(w, 1, v->severity_rank, 0);
        cw_text(w, v->cvss_json, 0);
        cw_text(w, v->has_cvss_v3 ? score : NULL, 0);
        cw_text(w, v->title, 0);
        cw_text(w, v->description, 0);
        cw_array(w, v->refs, v->n_refs, 0);
        cw_array(w, v->cwes, v->n_cwes, 0);
        cw_text(w, v->primary_url, 0);
        cw_i64(w, v->has_published, v->published_ms, 0);
        cw_i64(w, v->has_modified, v->modified_ms, 0);
        cw_text(w, *v->data_source_json ? v->data_source_json : NULL, 1);
    }
}

static void emit_findings(copyw *w, const sr_trivy_report *rep) {
    for (size_t i = 0; i < rep->n_vulns && !w->failed; i++) {
        const sr_trivy_vuln *v = &rep->vulns[i];
        cw_i64(w, 1, (int64_t)v->pkg, 0);
        cw_text(w, v->id, 0);
        cw_text(w, v->installed_version, 0);
        cw_text(w, v->fixed_version, 0);
        cw_text(w, v->status, 0);
        cw_text(w, v->severity, 0);
        cw_i64(w, 1, v->severity_rank, 1);
    }
}

int sr_vuln_apply_report(PGconn *pg, const sr_vuln_scan_key *k, const sr_trivy_report *rep,
                         sr_vuln_apply_result *ret, char *err, size_t errlen) {
    sr_vuln_apply_result out = {.packages = (int64_t)rep->n_pkgs, .vulnerabilities = (int64_t)rep->n_vulns};
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = run(pg, SQL_STALE, k, 4, &res, "look for a newer report", err, errlen);
    if (r < 0)
        return r;
    out.stale = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if ((r = run(pg, SQL_TEMP, k, 0, NULL, "create the staging tables", err, errlen)) < 0 ||
        (r = copy_rows(pg,
                       "COPY sr_scan_vulns (id, severity, severity_rank, cvss, cvss_v3_score, title, description, "
                       "refs, cwe_ids, primary_url, published_ms, modified_ms, data_source) FROM STDIN",
                       "sr_scan_vulns", rep, emit_vulns, err, errlen)) < 0 ||
        (r = run(pg, SQL_VULNS, k, 0, NULL, "upsert vulnerabilities", err, errlen)) < 0)
        return r;
    if (out.stale) {
        *ret = out;
        return 0;
    }
    if ((r = copy_rows(pg,
                       "COPY sr_scan_pkgs (k, type, name, version, purl, path, class, result_target, src_name, "
                       "src_version, arch, layer_digest, from_vuln) FROM STDIN",
                       "sr_scan_pkgs", rep, emit_pkgs, err, errlen)) < 0 ||
        (r = copy_rows(pg, "COPY sr_scan_files (k, path) FROM STDIN", "sr_scan_files", rep, emit_files, err,
                       errlen)) < 0 ||
        (r = copy_rows(pg,
                       "COPY sr_scan_findings (k, vulnerability_id, installed_version, fixed_version, vendor_status, "
                       "severity, severity_rank) FROM STDIN",
                       "sr_scan_findings", rep, emit_findings, err, errlen)) < 0 ||
        (r = run(pg, "ANALYZE sr_scan_pkgs, sr_scan_files, sr_scan_findings", k, 0, NULL, "analyze staging tables",
                 err, errlen)) < 0 ||
        (r = run(pg, SQL_PACKAGES, k, 0, NULL, "insert packages", err, errlen)) < 0 ||
        (r = run(pg, SQL_PACKAGE_IDS, k, 0, NULL, "look up packages", err, errlen)) < 0 ||
        (r = run(pg, SQL_HOST_PACKAGES, k, 4, NULL, "upsert host packages", err, errlen)) < 0 ||
        (r = run(pg, SQL_HOST_PACKAGE_IDS, k, 2, NULL, "look up host packages", err, errlen)) < 0 ||
        (r = run(pg, SQL_REMOVED, k, 4, NULL, "mark removed host packages", err, errlen)) < 0 ||
        (r = run(pg, SQL_FILES_ADD, k, 0, NULL, "insert package files", err, errlen)) < 0 ||
        (r = run(pg, SQL_FILES_GONE, k, 0, NULL, "delete package files", err, errlen)) < 0)
        return r;
    PQclear(res);
    res = NULL;
    if ((r = run(pg, SQL_REOPENING, k, 2, &res, "count reopened findings", err, errlen)) < 0)
        return r;
    out.reopened = value_i64(res, 0, 0);
    PQclear(res);
    res = NULL;
    if ((r = run(pg, SQL_FINDINGS, k, 4, &res, "upsert findings", err, errlen)) < 0)
        return r;
    out.opened = value_i64(res, 0, 1);
    PQclear(res);
    res = NULL;
    if ((r = run(pg, SQL_FIXED, k, 4, &res, "mark fixed findings", err, errlen)) < 0)
        return r;
    (void)sr_parse_i64(PQcmdTuples(res), 0, INT64_MAX, &out.fixed);
    *ret = out;
    return 0;
}

int sr_vuln_store_sbom(PGconn *pg, const sr_vuln_scan_key *k, const uint8_t *doc, size_t len,
                       const uint8_t sha256[32], char *err, size_t errlen) {
    if (len > INT32_MAX) {
        sr_errf(err, errlen, "could not store the sbom: %zu bytes is too large", len);
        return -EBADMSG;
    }
    char ms[24];
    snprintf(ms, sizeof(ms), "%" PRId64, k->finished_ms);
    const char *vals[6] = {k->agent_id, k->target, k->scan_id, ms, (const char *)sha256, (const char *)doc};
    int lens[6] = {0, 0, 0, 0, 32, (int)len};
    int fmts[6] = {0, 0, 0, 0, 1, 1};
    PGresult *res = PQexecParams(pg, SQL_SBOM, 6, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return db_fail(pg, res, "store the sbom", err, errlen);
    PQclear(res);
    return 0;
}
