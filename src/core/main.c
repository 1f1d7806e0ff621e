/* serviceradar-core: supervises (or connects to) NATS, migrates PostgreSQL, ensures the
 * JetStream streams, runs the ingest workers and the HTTP API, and stops in reverse order on
 * SIGINT/SIGTERM, committing and acknowledging in-flight batches first. */
#include <errno.h>
#include <getopt.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "sr_core_config.h"
#include "sr_core_stats.h"
#include "sr_file.h"
#include "sr_ingest.h"
#include "sr_dbsync.h"
#include "sr_jobs_builtin.h"
#include "sr_log.h"
#include "sr_migrate.h"
#include "sr_natsup.h"
#include "sr_pg.h"
#include "sr_streams.h"
#include "sr_time.h"
#if defined(SR_HAVE_API)
#include "sr_api.h"
#endif
#if defined(SR_HAVE_EMBED)
#include "sr_embed_cli.h"
#endif

static void usage(FILE *out) {
    fprintf(out, "usage: serviceradar-core [-c FILE] [--check-config] [--print-default-config] [--version]\n"
                 "       serviceradar-core embed --help    sentence embeddings from the command line\n"
                 "  -c, --config FILE         configuration file (key = value lines)\n"
                 "      --check-config        load and validate the configuration, print it, exit\n"
                 "      --print-default-config print a commented configuration with every default\n"
                 "      --version             print the version\n");
}

/* Waits up to ms for SIGINT/SIGTERM (blocked in every thread). Returns the signal or 0. */
static int wait_signal(const sigset_t *set, int64_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno != EINTR)
            return 0;
    }
}

static void on_natsup(void *userdata, sr_natsup_event ev, pid_t pid, int status) {
    const int *port = userdata;
    switch (ev) {
    case SR_NATSUP_STARTED:
        sr_info("nats-server started on 127.0.0.1:%d (pid %d)", *port, (int)pid);
        break;
    case SR_NATSUP_EXITED:
        if (WIFSIGNALED(status))
            sr_warn("nats-server (pid %d) killed by signal %d; restarting", (int)pid, WTERMSIG(status));
        else
            sr_warn("nats-server (pid %d) exited with status %d; restarting", (int)pid, WEXITSTATUS(status));
        break;
    case SR_NATSUP_RESTART_FAILED:
        sr_error("could not restart nats-server: %s", strerror(-status));
        break;
    }
}

static void on_disconnected(natsConnection *nc, void *closure) {
    sr_core_stats *st = closure;
    atomic_store(&st->nats_connected, 0);
    if (!natsConnection_IsClosed(nc))
        sr_warn("nats connection lost; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    sr_core_stats *st = closure;
    atomic_store(&st->nats_connected, 1);
    sr_info("nats connection restored");
}

/* Connects, retrying until it works or a signal arrives (then *ret_sig is set). */
static int nats_connect(const char *url, sr_core_stats *st, const sigset_t *sigs, natsConnection **ret,
                        int *ret_sig) {
    natsOptions *opts = NULL;
    if (natsOptions_Create(&opts) != NATS_OK)
        return -ENOMEM;
    natsStatus s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, "serviceradar-core");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1); /* forever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, 500);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(opts, on_disconnected, st);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(opts, on_reconnected, st);
    if (s != NATS_OK) {
        natsOptions_Destroy(opts);
        return -EINVAL;
    }
    int64_t backoff = 250;
    int r = -ECANCELED;
    for (;;) {
        natsConnection *nc = NULL;
        s = natsConnection_Connect(&nc, opts);
        if (s == NATS_OK) {
            *ret = nc;
            r = 0;
            break;
        }
        sr_warn("could not connect to nats at %s: %s (retrying in %lld ms)", url, natsStatus_GetText(s),
                (long long)backoff);
        int sig = wait_signal(sigs, backoff);
        if (sig) {
            *ret_sig = sig;
            break;
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    natsOptions_Destroy(opts);
    return r;
}

/* Database: create if missing, connect, migrate. The connection is closed afterwards: every
 * worker opens its own. */
static int prepare_database(const sr_core_config *cfg) {
    char err[1024];
    int r = sr_pg_ensure_database(cfg->pg_conninfo, err, sizeof(err));
    if (r < 0) {
        sr_error("could not create the database: %s", err);
        return r;
    }
    _cleanup_pgconn_ PGconn *pg = NULL;
    r = sr_pg_connect(cfg->pg_conninfo, &pg, err, sizeof(err));
    if (r < 0) {
        sr_error("could not connect to the database: %s", err);
        return r;
    }
    sr_info("applying migrations from %s", sr_core_config_migrations_dir(cfg));
    int applied = 0;
    r = sr_migrate_apply_err(pg, sr_core_config_migrations_dir(cfg), &applied, err, sizeof(err));
    if (r < 0) {
        sr_error("could not apply migrations: %s", err);
        return r;
    }
    sr_info("migrations: %d applied, schema up to date", applied);
    return 0;
}

static int ensure_streams(natsConnection *nc, const sr_core_config *cfg, const sigset_t *sigs, int *ret_sig) {
    sr_streams_config sc = {
        .telemetry_max_age_ms = cfg->telemetry_max_age_ms,
        .telemetry_max_bytes = (int64_t)cfg->telemetry_max_bytes,
        .agents_max_age_ms = cfg->agents_max_age_ms,
        .logs_max_age_ms = cfg->logs_max_age_ms,
        .logs_max_bytes = (int64_t)cfg->logs_max_bytes,
        .security_max_age_ms = cfg->security_max_age_ms,
        .security_max_bytes = (int64_t)cfg->security_max_bytes,
        .scans_max_age_ms = cfg->scans_max_age_ms,
        .scans_max_bytes = (int64_t)cfg->scans_max_bytes,
        .ack_wait_ms = cfg->ack_wait_ms,
        .max_ack_pending = cfg->max_ack_pending,
    };
    /* JetStream may need a moment after a fresh server start: retry for a while. */
    int64_t deadline = sr_mono_ms() + 60000;
    for (;;) {
        char err[1024];
        int r = sr_streams_ensure(nc, &sc, err, sizeof(err));
        if (r == 0)
            return 0;
        if (sr_mono_ms() > deadline) {
            sr_error("%s", err);
            return r;
        }
        sr_warn("%s (retrying)", err);
        int sig = wait_signal(sigs, 1000);
        if (sig) {
            *ret_sig = sig;
            return -ECANCELED;
        }
    }
}

typedef struct {
    const char *config_path;
    int check, print_default, version;
} cli;

static int parse_cli(int argc, char **argv, cli *c) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},          {"check-config", no_argument, NULL, 'C'},
        {"print-default-config", no_argument, NULL, 'P'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},                   {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            c->config_path = optarg;
            break;
        case 'C':
            c->check = 1;
            break;
        case 'P':
            c->print_default = 1;
            break;
        case 'V':
            c->version = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "embed") == 0) {
#if defined(SR_HAVE_EMBED)
        return sr_embed_cli_main(argc - 1, argv + 1);
#else
        fprintf(stderr, "serviceradar-core: built without sentence embeddings (configure with -DSR_EMBED=ON "
                        "after `make model`)\n");
        return 2;
#endif
    }
    cli args = {0};
    if (parse_cli(argc, argv, &args) < 0)
        return 2;
    if (args.version) {
        printf("serviceradar-core %s\n", SR_VERSION);
        return 0;
    }
    sr_core_config cfg;
    if (sr_core_config_defaults(&cfg) < 0) {
        fprintf(stderr, "serviceradar-core: could not set configuration defaults\n");
        return 1;
    }
    if (args.print_default) {
        sr_config_print_doc(&sr_core_config_table, stdout);
        sr_core_config_free(&cfg);
        return 0;
    }
    char err[1024];
    if (args.config_path &&
        sr_config_load_file(&sr_core_config_table, &cfg, args.config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "serviceradar-core: %s\n", err);
        sr_core_config_free(&cfg);
        return 1;
    }
    if (sr_core_config_validate(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "serviceradar-core: %s%s%s\n", args.config_path ? args.config_path : "",
                args.config_path ? ": " : "", err);
        sr_core_config_free(&cfg);
        return 1;
    }
    if (args.check) {
        sr_config_dump(&sr_core_config_table, &cfg, stdout);
        sr_core_config_free(&cfg);
        return 0;
    }

    sr_log_level lvl = SR_LOG_INFO;
    (void)sr_log_level_parse(cfg.log_level, &lvl);
    sr_log_init("core", lvl);

    /* Block the stop signals in every thread (they inherit the mask) and take them with
     * sigwait in this one. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1, sig = 0;
    sr_core_stats stats;
    memset(&stats, 0, sizeof(stats));
    atomic_store(&stats.started_unix_ms, sr_now_unix_ms());
    sr_natsup *natsup = NULL;
    natsConnection *nc = NULL;
    sr_ingest *ingest = NULL;
    sr_jobs *jobs = NULL;
    sr_dbsync *dbsync = NULL; /* trivy_db_sync, when trivy_db.enabled */
    sr_jobs_builtin_setup job_setup; /* the runner points into it until it stops */
#if defined(SR_HAVE_API)
    sr_api *api = NULL;
#endif
    int nats_port = (int)cfg.nats_port;
    char url[256];

    sr_info("serviceradar-core %s starting (data in %s)", SR_VERSION, cfg.data_dir);
    int r = sr_mkdir_p(cfg.data_dir, 0700);
    if (r < 0) {
        sr_error("could not create data directory %s: %s", cfg.data_dir, strerror(-r));
        goto out;
    }
    if (!cfg.nats_url[0]) {
        sr_natsup_config nsc = {
            .server_path = cfg.nats_server_path,
            .data_dir = cfg.data_dir,
            .port = nats_port,
            .on_event = on_natsup,
            .userdata = &nats_port,
        };
        sr_info("starting nats-server on 127.0.0.1:%d (store %s/nats)", nats_port, cfg.data_dir);
        r = sr_natsup_start(&nsc, &natsup);
        if (r < 0) {
            sr_error("could not start nats-server: %s%s", strerror(-r),
                     r == -ENOENT ? " (install nats-server, set nats.server_path or $SR_NATS_SERVER)" : "");
            goto out;
        }
        sr_natsup_url(natsup, url, sizeof(url));
    } else {
        snprintf(url, sizeof(url), "%s", cfg.nats_url);
    }
    sr_info("connecting to nats at %s", url);
    if (nats_connect(url, &stats, &sigs, &nc, &sig) < 0)
        goto out;
    atomic_store(&stats.nats_connected, 1);
    sr_info("connected to nats at %s", url);

    if (prepare_database(&cfg) < 0)
        goto out;
    atomic_store(&stats.db_connected, 1);

    sr_info("ensuring streams %s, %s, %s, %s, %s and consumers %s, %s, %s, %s, %s", SR_STREAM_TELEMETRY,
            SR_STREAM_AGENTS, SR_STREAM_LOGS, SR_STREAM_SECURITY, SR_STREAM_SCANS, SR_CONSUMER_METRICS,
            SR_CONSUMER_AGENTS, SR_CONSUMER_LOGS, SR_CONSUMER_FALCO, SR_CONSUMER_SCANS);
    if (ensure_streams(nc, &cfg, &sigs, &sig) < 0)
        goto out;

    sr_ingest_config ic = {
        .pg_conninfo = cfg.pg_conninfo,
        .workers = (int)cfg.ingest_workers,
        .batch_size = (int)cfg.batch_size,
        .batch_wait_ms = cfg.batch_wait_ms,
        .offline_after_ms = cfg.offline_after_ms,
        .sweep_interval_ms = cfg.sweep_interval_ms,
        .events_workers = (int)cfg.events_workers,
        .falco_workers = (int)cfg.falco_workers,
        .events_batch_size = (int)cfg.events_batch_size,
        .scan_workers = (int)cfg.scans_workers,
        .scan_max_document_bytes = (size_t)cfg.scans_max_document_bytes,
    };
    r = sr_ingest_start(&ic, nc, &stats, &ingest);
    if (r < 0) {
        sr_error("could not start ingest: %s", strerror(-r));
        goto out;
    }
    sr_info("ingest ready (%d metrics workers, batches of %d or %lld ms; %d log and %d Falco event workers, "
            "batches of %d; %d scan workers)",
            ic.workers, ic.batch_size, (long long)ic.batch_wait_ms, ic.events_workers, ic.falco_workers,
            ic.events_batch_size, ic.scan_workers);

    if (cfg.jobs_enabled) {
        sr_jobs_builtin_setup_init(&job_setup, &cfg);
        r = sr_dbsync_setup(&cfg, nc, &job_setup, &dbsync, err, sizeof(err));
        if (r < 0) {
            sr_error("could not set up the Trivy DB download: %s", err);
            goto out;
        }
        if (dbsync)
            sr_info("trivy-db: job " SR_DBSYNC_JOB " checks %s every %lld s", sr_dbsync_source(dbsync),
                    (long long)(cfg.trivy_db_interval_ms / 1000));
        r = sr_jobs_start(&job_setup.config, &jobs);
        if (r < 0) {
            sr_error("could not start the job runner: %s", strerror(-r));
            goto out;
        }
        sr_info("job runner started (%zu jobs, looking for due ones every %lld ms)", job_setup.config.n,
                (long long)cfg.jobs_poll_ms);
    } else {
        sr_info("scheduled jobs disabled (jobs.enabled = false): no rollups, no retention");
    }

#if defined(SR_HAVE_API)
    {
        char pki[4096];
        if (sr_core_config_pki_dir(&cfg, pki, sizeof(pki)) < 0) {
            sr_error("pki.dir: path too long");
            goto out;
        }
        sr_api_config ac = {
            .listen = cfg.http_listen,
            .pg_conninfo = cfg.pg_conninfo,
            .web_root = sr_core_config_web_root(&cfg),
            .pki_dir = pki,
        };
        r = sr_api_start(&ac, &stats, nc, &api);
        if (r < 0) {
            sr_error("could not start the HTTP API on %s: %s", cfg.http_listen, strerror(-r));
            goto out;
        }
        sr_info("http api listening on %s", cfg.http_listen);
    }
#else
    sr_warn("built without the HTTP API (src/core/api missing)");
#endif

    sr_info("core ready");
    while (!sig)
        sig = wait_signal(&sigs, 3600 * 1000);
    rc = 0;
out:
    if (sig) {
        sr_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
        rc = 0;
    }
#if defined(SR_HAVE_API)
    api = sr_api_free(api);
#endif
    if (jobs) {
        sr_info("stopping the job runner");
        sr_dbsync_cancel(dbsync); /* a running download stops within a second */
        jobs = sr_jobs_free(jobs);
    }
    dbsync = sr_dbsync_free(dbsync);
    if (ingest) {
        sr_info("stopping ingest (committing in-flight batches)");
        ingest = sr_ingest_free(ingest);
    }
    if (nc) {
        natsConnection_FlushTimeout(nc, 2000); /* deliver the last acknowledgements */
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
    if (natsup) {
        sr_info("stopping nats-server");
        natsup = sr_natsup_free(natsup);
    }
    nats_Close();
    sr_core_config_free(&cfg);
    sr_info("stopped");
    return rc;
}
