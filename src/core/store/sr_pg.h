/* PostgreSQL connection helpers for the core (libpq). Nothing here logs: errors come back as
 * a negative errno plus, where asked for, a message in a caller buffer. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>

/* Connects with a libpq conninfo string; notices are discarded (not printed to stderr).
 * Returns 0 and *ret, or -ECONNREFUSED with the libpq message in err. */
int sr_pg_connect(const char *conninfo, PGconn **ret, char *err, size_t errlen);
/* Creates the database named by conninfo's dbname when it does not exist, connecting to the
 * maintenance database "postgres" with the same other parameters. 0 or a negative errno. */
int sr_pg_ensure_database(const char *conninfo, char *err, size_t errlen);
/* Runs one statement without parameters, expecting no rows (or rows to discard).
 * 0, or -EIO with the server's message in err. */
int sr_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);
/* Copies the last error of c (or of res, when given) into err without the trailing newline. */
void sr_pg_errmsg(PGconn *c, const PGresult *res, char *err, size_t errlen);
/* 1 when the SQLSTATE of res says the data was at fault (classes 22, 23, 54): retrying the same
 * rows will fail again. 0 for connection, resource and other transient errors. */
int sr_pg_is_data_error(const PGresult *res);
/* PQfinish that accepts NULL and returns NULL. */
PGconn *sr_pg_close(PGconn *c);

static inline void sr_pg_closep(PGconn **c) { sr_pg_close(*c); }
static inline void sr_pg_clearp(PGresult **r) {
    if (*r)
        PQclear(*r);
}
#define _cleanup_pgconn_ __attribute__((cleanup(sr_pg_closep)))
#define _cleanup_pgresult_ __attribute__((cleanup(sr_pg_clearp)))
