/* Integration tests of the scheduled jobs on a real PostgreSQL with TimescaleDB: claims and
 * leases between racing runners, failures, a clean stop, hourly rollups checked against
 * aggregates computed here, retention by whole chunks (metrics, events, bookkeeping rows), and
 * the metrics API reading rollups, raw points or both. */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sr_api.h"
#include "sr_api_query.h"
#include "sr_core_stats.h"
#include "sr_jobs.h"
#include "sr_jobs_builtin.h"
#include "sr_migrate.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srtest.h"
#include "srtest_http.h"

#define STEP_MS 15000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define MS(col) "floor(extract(epoch from " col ") * 1000)::bigint"

static char g_conninfo[512];

typedef struct {
    PGconn *db;
} fixture;

static const sr_jobs_params k_params = {
    .metrics_raw_days = 30,
    .metrics_rollup_days = 400,
    .events_days = 90,
    .ingest_batches_days = 7,
    .dead_letters_days = 30,
    .commands_days = 30,
    .rollup_delay_ms = 5 * 60000,
    .search_sample_rows = 1234,
};

/* ---- SQL helpers ---- */

static void sql_text(PGconn *db, const char *q, int n, const char *const *vals, char *out, size_t outlen) {
    PGresult *r = srtest_sqlr(db, q, n, vals);
    if (PQntuples(r) != 1)
        fail_msg("%s: %d rows, want 1", q, PQntuples(r));
    (void)snprintf(out, outlen, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
}

static int64_t db_now_ms(PGconn *db) { return srtest_sql_i64(db, "SELECT " MS("now()"), 0, NULL); }

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
    assert_true(applied >= 5);
    PQfinish(db);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    srtest_pg_drop_db(g_conninfo);
    return 0;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->db = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(f->db), CONNECTION_OK);
    srtest_sql(f->db,
        "TRUNCATE jobs, hosts, metric_points, metric_series, metric_rollups_1h, events, ingest_batches, "
        "dead_letters, commands",
        0, NULL);
    srtest_sql(f->db, "UPDATE metric_storage_state SET rollup_done_before = NULL, raw_kept_from = NULL", 0, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    PQfinish(f->db);
    free(f);
    return 0;
}

/* Registers def alone, makes it due and runs it through the runner; checks the recorded status
 * and returns the message (or the error, for a failure). */
static void run_job(PGconn *db, const sr_jobs_def *def, const char *want_status, char *msg, size_t msglen) {
    sr_jobs_entry e = {def, 0};
    sr_jobs_config cfg = {.owner = "test-runner", .jobs = &e, .n = 1, .params = &k_params};
    char err[1024];
    if (sr_jobs_register(db, &cfg, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    const char *v[] = {def->name};
    srtest_sql(db, "UPDATE jobs SET next_run_at = now() WHERE name = $1", 1, v);
    int ran = 0, failed = 0;
    if (sr_jobs_run_due(db, &cfg, NULL, &ran, &failed, err, sizeof(err)) < 0)
        fail_msg("run_due: %s", err);
    assert_true(ran >= 1);
    char status[32], text[1024];
    sql_text(db, "SELECT last_status FROM jobs WHERE name = $1", 1, v, status, sizeof(status));
    sql_text(db, "SELECT coalesce(last_error, last_message, '') FROM jobs WHERE name = $1", 1, v, text, sizeof(text));
    if (strcmp(status, want_status) != 0)
        fail_msg("job %s: status %s (%s), want %s", def->name, status, text, want_status);
    if (msg)
        (void)snprintf(msg, msglen, "%s", text);
}

/* ---- metric data: 40 days of 15-second points for two series, aggregated here ---- */

typedef struct {
    double min, max, sum;
    int64_t count;
} agg;

typedef struct {
    int64_t base;   /* a whole hour 40 days ago: the first point */
    int64_t n;      /* points per series, base + i * 15 s */
    int64_t sid[2]; /* metric_series ids: dims cpu0 and total */
    int64_t nhours;
    agg *hours[2]; /* per series and hour since base */
} dataset;

static double value_of(int64_t i, int s) { return (double)((i * 37 + s * 101) % 997) / 8.0 - 20.0; }

static void agg_add(agg *a, double v) {
    if (a->count == 0 || v < a->min)
        a->min = v;
    if (a->count == 0 || v > a->max)
        a->max = v;
    a->sum += v;
    a->count++;
}

static void copy_flush(PGconn *db, char *buf, size_t *used) {
    if (*used && PQputCopyData(db, buf, (int)*used) != 1)
        fail_msg("COPY: %s", PQerrorMessage(db));
    *used = 0;
}

static void dataset_load(PGconn *db, dataset *d) {
    memset(d, 0, sizeof(*d));
    int64_t now = db_now_ms(db);
    d->base = now / HOUR_MS * HOUR_MS - 40 * DAY_MS;
    d->n = (now - 60000 - d->base) / STEP_MS;
    d->nhours = (d->n * STEP_MS + HOUR_MS - 1) / HOUR_MS + 1;
    PGresult *r = srtest_sqlr(db,
                       "INSERT INTO metric_series (agent_id, name, dim) VALUES ('h1', 'cpu.usage_pct', 'cpu0'), "
                       "('h1', 'cpu.usage_pct', 'total') RETURNING id",
                       0, NULL);
    for (int s = 0; s < 2; s++)
        assert_int_equal(sr_parse_i64(PQgetvalue(r, s, 0), 1, INT64_MAX, &d->sid[s]), 0);
    PQclear(r);

    r = PQexec(db, "COPY metric_points (time, series_id, value) FROM STDIN");
    assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    static char buf[1 << 16];
    size_t used = 0;
    for (int s = 0; s < 2; s++) {
        d->hours[s] = calloc((size_t)d->nhours, sizeof(agg));
        assert_non_null(d->hours[s]);
        for (int64_t i = 0; i < d->n; i++) {
            int64_t t = d->base + i * STEP_MS;
            double v = value_of(i, s);
            agg_add(&d->hours[s][(t - d->base) / HOUR_MS], v);
            char ts[40];
            assert_int_equal(sr_api_time_format(t, ts, sizeof(ts)), 0);
            if (used + 128 > sizeof(buf))
                copy_flush(db, buf, &used);
            int w = snprintf(buf + used, sizeof(buf) - used, "%s\t%lld\t%.17g\n", ts, (long long)d->sid[s], v);
            assert_true(w > 0 && (size_t)w < sizeof(buf) - used);
            used += (size_t)w;
        }
    }
    copy_flush(db, buf, &used);
    assert_int_equal(PQputCopyEnd(db, NULL), 1);
    r = PQgetResult(db);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("COPY: %s", PQerrorMessage(db));
    PQclear(r);
    while ((r = PQgetResult(db)))
        PQclear(r);
}

static void dataset_free(dataset *d) {
    for (int s = 0; s < 2; s++)
        free(d->hours[s]);
}

static void expect_close(double got, double want, const char *what, int64_t t) {
    if (fabs(got - want) > 1e-9 * fmax(1.0, fabs(want)))
        fail_msg("%s at %lld: %.17g, want %.17g", what, (long long)t, got, want);
}

static double col_double(const PGresult *r, int row, int col) {
    double v;
    if (sr_parse_double(PQgetvalue(r, row, col), &v) < 0)
        fail_msg("not a number: %s", PQgetvalue(r, row, col));
    return v;
}

static int64_t col_i64(const PGresult *r, int row, int col) {
    int64_t v;
    if (sr_parse_i64(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, &v) < 0)
        fail_msg("not an integer: %s", PQgetvalue(r, row, col));
    return v;
}

/* Every hour before upto has exactly one rollup row per series, equal to the aggregate computed
 * here; there are no others. */
static void expect_rollups(PGconn *db, const dataset *d, int64_t upto) {
    PGresult *r = srtest_sqlr(db,
                       "SELECT series_id, " MS("time") ", min, max, avg, count FROM metric_rollups_1h "
                       "ORDER BY series_id, time",
                       0, NULL);
    int64_t hours = (upto - d->base) / HOUR_MS;
    assert_int_equal(PQntuples(r), 2 * hours);
    for (int s = 0; s < 2; s++) {
        for (int64_t h = 0; h < hours; h++) {
            int row = (int)(s * hours + h);
            int64_t t = d->base + h * HOUR_MS;
            const agg *a = &d->hours[s][h];
            assert_int_equal(col_i64(r, row, 0), d->sid[s]);
            assert_int_equal(col_i64(r, row, 1), t);
            expect_close(col_double(r, row, 2), a->min, "min", t);
            expect_close(col_double(r, row, 3), a->max, "max", t);
            expect_close(col_double(r, row, 4), a->sum / (double)a->count, "avg", t);
            assert_int_equal(col_i64(r, row, 5), a->count);
        }
    }
    PQclear(r);
}

static void rollups_digest(PGconn *db, char *out, size_t outlen) {
    sql_text(db,
             "SELECT md5(string_agg(series_id || ',' || time || ',' || min || ',' || max || ',' || avg || ',' || "
             "count, ';' ORDER BY series_id, time)) FROM metric_rollups_1h",
             0, NULL, out, outlen);
}

/* ---- HTTP ---- */

static json_t *get_json(int port, const char *path) {
    srtest_http_resp r = srtest_http(port, "GET", path, NULL, 0, 30);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("GET %s: not JSON (%s)", path, je.text);
    srtest_http_resp_free(&r);
    return j;
}

/* GET the metrics of h1/cpu.usage_pct/total over [from, to) with step; checks the resolution
 * and returns the points of the one series. */
static json_t *get_points(int port, int64_t from, int64_t to, const char *step, const char *want_res,
                          json_t **ret_doc) {
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/api/v1/hosts/h1/metrics?name=cpu.usage_pct&dim=total&from=%lld&to=%lld&step=%s", (long long)from,
                   (long long)to, step);
    json_t *j = get_json(port, path);
    const char *res = json_string_value(json_object_get(j, "resolution"));
    if (!res || strcmp(res, want_res) != 0)
        fail_msg("%s: resolution %s, want %s", path, res ? res : "(none)", want_res);
    json_t *series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 1);
    *ret_doc = j;
    return json_object_get(json_array_get(series, 0), "points");
}

static void expect_point(json_t *p, int64_t t, const agg *a) {
    assert_int_equal(json_array_size(p), 4);
    assert_int_equal(json_integer_value(json_array_get(p, 0)), t);
    expect_close(json_number_value(json_array_get(p, 1)), a->sum / (double)a->count, "api avg", t);
    expect_close(json_number_value(json_array_get(p, 2)), a->min, "api min", t);
    expect_close(json_number_value(json_array_get(p, 3)), a->max, "api max", t);
}

/* The points' aggregate over [from, to) computed from the formula (series s). */
static agg raw_agg(const dataset *d, int s, int64_t from, int64_t to) {
    agg a = {0};
    for (int64_t i = 0; i < d->n; i++) {
        int64_t t = d->base + i * STEP_MS;
        if (t >= from && t < to)
            agg_add(&a, value_of(i, s));
    }
    return a;
}

static void check_api(PGconn *db, const dataset *d, int64_t raw_from) {
    sr_core_stats stats;
    memset(&stats, 0, sizeof(stats));
    atomic_store(&stats.db_connected, 1);
    sr_api_config cfg = {.listen = "127.0.0.1:0", .pg_conninfo = g_conninfo, .threads = 2};
    sr_api *api = NULL;
    assert_int_equal(sr_api_start(&cfg, &stats, NULL, &api), 0);
    int port = sr_api_port(api);
    srtest_sql(db, "INSERT INTO hosts (agent_id, hostname) VALUES ('h1', 'h1')", 0, NULL);
    const int total = 1; /* index of the dim "total" in the dataset */
    int64_t now = db_now_ms(db);
    char rf[40];
    assert_int_equal(sr_api_time_format(raw_from, rf, sizeof(rf)), 0);

    /* 60 days, hourly: rollups before the boundary, raw points after it; every hour matches */
    json_t *doc;
    json_t *pts = get_points(port, now - 60 * DAY_MS, now, "1h", "mixed", &doc);
    assert_string_equal(json_string_value(json_object_get(doc, "raw_from")), rf);
    int64_t hours_with_points = 0;
    for (int64_t h = 0; h < d->nhours; h++)
        hours_with_points += d->hours[total][h].count > 0;
    assert_int_equal(json_array_size(pts), hours_with_points);
    for (size_t i = 0; i < json_array_size(pts); i++)
        expect_point(json_array_get(pts, i), d->base + (int64_t)i * HOUR_MS, &d->hours[total][i]);
    json_decref(doc);

    /* a range wholly before the boundary: rollups only */
    pts = get_points(port, now - 60 * DAY_MS, raw_from - DAY_MS, "1h", "rollup_1h", &doc);
    assert_int_equal(json_array_size(pts), (raw_from - DAY_MS - d->base) / HOUR_MS);
    for (size_t i = 0; i < json_array_size(pts); i++)
        expect_point(json_array_get(pts, i), d->base + (int64_t)i * HOUR_MS, &d->hours[total][i]);
    json_decref(doc);

    /* with 6-hour buckets the rollup hours combine, weighted by their counts */
    pts = get_points(port, d->base, raw_from - DAY_MS, "6h", "rollup_1h", &doc);
    for (size_t i = 0; i < json_array_size(pts); i++) {
        int64_t t = json_integer_value(json_array_get(json_array_get(pts, i), 0));
        int64_t b0 = t < d->base ? d->base : t;
        agg a = raw_agg(d, total, b0, t + 6 * HOUR_MS);
        expect_point(json_array_get(pts, i), t, &a);
    }
    json_decref(doc);

    /* the last 200 points: raw, one per 15 s bucket, exactly the values */
    int64_t first = d->n - 200;
    pts = get_points(port, d->base + first * STEP_MS, d->base + d->n * STEP_MS, "15s", "raw", &doc);
    assert_true(json_is_null(json_object_get(doc, "raw_from")) == 0);
    assert_int_equal(json_array_size(pts), 200);
    for (size_t i = 0; i < 200; i++) {
        double v = value_of(first + (int64_t)i, total);
        agg a = {v, v, v, 1};
        expect_point(json_array_get(pts, i), d->base + (first + (int64_t)i) * STEP_MS, &a);
    }
    json_decref(doc);

    /* 15-minute buckets across the boundary: whole rollup hours before it, quarters after it */
    pts = get_points(port, raw_from - 2 * HOUR_MS, raw_from + HOUR_MS, "15m", "mixed", &doc);
    assert_int_equal(json_array_size(pts), 2 + 4);
    for (size_t i = 0; i < 6; i++) {
        int64_t t = i < 2 ? raw_from - (2 - (int64_t)i) * HOUR_MS : raw_from + ((int64_t)i - 2) * 15 * 60000;
        agg a = raw_agg(d, total, t, i < 2 ? t + HOUR_MS : t + 15 * 60000);
        expect_point(json_array_get(pts, i), t, &a);
    }
    json_decref(doc);

    /* the job states */
    json_t *jobs = get_json(port, "/api/v1/jobs");
    assert_true(json_is_array(jobs));
    int seen = 0;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *o = json_array_get(jobs, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), "metrics_rollup") != 0)
            continue;
        seen = 1;
        assert_string_equal(json_string_value(json_object_get(o, "last_status")), "ok");
        assert_int_equal(json_integer_value(json_object_get(o, "interval_s")), 300);
        assert_true(json_integer_value(json_object_get(o, "runs")) >= 1);
        assert_true(json_is_null(json_object_get(o, "last_error")));
        assert_true(json_is_null(json_object_get(o, "lease_owner")));
        assert_true(json_is_string(json_object_get(o, "last_finished_at")));
    }
    assert_true(seen);
    json_decref(jobs);
    api = sr_api_free(api);
}

/* ---- tests ---- */

static int search_stats_function_exists(PGconn *db) {
    return (int)srtest_sql_i64(db, "SELECT (to_regprocedure('search_stats_refresh(integer)') IS NOT NULL)::integer", 0,
                        NULL);
}

static void test_rollup_retention_and_api(void **state) {
    fixture *f = *state;
    PGconn *db = f->db;
    dataset d;
    dataset_load(db, &d);
    const int64_t loaded = 2 * d.n;
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points", 0, NULL), loaded);

    char msg[1024];
    /* retention before any rollup drops nothing: raw points go only where rollups exist */
    run_job(db, &sr_jobs_metrics_retention, "ok", msg, sizeof(msg));
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points", 0, NULL), loaded);

    const int64_t first_day = d.base / DAY_MS * DAY_MS; /* where the oldest chunk starts */
    int64_t before_ms = db_now_ms(db);
    run_job(db, &sr_jobs_metrics_rollup, "ok", msg, sizeof(msg));
    int64_t now = db_now_ms(db);
    int64_t w = srtest_sql_i64(db, "SELECT " MS("rollup_done_before") " FROM metric_storage_state", 0, NULL);
    /* the end of the last hour that ended at least rollup_delay ago */
    assert_int_equal(w % HOUR_MS, 0);
    assert_true(w == (before_ms - k_params.rollup_delay_ms) / HOUR_MS * HOUR_MS ||
                w == (now - k_params.rollup_delay_ms) / HOUR_MS * HOUR_MS);
    expect_rollups(db, &d, w);
    char want[128];
    (void)snprintf(want, sizeof(want), "rolled up %lld hours", (long long)((w - first_day) / HOUR_MS));
    if (!strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);

    run_job(db, &sr_jobs_metrics_retention, "ok", msg, sizeof(msg));
    int64_t raw_from = srtest_sql_i64(db, "SELECT " MS("raw_kept_from") " FROM metric_storage_state", 0, NULL);
    now = db_now_ms(db);
    assert_int_equal(raw_from % DAY_MS, 0);
    assert_true(raw_from <= now - 30 * DAY_MS);
    assert_true(raw_from > now - 31 * DAY_MS);
    (void)snprintf(want, sizeof(want), "dropped %lld raw chunks", (long long)((raw_from - first_day) / DAY_MS));
    if (!strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);
    /* older raw points are gone, newer ones all kept; the oldest chunk starts at the boundary */
    char rb[24];
    (void)snprintf(rb, sizeof(rb), "%lld", (long long)raw_from);
    const char *v[] = {rb};
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points WHERE time < timestamptz 'epoch' + "
                                 "$1::bigint * interval '1 millisecond'",
                             1, v),
                     0);
    int64_t kept = 0;
    for (int64_t i = 0; i < d.n; i++)
        kept += d.base + i * STEP_MS >= raw_from;
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points", 0, NULL), 2 * kept);
    assert_int_equal(srtest_sql_i64(db,
                             "SELECT " MS("min(range_start)") " FROM timescaledb_information.chunks "
                             "WHERE hypertable_name = 'metric_points'",
                             0, NULL),
                     raw_from);
    expect_rollups(db, &d, w);

    /* a rerun changes nothing */
    char before[64], after[64];
    rollups_digest(db, before, sizeof(before));
    run_job(db, &sr_jobs_metrics_rollup, "ok", NULL, 0);
    run_job(db, &sr_jobs_metrics_retention, "ok", msg, sizeof(msg));
    if (!strstr(msg, "dropped 0 raw chunks"))
        fail_msg("rerun: %s", msg);
    rollups_digest(db, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points", 0, NULL), 2 * kept);
    assert_int_equal(srtest_sql_i64(db, "SELECT " MS("raw_kept_from") " FROM metric_storage_state", 0, NULL), raw_from);
    /* rolling the same hours up again replaces them with the same rows */
    srtest_sql(db, "SELECT metric_rollup_hours(now() - interval '2 days', now() - interval '1 day', false)", 0, NULL);
    rollups_digest(db, after, sizeof(after));
    assert_string_equal(before, after);

    check_api(db, &d, raw_from);

    /* a point that arrives after its day was dropped is merged into its hour, then dropped */
    int64_t late = raw_from - 2 * DAY_MS + 30 * 60000 + 7000;
    char lt[24];
    (void)snprintf(lt, sizeof(lt), "%lld", (long long)late);
    const char *lv[] = {lt};
    srtest_sql(db,
        "INSERT INTO metrics (time, agent_id, name, dim, value) VALUES "
        "(timestamptz 'epoch' + $1::bigint * interval '1 millisecond', 'h1', 'cpu.usage_pct', 'total', 1000.5)",
        1, lv);
    agg_add(&d.hours[1][(late - d.base) / HOUR_MS], 1000.5);
    run_job(db, &sr_jobs_metrics_retention, "ok", msg, sizeof(msg));
    if (!strstr(msg, "dropped 1 raw chunks"))
        fail_msg("late point: %s", msg);
    expect_rollups(db, &d, w);
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM metric_points", 0, NULL), 2 * kept);
    assert_int_equal(srtest_sql_i64(db, "SELECT " MS("raw_kept_from") " FROM metric_storage_state", 0, NULL), raw_from);
    dataset_free(&d);
}

/* Test jobs: count their runs (by the last letter of the name) and take a moment in the
 * database, so racing runners overlap. */
typedef struct {
    atomic_int *counts;
    const char *fail_error; /* returned by fail jobs */
} test_params;

static int job_index(const char *name) { return name[strlen(name) - 1] - 'a'; }

static int count_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    const test_params *p = params;
    atomic_fetch_add(&p->counts[job_index(sr_jobs_run_name(run))], 1);
    PGresult *r = PQexec(sr_jobs_run_conn(run), "SELECT pg_sleep(0.05)");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) {
        (void)snprintf(err, errlen, "pg_sleep failed");
        return -EIO;
    }
    (void)snprintf(msg, msglen, "counted");
    return 0;
}

static const sr_jobs_def race_defs[4] = {
    {"race_a", HOUR_MS, count_job}, {"race_b", HOUR_MS, count_job},
    {"race_c", HOUR_MS, count_job}, {"race_d", HOUR_MS, count_job},
};

typedef struct {
    const sr_jobs_config *cfg;
    pthread_barrier_t *barrier;
    int ran;
    int rc;
    char err[512];
} racer;

static void *race_main(void *arg) {
    racer *rc = arg;
    PGconn *c = PQconnectdb(g_conninfo);
    pthread_barrier_wait(rc->barrier);
    rc->rc = PQstatus(c) == CONNECTION_OK
                 ? sr_jobs_run_due(c, rc->cfg, NULL, &rc->ran, NULL, rc->err, sizeof(rc->err))
                 : -ECONNREFUSED;
    PQfinish(c);
    return NULL;
}

static void wait_until(PGconn *db, const char *q, int64_t want, int64_t timeout_ms) {
    int64_t deadline = sr_mono_ms() + timeout_ms;
    int64_t got;
    while ((got = srtest_sql_i64(db, q, 0, NULL)) != want) {
        if (sr_mono_ms() > deadline)
            fail_msg("%s: %lld after %lld ms, want %lld", q, (long long)got, (long long)timeout_ms, (long long)want);
        sr_sleep_ms(20);
    }
}

static void test_racing_runners(void **state) {
    fixture *f = *state;
    atomic_int counts[4];
    for (int i = 0; i < 4; i++)
        atomic_init(&counts[i], 0);
    test_params tp = {.counts = counts};
    sr_jobs_entry e[4];
    for (int i = 0; i < 4; i++)
        e[i] = (sr_jobs_entry){&race_defs[i], 0};
    sr_jobs_config ca = {.owner = "runner-a", .jobs = e, .n = 4, .params = &tp};
    sr_jobs_config cb = ca;
    cb.owner = "runner-b";
    char err[512];
    if (sr_jobs_register(f->db, &ca, err, sizeof(err)) < 0)
        fail_msg("%s", err);

    /* two runners on their own connections, released together */
    for (int round = 0; round < 3; round++) {
        srtest_sql(f->db, "UPDATE jobs SET next_run_at = now()", 0, NULL);
        for (int i = 0; i < 4; i++)
            atomic_store(&counts[i], 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        racer ra = {.cfg = &ca, .barrier = &barrier}, rb = {.cfg = &cb, .barrier = &barrier};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race_main, &ra), 0);
        assert_int_equal(pthread_create(&tb, NULL, race_main, &rb), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&barrier);
        if (ra.rc < 0 || rb.rc < 0)
            fail_msg("runner: %s %s", ra.err, rb.err);
        assert_int_equal(ra.ran + rb.ran, 4);
        for (int i = 0; i < 4; i++)
            if (atomic_load(&counts[i]) != 1)
                fail_msg("round %d: job %d ran %d times", round, i, atomic_load(&counts[i]));
        char q[128];
        (void)snprintf(q, sizeof(q), "SELECT count(*) FROM jobs WHERE runs = %d AND last_status = 'ok'", round + 1);
        assert_int_equal(srtest_sql_i64(f->db, q, 0, NULL), 4);
    }
    assert_int_equal(srtest_sql_i64(f->db, "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL", 0, NULL), 0);

    /* two runner threads polling every 20 ms */
    srtest_sql(f->db, "UPDATE jobs SET next_run_at = now()", 0, NULL);
    for (int i = 0; i < 4; i++)
        atomic_store(&counts[i], 0);
    ca.pg_conninfo = cb.pg_conninfo = g_conninfo;
    ca.poll_ms = cb.poll_ms = 20;
    sr_jobs *a = NULL, *b = NULL;
    assert_int_equal(sr_jobs_start(&ca, &a), 0);
    assert_int_equal(sr_jobs_start(&cb, &b), 0);
    wait_until(f->db, "SELECT count(*) FROM jobs WHERE runs = 4 AND last_status = 'ok'", 4, 20000);
    sr_sleep_ms(300); /* time for a second, wrong run */
    a = sr_jobs_free(a);
    b = sr_jobs_free(b);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&counts[i]), 1);
    assert_int_equal(srtest_sql_i64(f->db, "SELECT count(*) FROM jobs WHERE runs = 4", 0, NULL), 4);
}

static int steal_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)params;
    (void)msg;
    (void)msglen;
    PGresult *r = PQexec(sr_jobs_run_conn(run), "UPDATE jobs SET lease_owner = 'thief' WHERE name = 'lease_b'");
    PQclear(r);
    return sr_jobs_run_step(run, err, errlen);
}

static void test_leases(void **state) {
    fixture *f = *state;
    atomic_int counts[4];
    for (int i = 0; i < 4; i++)
        atomic_init(&counts[i], 0);
    test_params tp = {.counts = counts};
    const sr_jobs_def def = {"lease_a", HOUR_MS, count_job};
    sr_jobs_entry e = {&def, 0};
    sr_jobs_config cfg = {.owner = "runner-a", .jobs = &e, .n = 1, .params = &tp};
    char err[512];
    assert_int_equal(sr_jobs_register(f->db, &cfg, err, sizeof(err)), 0);

    /* held by a runner that is gone: not before its lease expires */
    srtest_sql(f->db,
        "UPDATE jobs SET lease_owner = 'crashed-core', lease_until = now() + interval '1 hour', "
        "last_status = 'running', next_run_at = now() - interval '1 minute'",
        0, NULL);
    int ran = -1;
    assert_int_equal(sr_jobs_run_due(f->db, &cfg, NULL, &ran, NULL, err, sizeof(err)), 0);
    assert_int_equal(ran, 0);
    assert_int_equal(atomic_load(&counts[0]), 0);
    srtest_sql(f->db, "UPDATE jobs SET lease_until = now() - interval '1 second'", 0, NULL);
    assert_int_equal(sr_jobs_run_due(f->db, &cfg, NULL, &ran, NULL, err, sizeof(err)), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(atomic_load(&counts[0]), 1);
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM jobs WHERE lease_owner IS NULL AND lease_until IS NULL "
                             "AND last_status = 'ok' AND runs = 1 AND next_run_at > now() + interval '59 minutes'",
                             0, NULL),
                     1);

    /* a job whose lease passes to another runner learns it at its next step; nothing is recorded */
    const sr_jobs_def sdef = {"lease_b", HOUR_MS, steal_job};
    sr_jobs_entry se = {&sdef, 0};
    sr_jobs_config scfg = {.owner = "runner-a", .jobs = &se, .n = 1, .params = &tp};
    assert_int_equal(sr_jobs_register(f->db, &scfg, err, sizeof(err)), 0);
    int failed = 0;
    assert_int_equal(sr_jobs_run_due(f->db, &scfg, NULL, &ran, &failed, err, sizeof(err)), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(failed, 1);
    char owner[64];
    sql_text(f->db, "SELECT lease_owner || ' ' || runs FROM jobs WHERE name = 'lease_b'", 0, NULL, owner,
             sizeof(owner));
    assert_string_equal(owner, "thief 0");
}

static int fail_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)run;
    (void)msg;
    (void)msglen;
    const test_params *p = params;
    (void)snprintf(err, errlen, "%s", p->fail_error);
    return -EIO;
}

static int sql_fail_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)params;
    (void)msg;
    (void)msglen;
    PGconn *c = sr_jobs_run_conn(run);
    PQclear(PQexec(c, "BEGIN"));
    PGresult *r = PQexec(c, "SELECT 1 / 0");
    (void)snprintf(err, errlen, "could not divide: %s", PQresultErrorMessage(r));
    PQclear(r);
    return -EIO; /* the transaction is left failed: the runner rolls it back */
}

static int open_tx_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)params;
    (void)msg;
    (void)msglen;
    (void)err;
    (void)errlen;
    PQclear(PQexec(sr_jobs_run_conn(run), "BEGIN"));
    return 0;
}

static int ok_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)params;
    (void)err;
    (void)errlen;
    PGresult *r = PQexec(sr_jobs_run_conn(run), "SELECT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    (void)snprintf(msg, msglen, "%s", ok ? "fine" : "database unusable");
    return 0;
}

/* An error whose last character does not fit the outcome's buffer (512 bytes). */
static int long_error_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)run;
    (void)params;
    (void)msg;
    (void)msglen;
    char e[600];
    memset(e, 'x', 510);
    (void)snprintf(e + 510, sizeof(e) - 510, "\xc3\xa9 and more");
    (void)snprintf(err, errlen, "%s", e);
    return -EIO;
}

static void test_failures(void **state) {
    fixture *f = *state;
    const sr_jobs_def defs[5] = {
        {"fail_a", HOUR_MS, fail_job},    {"fail_b", HOUR_MS, sql_fail_job},   {"fail_c", HOUR_MS, open_tx_job},
        {"fail_d", HOUR_MS, ok_job},      {"fail_e", HOUR_MS, long_error_job},
    };
    sr_jobs_entry e[5];
    for (int i = 0; i < 5; i++)
        e[i] = (sr_jobs_entry){&defs[i], 0};
    test_params tp = {.fail_error = "could not write: disk on fire"};
    sr_jobs_config cfg = {.owner = "runner-a", .jobs = e, .n = 5, .params = &tp, .retry_ms = 30000};
    char err[512];
    assert_int_equal(sr_jobs_register(f->db, &cfg, err, sizeof(err)), 0);
    int ran = 0, failed = 0;
    assert_int_equal(sr_jobs_run_due(f->db, &cfg, NULL, &ran, &failed, err, sizeof(err)), 0);
    assert_int_equal(ran, 5);
    assert_int_equal(failed, 4);
    /* an error cut inside a character is stored without the partial character */
    assert_int_equal(srtest_sql_i64(f->db, "SELECT length(last_error) FROM jobs WHERE name = 'fail_e'", 0, NULL), 510);
    assert_int_equal(PQtransactionStatus(f->db), PQTRANS_IDLE);

    static const char *const want[4][2] = {
        {"error", "could not write: disk on fire"},
        {"error", "division by zero"},
        {"error", "left a transaction open"},
        {"ok", "fine"},
    };
    for (int i = 0; i < 4; i++) {
        const char *v[] = {defs[i].name};
        char status[32], text[512];
        sql_text(f->db, "SELECT last_status FROM jobs WHERE name = $1", 1, v, status, sizeof(status));
        sql_text(f->db, "SELECT coalesce(last_error, last_message) FROM jobs WHERE name = $1", 1, v, text,
                 sizeof(text));
        assert_string_equal(status, want[i][0]);
        if (!strstr(text, want[i][1]))
            fail_msg("%s: '%s' lacks '%s'", defs[i].name, text, want[i][1]);
        int is_err = strcmp(want[i][0], "error") == 0;
        char q[256];
        /* failures retry after jobs.retry (30 s), successes after their interval (1 h) */
        (void)snprintf(q, sizeof(q),
                       "SELECT count(*) FROM jobs WHERE name = $1 AND runs = 1 AND failures = %d AND lease_owner IS "
                       "NULL AND next_run_at BETWEEN now() + interval '%s' AND now() + interval '%s' AND "
                       "last_duration_ms >= 0 AND (last_error IS NULL) = %s",
                       is_err, is_err ? "20 seconds" : "59 minutes", is_err ? "40 seconds" : "61 minutes",
                       is_err ? "false" : "true");
        assert_int_equal(srtest_sql_i64(f->db, q, 1, v), 1);
    }
    /* nothing is due until the retry; then the failure counts again */
    assert_int_equal(sr_jobs_run_due(f->db, &cfg, NULL, &ran, &failed, err, sizeof(err)), 0);
    assert_int_equal(ran, 0);
    srtest_sql(f->db, "UPDATE jobs SET next_run_at = now() WHERE name = 'fail_a'", 0, NULL);
    assert_int_equal(sr_jobs_run_due(f->db, &cfg, NULL, &ran, &failed, err, sizeof(err)), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(srtest_sql_i64(f->db, "SELECT failures FROM jobs WHERE name = 'fail_a'", 0, NULL), 2);
}

static int sleep_job(sr_jobs_run *run, const void *params, char *msg, size_t msglen, char *err, size_t errlen) {
    (void)params;
    (void)msg;
    (void)msglen;
    PGconn *c = sr_jobs_run_conn(run);
    PGresult *r = PQexec(c, "SELECT pg_sleep(60)");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        (void)snprintf(err, errlen, "could not sleep: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -EIO;
}

static void test_stop_interrupts(void **state) {
    fixture *f = *state;
    const sr_jobs_def def = {"sleeper", HOUR_MS, sleep_job};
    sr_jobs_entry e = {&def, 0};
    sr_jobs_config cfg = {.pg_conninfo = g_conninfo, .owner = "runner-a", .jobs = &e, .n = 1, .poll_ms = 20};
    sr_jobs *j = NULL;
    assert_int_equal(sr_jobs_start(&cfg, &j), 0);
    wait_until(f->db, "SELECT count(*) FROM jobs WHERE last_status = 'running'", 1, 10000);
    sr_sleep_ms(100); /* the statement is under way */
    int64_t t0 = sr_mono_ms();
    j = sr_jobs_free(j);
    int64_t took = sr_mono_ms() - t0;
    if (took > 5000)
        fail_msg("stopping took %lld ms", (long long)took);
    char text[512];
    sql_text(f->db, "SELECT last_status || ': ' || last_error FROM jobs", 0, NULL, text, sizeof(text));
    if (!strstr(text, "error: interrupted: runner stopping"))
        fail_msg("%s", text);
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM jobs WHERE lease_owner IS NULL AND next_run_at <= now()", 0, NULL),
                     1);
}

static void test_builtin_runner(void **state) {
    fixture *f = *state;
    sr_core_config c;
    assert_int_equal(sr_core_config_defaults(&c), 0);
    free(c.pg_conninfo);
    c.pg_conninfo = strdup(g_conninfo);
    assert_non_null(c.pg_conninfo);
    c.jobs_poll_ms = 50;
    sr_jobs_builtin_setup s;
    sr_jobs_builtin_setup_init(&s, &c);
    sr_jobs *j = NULL;
    assert_int_equal(sr_jobs_start(&s.config, &j), 0);
    wait_until(f->db, "SELECT count(*) FROM jobs WHERE runs >= 1 AND last_status = 'ok'", SR_JOBS_BUILTIN_N, 20000);
    j = sr_jobs_free(j);
    char text[512];
    sql_text(f->db, "SELECT last_message FROM jobs WHERE name = 'search_stats_refresh'", 0, NULL, text, sizeof(text));
    if (search_stats_function_exists(f->db))
        assert_string_equal(text, "refreshed (sample_rows 100000): 0");
    else
        assert_string_equal(text, "skipped: function search_stats_refresh(integer) missing");
    assert_int_equal(srtest_sql_i64(f->db, "SELECT floor(extract(epoch from run_interval))::bigint FROM jobs "
                                    "WHERE name = 'metrics_rollup'",
                             0, NULL),
                     300);
    sr_core_config_free(&c);
}

static void test_events_retention(void **state) {
    fixture *f = *state;
    static const char *const days[] = {"100", "91", "89", "1", "0"};
    for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
        const char *v[] = {days[i]};
        srtest_sql(f->db,
            "INSERT INTO events (time, id, source_type, message, search) VALUES "
            "(now() - $1::integer * interval '1 day', gen_random_uuid(), 'syslog', 'm', to_tsvector('simple', 'm'))",
            1, v);
    }
    srtest_sql(f->db,
        "INSERT INTO metrics (time, agent_id, name, dim, value) VALUES (now() - interval '100 days', 'h1', 'x', '', 1)",
        0, NULL);
    char msg[512];
    run_job(f->db, &sr_jobs_events_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "dropped 2 event chunks");
    assert_int_equal(srtest_sql_i64(f->db, "SELECT count(*) FROM events", 0, NULL), 3);
    assert_int_equal(
        srtest_sql_i64(f->db, "SELECT count(*) FROM events WHERE time < now() - interval '90 days'", 0, NULL),
        0);
    assert_int_equal(srtest_sql_i64(f->db,
                             "SELECT count(*) FROM events WHERE time BETWEEN now() - interval '89 days 1 minute' "
                             "AND now() - interval '88 days'",
                             0, NULL),
                     1);
    /* other tables are not touched */
    assert_int_equal(srtest_sql_i64(f->db, "SELECT count(*) FROM metric_points", 0, NULL), 1);
    run_job(f->db, &sr_jobs_events_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "dropped 0 event chunks");
}

static void test_row_retention(void **state) {
    fixture *f = *state;
    PGconn *db = f->db;
    /* more old keys than one delete statement takes */
    srtest_sql(db,
        "INSERT INTO ingest_batches (agent_id, epoch, seq, committed_at) SELECT 'a1', 1, g, now() - interval '8 days' "
        "FROM generate_series(1, 10500) g",
        0, NULL);
    srtest_sql(db, "INSERT INTO ingest_batches (agent_id, epoch, seq, committed_at) VALUES ('a1', 2, 1, now() - "
            "interval '6 days'), ('a2', 1, 1, now())",
        0, NULL);
    srtest_sql(db,
        "INSERT INTO dead_letters (received_at, reason) VALUES (now() - interval '31 days', 'old'), "
        "(now() - interval '1 day', 'new')",
        0, NULL);
    srtest_sql(db,
        "INSERT INTO commands (command_id, agent_id, type, deadline_at, status, updated_at) VALUES "
        "('c-old-done', 'a1', 'ping', now(), 'succeeded', now() - interval '31 days'), "
        "('c-old-failed', 'a1', 'ping', now(), 'expired', now() - interval '40 days'), "
        "('c-old-open', 'a1', 'ping', now(), 'pending', now() - interval '31 days'), "
        "('c-new-done', 'a1', 'ping', now(), 'failed', now() - interval '1 day')",
        0, NULL);
    char msg[512];
    run_job(db, &sr_jobs_ingest_batches_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "deleted 10500 ingest_batches rows");
    assert_int_equal(srtest_sql_i64(db, "SELECT count(*) FROM ingest_batches", 0, NULL), 2);
    run_job(db, &sr_jobs_dead_letters_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "deleted 1 dead letters");
    char left[128];
    sql_text(db, "SELECT string_agg(reason, ',') FROM dead_letters", 0, NULL, left, sizeof(left));
    assert_string_equal(left, "new");
    run_job(db, &sr_jobs_commands_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "deleted 2 finished commands");
    sql_text(db, "SELECT string_agg(command_id, ',' ORDER BY command_id) FROM commands", 0, NULL, left, sizeof(left));
    assert_string_equal(left, "c-new-done,c-old-open");
    run_job(db, &sr_jobs_ingest_batches_retention, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "deleted 0 ingest_batches rows");
}

static void test_search_stats_hook(void **state) {
    fixture *f = *state;
    char msg[512];
    /* the migrations may provide the function (0006): set it aside for the missing case */
    int provided = search_stats_function_exists(f->db);
    if (provided)
        srtest_sql(f->db, "ALTER FUNCTION search_stats_refresh(integer) RENAME TO search_stats_refresh_provided", 0,
                   NULL);
    run_job(f->db, &sr_jobs_search_stats_refresh, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "skipped: function search_stats_refresh(integer) missing");
    /* once a function exists, the job calls it with sample_rows */
    srtest_sql(f->db, "CREATE TABLE search_stats_calls (sample_rows integer)", 0, NULL);
    srtest_sql(f->db,
        "CREATE FUNCTION search_stats_refresh(sample_rows integer) RETURNS void LANGUAGE sql AS "
        "$$ INSERT INTO search_stats_calls VALUES (sample_rows) $$",
        0, NULL);
    run_job(f->db, &sr_jobs_search_stats_refresh, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "refreshed (sample_rows 1234)");
    assert_int_equal(srtest_sql_i64(f->db, "SELECT sum(sample_rows) FROM search_stats_calls", 0, NULL), 1234);
    /* a failing function is the job's failure */
    srtest_sql(f->db, "DROP FUNCTION search_stats_refresh(integer)", 0, NULL);
    srtest_sql(f->db,
        "CREATE FUNCTION search_stats_refresh(sample_rows integer) RETURNS bigint LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'stats broken'; END $$",
        0, NULL);
    run_job(f->db, &sr_jobs_search_stats_refresh, "error", msg, sizeof(msg));
    if (!strstr(msg, "stats broken"))
        fail_msg("%s", msg);
    srtest_sql(f->db, "DROP FUNCTION search_stats_refresh(integer)", 0, NULL);
    srtest_sql(f->db, "DROP TABLE search_stats_calls", 0, NULL);
    if (!provided)
        return;
    /* the function of the migrations, on two events */
    srtest_sql(f->db, "ALTER FUNCTION search_stats_refresh_provided(integer) RENAME TO search_stats_refresh", 0, NULL);
    for (int i = 0; i < 2; i++)
        srtest_sql(f->db,
            "INSERT INTO events (time, id, source_type, message, search) VALUES "
            "(now(), gen_random_uuid(), 'syslog', 'sshd accepted', to_tsvector('simple', 'sshd accepted'))",
            0, NULL);
    run_job(f->db, &sr_jobs_search_stats_refresh, "ok", msg, sizeof(msg));
    assert_string_equal(msg, "refreshed (sample_rows 1234): 2");
}

int main(void) {
    srtest_http_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rollup_retention_and_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_runners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_stats_hook, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    srtest_http_cleanup();
    return rc;
}
