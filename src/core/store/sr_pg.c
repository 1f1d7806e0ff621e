#include "sr_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sr_cleanup.h"

#define SR_PG_MAX_PARAMS 64

static void quiet_notices(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

void sr_pg_errmsg(PGconn *c, const PGresult *res, char *err, size_t errlen) {
    if (!err || errlen == 0)
        return;
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if ((!m || !*m) && c)
        m = PQerrorMessage(c);
    if (!m || !*m)
        m = "unknown error";
    snprintf(err, errlen, "%s", m);
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

PGconn *sr_pg_close(PGconn *c) {
    if (c)
        PQfinish(c);
    return NULL;
}

int sr_pg_connect(const char *conninfo, PGconn **ret, char *err, size_t errlen) {
    PGconn *c = PQconnectdb(conninfo);
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        sr_pg_errmsg(c, NULL, err, errlen);
        PQfinish(c);
        return -ECONNREFUSED;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    *ret = c;
    return 0;
}

int sr_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen) {
    _cleanup_pgresult_ PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    sr_pg_errmsg(c, res, err, errlen);
    return -EIO;
}

int sr_pg_is_data_error(const PGresult *res) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || strlen(state) != 5)
        return 0;
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 || strncmp(state, "54", 2) == 0;
}

static const char SQL_DB_EXISTS[] = "SELECT 1 FROM pg_database WHERE datname = $1";

static int create_if_missing(const char *const *keys, const char *const *vals, const char *dbname, char *err,
                             size_t errlen) {
    _cleanup_pgconn_ PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        sr_pg_errmsg(c, NULL, err, errlen);
        return -ECONNREFUSED;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    const char *params[1] = {dbname};
    _cleanup_pgresult_ PGresult *res = PQexecParams(c, SQL_DB_EXISTS, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sr_pg_errmsg(c, res, err, errlen);
        return -EIO;
    }
    if (PQntuples(res) > 0)
        return 0;
    /* CREATE DATABASE takes no parameters: the name goes in as a quoted identifier. */
    char *ident = PQescapeIdentifier(c, dbname, strlen(dbname));
    if (!ident) {
        sr_pg_errmsg(c, NULL, err, errlen);
        return -EINVAL;
    }
    char sql[512];
    int len = snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
    PQfreemem(ident);
    if (len < 0 || (size_t)len >= sizeof(sql))
        return -ENAMETOOLONG;
    _cleanup_pgresult_ PGresult *cres = PQexec(c, sql);
    if (PQresultStatus(cres) == PGRES_COMMAND_OK)
        return 0;
    const char *state = PQresultErrorField(cres, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P04") == 0) /* created meanwhile by another core */
        return 0;
    sr_pg_errmsg(c, cres, err, errlen);
    return -EIO;
}

int sr_pg_ensure_database(const char *conninfo, char *err, size_t errlen) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        if (err && errlen)
            snprintf(err, errlen, "invalid conninfo: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return -EINVAL;
    }
    const char *keys[SR_PG_MAX_PARAMS + 2];
    const char *vals[SR_PG_MAX_PARAMS + 2];
    size_t n = 0;
    const char *dbname = NULL;
    for (PQconninfoOption *o = opts; o->keyword && n < SR_PG_MAX_PARAMS; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "dbname") == 0) {
            dbname = o->val;
            continue;
        }
        keys[n] = o->keyword;
        vals[n] = o->val;
        n++;
    }
    int r = 0;
    /* No dbname (libpq then uses the user name) or the maintenance database: nothing to do. */
    if (dbname && *dbname && strcmp(dbname, "postgres") != 0) {
        keys[n] = "dbname";
        vals[n] = "postgres";
        keys[n + 1] = NULL;
        vals[n + 1] = NULL;
        r = create_if_missing(keys, vals, dbname, err, errlen);
    }
    PQconninfoFree(opts);
    return r;
}
