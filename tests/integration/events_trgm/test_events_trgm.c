/* Integration test of the trigram indexes on closed chunks of events (job events_trgm_index,
 * migration 0007) on a real PostgreSQL with TimescaleDB: events in three daily chunks (two
 * closed, one open), the closed ones indexed newest first within the per-run bound, the open
 * one left alone, reruns changing nothing, an invalid index left by an interrupted build
 * replaced, and the planner using each closed chunk's index for a substring search on the
 * hypertable while it scans the open chunk without one. */
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_jobs.h"
#include "sr_jobs_builtin.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "srtest.h"

#define ROWS_PER_CHUNK 20000
#define SHADOW_EVERY 1000 /* one event in this many reads /etc/shadow */
#define DAY_MS 86400000LL

static char g_conninfo[512];

typedef struct {
    PGconn *db;
    char chunk[3][160]; /* schema-qualified names: day D-2, D-1 and D (today, open) */
    char name[3][64];   /* the same without the schema */
} fixture;

/* ---- fixture ---- */

static int group_setup(void **state) {
    (void)state;
    assert_int_equal(srtest_pg_create_db(g_conninfo, sizeof(g_conninfo)), 0);
    PGconn *db = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    char err[1024];
    int applied = 0;
    if (sr_migrate_apply_err(db, SR_MIGRATIONS_DIR, &applied, err, sizeof(err)) < 0)
        fail_msg("migrations: %s", err);
    assert_true(applied >= 7);
    PQfinish(db);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    srtest_pg_drop_db(g_conninfo);
    return 0;
}

/* ROWS_PER_CHUNK events in each of the chunks of day D-2, D-1 and D (UTC days: the chunks'
 * boundaries), spread over the day; today's may lie ahead of now, in the open chunk all the
 * same. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->db = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(f->db), CONNECTION_OK);
    srtest_sql(f->db, "TRUNCATE jobs, events", 0, NULL);
    char rows[24], every[24];
    (void)snprintf(rows, sizeof(rows), "%d", ROWS_PER_CHUNK);
    (void)snprintf(every, sizeof(every), "%d", SHADOW_EVERY);
    for (int days_back = 2; days_back >= 0; days_back--) {
        char d[8];
        (void)snprintf(d, sizeof(d), "%d", days_back);
        const char *v[] = {d, rows, every};
        srtest_sql(f->db,
            "INSERT INTO events (time, id, host, source_type, message, search) "
            "SELECT t, gen_random_uuid(), 'web1', 'auth', m, to_tsvector('simple', m) "
            "FROM (SELECT date_bin('1 day', now() - $1::integer * interval '1 day', timestamptz 'epoch') "
            "             + (g * 4 % 86400) * interval '1 second' AS t, "
            "             CASE WHEN g % $3::integer = 0 THEN 'cat /etc/shadow' "
            "                  ELSE 'session opened for user u' || g || ' from 10.0.' || g % 250 || '.1' END AS m "
            "      FROM generate_series(1, $2::integer) AS g) AS s",
            3, v);
    }
    PGresult *r = srtest_sqlr(f->db,
                       "SELECT chunk_schema, chunk_name FROM timescaledb_information.chunks "
                       "WHERE hypertable_name = 'events' ORDER BY range_start",
                       0, NULL);
    assert_int_equal(PQntuples(r), 3);
    for (int i = 0; i < 3; i++) {
        (void)snprintf(f->chunk[i], sizeof(f->chunk[i]), "%s.%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        (void)snprintf(f->name[i], sizeof(f->name[i]), "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    /* the hypertable itself has no trigram index: ingest never maintains one */
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM pg_index i JOIN pg_opclass oc ON oc.oid = ANY (i.indclass) "
                             "WHERE i.indrelid = 'events'::regclass AND oc.opcname = 'gin_trgm_ops'",
                             0, NULL),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    PQfinish(f->db);
    free(f);
    return 0;
}

/* Runs events_trgm_index once through the runner with the given closed_after and bound; checks
 * that it succeeded and returns its message. */
static void run_trgm(PGconn *db, int64_t closed_ms, int64_t max_chunks, char *msg, size_t msglen) {
    const sr_jobs_params params = {.events_trgm_closed_ms = closed_ms, .events_trgm_max_chunks = max_chunks};
    sr_jobs_entry e = {&sr_jobs_events_trgm_index, 0};
    sr_jobs_config cfg = {.owner = "test-runner", .jobs = &e, .n = 1, .params = &params};
    char err[1024];
    if (sr_jobs_register(db, &cfg, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    srtest_sql(db, "UPDATE jobs SET next_run_at = now() WHERE name = 'events_trgm_index'", 0, NULL);
    int ran = 0, failed = 0;
    if (sr_jobs_run_due(db, &cfg, NULL, &ran, &failed, err, sizeof(err)) < 0)
        fail_msg("run_due: %s", err);
    assert_int_equal(ran, 1);
    PGresult *r = srtest_sqlr(db,
                       "SELECT last_status, coalesce(last_error, ''), coalesce(last_message, '') FROM jobs "
                       "WHERE name = 'events_trgm_index'",
                       0, NULL);
    assert_int_equal(PQntuples(r), 1);
    if (strcmp(PQgetvalue(r, 0, 0), "ok") != 0 || failed != 0)
        fail_msg("events_trgm_index: %s: %s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    (void)snprintf(msg, msglen, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
}

/* 1 when the chunk has a valid GIN index named <chunk>_message_trgm on message with
 * gin_trgm_ops, 0 when it has no index of that name; fails on anything else. */
static int has_trgm(PGconn *db, const char *chunk, const char *name) {
    const char *v[] = {chunk, name};
    int64_t any = srtest_sql_i64(db,
                          "SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                          "WHERE i.indrelid = $1::regclass AND ic.relname = $2 || '_message_trgm'",
                          2, v);
    if (any == 0)
        return 0;
    int64_t ok = srtest_sql_i64(db,
                         "SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                         "JOIN pg_am am ON am.oid = ic.relam JOIN pg_opclass oc ON oc.oid = i.indclass[0] "
                         "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                         "WHERE i.indrelid = $1::regclass AND ic.relname = $2 || '_message_trgm' AND i.indisvalid "
                         "AND i.indnatts = 1 AND am.amname = 'gin' AND oc.opcname = 'gin_trgm_ops' "
                         "AND a.attname = 'message'",
                         2, v);
    if (any != 1 || ok != 1)
        fail_msg("%s: %lld indexes named %s_message_trgm, %lld valid trigram GIN on message", chunk,
                 (long long)any, name, (long long)ok);
    return 1;
}

static void expect_indexed(fixture *f, int d2, int d1, int d0) {
    assert_int_equal(has_trgm(f->db, f->chunk[0], f->name[0]), d2);
    assert_int_equal(has_trgm(f->db, f->chunk[1], f->name[1]), d1);
    assert_int_equal(has_trgm(f->db, f->chunk[2], f->name[2]), d0);
}

/* The oids of the trigram indexes, to tell a rerun that changed nothing. */
static void trgm_oids(PGconn *db, char *out, size_t outlen) {
    PGresult *r = srtest_sqlr(db,
                       "SELECT coalesce(string_agg(indexrelid::regclass::text || ':' || indexrelid::bigint, ',' "
                       "ORDER BY indexrelid), '') FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                       "WHERE ic.relname LIKE '%\\_message\\_trgm'",
                       0, NULL);
    (void)snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* The plan of a substring search over the last three days, one line per row. */
static void explain_shadow(PGconn *db, char *out, size_t outlen) {
    srtest_sql(db, "ANALYZE events", 0, NULL);
    srtest_sql(db, "SET enable_seqscan = off", 0, NULL);
    PGresult *r = srtest_sqlr(db,
                       "EXPLAIN (COSTS OFF) SELECT time, host, message FROM events "
                       "WHERE message ILIKE '%shadow%' AND time > now() - interval '3 days'",
                       0, NULL);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        int n = snprintf(out + len, outlen - len, "%s\n", PQgetvalue(r, i, 0));
        if (n < 0 || (size_t)n >= outlen - len)
            fail_msg("plan longer than %zu bytes", outlen);
        len += (size_t)n;
    }
    PQclear(r);
    srtest_sql(db, "RESET enable_seqscan", 0, NULL);
}

static void test_closed_chunks_indexed(void **state) {
    fixture *f = *state;
    char msg[512], plan[8192], want[256];

    /* before the job: no chunk has a trigram index to use */
    explain_shadow(f->db, plan, sizeof(plan));
    if (strstr(plan, "_message_trgm"))
        fail_msg("a trigram index before the job ran:\n%s", plan);

    /* none of the chunks ended three days ago: nothing is closed yet */
    run_trgm(f->db, 3 * DAY_MS, 4, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 0 of 0 closed chunks without a trigram index");
    expect_indexed(f, 0, 0, 0);

    /* closed at once after their range ended: D-2 and D-1; one per run, the newest first */
    run_trgm(f->db, 0, 1, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 1 of 2 closed chunks without a trigram index");
    expect_indexed(f, 0, 1, 0);
    run_trgm(f->db, 0, 4, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 1 of 1 closed chunks without a trigram index");
    expect_indexed(f, 1, 1, 0);

    /* a rerun changes nothing: the same indexes (oids), the open chunk still without one */
    char before[1024], after[1024];
    trgm_oids(f->db, before, sizeof(before));
    run_trgm(f->db, 0, 4, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 0 of 0 closed chunks without a trigram index");
    trgm_oids(f->db, after, sizeof(after));
    assert_string_equal(before, after);
    assert_non_null(strstr(after, f->name[0]));
    assert_non_null(strstr(after, f->name[1]));
    assert_null(strstr(after, f->name[2]));
    expect_indexed(f, 1, 1, 0);

    /* the planner reads each closed chunk through its own trigram index and scans the open one
     * without (its time index, sequential scans being off here) */
    explain_shadow(f->db, plan, sizeof(plan));
    for (int i = 0; i < 2; i++) {
        (void)snprintf(want, sizeof(want), "Bitmap Index Scan on %s_message_trgm", f->name[i]);
        if (!strstr(plan, want))
            fail_msg("no \"%s\" in the plan:\n%s", want, plan);
    }
    (void)snprintf(want, sizeof(want), "on %s", f->name[2]);
    if (!strstr(plan, want))
        fail_msg("the open chunk %s is not in the plan:\n%s", f->name[2], plan);
    (void)snprintf(want, sizeof(want), "%s_message_trgm", f->name[2]);
    if (strstr(plan, want))
        fail_msg("the open chunk has a trigram index:\n%s", plan);

    /* and the search through those indexes finds every shadow event of the three days */
    srtest_sql(f->db, "SET enable_seqscan = off", 0, NULL);
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM events WHERE message ILIKE '%shadow%' "
                             "AND time > now() - interval '3 days'",
                             0, NULL),
                     3 * (ROWS_PER_CHUNK / SHADOW_EVERY));
    srtest_sql(f->db, "RESET enable_seqscan", 0, NULL);

    /* the configuration's defaults reach the job's parameters: closed 1 h after the range ended
     * (not used above: D-1's chunk ended at midnight UTC, possibly less than an hour ago), 4 per run */
    sr_core_config c;
    assert_int_equal(sr_core_config_defaults(&c), 0);
    sr_jobs_builtin_setup s;
    sr_jobs_builtin_setup_init(&s, &c);
    assert_int_equal(s.params.events_trgm_closed_ms, 3600000);
    assert_int_equal(s.params.events_trgm_max_chunks, 4);
    sr_core_config_free(&c);
}

/* A CREATE INDEX CONCURRENTLY that failed leaves an invalid index of the name behind; the next
 * run drops it and builds the trigram index. */
static void test_invalid_index_rebuilt(void **state) {
    fixture *f = *state;
    char msg[512], q[512];
    /* a unique index on message cannot be built (duplicate shadow events): it stays, invalid */
    (void)snprintf(q, sizeof(q), "CREATE UNIQUE INDEX CONCURRENTLY %s_message_trgm ON %s (message)", f->name[1],
                   f->chunk[1]);
    PGresult *r = PQexec(f->db, q);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    const char *v[] = {f->chunk[1], f->name[1]};
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                             "WHERE i.indrelid = $1::regclass AND ic.relname = $2 || '_message_trgm' "
                             "AND NOT i.indisvalid",
                             2, v),
                     1);

    run_trgm(f->db, 0, 4, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 2 of 2 closed chunks without a trigram index (1 invalid rebuilt, 0 "
                             "dropped meanwhile)");
    expect_indexed(f, 1, 1, 0);
    run_trgm(f->db, 0, 4, msg, sizeof(msg));
    assert_string_equal(msg, "indexed 0 of 0 closed chunks without a trigram index");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_closed_chunks_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_index_rebuilt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
