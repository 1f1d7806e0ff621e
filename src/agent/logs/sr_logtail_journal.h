/* sr_logtail_journal: reads the systemd journal (sd-journal) for sr_logtail: entries in order,
 * their fields as an sr_logparse_header plus MESSAGE, and cursors for the offsets file.
 * Built when the build has libsystemd (SR_JOURNALD); without it sr_logjournal_open returns
 * -EOPNOTSUPP. Not thread-safe. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_logparse.h"

#define SR_LOGJOURNAL_CURSOR_MAX 1024 /* bytes of a cursor kept in the offsets file */

typedef struct sr_logjournal sr_logjournal;

/* True when the build can read the journal. */
bool sr_logjournal_supported(void);
/* True when dir (NULL or "": the system journal, /var/log/journal or /run/log/journal) exists. */
bool sr_logjournal_present(const char *dir);

/* Opens the local system journal (dir NULL or "") or the journal files of dir. 0 or a negative
 * errno with err. */
int sr_logjournal_open(const char *dir, sr_logjournal **ret, char *err, size_t errlen);
sr_logjournal *sr_logjournal_free(sr_logjournal *j);

/* Positions the reader: after the entry cursor names (that entry is not read again; when it is
 * gone, at the entry nearest to it, which is read), else at the head (from_start) or after the
 * last entry. 0 or a negative errno with err. */
int sr_logjournal_seek(sr_logjournal *j, const char *cursor, bool from_start, char *err, size_t errlen);

typedef struct {
    sr_logparse_header h;
    const char *message; /* MESSAGE, not NUL-terminated; a longer one may come cut past
                          * SR_LOGPARSE_RAW_MAX bytes (the parser cuts it and marks it) */
    size_t message_len;
} sr_logjournal_entry;

/* Moves to the next entry and fills *ret (valid until the next call). 1: an entry, 0: no more
 * for now, negative errno. sr_logjournal_unread makes the next call return the same entry. */
int sr_logjournal_next(sr_logjournal *j, sr_logjournal_entry *ret);
void sr_logjournal_unread(sr_logjournal *j);
/* The cursor of the entry last returned (malloc'ed) or -EADDRNOTAVAIL when none. */
int sr_logjournal_cursor(sr_logjournal *j, char **ret);
/* Takes notice of journal files added, rotated or removed (call before reading). */
void sr_logjournal_refresh(sr_logjournal *j);

/* The source of a journal record: "auth" when the facility is auth (4) or authpriv (10) or the
 * program is an authentication program (sshd, sshd-session, sshd-auth, sudo, su, login,
 * systemd-logind, passwd, chpasswd, useradd, userdel, usermod, groupadd, groupdel, unix_chkpwd),
 * else "journald". */
const char *sr_logjournal_source(const char *program, int facility);
