/* Logging for daemons and CLIs. Library code never logs: it returns errors and the
 * caller that decides what to do logs once, with context. */
#pragma once
#include <stdarg.h>

typedef enum { SR_LOG_DEBUG = 0, SR_LOG_INFO, SR_LOG_WARN, SR_LOG_ERROR } sr_log_level;

/* Sets the component name printed on each line (e.g. "agent") and the minimum level. */
void sr_log_init(const char *component, sr_log_level min_level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or -EINVAL. */
int sr_log_level_parse(const char *s, sr_log_level *ret);
void sr_log(sr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sr_debug(...) sr_log(SR_LOG_DEBUG, __VA_ARGS__)
#define sr_info(...) sr_log(SR_LOG_INFO, __VA_ARGS__)
#define sr_warn(...) sr_log(SR_LOG_WARN, __VA_ARGS__)
#define sr_error(...) sr_log(SR_LOG_ERROR, __VA_ARGS__)
