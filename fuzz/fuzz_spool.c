/* Fuzz target: arbitrary bytes as spool segment files, then open (scan, truncate), peek, ack
 * and append. The first input byte splits the rest into an older segment and the active one. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            abort();
        data += n;
        len -= (size_t)n;
    }
    close(fd);
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

static int visit(uint64_t seq, const uint8_t *d, size_t len, void *ud) {
    uint64_t *sum = ud;
    *sum += seq;
    for (size_t i = 0; i < len; i++)
        *sum += d[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[] = "/tmp/fuzz_spool.XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    size_t split = 0;
    if (size > 0) {
        split = (size_t)data[0] * (size - 1) / 255;
        data++;
        size--;
    }
    if (split > 0)
        write_file(dir, "00000000000000000001.seg", data, split);
    write_file(dir, "00000000000000000100.seg", data + split, size - split);
    sr_spool *s = NULL;
    if (sr_spool_open(dir, 1 << 20, &s) == 0) {
        uint64_t sum = 0;
        (void)sr_spool_peek(s, 1000, SIZE_MAX, visit, &sum);
        sr_spool_stats st;
        sr_spool_get_stats(s, &st);
        (void)sr_spool_ack(s, st.next_seq > 1 ? st.next_seq - 1 : 1);
        uint64_t seq;
        if (sr_spool_next_seq(s, &seq) == 0)
            (void)sr_spool_append(s, seq, (const uint8_t *)"x", 1);
        (void)sr_spool_peek(s, 1000, SIZE_MAX, visit, &sum);
        sr_spool_free(s);
    }
    remove_dir(dir);
    return 0;
}
