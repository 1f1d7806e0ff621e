/* Checked number parsing: the whole string must be a number within bounds. */
#pragma once
#include <stdint.h>

/* Each returns 0 and writes *ret, or -EINVAL (not a number, trailing junk) / -ERANGE. */
int sr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
int sr_parse_u64(const char *s, uint64_t *ret);
int sr_parse_double(const char *s, double *ret);
/* "true/false/yes/no/on/off/1/0". */
int sr_parse_bool(const char *s, int *ret);
/* Durations: "500ms", "15s", "2m", "1h", a bare number is seconds. Result in ms. */
int sr_parse_duration_ms(const char *s, int64_t *ret);
/* Sizes: "512", "64k", "100M", "2G" (powers of 1024). Result in bytes. */
int sr_parse_size(const char *s, uint64_t *ret);
