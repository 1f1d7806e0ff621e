#include "sr_migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_parse.h"
#include "sr_pg.h"

typedef struct {
    int version;
    char name[128];     /* without the version prefix and ".sql" */
    char file[160];     /* file name inside dir */
} migration;

static const char SQL_LOCK[] = "SELECT pg_advisory_lock($1::bigint)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::bigint)";
static const char SQL_CREATE_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version integer PRIMARY KEY,"
                                       " name text NOT NULL,"
                                       " checksum text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_APPLIED[] = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char SQL_RECORD[] = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2, $3)";

/* "0002_hosts_metrics.sql" -> version 2, name "hosts_metrics". 0, or -EINVAL for other names
 * (which the caller skips when they do not look like migrations at all). */
static int parse_name(const char *file, migration *m) {
    size_t len = strlen(file);
    if (len < 10 || len >= sizeof(m->file) || strcmp(file + len - 4, ".sql") != 0)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)file[i]))
            return -EINVAL;
    if (file[4] != '_')
        return -EINVAL;
    size_t nlen = len - 9;
    if (nlen == 0 || nlen >= sizeof(m->name))
        return -EINVAL;
    for (size_t i = 5; i < len - 4; i++) {
        char ch = file[i];
        if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_'))
            return -EINVAL;
    }
    char num[5];
    memcpy(num, file, 4);
    num[4] = '\0';
    int64_t v;
    if (sr_parse_i64(num, 1, 9999, &v) < 0)
        return -EINVAL;
    m->version = (int)v;
    memcpy(m->name, file + 5, nlen);
    m->name[nlen] = '\0';
    memcpy(m->file, file, len + 1);
    return 0;
}

static int cmp_version(const void *a, const void *b) {
    const migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static int list_dir(const char *dir, migration **ret, size_t *ret_n, char *err, size_t errlen) {
    DIR *d = opendir(dir); /* opendir uses O_CLOEXEC */
    if (!d) {
        int r = -errno;
        sr_errf(err, errlen, "could not open migrations directory %s: %s", dir, strerror(-r));
        return r;
    }
    migration *list = calloc(SR_MIGRATE_MAX_FILES, sizeof(*list));
    if (!list) {
        closedir(d);
        return -ENOMEM;
    }
    size_t n = 0;
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *f = e->d_name;
        size_t len = strlen(f);
        if (len < 4 || strcmp(f + len - 4, ".sql") != 0)
            continue; /* READMEs and editor files are not migrations */
        if (n == SR_MIGRATE_MAX_FILES) {
            sr_errf(err, errlen, "too many migrations in %s", dir);
            r = -E2BIG;
            break;
        }
        if (parse_name(f, &list[n]) < 0) {
            sr_errf(err, errlen, "bad migration file name %s (want NNNN_lower_name.sql) in %s", f, dir);
            r = -EINVAL;
            break;
        }
        n++;
    }
    closedir(d);
    if (r == 0) {
        qsort(list, n, sizeof(*list), cmp_version);
        for (size_t i = 1; i < n; i++) {
            if (list[i].version == list[i - 1].version) {
                sr_errf(err, errlen, "duplicate migration version: %s and %s", list[i - 1].file, list[i].file);
                r = -EINVAL;
                break;
            }
        }
    }
    if (r < 0) {
        free(list);
        return r;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

static int sha256_hex(const char *data, size_t len, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -EIO;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int exec_params(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen,
                       const char *what) {
    _cleanup_pgresult_ PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    char msg[512];
    sr_pg_errmsg(c, res, msg, sizeof(msg));
    sr_errf(err, errlen, "could not %s: %s", what, msg);
    return -EIO;
}

static int apply_one(PGconn *c, const char *dir, const migration *m, const char *sql, const char *sum, char *err,
                     size_t errlen) {
    char msg[512];
    if (sr_pg_exec(c, "BEGIN", msg, sizeof(msg)) < 0) {
        sr_errf(err, errlen, "could not begin transaction: %s", msg);
        return -EIO;
    }
    _cleanup_pgresult_ PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        sr_pg_errmsg(c, res, msg, sizeof(msg));
        char where[512];
        snprintf(where, sizeof(where), "%s/%s", dir, m->file);
        sr_errf(err, errlen, "migration %s failed: %s", where, msg);
        (void)sr_pg_exec(c, "ROLLBACK", NULL, 0);
        return -EIO;
    }
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[3] = {version, m->name, sum};
    int r = exec_params(c, SQL_RECORD, 3, params, err, errlen, "record migration");
    if (r == 0 && sr_pg_exec(c, "COMMIT", msg, sizeof(msg)) < 0) {
        sr_errf(err, errlen, "could not commit migration %s: %s", m->file, msg);
        r = -EIO;
    }
    if (r < 0)
        (void)sr_pg_exec(c, "ROLLBACK", NULL, 0);
    return r;
}

#define MIGRATION_PATH_MAX 4096

/* Reads dir/m->file (its name into path, for messages) and hashes it into sum; the text goes to
 * *ret_sql when asked for (caller frees). */
static int read_hashed(const char *dir, const migration *m, char path[MIGRATION_PATH_MAX], char **ret_sql,
                       char sum[65], char *err, size_t errlen) {
    int pl = snprintf(path, MIGRATION_PATH_MAX, "%s/%s", dir, m->file);
    if (pl < 0 || (size_t)pl >= MIGRATION_PATH_MAX)
        return -ENAMETOOLONG;
    _cleanup_free_ char *sql = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, SR_MIGRATE_MAX_FILE_SIZE, &sql, &len);
    if (r < 0) {
        sr_errf(err, errlen, "could not read migration %s: %s", path, strerror(-r));
        return r;
    }
    if (sha256_hex(sql, len, sum) < 0)
        return -EIO;
    if (ret_sql)
        *ret_sql = SR_TAKE_PTR(sql);
    return 0;
}

/* Runs with the advisory lock held. */
static int apply_locked(PGconn *c, const char *dir, const migration *list, size_t n, int *applied, char *err,
                        size_t errlen) {
    char msg[512];
    if (sr_pg_exec(c, SQL_CREATE_TABLE, msg, sizeof(msg)) < 0) {
        sr_errf(err, errlen, "could not create schema_migrations: %s", msg);
        return -EIO;
    }
    _cleanup_pgresult_ PGresult *done = PQexec(c, SQL_APPLIED);
    if (PQresultStatus(done) != PGRES_TUPLES_OK) {
        sr_pg_errmsg(c, done, msg, sizeof(msg));
        sr_errf(err, errlen, "could not read schema_migrations: %s", msg);
        return -EIO;
    }
    int rows = PQntuples(done);

    /* Pass 1: hash every file and check the applied ones, before changing anything. */
    _cleanup_free_ char(*sums)[65] = calloc(n ? n : 1, sizeof(*sums));
    _cleanup_free_ int *is_applied = calloc(n ? n : 1, sizeof(int));
    if (!sums || !is_applied)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char path[MIGRATION_PATH_MAX];
        int r = read_hashed(dir, &list[i], path, NULL, sums[i], err, errlen);
        if (r < 0)
            return r;
        for (int row = 0; row < rows; row++) {
            int64_t v;
            if (sr_parse_i64(PQgetvalue(done, row, 0), 0, INT32_MAX, &v) < 0 || v != list[i].version)
                continue;
            is_applied[i] = 1;
            if (strcmp(PQgetvalue(done, row, 2), sums[i]) != 0) {
                sr_errf(err, errlen,
                        "migration %s was changed after it was applied (checksum %s differs from the recorded one); "
                        "add a new migration instead",
                        path, sums[i]);
                return -EBADMSG;
            }
        }
    }
    /* Pass 2: apply the pending ones in order, each in its own transaction. */
    for (size_t i = 0; i < n; i++) {
        if (is_applied[i])
            continue;
        char path[MIGRATION_PATH_MAX];
        _cleanup_free_ char *sql = NULL;
        char sum[65];
        int r = read_hashed(dir, &list[i], path, &sql, sum, err, errlen);
        if (r < 0)
            return r;
        if (strcmp(sum, sums[i]) != 0) {
            sr_errf(err, errlen, "migration %s changed while migrating", path);
            return -EBADMSG;
        }
        r = apply_one(c, dir, &list[i], sql, sum, err, errlen);
        if (r < 0)
            return r;
        (*applied)++;
    }
    return 0;
}

int sr_migrate_apply_err(PGconn *c, const char *dir, int *ret_applied, char *err, size_t errlen) {
    if (!c || !dir)
        return -EINVAL;
    _cleanup_free_ migration *list = NULL;
    size_t n = 0;
    int r = list_dir(dir, &list, &n, err, errlen);
    if (r < 0)
        return r;

    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)SR_MIGRATE_LOCK_KEY);
    const char *params[1] = {key};
    r = exec_params(c, SQL_LOCK, 1, params, err, errlen, "take the migration lock");
    if (r < 0)
        return r;
    int applied = 0;
    r = apply_locked(c, dir, list, n, &applied, err, errlen);
    /* On a broken connection the lock went with the session; otherwise release it. */
    if (PQstatus(c) == CONNECTION_OK)
        (void)exec_params(c, SQL_UNLOCK, 1, params, NULL, 0, "release the migration lock");
    if (r < 0)
        return r;
    if (ret_applied)
        *ret_applied = applied;
    return 0;
}

int sr_migrate_apply(PGconn *c, const char *dir, int *ret_applied) {
    return sr_migrate_apply_err(c, dir, ret_applied, NULL, 0);
}
