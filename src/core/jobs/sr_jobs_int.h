/* Helpers shared by the built-in jobs; not exported. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>

#include "sr_err.h"

/* Runs a statement with n text parameters that returns no rows (or rows to discard). 0, or -EIO
 * with "could not <what>: <server message>" in err. */
int sr_jobs_exec(PGconn *c, const char *sql, int n, const char *const *vals, const char *what, char *err,
                 size_t errlen);
/* The same for a statement that returns rows: 0 and *ret (the caller clears it), or -EIO. */
int sr_jobs_query(PGconn *c, const char *sql, int n, const char *const *vals, PGresult **ret, const char *what,
                  char *err, size_t errlen);
