#include "srtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_parse.h"
#include "sr_time.h"

int srtest_tmpdir(char *out, size_t outlen) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(out, outlen, "%s/srtest.XXXXXX", base);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void srtest_rmtree(const char *path) {
    if (path && *path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int srtest_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int srtest_wait_port(int port, int timeout_ms) {
    int64_t deadline = sr_mono_ms() + timeout_ms;
    while (sr_mono_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return 0;
        sr_sleep_ms(20);
    }
    return -ETIMEDOUT;
}

static int nats_spawn(srtest_nats *n) {
    const char *bin = getenv("SR_NATS_SERVER");
    if (!bin || !*bin)
        bin = "nats-server";
    char port[16];
    snprintf(port, sizeof(port), "%d", n->port);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0 && !getenv("SR_TEST_VERBOSE")) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execlp(bin, bin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", n->dir, (char *)NULL);
        fprintf(stderr, "srtest: could not exec %s: %s (install nats-server or set SR_NATS_SERVER)\n", bin,
                strerror(errno));
        _exit(127);
    }
    n->pid = pid;
    if (srtest_wait_port(n->port, 10000) < 0) {
        fprintf(stderr, "srtest: nats-server did not listen on 127.0.0.1:%d within 10 s\n", n->port);
        srtest_nats_stop(n, 1);
        return -ETIMEDOUT;
    }
    return 0;
}

int srtest_nats_start(srtest_nats *n) {
    memset(n, 0, sizeof(*n));
    int r = srtest_tmpdir(n->dir, sizeof(n->dir));
    if (r < 0)
        return r;
    n->port = srtest_free_port();
    if (n->port < 0)
        return n->port;
    snprintf(n->url, sizeof(n->url), "nats://127.0.0.1:%d", n->port);
    return nats_spawn(n);
}

int srtest_nats_restart(srtest_nats *n) { return nats_spawn(n); }

void srtest_nats_stop(srtest_nats *n, int kill_hard) {
    if (n->pid <= 0)
        return;
    kill(n->pid, kill_hard ? SIGKILL : SIGTERM);
    int status;
    while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
        ;
    n->pid = 0;
}

static const char *pg_base(void) {
    const char *c = getenv("SR_TEST_PG");
    return (c && *c) ? c : "host=127.0.0.1 port=55432 user=postgres dbname=postgres";
}

int srtest_pg_create_db(char *out, size_t outlen) {
    static int counter;
    PGconn *c = PQconnectdb(pg_base());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "srtest: could not connect to test PostgreSQL (%s): %s(start it with scripts/devdb.sh start)\n",
                pg_base(), PQerrorMessage(c));
        PQfinish(c);
        return -ECONNREFUSED;
    }
    char name[64], sql[128];
    snprintf(name, sizeof(name), "sr_test_%ld_%d_%ld", (long)getpid(), ++counter, (long)(sr_now_unix_ms() % 100000));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name); /* name is ours, not input */
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "srtest: could not create database %s: %s", name, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    if (!ok)
        return -EIO;
    int n = snprintf(out, outlen, "%s", pg_base());
    /* replace dbname=... by ours: the base conninfo names the maintenance database last */
    char *p = strstr(out, "dbname=");
    if (p)
        *p = '\0';
    n = (int)strlen(out);
    int m = snprintf(out + n, outlen - (size_t)n, "%sdbname=%s", (n && out[n - 1] != ' ') ? " " : "", name);
    return (m < 0 || (size_t)(n + m) >= outlen) ? -ENAMETOOLONG : 0;
}

void srtest_pg_drop_db(const char *conninfo) {
    const char *p = strstr(conninfo, "dbname=");
    if (!p)
        return;
    char name[64];
    snprintf(name, sizeof(name), "%s", p + 7);
    if (strncmp(name, "sr_test_", 8) != 0)
        return;
    PGconn *c = PQconnectdb(pg_base());
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

PGresult *srtest_sqlr(PGconn *db, const char *q, int n, const char *const *vals) {
    PGresult *r = PQexecParams(db, q, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(db));
    return r;
}

void srtest_sql(PGconn *db, const char *q, int n, const char *const *vals) { PQclear(srtest_sqlr(db, q, n, vals)); }

int64_t srtest_sql_i64(PGconn *db, const char *q, int n, const char *const *vals) {
    PGresult *r = srtest_sqlr(db, q, n, vals);
    if (PQntuples(r) != 1)
        fail_msg("%s: %d rows, want 1", q, PQntuples(r));
    int64_t v = INT64_MIN;
    if (!PQgetisnull(r, 0, 0) && sr_parse_i64(PQgetvalue(r, 0, 0), INT64_MIN, INT64_MAX, &v) < 0)
        fail_msg("%s: not an integer: %s", q, PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

long srtest_pg_long(PGconn *pg, const char *sql) {
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    int64_t n = -1;
    if (!PQgetisnull(r, 0, 0) && sr_parse_i64(PQgetvalue(r, 0, 0), INT64_MIN, INT64_MAX, &n) < 0)
        fail_msg("%s: not an integer", sql);
    PQclear(r);
    return n;
}

char *srtest_pg_text(PGconn *pg, const char *sql) {
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    char *s = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : strdup("");
    PQclear(r);
    return s;
}

void srtest_pg_wait_long(PGconn *pg, const char *sql, long want, int64_t timeout_ms) {
    int64_t deadline = sr_mono_ms() + timeout_ms;
    long got = -2;
    while (sr_mono_ms() < deadline) {
        got = srtest_pg_long(pg, sql);
        if (got == want)
            return;
        sr_sleep_ms(25);
    }
    fail_msg("timed out: %s returned %ld, want %ld", sql, got, want);
}
