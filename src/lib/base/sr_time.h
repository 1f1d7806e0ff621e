#pragma once
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sr_now_unix_ms(void);
/* Milliseconds from CLOCK_MONOTONIC, for intervals and deadlines. */
int64_t sr_mono_ms(void);
/* Sleeps up to ms milliseconds; returns early (-EINTR) when interrupted by a signal. */
int sr_sleep_ms(int64_t ms);
