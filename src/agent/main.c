/* serviceradar-agent: collects host telemetry on a fixed schedule into the on-disk spool; the
 * transport drains the spool to the gateway. See docs/internals/agent.md. */
#include "sr_agent_batch.h"
#include "sr_agent_config.h"
#include "sr_agent_identity.h"
#include "sr_cleanup.h"
#include "sr_collector.h"
#include "sr_log.h"
#include "sr_logtail.h"
#include "sr_logtail_journal.h"
#include "sr_logtail_pack.h"
#include "sr_scan.h"
#include "sr_scan_cli.h"
#include "sr_trivy.h"
#include "sr_spool.h"
#include "sr_time.h"

#ifdef SR_AGENT_HAVE_TRANSPORT
#include "sr_artifact.h"
#include "sr_scan_cmd.h"
#include "sr_transport.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define ONCE_WINDOW_MS 1000

typedef struct {
    const sr_collector *desc;
    void *state;
    int last_err; /* logged once per change */
} active_collector;

typedef struct {
    const sr_agent_settings *settings;
    const sr_agent_config *cfg;
    active_collector *collectors;
    size_t n_collectors;
    const char *capabilities[16];
    sr_points points;
    char hostname[256];
    char agent_id[256];
    sr_spool *spool;
    uint64_t dropped_logged;
    sr_logtail *logs;
    sr_logtail_spool_target logs_target;
    int logs_spool_err; /* logged once per change */
} agent;

static void usage(FILE *out) {
    fputs("usage: serviceradar-agent [-c FILE] [--check-config | --print-default-config | --once | --version]\n"
          "       serviceradar-agent [-c FILE] --scan ROOT [--trivy-db DIR] [--sbom FILE]\n"
          "  -c, --config FILE         configuration file (default " SR_AGENT_DEFAULT_CONFIG " when present)\n"
          "      --check-config        validate the configuration, print the effective one, exit 0 or 1\n"
          "      --print-default-config  print a sample configuration with every default\n"
          "      --once                collect one sample (rates over 1 s), print it as JSON lines, exit\n"
          "      --scan ROOT           scan the directory ROOT with Trivy once (offline), print the JSON report, exit\n"
          "      --trivy-db DIR        Trivy DB for --scan (default: scan.db_dir, else <data_dir>/trivy/db)\n"
          "      --sbom FILE           with --scan: also write the CycloneDX SBOM to FILE\n"
          "      --version             print the version\n",
          out);
}

static void collectors_free(agent *a) {
    for (size_t i = 0; i < a->n_collectors; i++)
        if (a->collectors[i].state)
            a->collectors[i].desc->free(a->collectors[i].state);
    free(a->collectors);
    a->collectors = NULL;
    a->n_collectors = 0;
}

static int collectors_init(agent *a) {
    size_t n = sr_agent_settings_collector_count(a->settings);
    a->collectors = calloc(n ? n : 1, sizeof(*a->collectors));
    if (!a->collectors)
        return -ENOMEM;
    sr_collector_env env = {.proc_root = a->cfg->proc_root, .sys_root = a->cfg->sys_root};
    size_t ncap = 0;
    for (size_t i = 0; i < n; i++) {
        const sr_collector *c = sr_agent_settings_collector(a->settings, i);
        if (!sr_agent_settings_collector_enabled(a->settings, i)) {
            sr_info("collector %s disabled by configuration", c->name);
            continue;
        }
        void *state = NULL;
        int r = c->init(sr_agent_settings_collector_config(a->settings, i), &env, &state);
        if (r < 0) {
            sr_error("could not start collector %s: %s", c->name, strerror(-r));
            return r;
        }
        a->collectors[a->n_collectors++] = (active_collector){.desc = c, .state = state};
        if (ncap + 1 < SR_ARRAY_SIZE(a->capabilities))
            a->capabilities[ncap++] = c->name;
    }
    if (a->cfg->logs_enabled && ncap + 1 < SR_ARRAY_SIZE(a->capabilities))
        a->capabilities[ncap++] = "logs";
#ifdef SR_AGENT_HAVE_TRANSPORT
    /* the gateway sends the Trivy DB only to agents that can install it */
    if (sr_artifact_trivy_usable() && ncap + 1 < SR_ARRAY_SIZE(a->capabilities))
        a->capabilities[ncap++] = SR_ARTIFACT_CAPABILITY;
#endif
    a->capabilities[ncap] = NULL;
    return 0;
}

static void collect_all(agent *a) {
    sr_points_clear(&a->points);
    sr_collect_time t = {.unix_ms = sr_now_unix_ms(), .mono_ms = sr_mono_ms()};
    for (size_t i = 0; i < a->n_collectors; i++) {
        active_collector *c = &a->collectors[i];
        int r = c->desc->collect(c->state, &t, &a->points);
        if (r < 0 && r != c->last_err) {
            if (r == -ENOSPC)
                sr_warn("collector %s: point limit (%d per batch) reached, points left out", c->desc->name,
                        SR_POINTS_MAX);
            else
                sr_warn("collector %s could not read everything: %s", c->desc->name, strerror(-r));
        } else if (r == 0 && c->last_err != 0) {
            sr_info("collector %s recovered", c->desc->name);
        }
        c->last_err = r < 0 ? r : 0;
    }
}

static void collect_and_spool(agent *a) {
    collect_all(a);
    if (a->points.n == 0)
        return;
    uint64_t seq;
    int r = sr_spool_next_seq(a->spool, &seq);
    if (r < 0) {
        sr_error("could not allocate a batch seq: %s", strerror(-r));
        return;
    }
    sr_agent_batch_info info = {
        .agent_id = a->agent_id,
        .epoch = sr_spool_epoch(a->spool),
        .seq = seq,
        .created_unix_ms = sr_now_unix_ms(),
        .hostname = a->hostname,
    };
    _cleanup_free_ uint8_t *buf = NULL;
    size_t len = 0;
    r = sr_agent_batch_pack(&info, &a->points, &buf, &len);
    if (r == 0)
        r = sr_spool_append(a->spool, seq, buf, len);
    if (r < 0) {
        sr_error("could not spool batch %" PRIu64 " (%zu points): %s", seq, a->points.n, strerror(-r));
        return;
    }
    sr_debug("spooled batch %" PRIu64 ": %zu points, %zu bytes", seq, a->points.n, len);
    sr_spool_stats st;
    sr_spool_get_stats(a->spool, &st);
    if (st.dropped_records > a->dropped_logged) {
        sr_warn("spool full: %" PRIu64 " oldest batches (%" PRIu64 " bytes) dropped so far", st.dropped_records,
                st.dropped_bytes);
        a->dropped_logged = st.dropped_records;
    }
}

#ifdef SR_AGENT_HAVE_TRANSPORT
/* The vulnerability scanner, when enabled and built in; NULL otherwise (reasons logged). */
static sr_scan *scan_start(agent *a, sr_transport *tr) {
    const sr_agent_config *cfg = a->cfg;
    if (!cfg->scan_enabled)
        return NULL;
    if (!sr_trivy_available()) {
        sr_info("vulnerability scans are off: this agent was built without the Trivy bridge");
        return NULL;
    }
    char db[4096];
    int n = cfg->scan_db_dir[0] ? snprintf(db, sizeof(db), "%s", cfg->scan_db_dir)
                                : snprintf(db, sizeof(db), "%s/trivy/db", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(db)) {
        sr_error("vulnerability scans are off: Trivy DB path too long");
        return NULL;
    }
    sr_scan_config sc = {
        .agent_id = a->agent_id,
        .hostname = a->hostname,
        .data_dir = cfg->data_dir,
        .db_dir = db,
        .host_root = cfg->scan_host_root,
        .proc_root = cfg->proc_root,
        .skip_dirs = cfg->scan_skip_dirs,
        .containers = cfg->scan_containers,
        .max_containers = (size_t)cfg->scan_max_containers,
        .parallel = (int)cfg->scan_parallel,
        .interval_ms = cfg->scan_interval_ms,
        .start_delay_ms = cfg->scan_start_delay_ms,
        .timeout_ms = cfg->scan_timeout_ms,
        .spool_max_bytes = cfg->spool_max_bytes,
    };
    sr_scan *s = NULL;
    int r = sr_scan_start(&sc, a->spool, &s);
    if (r < 0) {
        sr_error("vulnerability scans are off: could not start the scanner: %s", strerror(-r));
        return NULL;
    }
    r = sr_scan_attach(s, tr);
    if (r < 0)
        sr_warn("the scan command is not available: %s", strerror(-r));
    sr_info("vulnerability scans: trivy %s, DB %s, every %" PRId64 " s%s", sr_trivy_version(), db,
            cfg->scan_interval_ms / 1000, cfg->scan_containers ? ", containers included" : "");
    return s;
}
#endif

static int run_once(agent *a) {
    collect_all(a); /* primes the counters: rates need two samples */
    int64_t until = sr_mono_ms() + ONCE_WINDOW_MS;
    for (int64_t now; (now = sr_mono_ms()) < until;)
        (void)sr_sleep_ms(until - now);
    collect_all(a);
    return sr_points_write_json(&a->points, stdout) < 0 || fflush(stdout) != 0 ? 1 : 0;
}

static int make_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* True when one of the configured log files exists: a syslog daemon writes them, and the journal
 * would repeat what they hold. */
static bool any_log_file_exists(const sr_logtail_file *files, int n) {
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(files[i].path, &st) == 0)
            return true;
    }
    return false;
}

/* Starts following the configured log files (offsets in <data_dir>/logs.state). */
static int logs_start(agent *a) {
    const sr_agent_config *cfg = a->cfg;
    _cleanup_free_ char *files_buf = strdup(cfg->logs_files);
    if (!files_buf)
        return -ENOMEM;
    sr_logtail_file files[SR_LOGTAIL_MAX_FILES];
    char err[512];
    int n = sr_logtail_parse_files(files_buf, files, SR_ARRAY_SIZE(files), err, sizeof(err));
    if (n < 0) {
        sr_error("invalid logs.files: %s", err);
        return n;
    }
    char state[PATH_MAX];
    int k = snprintf(state, sizeof(state), "%s/logs.state", cfg->data_dir);
    if (k < 0 || (size_t)k >= sizeof(state))
        return -ENAMETOOLONG;
    sr_logparse_tz tz = {0};
    (void)sr_logparse_tz_parse(cfg->logs_timezone, &tz); /* validated with the configuration */
    /* logs stop at half the spool, so that they never push batches out of it (see logs.md) */
    a->logs_target = (sr_logtail_spool_target){.spool = a->spool, .agent_id = a->agent_id,
                                               .hostname = a->hostname, .max_bytes = cfg->spool_max_bytes / 2};
    sr_logtail_config lc = {
        .files = files,
        .n_files = (size_t)n,
        .state_path = state,
        .from_start = cfg->logs_from_start,
        .flush_ms = cfg->logs_flush_ms,
        .max_batch_records = (size_t)cfg->logs_max_batch_records,
        .tz = tz,
        .emit = sr_logtail_spool_emit,
        .userdata = &a->logs_target,
        .journal_dir = cfg->logs_journald_dir,
    };
    /* validated with the configuration: auto, on or off */
    if (strcmp(cfg->logs_journald, "on") == 0)
        lc.journal = SR_LOGTAIL_JOURNAL_ON;
    else if (strcmp(cfg->logs_journald, "auto") == 0 && sr_logjournal_supported() &&
             sr_logjournal_present(cfg->logs_journald_dir) && !any_log_file_exists(files, n))
        lc.journal = SR_LOGTAIL_JOURNAL_AUTO;
    int r = sr_logtail_new(&lc, &a->logs, err, sizeof(err));
    if (r < 0) {
        sr_error("could not start following logs: %s", err);
        return r;
    }
    for (int i = 0; i < n; i++)
        sr_info("following %s (%s)", files[i].path, files[i].source);
    if (lc.journal != SR_LOGTAIL_JOURNAL_OFF)
        sr_info("following the journal%s%s", cfg->logs_journald_dir[0] ? " in " : "", cfg->logs_journald_dir);
    return 0;
}

static int64_t logs_poll(agent *a) {
    char err[512];
    int64_t wait = sr_logtail_poll(a->logs, sr_mono_ms(), sr_now_unix_ms(), err, sizeof(err));
    if (err[0])
        sr_warn("logs: %s", err);
    int e = a->logs_target.last_err;
    if (e != a->logs_spool_err) {
        if (e == -ENOSPC)
            sr_warn("logs: spool over half full (%" PRIu64 " bytes): reading paused until the gateway drains it",
                    a->logs_target.max_bytes);
        else if (e < 0)
            sr_error("logs: could not spool a batch: %s", strerror(-e));
        else
            sr_info("logs: spooling again");
        a->logs_spool_err = e;
    }
    return wait;
}

/* Collects at start and then every interval on a monotonic grid (no drift; missed ticks are
 * skipped, not bunched); follows the log files in between. Returns when SIGINT or SIGTERM
 * arrives. */
static void main_loop(agent *a, int sfd) {
    const int64_t interval = a->cfg->interval_ms;
    int64_t next = sr_mono_ms();
    int64_t next_logs = next;
    for (;;) {
        int64_t now = sr_mono_ms();
        if (now >= next) {
            collect_and_spool(a);
            next += interval;
            now = sr_mono_ms();
            if (next <= now)
                next += ((now - next) / interval + 1) * interval;
        }
        if (a->logs && now >= next_logs) {
            next_logs = now + logs_poll(a);
            now = sr_mono_ms();
        }
        int64_t wait = next - now;
        if (a->logs && next_logs - now < wait)
            wait = next_logs - now > 0 ? next_logs - now : 0;
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        int r = poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait);
        if (r < 0 && errno != EINTR) {
            sr_error("could not wait for signals: %s", strerror(errno));
            return;
        }
        if (r > 0 && (pfd.revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                sr_info("signal %u received, stopping", si.ssi_signo);
                return;
            }
        }
    }
}

static int resolve_hostname(agent *a) {
    if (a->cfg->hostname[0]) {
        snprintf(a->hostname, sizeof(a->hostname), "%s", a->cfg->hostname);
        return 0;
    }
    if (gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
        return -errno;
    a->hostname[sizeof(a->hostname) - 1] = '\0';
    return 0;
}

static int run_daemon(agent *a) {
    const sr_agent_config *cfg = a->cfg;
    int r = sr_agent_identity_cn(cfg->tls_cert_file, a->agent_id, sizeof(a->agent_id));
    if (r < 0) {
        sr_error("could not read the agent id (certificate common name) from %s: %s", cfg->tls_cert_file,
                 r == -EBADMSG ? "no PEM certificate" : r == -ENODATA ? "no common name" : strerror(-r));
        return 1;
    }
    r = resolve_hostname(a);
    if (r < 0) {
        sr_error("could not get the host name: %s", strerror(-r));
        return 1;
    }
    char spool_dir[PATH_MAX];
    int n = snprintf(spool_dir, sizeof(spool_dir), "%s/spool", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(spool_dir)) {
        sr_error("could not open the spool: data_dir too long");
        return 1;
    }
    r = sr_spool_open(spool_dir, cfg->spool_max_bytes, &a->spool);
    if (r < 0) {
        sr_error("could not open the spool in %s: %s", spool_dir, strerror(-r));
        return 1;
    }
    sr_spool_stats st;
    sr_spool_get_stats(a->spool, &st);
    a->dropped_logged = st.dropped_records;
    sr_info("agent %s (%s) starting: gateway %s, interval %" PRId64 " ms, spool %s (%" PRIu64 " batches pending, "
            "epoch %" PRIu64 ")",
            a->agent_id, a->hostname, cfg->gateway, cfg->interval_ms, spool_dir, st.records,
            sr_spool_epoch(a->spool));

    _cleanup_close_ int sfd = make_signalfd();
    if (sfd < 0) {
        sr_error("could not create a signalfd: %s", strerror(errno));
        a->spool = sr_spool_free(a->spool);
        return 1;
    }
#ifdef SR_AGENT_HAVE_TRANSPORT
    srg_global_init();
    sr_transport_config tc = {
        .gateway = cfg->gateway,
        .server_name = cfg->gateway_server_name[0] ? cfg->gateway_server_name : NULL,
        .tls = {.ca_file = cfg->tls_ca_file, .cert_file = cfg->tls_cert_file, .key_file = cfg->tls_key_file},
        .agent_id = a->agent_id,
        .hostname = a->hostname,
        .agent_version = SR_VERSION,
        .capabilities = a->capabilities,
        .heartbeat_ms = cfg->heartbeat_ms,
        .backoff_min_ms = 500,
        .backoff_max_ms = 30000,
        .call_timeout_ms = 30000,
        .upload_max_records = (uint32_t)cfg->upload_max_records,
        .upload_max_bytes = 3u * 1024 * 1024,
    };
    sr_transport *tr = NULL;
    r = sr_transport_new(&tc, a->spool, &tr);
    if (r < 0) {
        sr_error("could not start the transport to %s: %s", cfg->gateway, strerror(-r));
        a->spool = sr_spool_free(a->spool);
        srg_global_shutdown();
        return 1;
    }
    /* Trivy DB updates pushed by the gateway (artifact_update) and scans: attached before the
     * transport runs, so the first Hello carries the installed version and the command types are
     * registered before the gateway can send one. */
    sr_artifact *art = NULL;
    sr_artifact_config ac = {.data_dir = cfg->data_dir};
    char aerr[256] = "";
    r = sr_artifact_new(&ac, &art, aerr, sizeof(aerr));
    if (r == 0)
        r = sr_artifact_attach(art, tr);
    if (r < 0)
        sr_warn("trivy-db updates are not taken: %s", aerr[0] ? aerr : strerror(-r));
    else if (sr_artifact_installed_version(art)[0])
        sr_info("trivy-db %s installed in %s", sr_artifact_installed_version(art), sr_artifact_db_dir(art));
    sr_scan *scan = scan_start(a, tr);
    if (scan && art) {
        sr_artifact_set_on_installed(art, sr_scan_on_db_installed, scan);
        sr_scan_set_db_version(scan, sr_artifact_installed_version(art));
    }
    r = sr_transport_run(tr);
    if (r < 0) {
        sr_error("could not start the transport to %s: %s", cfg->gateway, strerror(-r));
        sr_artifact_stop(art);
        sr_scan_stop(scan);
        tr = sr_transport_free(tr);
        scan = sr_scan_free(scan);
        art = sr_artifact_free(art);
        a->spool = sr_spool_free(a->spool);
        srg_global_shutdown();
        return 1;
    }
#else
    sr_warn("built without the transport: batches stay in the spool");
#endif
    if (cfg->logs_enabled && logs_start(a) < 0)
        sr_warn("logs are not followed");
    main_loop(a, sfd);
    if (a->logs) {
        int lr = sr_logtail_flush(a->logs);
        if (lr < 0)
            sr_warn("logs: last lines not spooled (%s): they are read again at the next start", strerror(-lr));
        a->logs = sr_logtail_free(a->logs);
    }
#ifdef SR_AGENT_HAVE_TRANSPORT
    sr_spool_wakeup(a->spool);
    sr_artifact_stop(art); /* a running download ends, so the transport can join its thread */
    sr_scan_stop(scan);     /* so does a running scan (its command thread too) */
    tr = sr_transport_free(tr);
    art = sr_artifact_free(art); /* joins the resume thread, which may call the scanner's hook */
    scan = sr_scan_free(scan);
    srg_global_shutdown();
#endif
    sr_spool_get_stats(a->spool, &st);
    sr_info("stopped: %" PRIu64 " batches pending in the spool", st.records);
    a->spool = sr_spool_free(a->spool);
    return 0;
}

/* The Trivy bridge's Go runtime starts threads from a library constructor, before main(); a
 * thread with SIGINT/SIGTERM unblocked would take them with the default action (the process
 * dies instead of stopping cleanly). This constructor runs first (priority 101) so every thread
 * inherits the blocked mask; main() takes the signals with a signalfd. */
__attribute__((constructor(101))) static void block_stop_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv) {
    /* Before any thread exists (and before gRPC starts): SIGINT/SIGTERM are taken with a
     * signalfd in the main loop, and every thread inherits the blocked mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    enum { OPT_CHECK = 256, OPT_PRINT_DEFAULT, OPT_ONCE, OPT_VERSION, OPT_SCAN, OPT_TRIVY_DB, OPT_SBOM };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT},
        {"once", no_argument, NULL, OPT_ONCE},
        {"scan", required_argument, NULL, OPT_SCAN},
        {"trivy-db", required_argument, NULL, OPT_TRIVY_DB},
        {"sbom", required_argument, NULL, OPT_SBOM},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *scan_root = NULL, *scan_db = NULL, *scan_sbom = NULL;
    bool check = false, print_default = false, once = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_PRINT_DEFAULT:
            print_default = true;
            break;
        case OPT_ONCE:
            once = true;
            break;
        case OPT_SCAN:
            scan_root = optarg;
            break;
        case OPT_TRIVY_DB:
            scan_db = optarg;
            break;
        case OPT_SBOM:
            scan_sbom = optarg;
            break;
        case OPT_VERSION:
            printf("serviceradar-agent %s\n", SR_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || ((scan_db || scan_sbom) && !scan_root)) {
        usage(stderr);
        return 2;
    }

    sr_log_init("agent", SR_LOG_INFO);
    sr_agent_settings *settings = NULL;
    int r = sr_agent_settings_new(NULL, &settings);
    if (r < 0) {
        fprintf(stderr, "serviceradar-agent: could not build the configuration table: %s\n", strerror(-r));
        return 1;
    }
    int rc = 1;
    agent a = {.settings = settings, .cfg = sr_agent_settings_config(settings)};
    if (print_default) {
        sr_agent_settings_print_doc(settings, stdout);
        rc = fflush(stdout) == 0 ? 0 : 1;
        goto out;
    }
    if (!config_path && access(SR_AGENT_DEFAULT_CONFIG, F_OK) == 0)
        config_path = SR_AGENT_DEFAULT_CONFIG;
    char err[512];
    if (config_path && sr_agent_settings_load(settings, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "serviceradar-agent: %s\n", err);
        goto out;
    }
    if (sr_agent_settings_validate(settings, err, sizeof(err)) < 0) {
        fprintf(stderr, "serviceradar-agent: %s%s%s\n", config_path ? config_path : "", config_path ? ": " : "",
                err);
        goto out;
    }
    if (check) {
        printf("# effective configuration (%s)\n", config_path ? config_path : "defaults");
        sr_agent_settings_dump(settings, stdout);
        char cn[256];
        int cr = sr_agent_identity_cn(a.cfg->tls_cert_file, cn, sizeof(cn));
        if (cr == 0)
            printf("# agent id (certificate common name): %s\n", cn);
        else
            printf("# agent id: certificate %s not usable yet (%s)\n", a.cfg->tls_cert_file,
                   cr == -EBADMSG ? "no PEM certificate" : cr == -ENODATA ? "no common name" : strerror(-cr));
        printf("# configuration ok\n");
        rc = fflush(stdout) == 0 ? 0 : 1;
        goto out;
    }
    if (scan_root) {
        char db[4096];
        snprintf(db, sizeof(db), "%s", scan_db           ? scan_db
                                       : a.cfg->scan_db_dir[0] ? a.cfg->scan_db_dir
                                                               : "");
        if (!db[0] && snprintf(db, sizeof(db), "%s/trivy/db", a.cfg->data_dir) >= (int)sizeof(db)) {
            fprintf(stderr, "serviceradar-agent: data_dir too long\n");
            goto out;
        }
        /* A one-off scan: Ctrl-C and SIGTERM end it (the main thread takes them with the default
         * action; every other thread keeps them blocked). */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
        rc = sr_scan_cli(scan_root, db, (int)a.cfg->scan_parallel, a.cfg->scan_timeout_ms, scan_sbom, stdout);
        goto out;
    }
    sr_log_level lvl = SR_LOG_INFO;
    (void)sr_log_level_parse(a.cfg->log_level, &lvl);
    sr_log_init("agent", lvl);
    sr_points_init(&a.points, 0);
    if (collectors_init(&a) < 0)
        goto out;
    if (a.n_collectors == 0)
        sr_warn("no collector enabled: nothing will be reported");
    rc = once ? run_once(&a) : run_daemon(&a);
out:
    collectors_free(&a);
    sr_points_done(&a.points);
    sr_agent_settings_free(settings);
    return rc;
}
