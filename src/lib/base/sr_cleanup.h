/* Scope-bound cleanup for locals (gcc/clang cleanup attribute). Ownership moves out of a
 * cleanup variable with SR_TAKE_PTR(). */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void sr_freep(void *p) { free(*(void **)p); }
static inline void sr_closep(int *fd) {
    if (*fd >= 0)
        close(*fd);
}
static inline void sr_fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(sr_freep)
#define _cleanup_close_ _cleanup_(sr_closep)
#define _cleanup_fclose_ _cleanup_(sr_fclosep)

#define SR_TAKE_PTR(p)                                                                                                 \
    ({                                                                                                                 \
        __typeof__(p) sr_tmp_ = (p);                                                                                   \
        (p) = NULL;                                                                                                    \
        sr_tmp_;                                                                                                       \
    })
#define SR_TAKE_FD(fd)                                                                                                 \
    ({                                                                                                                 \
        int sr_tmpfd_ = (fd);                                                                                          \
        (fd) = -1;                                                                                                     \
        sr_tmpfd_;                                                                                                     \
    })
#define SR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
