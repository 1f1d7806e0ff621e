#include "sr_natsup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sr_file.h"
#include "sr_time.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
#define HEALTHY_RUN_MS 30000 /* a server that ran this long resets the backoff */

struct sr_natsup {
    char bin[4096];
    char store_dir[4096];
    char log_path[4096];
    char port_s[16];
    char opt_js[4], opt_a[3], opt_addr[10], opt_p[3], opt_sd[4], opt_l[3];
    char *argv[12]; /* prepared before fork: the child only calls async-signal-safe functions */
    int port;
    int64_t stop_timeout_ms;
    sr_natsup_event_fn on_event;
    void *userdata;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pid_t pid;        /* running child, 0 when none; only the supervisor reaps */
    int stopping;
    int child_gone;   /* set by the supervisor after reaping during stop */
    unsigned restarts;
    unsigned exits;   /* unexpected exits and failed starts */
    pthread_t thread;
    int thread_started;
};

int sr_natsup_find_server(const char *configured, char *out, size_t outlen) {
    const char *cand = configured;
    if (!cand || !*cand)
        cand = getenv("SR_NATS_SERVER");
    if (cand && *cand) {
        if (access(cand, X_OK) != 0)
            return -ENOENT;
        int n = snprintf(out, outlen, "%s", cand);
        return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            int n = snprintf(out, outlen, "%.*s/nats-server", (int)len, p);
            if (n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
                return 0;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return -ENOENT;
}

/* Child side of fork(): only async-signal-safe calls until exec. */
__attribute__((noreturn)) static void child_exec(sr_natsup *s, pid_t parent) {
    /* Die with the thread that forked us (the supervisor thread). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    /* Our signal mask has SIGINT/SIGTERM blocked for sigwait; the server needs them. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO); /* dup2 clears close-on-exec on the copies */
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    extern char **environ;
    execve(s->bin, s->argv, environ);
    _exit(127);
}

static int spawn(sr_natsup *s, pid_t *ret) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child_exec(s, parent);
    *ret = pid;
    return 0;
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void emit(sr_natsup *s, sr_natsup_event ev, pid_t pid, int status) {
    if (s->on_event)
        s->on_event(s->userdata, ev, pid, status);
}

/* Waits for the current child without reaping it, then reaps it under the lock, so that a
 * concurrent kill() never hits a recycled pid. Returns the wait status. */
static int wait_child(sr_natsup *s, pid_t pid) {
    siginfo_t si;
    for (;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
            break;
        if (errno != EINTR)
            break;
    }
    int status = 0;
    pthread_mutex_lock(&s->lock);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
    pthread_mutex_unlock(&s->lock);
    return status;
}

/* Stop requested: tell the stopper the child is gone. Called with the lock held. */
static int stop_seen(sr_natsup *s) {
    if (!s->stopping)
        return 0;
    s->child_gone = 1;
    pthread_cond_broadcast(&s->cond);
    return 1;
}

static void *supervise(void *arg) {
    sr_natsup *s = arg;
    int64_t backoff = BACKOFF_MIN_MS;
    for (int first = 1;; first = 0) {
        pthread_mutex_lock(&s->lock);
        if (stop_seen(s)) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        pid_t pid = 0;
        int r = spawn(s, &pid);
        if (r == 0) {
            s->pid = pid;
            if (!first)
                s->restarts++;
        } else {
            s->exits++;
        }
        pthread_mutex_unlock(&s->lock);
        emit(s, r == 0 ? SR_NATSUP_STARTED : SR_NATSUP_RESTART_FAILED, pid, r);

        if (r == 0) {
            int64_t started = sr_mono_ms();
            int status = wait_child(s, pid);
            pthread_mutex_lock(&s->lock);
            if (stop_seen(s)) {
                pthread_mutex_unlock(&s->lock);
                return NULL;
            }
            s->exits++;
            pthread_mutex_unlock(&s->lock);
            emit(s, SR_NATSUP_EXITED, pid, status);
            if (sr_mono_ms() - started >= HEALTHY_RUN_MS)
                backoff = BACKOFF_MIN_MS;
        }

        /* Backoff before the next start, interruptible by stop. */
        pthread_mutex_lock(&s->lock);
        struct timespec until = sr_mono_deadline_ts(backoff);
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&s->lock);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

static int init_paths(sr_natsup *s, const sr_natsup_config *cfg) {
    int r = sr_natsup_find_server(cfg->server_path, s->bin, sizeof(s->bin));
    if (r < 0)
        return r;
    if (!cfg->data_dir || !*cfg->data_dir || cfg->port <= 0 || cfg->port > 65535)
        return -EINVAL;
    int n = snprintf(s->store_dir, sizeof(s->store_dir), "%s/nats", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(s->store_dir))
        return -ENAMETOOLONG;
    n = snprintf(s->log_path, sizeof(s->log_path), "%s/nats-server.log", s->store_dir);
    if (n < 0 || (size_t)n >= sizeof(s->log_path))
        return -ENAMETOOLONG;
    snprintf(s->port_s, sizeof(s->port_s), "%d", cfg->port);
    memcpy(s->opt_js, "-js", 4);
    memcpy(s->opt_a, "-a", 3);
    memcpy(s->opt_addr, "127.0.0.1", 10);
    memcpy(s->opt_p, "-p", 3);
    memcpy(s->opt_sd, "-sd", 4);
    memcpy(s->opt_l, "-l", 3);
    char *argv[] = {s->bin,  s->opt_js,    s->opt_a, s->opt_addr, s->opt_p, s->port_s,
                    s->opt_sd, s->store_dir, s->opt_l, s->log_path, NULL};
    memcpy(s->argv, argv, sizeof(argv));
    s->port = cfg->port;
    return sr_mkdir_p(s->store_dir, 0700);
}

/* Stops the child (if any) and the thread. Safe on a half-started object. */
static void stop_all(sr_natsup *s) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    if (s->pid > 0)
        kill(s->pid, SIGTERM);
    if (s->thread_started) {
        struct timespec until = sr_mono_deadline_ts(s->stop_timeout_ms);
        while (!s->child_gone && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
            ;
        if (!s->child_gone && s->pid > 0)
            kill(s->pid, SIGKILL);
    }
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) {
        pthread_join(s->thread, NULL);
        s->thread_started = 0;
    }
}

int sr_natsup_start(const sr_natsup_config *cfg, sr_natsup **ret) {
    sr_natsup *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    (void)sr_mono_cond_init(&s->cond);
    s->stop_timeout_ms = cfg->stop_timeout_ms > 0 ? cfg->stop_timeout_ms : 10000;
    s->on_event = cfg->on_event;
    s->userdata = cfg->userdata;
    int r = init_paths(s, cfg);
    if (r < 0)
        goto fail;
    if (port_open(s->port)) {
        r = -EADDRINUSE; /* something else (an old server?) already listens there */
        goto fail;
    }
    /* The supervisor thread forks, so that PR_SET_PDEATHSIG follows the thread that lives
     * as long as the supervision; it starts by spawning the first child. */
    r = pthread_create(&s->thread, NULL, supervise, s);
    if (r != 0) {
        r = -r;
        goto fail;
    }
    s->thread_started = 1;
    int64_t deadline = sr_mono_ms() + (cfg->ready_timeout_ms > 0 ? cfg->ready_timeout_ms : 10000);
    for (;;) {
        if (port_open(s->port))
            break;
        pthread_mutex_lock(&s->lock);
        unsigned exits = s->exits;
        pthread_mutex_unlock(&s->lock);
        if (exits > 0) {
            r = -ECHILD; /* the first one died before listening */
            goto fail;
        }
        if (sr_mono_ms() >= deadline) {
            r = -ETIMEDOUT;
            goto fail;
        }
        sr_sleep_ms(20);
    }
    *ret = s;
    return 0;
fail:
    sr_natsup_free(s);
    return r;
}

pid_t sr_natsup_pid(sr_natsup *s) {
    pthread_mutex_lock(&s->lock);
    pid_t p = s->pid;
    pthread_mutex_unlock(&s->lock);
    return p;
}

unsigned sr_natsup_restarts(sr_natsup *s) {
    pthread_mutex_lock(&s->lock);
    unsigned n = s->restarts;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int sr_natsup_url(const sr_natsup *s, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "nats://127.0.0.1:%d", s->port);
    return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : 0;
}

sr_natsup *sr_natsup_free(sr_natsup *s) {
    if (!s)
        return NULL;
    stop_all(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}
