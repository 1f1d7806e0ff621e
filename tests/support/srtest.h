/* Real services for integration tests. Nothing is mocked and nothing skips: a missing
 * service is a test failure with a message that says what to start.
 *
 * Environment:
 *   SR_TEST_PG       libpq conninfo of a server the tests may create databases on
 *                    (default "host=127.0.0.1 port=55432 user=postgres dbname=postgres",
 *                    the dev database started by `make test`)
 *   SR_NATS_SERVER   path of the nats-server binary (default: nats-server on PATH) */
#pragma once
#include <stddef.h>
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
