/* Error messages into a caller's buffer: the convention of every function that takes
 * (char *err, size_t errlen). */
#pragma once
#include <stdarg.h>
#include <stddef.h>

/* Formats into err[0..errlen) (truncating); does nothing when err is NULL or errlen is 0. */
void sr_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sr_verrf(char *err, size_t errlen, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
