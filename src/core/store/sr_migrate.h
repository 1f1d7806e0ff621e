/* Schema migrations: numbered SQL files NNNN_name.sql in one directory, applied in order.
 *
 * Each file runs in its own transaction and is recorded in schema_migrations(version, name,
 * checksum (sha256, hex), applied_at). The whole run holds a session advisory lock, so cores
 * starting together apply each file once. A file already applied whose checksum changed is
 * refused (-EBADMSG) before anything new runs: applied migrations are immutable. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>

#define SR_MIGRATE_MAX_FILES 1000
#define SR_MIGRATE_MAX_FILE_SIZE (4 * 1024 * 1024)
/* Key of the advisory lock held while migrating ("srmigrat" in ASCII). */
#define SR_MIGRATE_LOCK_KEY 0x73726d6967726174LL

/* Applies every pending migration in dir. *ret_applied (may be NULL) gets how many ran.
 * Returns 0, -EBADMSG (an applied file changed), -EINVAL (bad file name, duplicate version),
 * -ENOENT (no such directory), -EIO (the database refused; see sr_migrate_apply_err). */
int sr_migrate_apply(PGconn *c, const char *dir, int *ret_applied);
/* The same, with a message naming the file and the reason in err on failure. */
int sr_migrate_apply_err(PGconn *c, const char *dir, int *ret_applied, char *err, size_t errlen);
