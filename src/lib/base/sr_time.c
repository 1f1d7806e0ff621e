#include "sr_time.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

int64_t sr_now_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sr_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sr_sleep_ms(int64_t ms) {
    if (ms <= 0)
        return 0;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    return nanosleep(&ts, NULL) == 0 ? 0 : -errno;
}

struct timespec sr_mono_deadline_ts(int64_t ms_from_now) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms_from_now <= 0)
        return ts;
    ts.tv_sec += (time_t)(ms_from_now / 1000);
    ts.tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int sr_mono_cond_init(pthread_cond_t *cond) {
    pthread_condattr_t ca;
    int r = pthread_condattr_init(&ca);
    if (r)
        return -r;
    r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
    return -r;
}
