/* A small pool of PostgreSQL connections for the API's request threads: one slot per
 * thread, connected lazily, reconnected after a failure. Internal to sr_core_api. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>

typedef struct sr_api_pool sr_api_pool;

/* Returns 0, -EINVAL or -ENOMEM. Connects nothing yet. */
int sr_api_pool_new(const char *conninfo, int size, sr_api_pool **ret);
sr_api_pool *sr_api_pool_free(sr_api_pool *pool);

/* Takes a connected connection, waiting at most timeout_ms for a free slot (-ETIMEDOUT).
 * -ECONNREFUSED when the database cannot be reached (reason in err). Give it back with
 * sr_api_pool_release(). */
int sr_api_pool_acquire(sr_api_pool *pool, int timeout_ms, PGconn **ret, char *err, size_t errlen);
/* Returns a connection; a broken one (or one left inside a transaction) is closed and
 * reconnected on the next acquire. Accepts NULL. */
void sr_api_pool_release(sr_api_pool *pool, PGconn *conn);
