/* sr_logparse: one syslog line -> header fields (time, host, program, pid, severity, facility,
 * message) and authentication semantics (user, source address, outcome, action, extra fields)
 * for sshd, PAM, sudo, su and useradd/groupadd.
 *
 * Formats: RFC 3164 ("Mmm dd hh:mm:ss host prog[pid]: msg", optional "<PRI>", also with a
 * leading year or fraction of a second), RFC 5424 ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD
 * MSG") and ISO-8601 lines as rsyslog writes them ("2024-01-01T00:00:00.123456+00:00 host
 * prog[pid]: msg"). Lines in no known format keep the whole text as message.
 *
 * A parser keeps a small, bounded table of sshd connections (host, pid -> remote address), so a
 * line that does not name the address ("Disconnecting: Too many authentication failures") is
 * attributed to the address an earlier line of the same connection named. Use one parser per
 * log stream. Not thread-safe; no allocation per line. See docs/internals/logs.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_LOGPARSE_RAW_MAX 8192       /* bytes of raw (and so of message) kept */
#define SR_LOGPARSE_WORD_MAX 256       /* hostname, program, user (bytes with the NUL) */
#define SR_LOGPARSE_IP_MAX 64          /* src_ip (bytes with the NUL) */
#define SR_LOGPARSE_VALUE_MAX 4096     /* a field value (bytes with the NUL) */
#define SR_LOGPARSE_FIELDS_MAX 16

typedef enum {
    SR_LOGPARSE_TZ_UTC = 0, /* zone-less timestamps are UTC (default) */
    SR_LOGPARSE_TZ_OFFSET,  /* a fixed offset from UTC */
    SR_LOGPARSE_TZ_LOCAL,   /* the process's local zone (TZ, /etc/localtime), with DST */
} sr_logparse_tz_kind;

typedef struct {
    sr_logparse_tz_kind kind;
    int32_t offset_s; /* SR_LOGPARSE_TZ_OFFSET: seconds east of UTC */
} sr_logparse_tz;

/* Parses "UTC", "local" or an offset "+HH:MM" / "-HH:MM" / "+HHMM" (at most 14 hours).
 * Returns 0 or -EINVAL. */
int sr_logparse_tz_parse(const char *s, sr_logparse_tz *ret);

typedef struct {
    const char *key;
    const char *value;
} sr_logparse_field;

/* One parsed line. Every string is NUL-terminated valid UTF-8 (invalid bytes of the line became
 * U+FFFD), "" when absent, and owned by the record (valid until the next parse into it). */
typedef struct {
    int64_t time_unix_ms; /* from the line when has_time, else the read time passed in */
    bool has_time;
    const char *raw; /* the line without its end of line, sanitized, at most SR_LOGPARSE_RAW_MAX bytes */
    size_t raw_len;
    size_t orig_len; /* bytes of the line as given (raw_len differs when cut or sanitized) */
    const char *hostname;
    const char *program;
    uint32_t pid;    /* 0: none */
    int severity;    /* 0..7, -1 unknown */
    int facility;    /* 0..23, -1 unknown */
    const char *message; /* the text after "program[pid]: " */
    const char *user;
    const char *src_ip;  /* a valid IPv4 or IPv6 address in canonical form, or "" */
    uint16_t src_port;
    const char *outcome; /* "success", "failure" or "" */
    const char *action;  /* "ssh_login", "ssh_connect", "ssh_disconnect", "pam_auth", "pam_session", "sudo",
                          * "su", "user_add", "group_add", ... or "" */
    sr_logparse_field fields[SR_LOGPARSE_FIELDS_MAX];
    size_t n_fields;
    /* private: storage of the strings above */
    char store_[3 * SR_LOGPARSE_RAW_MAX + 4 * SR_LOGPARSE_WORD_MAX + 2048];
    size_t store_used_;
    unsigned flags_;
} sr_logparse_record;

typedef struct {
    sr_logparse_tz tz;
    size_t max_connections; /* sshd connection table entries; 0: 512 */
} sr_logparse_options;

typedef struct sr_logparse sr_logparse;

/* opts may be NULL (UTC, 512 connections). Returns 0, -EINVAL or -ENOMEM. */
int sr_logparse_new(const sr_logparse_options *opts, sr_logparse **ret);
sr_logparse *sr_logparse_free(sr_logparse *p);

/* Parses line[0..len) (any bytes; a trailing "\n" or "\r\n" is dropped) into rec. read_unix_ms is
 * when the line was read: the time of a line that carries none, and the reference for the year
 * of an RFC 3164 timestamp (a date more than 31 days after it belongs to the year before).
 * Never fails: a line in no known format becomes a record with only raw and message. */
void sr_logparse_line(sr_logparse *p, const char *line, size_t len, int64_t read_unix_ms, sr_logparse_record *rec);

/* Header fields that arrive apart from the message (journald). Strings may hold any bytes
 * (sanitized like a line); NULL or "" when absent. */
typedef struct {
    int64_t time_unix_ms;
    bool has_time;
    const char *hostname, *program; /* program "su(pam_unix)": the module goes to pam.module */
    uint32_t pid;                   /* 0: none */
    int severity, facility;         /* -1: unknown (out-of-range values too) */
} sr_logparse_header;

/* Parses a message whose header is already known: the same semantics as sr_logparse_line
 * (program selects the handler; the sshd connection table is shared with the lines of p).
 * message is msg[0..len) without trailing newlines, sanitized, at most SR_LOGPARSE_RAW_MAX bytes
 * (log.truncated when cut); raw is rendered "TIME host program[pid]: message" (TIME RFC 3339 in
 * UTC with milliseconds), at most SR_LOGPARSE_RAW_MAX bytes, and parses back with
 * sr_logparse_line to the same header. Never fails. */
void sr_logparse_message(sr_logparse *p, const sr_logparse_header *h, const char *msg, size_t len,
                         int64_t read_unix_ms, sr_logparse_record *rec);

/* The value of a field of rec, or NULL. */
const char *sr_logparse_field_get(const sr_logparse_record *rec, const char *key);
