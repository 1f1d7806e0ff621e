/* Migrations on a real PostgreSQL: apply on an empty database, idempotence, refusal of a
 * changed file, several runners at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_file.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_pg.h"
#include "srtest.h"

typedef struct {
    char conninfo[512];
    PGconn *pg;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(srtest_pg_create_db(f->conninfo, sizeof(f->conninfo)), 0);
    char err[512];
    assert_int_equal(sr_pg_connect(f->conninfo, &f->pg, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    sr_pg_close(f->pg);
    srtest_pg_drop_db(f->conninfo);
    free(f);
    return 0;
}

static long count(PGconn *pg, const char *sql) {
    PGresult *r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t n = -1;
    assert_int_equal(sr_parse_i64(PQgetvalue(r, 0, 0), INT64_MIN, INT64_MAX, &n), 0);
    PQclear(r);
    return n;
}

static void test_apply_and_idempotent(void **state) {
    fx *f = *state;
    int applied = -1;
    char err[1024] = "";
    int r = sr_migrate_apply_err(f->pg, SR_MIGRATIONS_DIR, &applied, err, sizeof(err));
    if (r != 0)
        fail_msg("migrate: %s", err);
    assert_true(applied >= 2);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM schema_migrations"), applied);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM timescaledb_information.hypertables "
                                  "WHERE hypertable_name = 'metric_points'"),
                     1);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM pg_extension WHERE extname IN "
                                  "('timescaledb','vector','age','postgis','pg_trgm')"),
                     5);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM pg_indexes WHERE indexname = 'metric_points_series_time'"),
                     1);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM hosts"), 0);
    assert_int_equal(count(f->pg, "SELECT length(checksum) FROM schema_migrations WHERE version = 1"), 64);

    applied = -1;
    assert_int_equal(sr_migrate_apply(f->pg, SR_MIGRATIONS_DIR, &applied), 0);
    assert_int_equal(applied, 0);
}

static void test_checksum_change_refused(void **state) {
    fx *f = *state;
    char dir[256], a[512], b[512];
    assert_int_equal(srtest_tmpdir(dir, sizeof(dir)), 0);
    snprintf(a, sizeof(a), "%s/0001_first.sql", dir);
    snprintf(b, sizeof(b), "%s/0002_second.sql", dir);
    static const char one[] = "CREATE TABLE t1 (a int);\n";
    static const char two[] = "CREATE TABLE t2 (b int); INSERT INTO t2 VALUES (1), (2);\n";
    assert_int_equal(sr_file_write_atomic(a, one, strlen(one), 0644), 0);
    assert_int_equal(sr_file_write_atomic(b, two, strlen(two), 0644), 0);
    int applied = 0;
    assert_int_equal(sr_migrate_apply(f->pg, dir, &applied), 0);
    assert_int_equal(applied, 2);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM t2"), 2);

    /* a new file is applied; a changed old one is refused, and nothing runs */
    char c[512];
    snprintf(c, sizeof(c), "%s/0003_third.sql", dir);
    static const char three[] = "CREATE TABLE t3 (c int);\n";
    assert_int_equal(sr_file_write_atomic(c, three, strlen(three), 0644), 0);
    static const char one_changed[] = "CREATE TABLE t1 (a int); -- edited\n";
    assert_int_equal(sr_file_write_atomic(a, one_changed, strlen(one_changed), 0644), 0);
    char err[1024] = "";
    applied = -1;
    assert_int_equal(sr_migrate_apply_err(f->pg, dir, &applied, err, sizeof(err)), -EBADMSG);
    assert_int_equal(applied, -1);
    assert_non_null(strstr(err, "0001_first.sql"));
    assert_int_equal(count(f->pg, "SELECT count(*) FROM pg_tables WHERE tablename = 't3'"), 0);

    /* restored: the new one goes in */
    assert_int_equal(sr_file_write_atomic(a, one, strlen(one), 0644), 0);
    assert_int_equal(sr_migrate_apply(f->pg, dir, &applied), 0);
    assert_int_equal(applied, 1);

    /* a failing migration rolls back entirely and is not recorded */
    char d[512];
    snprintf(d, sizeof(d), "%s/0004_broken.sql", dir);
    static const char broken[] = "CREATE TABLE t4 (d int); SELECT no_such_function();\n";
    assert_int_equal(sr_file_write_atomic(d, broken, strlen(broken), 0644), 0);
    assert_int_equal(sr_migrate_apply_err(f->pg, dir, &applied, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "0004_broken.sql"));
    assert_int_equal(count(f->pg, "SELECT count(*) FROM pg_tables WHERE tablename = 't4'"), 0);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM schema_migrations"), 3);

    /* badly named files are refused */
    snprintf(d, sizeof(d), "%s/0004_broken.sql", dir);
    remove(d);
    snprintf(d, sizeof(d), "%s/5_bad name.sql", dir);
    assert_int_equal(sr_file_write_atomic(d, one, strlen(one), 0644), 0);
    assert_int_equal(sr_migrate_apply(f->pg, dir, &applied), -EINVAL);
    srtest_rmtree(dir);
}

typedef struct {
    const char *conninfo;
    int applied;
    int r;
} runner;

static void *run_migrate(void *arg) {
    runner *ru = arg;
    PGconn *pg = NULL;
    char err[512];
    ru->r = sr_pg_connect(ru->conninfo, &pg, err, sizeof(err));
    if (ru->r == 0)
        ru->r = sr_migrate_apply(pg, SR_MIGRATIONS_DIR, &ru->applied);
    sr_pg_close(pg);
    return NULL;
}

static void test_concurrent_runners(void **state) {
    fx *f = *state;
    runner ru[3] = {{f->conninfo, 0, 0}, {f->conninfo, 0, 0}, {f->conninfo, 0, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run_migrate, &ru[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    int total = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ru[i].r, 0);
        total += ru[i].applied;
    }
    assert_int_equal(total, count(f->pg, "SELECT count(*) FROM schema_migrations"));
}

static void test_ensure_database(void **state) {
    fx *f = *state;
    char ci[600], err[512];
    snprintf(ci, sizeof(ci), "%s_x", f->conninfo); /* dbname=<test db>_x */
    assert_int_equal(sr_pg_ensure_database(ci, err, sizeof(err)), 0);
    assert_int_equal(sr_pg_ensure_database(ci, err, sizeof(err)), 0); /* exists: nothing to do */
    PGconn *pg = NULL;
    assert_int_equal(sr_pg_connect(ci, &pg, err, sizeof(err)), 0);
    sr_pg_close(pg);
    srtest_pg_drop_db(ci);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_and_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_change_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_runners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensure_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
