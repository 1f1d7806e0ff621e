/* Rows of the events table (migrations/0004_events.sql) and their text COPY encoding, the
 * severity scale shared by every source, deterministic event ids, and the conversion of one
 * agent LogRecord into an event. Pure (no I/O): unit tested and fuzzed. The Falco conversion
 * is in sr_falco.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serviceradar/agent/v1/agent.pb-c.h"

/* Normalized severity (events.severity). */
enum {
    SR_SEV_UNKNOWN = 0,
    SR_SEV_INFO = 1,
    SR_SEV_LOW = 2,
    SR_SEV_MEDIUM = 3,
    SR_SEV_HIGH = 4,
    SR_SEV_CRITICAL = 5,
};

/* Growable text buffer with a cap. */
typedef struct {
    char *data;
    size_t len, cap, max;
} sr_evbuf;

void sr_evbuf_init(sr_evbuf *b, size_t max);
void sr_evbuf_reset(sr_evbuf *b);
void sr_evbuf_done(sr_evbuf *b);
/* Appends len bytes and keeps a terminating NUL after them. 0, -ENOBUFS (cap) or -ENOMEM; on
 * failure b->len is unchanged. */
int sr_evbuf_put(sr_evbuf *b, const char *s, size_t len);
int sr_evbuf_puts(sr_evbuf *b, const char *s);

/* A flat JSON object built key by key ({"k":"v",...}); keys and values must be valid UTF-8. */
int sr_evbuf_json_begin(sr_evbuf *b);
int sr_evbuf_json_str(sr_evbuf *b, const char *key, const char *val, size_t vlen);
/* val is already JSON text (a number, an array, ...). */
int sr_evbuf_json_raw(sr_evbuf *b, const char *key, const char *json, size_t jlen);
int sr_evbuf_json_end(sr_evbuf *b);

/* One event row. Strings are borrowed; NULL (or "" for the optional text columns) is stored as
 * SQL NULL, except host, severity_text and message which are never NULL. */
typedef struct {
    int64_t time_us; /* Unix microseconds */
    uint8_t id[16];
    const char *host;
    const char *agent_id;
    const char *source_type;
    int severity; /* SR_SEV_* */
    const char *severity_text;
    const char *program;
    int64_t pid; /* <= 0: NULL */
    const char *user_name;
    const char *src_ip; /* canonical inet text, or NULL */
    const char *outcome, *action, *rule;
    const char *message;
    const char *fields; /* JSON object text; NULL: {} */
    size_t fields_len;
    const char *const *tags;
    size_t n_tags;
    const char *search_text; /* the text the search vector is built from */
    size_t search_len;
} sr_event;

/* The columns of the COPY statement, in the order sr_event_encode writes them. */
#define SR_EVENT_COPY_COLUMNS                                                                                          \
    "time, id, host, agent_id, source_type, severity, severity_text, program, pid, user_name, src_ip, outcome, "     \
    "action, rule, message, fields, tags, search"

/* Scratch buffers of one worker, reused for every event. */
typedef struct {
    sr_evbuf fields, search, tsv, tags;
    char src_ip[64];
} sr_event_scratch;

void sr_event_scratch_init(sr_event_scratch *s);
void sr_event_scratch_done(sr_event_scratch *s);

/* Appends ev as one line of COPY text format to out (the search vector made from
 * ev->search_text by src/lib/search). 0, -ENOBUFS (out's cap), -ENOMEM or -EINVAL (the
 * tokenizer refused the text); on failure out->len is unchanged. */
int sr_event_encode(sr_evbuf *out, const sr_event *ev, sr_event_scratch *s);

/* Syslog severity (0..7, -1 unknown) to the normalized scale: 0-2 critical, 3 high, 4 medium,
 * 5 low, 6-7 info, anything else unknown. *ret_text (when set) gets the syslog keyword
 * (emerg, alert, crit, err, warning, notice, info, debug) or "". */
int sr_event_syslog_severity(int syslog_severity, const char **ret_text);

/* Checks that s is an IPv4 or IPv6 address and writes its canonical text into out (at least
 * 46 bytes). 0 or -EINVAL. */
int sr_event_inet(const char *s, char *out, size_t outlen);
/* True for loopback, unspecified, link-local and multicast addresses (canonical text). */
bool sr_event_inet_is_local(const char *canonical);

/* A deterministic id (RFC 9562 version 8 layout) from a namespace word and key bytes. */
void sr_event_id(const char *ns, const void *key, size_t keylen, uint8_t out[16]);

/* The event of record index of a LogsBatch: time, host (record's, else batch_host), agent_id,
 * source_type = record source, severity (syslog mapping; a failed authentication is at least
 * low), program, pid, user, src_ip (validated: an invalid one is NULL and kept as the field
 * "src_ip"), outcome, action, message (raw when the record has none), fields (the record's own
 * plus log.path, log.raw when it differs from the message, src_port, facility), the search text
 * and the id from (agent_id, epoch, seq, index). Strings of ev borrow from rec, agent_id and s.
 * 0 or -ENOBUFS/-ENOMEM (scratch caps). */
int sr_event_from_log(const Serviceradar__Agent__V1__LogRecord *rec, const char *batch_host, const char *agent_id,
                      uint64_t epoch, uint64_t seq, size_t index, sr_event_scratch *s, sr_event *ev);
