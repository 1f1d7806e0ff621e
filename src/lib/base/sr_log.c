#include "sr_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct {
    char component[32];
    sr_log_level min;
    pthread_mutex_t lock;
} log_state = {"serviceradar", SR_LOG_INFO, PTHREAD_MUTEX_INITIALIZER};

void sr_log_init(const char *component, sr_log_level min_level) {
    pthread_mutex_lock(&log_state.lock);
    snprintf(log_state.component, sizeof(log_state.component), "%s", component);
    log_state.min = min_level;
    pthread_mutex_unlock(&log_state.lock);
}

int sr_log_level_parse(const char *s, sr_log_level *ret) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *ret = (sr_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void sr_log(sr_log_level level, const char *fmt, ...) {
    static const char *const tags[] = {"debug", "info", "warn", "error"};
    if (level < log_state.min)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     log_state.component, tags[level]);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    pthread_mutex_lock(&log_state.lock);
    fwrite(line, 1, len, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_state.lock);
}
