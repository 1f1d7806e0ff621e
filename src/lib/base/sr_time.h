#pragma once
#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sr_now_unix_ms(void);
/* Milliseconds from CLOCK_MONOTONIC, for intervals and deadlines. */
int64_t sr_mono_ms(void);
/* Sleeps up to ms milliseconds; returns early (-EINTR) when interrupted by a signal. */
int sr_sleep_ms(int64_t ms);
/* The CLOCK_MONOTONIC time ms milliseconds from now (ms <= 0: now), normalised, as the absolute
 * deadline for pthread_cond_timedwait on a condition variable made by sr_mono_cond_init. */
struct timespec sr_mono_deadline_ts(int64_t ms_from_now);
/* Initialises *cond to measure timed waits against CLOCK_MONOTONIC (so wall-clock steps do not
 * shorten or stretch them). Returns 0 or a negative errno. */
int sr_mono_cond_init(pthread_cond_t *cond);
