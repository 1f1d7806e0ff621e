/* Unit tests: whole-buffer writes and new/atomic file writes (sr_file). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_file.h"

static void test_fd_write_all(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    static const char msg[] = "hello, world";
    assert_int_equal(sr_fd_write_all(p[1], msg, sizeof(msg)), 0);
    assert_int_equal(sr_fd_write_all(p[1], msg, 0), 0);
    char buf[64];
    assert_int_equal(read(p[0], buf, sizeof(buf)), (ssize_t)sizeof(msg));
    assert_memory_equal(buf, msg, sizeof(msg));
    close(p[0]);
    assert_int_equal(sr_fd_write_all(-1, msg, 1), -EBADF);
    close(p[1]);
}

static void test_write_new_and_atomic(void **state) {
    (void)state;
    char dir[] = "/tmp/sr_test_file.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], link_path[256];
    snprintf(path, sizeof(path), "%s/a", dir);
    snprintf(link_path, sizeof(link_path), "%s/l", dir);

    assert_int_equal(sr_file_write_new(path, "one", 3, 0600), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* never replaces an existing file, and leaves it alone */
    assert_int_equal(sr_file_write_new(path, "two", 3, 0600), -EEXIST);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(sr_file_read_all(path, 16, &buf, &len), 0);
    assert_int_equal(len, 3);
    assert_string_equal(buf, "one");
    free(buf);
    /* never follows a symlink */
    assert_int_equal(symlink(path, link_path), 0);
    assert_int_equal(sr_file_write_new(link_path, "x", 1, 0600), -EEXIST);

    /* atomic write replaces */
    assert_int_equal(sr_file_write_atomic(path, "three", 5, 0644), 0);
    assert_int_equal(sr_file_read_all(path, 16, &buf, &len), 0);
    assert_string_equal(buf, "three");
    free(buf);
    /* into a missing directory: an error, nothing created */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no/such", dir);
    assert_int_equal(sr_file_write_atomic(missing, "x", 1, 0600), -ENOENT);

    unlink(link_path);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no temp file left behind */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_write_all),
        cmocka_unit_test(test_write_new_and_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
