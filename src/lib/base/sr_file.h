#pragma once
#include <stddef.h>

/* Reads a whole file of at most max bytes into a NUL-terminated heap buffer (caller frees).
 * Returns 0, -EFBIG when larger than max, or a negative errno. */
int sr_file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0 or a negative errno. */
int sr_fd_write_all(int fd, const void *data, size_t len);
/* Creates path with mode (-EEXIST when it exists; a symlink is never followed), writes data and
 * fsyncs it; nothing is left behind on failure. */
int sr_file_write_new(const char *path, const void *data, size_t len, unsigned mode);
/* Writes data to path atomically (temp file in the same directory, fsync, rename) with mode. */
int sr_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* mkdir -p with mode for each created component. */
int sr_mkdir_p(const char *path, unsigned mode);
