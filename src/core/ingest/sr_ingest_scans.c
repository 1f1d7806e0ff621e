/* Scan workers: SCANS/core-scans (agents' ScanPart uploads on scan.trivy.results) -> scan_parts,
 * then, once every part of a document is here, the Trivy report (packages, vulnerabilities,
 * findings) or the CycloneDX SBOM. One transaction per message, acknowledged after the commit;
 * see docs/internals/vulns.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_cleanup.h"
#include "sr_ingest_decode.h"
#include "sr_ingest_int.h"
#include "sr_log.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"
#include "sr_trivy_report.h"
#include "sr_vuln_store.h"

#define SCANS_BATCH 16
#define SCANS_DEFAULT_MAX_DOC (128u * 1024 * 1024)

/* One lock per (agent, target): parts of one document and reports of one target are handled by
 * one transaction at a time, across workers and cores. */
static const char SQL_LOCK[] = "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 5))";
static const char SQL_BATCH_KEY[] =
    "INSERT INTO ingest_batches (agent_id, epoch, seq) VALUES ($1, $2::bigint, $3::bigint) "
    "ON CONFLICT DO NOTHING RETURNING 1";
/* $1 agent, $2 scan, $3 target, $4 kind, $5 target name, $6 started ms, $7 finished ms, $8 db
 * version, $9 scanner version, $10 targets in run. Returns the kind's status ('receiving' for
 * a document still being received). */
static const char SQL_SCAN_ROW[] =
    "INSERT INTO scans AS s (agent_id, scan_id, target, target_name, started_at, finished_at, db_version, "
    "scanner_version, targets_in_run, report_status, sbom_status) "
    "VALUES ($1, $2, $3, $5, to_timestamp(LEAST($6::bigint, $7::bigint) / 1000.0), "
    "to_timestamp($7::bigint / 1000.0), $8, $9, $10::integer, "
    "CASE WHEN $4 = 'report' THEN 'receiving' END, CASE WHEN $4 = 'sbom' THEN 'receiving' END) "
    "ON CONFLICT (agent_id, scan_id, target) DO UPDATE SET "
    "report_status = CASE WHEN $4 = 'report' THEN COALESCE(s.report_status, 'receiving') ELSE s.report_status END, "
    "sbom_status = CASE WHEN $4 = 'sbom' THEN COALESCE(s.sbom_status, 'receiving') ELSE s.sbom_status END "
    "RETURNING CASE WHEN $4 = 'report' THEN report_status ELSE sbom_status END";
/* $1..$4 the set, $5 idx, $6 count, $7 total size, $8 sha-256, $9 data. */
static const char SQL_PART[] =
    "INSERT INTO scan_parts (agent_id, scan_id, target, kind, idx, count, total_size, total_sha256, data) "
    "VALUES ($1, $2, $3, $4, $5::integer, $6::integer, $7::bigint, $8, $9) ON CONFLICT DO NOTHING";
#define SET_WHERE "agent_id = $1 AND scan_id = $2 AND target = $3 AND kind = $4"
/* Parts here, parts that disagree with this one on count/size/digest, bytes. */
static const char SQL_PARTS_STATE[] =
    "SELECT count(*), count(*) FILTER (WHERE count <> $5::integer OR total_size <> $6::bigint OR "
    "total_sha256 <> $7), COALESCE(sum(length(data)), 0) FROM scan_parts WHERE " SET_WHERE;
static const char SQL_PARTS_READ[] = "SELECT idx, data FROM scan_parts WHERE " SET_WHERE " ORDER BY idx";
static const char SQL_PARTS_DELETE[] = "DELETE FROM scan_parts WHERE " SET_WHERE;
/* $5 status, $6 error */
static const char SQL_SCAN_FAILED[] =
    "UPDATE scans SET report_status = CASE WHEN $4 = 'report' THEN $5 ELSE report_status END, "
    "sbom_status = CASE WHEN $4 = 'sbom' THEN $5 ELSE sbom_status END, error = $6, processed_at = now() "
    "WHERE agent_id = $1 AND scan_id = $2 AND target = $3";
/* $4 status, $5 packages, $6 findings, $7 opened, $8 reopened, $9 fixed */
static const char SQL_REPORT_DONE[] =
    "UPDATE scans SET report_status = $4, packages = $5::integer, vulnerabilities = $6::integer, "
    "findings_opened = $7::integer, findings_reopened = $8::integer, findings_fixed = $9::integer, error = NULL, "
    "processed_at = now() WHERE agent_id = $1 AND scan_id = $2 AND target = $3";
static const char SQL_SBOM_DONE[] =
    "UPDATE scans SET sbom_status = 'stored', processed_at = now() "
    "WHERE agent_id = $1 AND scan_id = $2 AND target = $3";

struct sr_scans_worker {
    sr_ingest *ing;
    int index;
    char name[32];
    pthread_t thread;
    int started;
    jsCtx *js;
    natsSubscription *sub;
    PGconn *pg;
    int64_t backoff_ms;
    size_t max_doc;
    sr_telemetry_decoder *dec;
};

/* The message at hand. */
typedef struct {
    natsMsg *msg;
    sr_ingest_scan s;
    char agent[SR_INGEST_MAX_AGENT_ID + 1];
    char idx[16], count[16], total[24], epoch[24], seq[24];
    char reason[512];
} scan_msg;

/* ---- statements ---- */

/* A failed statement: -EBADMSG when the data is at fault (err set), else -EIO (logged once). */
static int db_error(sr_scans_worker *w, PGresult *res, const char *what, char *err, size_t errlen) {
    char m[400];
    sr_pg_errmsg(w->pg, res, m, sizeof(m));
    int data = sr_pg_is_data_error(res);
    if (res)
        PQclear(res);
    snprintf(err, errlen, "could not %s: %s", what, m);
    if (!data)
        sr_warn("%s: %s", w->name, err);
    return data ? -EBADMSG : -EIO;
}

static int exec_params(sr_scans_worker *w, const char *sql, int n, const char *const *vals, const int *lens,
                       const int *fmts, PGresult **ret, const char *what, char *err, size_t errlen) {
    PGresult *res = PQexecParams(w->pg, sql, n, NULL, vals, lens, fmts, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return db_error(w, res, what, err, errlen);
    if (ret)
        *ret = res;
    else
        PQclear(res);
    return 0;
}

static int exec_plain(sr_scans_worker *w, const char *sql, char *err, size_t errlen) {
    return exec_params(w, sql, 0, NULL, NULL, NULL, NULL, sql, err, errlen);
}

static void set_vals(const scan_msg *m, const char *vals[4]) {
    vals[0] = m->agent;
    vals[1] = m->s.part->scan_id;
    vals[2] = m->s.part->target;
    vals[3] = m->s.part->kind;
}

static void rollback(sr_scans_worker *w) {
    if (PQstatus(w->pg) == CONNECTION_OK && PQtransactionStatus(w->pg) != PQTRANS_IDLE)
        (void)sr_pg_exec(w->pg, "ROLLBACK", NULL, 0);
}

/* ---- the document set ---- */

/* Inside the transaction: the set failed. Marks the scan, deletes its parts, parks the message
 * with the reason. 0 or -EIO. */
static int fail_set(sr_scans_worker *w, scan_msg *m, const char *status, char *err, size_t errlen) {
    const char *vals[6];
    set_vals(m, vals);
    vals[4] = status;
    vals[5] = m->reason;
    int r = exec_params(w, SQL_SCAN_FAILED, 6, vals, NULL, NULL, NULL, "mark the scan failed", err, errlen);
    if (r == 0)
        r = exec_params(w, SQL_PARTS_DELETE, 4, vals, NULL, NULL, NULL, "delete scan parts", err, errlen);
    PGresult *bad = NULL;
    if (r == 0 && sr_ingest_dead_letter(w->pg, m->msg, SR_STREAM_SCANS, m->reason, &bad) < 0)
        r = db_error(w, bad, "insert dead letter", err, errlen);
    if (r == 0) {
        atomic_fetch_add(&w->ing->stats->dead_letters, 1);
        sr_warn("%s: scan %s of %s (%s, %s) failed: %s", w->name, m->s.part->scan_id, m->agent, m->s.part->target,
                m->s.part->kind, m->reason);
    }
    return r < 0 ? -EIO : 0;
}

/* Reads the parts in order into one buffer of total_size bytes and checks the digest. 0,
 * -EBADMSG (m->reason set) or -EIO. */
static int assemble(sr_scans_worker *w, scan_msg *m, uint8_t **ret, size_t *ret_len, char *err, size_t errlen) {
    const Serviceradar__Agent__V1__ScanPart *p = m->s.part;
    size_t total = (size_t)p->total_size;
    const char *vals[4];
    set_vals(m, vals);
    if (!PQsendQueryParams(w->pg, SQL_PARTS_READ, 4, NULL, vals, NULL, NULL, 1) || !PQsetSingleRowMode(w->pg))
        return db_error(w, NULL, "read scan parts", err, errlen);
    /* allocated after the query went out: every return below drains its results first */
    _cleanup_free_ uint8_t *doc = malloc(total ? total : 1);
    size_t off = 0;
    uint32_t want = 0;
    int r = 0;
    PGresult *res;
    while ((res = PQgetResult(w->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && r == 0 && !doc) {
            snprintf(err, errlen, "out of memory assembling %zu bytes", total);
            r = -EIO;
            PQclear(res);
        } else if (st == PGRES_SINGLE_TUPLE && r == 0) {
            uint32_t idx = 0;
            if (PQgetlength(res, 0, 0) == 4)
                memcpy(&idx, PQgetvalue(res, 0, 0), 4);
            idx = ntohl(idx);
            size_t n = (size_t)PQgetlength(res, 0, 1);
            if (idx != want || n > total - off) {
                snprintf(m->reason, sizeof(m->reason), "parts do not add up to total_size %zu", total);
                r = -EBADMSG;
            } else {
                memcpy(doc + off, PQgetvalue(res, 0, 1), n);
                off += n;
                want++;
            }
            PQclear(res);
        } else if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
            PQclear(res);
        } else {
            int e = db_error(w, res, "read scan parts", err, errlen);
            if (r == 0)
                r = e == -EBADMSG ? -EIO : e;
        }
    }
    if (r < 0)
        return r;
    if (off != total || want != p->count) {
        snprintf(m->reason, sizeof(m->reason), "assembled %zu bytes in %" PRIu32 " parts, total_size is %zu", off,
                 want, total);
        return -EBADMSG;
    }
    uint8_t sha[32];
    unsigned shalen = 0;
    if (!EVP_Digest(doc, total, sha, &shalen, EVP_sha256(), NULL) || shalen != 32) {
        snprintf(err, errlen, "could not compute sha-256");
        return -EIO;
    }
    if (memcmp(sha, p->total_sha256.data, 32) != 0) {
        snprintf(m->reason, sizeof(m->reason), "sha-256 of the assembled %zu bytes differs from total_sha256", total);
        return -EBADMSG;
    }
    *ret = SR_TAKE_PTR(doc);
    *ret_len = total;
    return 0;
}

/* Applies the assembled report (or SBOM) inside a savepoint. 0 (m->reason set and -EBADMSG
 * returned when the document is refused), or -EIO. */
static int apply_document(sr_scans_worker *w, scan_msg *m, const uint8_t *doc, size_t len, char *err,
                          size_t errlen) {
    const Serviceradar__Agent__V1__ScanPart *p = m->s.part;
    sr_vuln_scan_key key = {m->agent, p->scan_id, p->target, m->s.finished_ms};
    const char *vals[9];
    set_vals(m, vals);
    int is_report = strcmp(p->kind, "report") == 0;
    sr_trivy_report *rep = NULL;
    char why[400] = "";
    if (is_report) {
        int r = sr_trivy_report_parse((const char *)doc, len, &rep, why, sizeof(why));
        if (r < 0) {
            snprintf(m->reason, sizeof(m->reason), "trivy report: %s", why[0] ? why : strerror(-r));
            return -EBADMSG;
        }
    } else if (sr_cyclonedx_check((const char *)doc, len, why, sizeof(why)) < 0) {
        snprintf(m->reason, sizeof(m->reason), "sbom: %s", why);
        return -EBADMSG;
    }
    int r = exec_plain(w, "SAVEPOINT sr_scan_apply", err, errlen);
    sr_vuln_apply_result res = {0};
    if (r == 0) {
        uint8_t sha[32];
        memcpy(sha, p->total_sha256.data, 32);
        r = is_report ? sr_vuln_apply_report(w->pg, &key, rep, &res, err, errlen)
                      : sr_vuln_store_sbom(w->pg, &key, doc, len, sha, err, errlen);
        if (r == -EIO)
            sr_warn("%s: %s", w->name, err);
    }
    rep = sr_trivy_report_free(rep);
    if (r == -EBADMSG) {
        snprintf(m->reason, sizeof(m->reason), "database rejected the %s: %.400s", is_report ? "report" : "sbom", err);
        return exec_plain(w, "ROLLBACK TO SAVEPOINT sr_scan_apply", err, errlen) < 0 ? -EIO : -EBADMSG;
    }
    if (r < 0)
        return -EIO;
    if (!is_report)
        return exec_params(w, SQL_SBOM_DONE, 3, vals, NULL, NULL, NULL, "mark the sbom stored", err, errlen) < 0
                   ? -EIO
                   : 0;
    char n[5][24];
    int64_t nums[5] = {res.packages, res.vulnerabilities, res.opened, res.reopened, res.fixed};
    for (int i = 0; i < 5; i++) {
        snprintf(n[i], sizeof(n[i]), "%" PRId64, nums[i]);
        vals[4 + i] = n[i];
    }
    vals[3] = res.stale ? "stale" : "processed";
    if (exec_params(w, SQL_REPORT_DONE, 9, vals, NULL, NULL, NULL, "mark the report processed", err, errlen) < 0)
        return -EIO;
    sr_info("%s: %s report of %s (%s, scan %s): %" PRId64 " packages, %" PRId64 " findings, %" PRId64
            " new, %" PRId64 " reopened, %" PRId64 " fixed",
            w->name, res.stale ? "stale" : "applied", m->agent, p->target, p->scan_id, res.packages,
            res.vulnerabilities, res.opened, res.reopened, res.fixed);
    return 0;
}

/* Stores the part; when the set is complete, assembles and applies it. Inside the
 * transaction. 0 or -EIO. */
static int handle_part(sr_scans_worker *w, scan_msg *m, char *err, size_t errlen) {
    const Serviceradar__Agent__V1__ScanPart *p = m->s.part;
    const char *vals[10];
    set_vals(m, vals);
    char started[24], finished[24], targets[16];
    snprintf(started, sizeof(started), "%" PRId64, p->started_unix_ms);
    snprintf(finished, sizeof(finished), "%" PRId64, m->s.finished_ms);
    snprintf(targets, sizeof(targets), "%" PRIu32, p->targets_in_run);
    vals[4] = p->target_name ? p->target_name : "";
    vals[5] = started;
    vals[6] = finished;
    vals[7] = p->db_version ? p->db_version : "";
    vals[8] = p->scanner_version ? p->scanner_version : "";
    vals[9] = targets;
    _cleanup_pgresult_ PGresult *row = NULL;
    int r = exec_params(w, SQL_SCAN_ROW, 10, vals, NULL, NULL, &row, "record the scan", err, errlen);
    if (r < 0)
        return r;
    if (strcmp(PQgetvalue(row, 0, 0), "receiving") != 0) {
        /* the document was already processed (or failed, or expired): a repeat of a part */
        atomic_fetch_add(&w->ing->stats->duplicates_skipped, 1);
        return 0;
    }
    if (p->total_size > w->max_doc) {
        snprintf(m->reason, sizeof(m->reason), "%s of %" PRIu64 " bytes is over scans.max_document_bytes (%zu)",
                 p->kind, p->total_size, w->max_doc);
        return fail_set(w, m, "failed", err, errlen);
    }
    vals[4] = m->idx;
    vals[5] = m->count;
    vals[6] = m->total;
    vals[7] = (const char *)p->total_sha256.data;
    vals[8] = (const char *)p->data.data;
    int lens[9] = {0, 0, 0, 0, 0, 0, 0, 32, (int)p->data.len};
    int fmts[9] = {0, 0, 0, 0, 0, 0, 0, 1, 1};
    if ((r = exec_params(w, SQL_PART, 9, vals, lens, fmts, NULL, "store the scan part", err, errlen)) < 0)
        return r;
    vals[4] = m->count;
    vals[5] = m->total;
    vals[6] = (const char *)p->total_sha256.data;
    int slens[7] = {0, 0, 0, 0, 0, 0, 32};
    int sfmts[7] = {0, 0, 0, 0, 0, 0, 1};
    _cleanup_pgresult_ PGresult *st = NULL;
    if ((r = exec_params(w, SQL_PARTS_STATE, 7, vals, slens, sfmts, &st, "count scan parts", err, errlen)) < 0)
        return r;
    int64_t have = 0, disagree = 0, bytes = 0;
    (void)sr_parse_i64(PQgetvalue(st, 0, 0), 0, INT64_MAX, &have);
    (void)sr_parse_i64(PQgetvalue(st, 0, 1), 0, INT64_MAX, &disagree);
    (void)sr_parse_i64(PQgetvalue(st, 0, 2), 0, INT64_MAX, &bytes);
    if (disagree > 0) {
        snprintf(m->reason, sizeof(m->reason), "parts of %s %s disagree on count, total_size or total_sha256",
                 p->kind, p->scan_id);
        return fail_set(w, m, "failed", err, errlen);
    }
    if (have < (int64_t)p->count)
        return 0;
    if (bytes != (int64_t)p->total_size) {
        snprintf(m->reason, sizeof(m->reason), "the %" PRId64 " parts hold %" PRId64 " bytes, total_size is %" PRIu64,
                 have, bytes, p->total_size);
        return fail_set(w, m, "failed", err, errlen);
    }
    _cleanup_free_ uint8_t *doc = NULL;
    size_t len = 0;
    r = assemble(w, m, &doc, &len, err, errlen);
    if (r == 0)
        r = apply_document(w, m, doc, len, err, errlen);
    if (r == -EBADMSG)
        return fail_set(w, m, "failed", err, errlen);
    if (r < 0)
        return r;
    set_vals(m, vals);
    return exec_params(w, SQL_PARTS_DELETE, 4, vals, NULL, NULL, NULL, "delete scan parts", err, errlen) < 0 ? -EIO
                                                                                                           : 0;
}

/* One message, one transaction. 0 (committed: acknowledge) or -EIO (rolled back: give back). */
static int handle(sr_scans_worker *w, natsMsg *msg) {
    scan_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return -EIO;
    m->msg = msg;
    char err[600] = "";
    const char *agent = NULL;
    (void)natsMsgHeader_Get(msg, "Sr-Agent-Id", &agent);
    int dead = sr_ingest_decode_scan(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), agent,
                                     sr_now_unix_ms(), w->dec, &m->s, m->reason, sizeof(m->reason)) < 0;
    int r = exec_plain(w, "BEGIN", err, sizeof(err));
    if (r == 0 && dead) {
        PGresult *bad = NULL;
        if (sr_ingest_dead_letter(w->pg, msg, SR_STREAM_SCANS, m->reason, &bad) < 0)
            r = db_error(w, bad, "insert dead letter", err, sizeof(err));
        else
            atomic_fetch_add(&w->ing->stats->dead_letters, 1);
    } else if (r == 0) {
        snprintf(m->agent, sizeof(m->agent), "%s", m->s.agent_id);
        snprintf(m->idx, sizeof(m->idx), "%" PRIu32, m->s.part->index);
        snprintf(m->count, sizeof(m->count), "%" PRIu32, m->s.part->count);
        snprintf(m->total, sizeof(m->total), "%" PRIu64, m->s.part->total_size);
        snprintf(m->epoch, sizeof(m->epoch), "%" PRId64, (int64_t)m->s.epoch);
        snprintf(m->seq, sizeof(m->seq), "%" PRId64, (int64_t)m->s.seq);
        const char *lock[2] = {m->agent, m->s.part->target};
        const char *key[3] = {m->agent, m->epoch, m->seq};
        _cleanup_pgresult_ PGresult *fresh = NULL;
        r = exec_params(w, SQL_LOCK, 2, lock, NULL, NULL, NULL, "lock the scan target", err, sizeof(err));
        if (r == 0)
            r = exec_params(w, SQL_BATCH_KEY, 3, key, NULL, NULL, &fresh, "record the batch key", err, sizeof(err));
        if (r == 0 && PQntuples(fresh) == 0)
            atomic_fetch_add(&w->ing->stats->duplicates_skipped, 1);
        else if (r == 0)
            r = handle_part(w, m, err, sizeof(err));
        if (r == -EBADMSG) { /* the database refused the message's data: park it */
            if (!m->reason[0])
                snprintf(m->reason, sizeof(m->reason), "database rejected: %.480s", err);
            rollback(w);
            r = exec_plain(w, "BEGIN", err, sizeof(err));
            PGresult *bad = NULL;
            if (r == 0 && sr_ingest_dead_letter(w->pg, msg, SR_STREAM_SCANS, m->reason, &bad) < 0)
                r = db_error(w, bad, "insert dead letter", err, sizeof(err));
            if (r == 0)
                atomic_fetch_add(&w->ing->stats->dead_letters, 1);
        }
    }
    if (r == 0)
        r = exec_plain(w, "COMMIT", err, sizeof(err));
    free(m);
    if (r < 0) {
        rollback(w);
        return -EIO;
    }
    atomic_fetch_add(&w->ing->stats->batches_committed, 1);
    return 0;
}

/* ---- thread ---- */

static void *worker_main(void *arg) {
    sr_scans_worker *w = arg;
    sr_ingest *ing = w->ing;
    sr_core_stats *st = ing->stats;
    int64_t nats_backoff = 0;
    while (!atomic_load(&ing->stop)) {
        if (sr_ingest_pg_ensure(ing, &w->pg, &w->backoff_ms, w->name) < 0)
            break;
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, w->sub, SCANS_BATCH, ing->cfg.batch_wait_ms, &jerr);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            atomic_fetch_add(&st->nats_errors, 1);
            nats_backoff = nats_backoff ? (nats_backoff * 2 > 5000 ? 5000 : nats_backoff * 2) : 100;
            if (nats_backoff >= 1000)
                sr_warn("%s: could not fetch from %s: %s", w->name, SR_CONSUMER_SCANS, natsStatus_GetText(s));
            sr_ingest_wait(ing, nats_backoff);
            continue;
        }
        nats_backoff = 0;
        atomic_fetch_add(&st->messages_received, (uint64_t)list.Count);
        for (int i = 0; i < list.Count; i++) {
            if (handle(w, list.Msgs[i]) < 0) {
                atomic_fetch_add(&st->db_errors, 1);
                for (int j = i; j < list.Count && !atomic_load(&ing->abort); j++)
                    (void)natsMsg_NakWithDelay(list.Msgs[j], ing->cfg.nak_delay_ms, NULL);
                break;
            }
            if (atomic_load(&ing->abort))
                break; /* simulated crash between commit and acknowledgement */
            if (natsMsg_Ack(list.Msgs[i], NULL) == NATS_OK)
                atomic_fetch_add(&st->messages_acked, 1);
        }
        natsMsgList_Destroy(&list);
        if (atomic_load(&ing->abort))
            break;
    }
    return NULL;
}

sr_scans_worker *sr_scans_worker_free(sr_scans_worker *w) {
    if (!w)
        return NULL;
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->sub) {
        natsSubscription_Unsubscribe(w->sub); /* bound to the durable: the consumer stays */
        natsSubscription_Destroy(w->sub);
    }
    jsCtx_Destroy(w->js);
    sr_pg_close(w->pg);
    sr_telemetry_decoder_free(w->dec);
    free(w);
    return NULL;
}

int sr_scans_worker_start(sr_ingest *ing, int index, sr_scans_worker **ret) {
    sr_scans_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->ing = ing;
    w->index = index;
    snprintf(w->name, sizeof(w->name), "scans-%d", index);
    w->max_doc = ing->cfg.scan_max_document_bytes ? ing->cfg.scan_max_document_bytes : SCANS_DEFAULT_MAX_DOC;
    int r = sr_telemetry_decoder_new(&w->dec) < 0 ? -ENOMEM : 0;
    if (r == 0 && natsConnection_JetStream(&w->js, ing->nc, NULL) != NATS_OK)
        r = -EIO;
    if (r == 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = SR_STREAM_SCANS;
        so.Consumer = SR_CONSUMER_SCANS;
        so.ManualAck = true;
        jsErrCode jerr = 0;
        if (js_PullSubscribe(&w->sub, w->js, SR_SUBJECT_SCANS, SR_CONSUMER_SCANS, NULL, &so, &jerr) != NATS_OK)
            r = -ENOENT;
    }
    if (r == 0) {
        r = -pthread_create(&w->thread, NULL, worker_main, w);
        w->started = r == 0;
    }
    if (r < 0) {
        sr_scans_worker_free(w);
        return r;
    }
    *ret = w;
    return 0;
}
