/* Internals shared by the sr_logparse modules: text slices, record building, the header
 * parser, the semantic handlers and the sshd connection table. */
#pragma once
#include "sr_logparse.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A slice of the record's sanitized text (not NUL-terminated in general). */
typedef struct {
    const char *p;
    size_t n;
} sr_logparse_sl;

sr_logparse_sl sr_logparse_sl_make(const char *p, size_t n);
bool sr_logparse_sl_starts(sr_logparse_sl s, const char *prefix);
bool sr_logparse_sl_ends(sr_logparse_sl s, const char *suffix);
bool sr_logparse_sl_eq(sr_logparse_sl s, const char *str);
/* Index of the first / last occurrence of needle in s at or after from, or -1. */
long sr_logparse_sl_find(sr_logparse_sl s, size_t from, const char *needle);
long sr_logparse_sl_rfind(sr_logparse_sl s, const char *needle);
sr_logparse_sl sr_logparse_sl_sub(sr_logparse_sl s, size_t from, size_t to);
sr_logparse_sl sr_logparse_sl_after(sr_logparse_sl s, size_t from);
sr_logparse_sl sr_logparse_sl_trim(sr_logparse_sl s);
/* Parses a run of 1..9 decimal digits that is the whole slice. */
bool sr_logparse_sl_uint(sr_logparse_sl s, uint32_t max, uint32_t *ret);

/* Copies s (cut at a UTF-8 boundary to at most max - 1 bytes) into the record's store; "" when
 * the store is full. */
const char *sr_logparse_rec_copy(sr_logparse_record *rec, sr_logparse_sl s, size_t max);
/* Adds (or replaces) a field; key must be a string literal. Silently dropped when the record
 * holds SR_LOGPARSE_FIELDS_MAX fields. */
void sr_logparse_rec_field(sr_logparse_record *rec, const char *key, sr_logparse_sl value);
void sr_logparse_rec_field_str(sr_logparse_record *rec, const char *key, const char *value);
void sr_logparse_rec_user(sr_logparse_record *rec, sr_logparse_sl user);
/* Sets the source address: an IP address (IPv4-mapped IPv6 becomes IPv4, brackets dropped)
 * goes to src_ip in canonical form; a DNS name to the field "src_host". Returns false (nothing
 * set) for anything else. */
bool sr_logparse_rec_src(sr_logparse_record *rec, sr_logparse_sl host);
/* True when s is an IP address or a plausible host name (what rec_src would accept). */
bool sr_logparse_host_ok(sr_logparse_sl s);

/* Semantic handlers; each returns true when it recognised the message. body is the message
 * without a Solaris "[ID n facility.severity]" prefix. */
bool sr_logparse_pam(sr_logparse_record *rec, sr_logparse_sl body, sr_logparse_sl tag_module);
bool sr_logparse_sudo(sr_logparse_record *rec, sr_logparse_sl body);
bool sr_logparse_su(sr_logparse_record *rec, sr_logparse_sl body);
bool sr_logparse_accounts(sr_logparse_record *rec, sr_logparse_sl prog, sr_logparse_sl body);
bool sr_logparse_sshd(sr_logparse_record *rec, sr_logparse_sl body);

/* Time: parses a timestamp at the start of s. Returns the bytes consumed (0: none) and writes the
 * time in ms. */
size_t sr_logparse_time_rfc3164(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t ref_ms, int64_t *ret_ms);
size_t sr_logparse_time_iso(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t *ret_ms);
size_t sr_logparse_time_year_first(sr_logparse_sl s, const sr_logparse_tz *tz, int64_t *ret_ms);

/* The sshd connection table. */
typedef struct sr_logparse_conns sr_logparse_conns;
sr_logparse_conns *sr_logparse_conns_new(size_t cap);
sr_logparse_conns *sr_logparse_conns_free(sr_logparse_conns *c);
/* Links rec (an sshd record with an ssh_* action) to its connection: remembers the address it
 * names, gives it the remembered one when it names none, and turns a failure that named no
 * address into a failure reported on the line that names it. */
void sr_logparse_conns_apply(sr_logparse_conns *c, sr_logparse_record *rec);

/* rec->flags_ bits set by the sshd handler for the connection table. */
#define SR_LOGPARSE_F_CONN_END 1u /* the connection is over (closed, reset, disconnected) */
#define SR_LOGPARSE_F_SRC_SET 2u  /* the line itself named the source address */
