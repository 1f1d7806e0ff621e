/* Real services for integration tests. Nothing is mocked and nothing skips: a missing
 * service is a test failure with a message that says what to start.
 *
 * Environment:
 *   SR_TEST_PG       libpq conninfo of a server the tests may create databases on
 *                    (default "host=127.0.0.1 port=55432 user=postgres dbname=postgres",
 *                    the dev database started by `make test`)
 *   SR_NATS_SERVER   path of the nats-server binary (default: nats-server on PATH) */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and writes its path into out. */
int srtest_tmpdir(char *out, size_t outlen);
/* Removes a directory tree (used on test teardown). */
void srtest_rmtree(const char *path);

typedef struct {
    pid_t pid;
    int port;
    char url[64];      /* nats://127.0.0.1:port */
    char dir[256];     /* store directory */
} srtest_nats;

/* Starts nats-server with JetStream on a free loopback port and waits until it accepts
 * connections (deadline 10 s). Returns 0 or a negative errno. */
int srtest_nats_start(srtest_nats *n);
/* Sends SIGTERM (SIGKILL when kill_hard) and reaps the server; the store stays unless removed. */
void srtest_nats_stop(srtest_nats *n, int kill_hard);
/* Restarts a stopped server on the same port and store. */
int srtest_nats_restart(srtest_nats *n);

/* Creates an empty database sr_test_<pid>_<n> and writes a conninfo for it into out. */
int srtest_pg_create_db(char *out, size_t outlen);
/* Drops the database named in conninfo (best effort). */
void srtest_pg_drop_db(const char *conninfo);

/* Returns a TCP port on 127.0.0.1 that was free a moment ago. */
int srtest_free_port(void);
/* Polls until connect() to 127.0.0.1:port succeeds or timeout_ms passes. 0 or -ETIMEDOUT. */
int srtest_wait_port(int port, int timeout_ms);

/* ---- SQL helpers for tests: each fails the running cmocka test on an error ---- */

/* Runs q with n text parameters; fails unless it returned COMMAND_OK or TUPLES_OK. */
PGresult *srtest_sqlr(PGconn *db, const char *q, int n, const char *const *vals);
/* srtest_sqlr, result discarded. */
void srtest_sql(PGconn *db, const char *q, int n, const char *const *vals);
/* The single value (exactly one row) of q as an integer; INT64_MIN when NULL. */
int64_t srtest_sql_i64(PGconn *db, const char *q, int n, const char *const *vals);

/* The first column of the first row of sql as an integer; -1 when NULL or no row. */
long srtest_pg_long(PGconn *pg, const char *sql);
/* The first column of the first row of sql as a string to free; "" when no row. */
char *srtest_pg_text(PGconn *pg, const char *sql);
/* Polls (every 25 ms) until srtest_pg_long(sql) returns want; fails after timeout_ms. */
void srtest_pg_wait_long(PGconn *pg, const char *sql, long want, int64_t timeout_ms);
