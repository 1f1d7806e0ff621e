/* Value checks of SRQL (srql_values.c). Internal to sr_srql. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRQL_RELATIVE_MAX_S (10LL * 366 * 86400) /* last_N ranges up to about ten years */

/* RFC 3339 ("2026-01-01T00:00:00Z", "2026-01-01T02:00:00.5+02:00"), years 1970..9999,
 * UTC offsets up to 15:59 (PostgreSQL's limit).
 * 0 and Unix seconds in *ret_s, or -1. */
int srql_time_parse(const char *s, size_t len, int64_t *ret_s);
/* last_<N><s|m|h|d|w> ("last_24h"): 0, the PostgreSQL interval text ("24 hours") and the
 * length in seconds; -1 when not one. */
int srql_relative_parse(const char *s, size_t len, char *interval, size_t ilen, int64_t *ret_s);
/* 8-4-4-4-12 hex digits. */
bool srql_uuid_valid(const char *s, size_t len);
/* An IPv4 or IPv6 address, optionally /prefix (0..32 or 0..128). 0 and *ret_net, or -1. */
int srql_ip_parse(const char *s, size_t len, bool *ret_net);
/* A decimal integer (optional '-') within [min, max]. */
bool srql_int_valid(const char *s, size_t len, int64_t min, int64_t max);
