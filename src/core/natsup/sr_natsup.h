/* Supervises a local nats-server for single-node runs: starts it with JetStream on 127.0.0.1,
 * restarts it with backoff when it dies, stops it (SIGTERM, then SIGKILL after a timeout) when
 * freed. The child keeps none of our fds (everything is O_CLOEXEC) and gets SIGKILL when the
 * supervisor thread goes away (PR_SET_PDEATHSIG), so a crashed core leaves no server behind.
 * The module never logs: it reports what happens through the event callback. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    SR_NATSUP_STARTED,   /* a server process is running (pid) */
    SR_NATSUP_EXITED,    /* it exited unexpectedly (pid, wait status); a restart follows */
    SR_NATSUP_RESTART_FAILED, /* could not start again (error as negative errno in status) */
} sr_natsup_event;

/* Called from the supervisor thread (and from sr_natsup_start for the first start). */
typedef void (*sr_natsup_event_fn)(void *userdata, sr_natsup_event ev, pid_t pid, int status);

typedef struct {
    const char *server_path;   /* NULL/"": $SR_NATS_SERVER, then nats-server on PATH */
    const char *data_dir;      /* store in <data_dir>/nats, log in <data_dir>/nats/nats-server.log */
    int port;                  /* on 127.0.0.1 */
    int64_t ready_timeout_ms;  /* first start: wait this long for the port (0: 10 s) */
    int64_t stop_timeout_ms;   /* SIGTERM grace before SIGKILL (0: 10 s) */
    sr_natsup_event_fn on_event;
    void *userdata;
} sr_natsup_config;

typedef struct sr_natsup sr_natsup;

/* Resolves the server binary as described above into out. 0, or -ENOENT. */
int sr_natsup_find_server(const char *configured, char *out, size_t outlen);
/* Starts the server and waits until it accepts connections; then supervises it in a thread.
 * Returns 0, -ENOENT (no binary), -ETIMEDOUT (never listened), -ECHILD (exited at once) or
 * another negative errno. */
int sr_natsup_start(const sr_natsup_config *cfg, sr_natsup **ret);
/* The pid of the running server, or 0 while none runs. */
pid_t sr_natsup_pid(sr_natsup *s);
/* How many times the server was restarted after an unexpected exit. */
unsigned sr_natsup_restarts(sr_natsup *s);
/* Writes nats://127.0.0.1:<port> into out. */
int sr_natsup_url(const sr_natsup *s, char *out, size_t outlen);
/* Stops the server and the supervisor; accepts NULL; returns NULL. */
sr_natsup *sr_natsup_free(sr_natsup *s);
