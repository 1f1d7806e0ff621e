#include "sr_err.h"

#include <stdio.h>

void sr_verrf(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (!err || errlen == 0)
        return;
    (void)vsnprintf(err, errlen, fmt, ap);
}

void sr_errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sr_verrf(err, errlen, fmt, ap);
    va_end(ap);
}
