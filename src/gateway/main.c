/* agent-gateway: terminates agent mTLS and relays telemetry and commands to NATS.
 *
 *   agent-gateway -c FILE [--check-config] [--print-default-config]
 *
 * Signals: SIGINT/SIGTERM are blocked before gRPC starts any thread and taken by sigwait in
 * the main thread, which then stops the gateway gracefully (exit 0). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_config.h"
#include "gw_gateway.h"
#include "sr_log.h"
#include "srg.h"

static void usage(FILE *out) {
    fprintf(out, "usage: agent-gateway -c FILE [--check-config] [--print-default-config]\n"
                 "  -c, --config FILE         configuration file (key = value)\n"
                 "      --check-config        validate the configuration, print the effective values, exit\n"
                 "      --print-default-config print a commented configuration with every default, exit\n"
                 "  -h, --help\n");
}

int main(int argc, char **argv) {
    enum { OPT_CHECK = 1000, OPT_DEFAULTS };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"print-default-config", no_argument, NULL, OPT_DEFAULTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int check = 0, defaults = 0, c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_CHECK:
            check = 1;
            break;
        case OPT_DEFAULTS:
            defaults = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    sr_log_init("agent-gateway", SR_LOG_INFO);
    if (defaults) {
        sr_config_print_doc(&gw_config_table, stdout);
        return 0;
    }

    gw_config cfg;
    char err[512] = "";
    int r = gw_config_init(&cfg);
    if (r < 0) {
        sr_error("could not initialise the configuration: %s", strerror(-r));
        return 1;
    }
    if (path)
        r = gw_config_load(&cfg, path, err, sizeof(err));
    if (r == 0)
        r = gw_config_finalize(&cfg, err, sizeof(err));
    if (r < 0) {
        sr_error("invalid configuration%s%s: %s", path ? " in " : "", path ? path : "", err);
        gw_config_free(&cfg);
        return 1;
    }
    if (check) {
        sr_config_dump(&gw_config_table, &cfg, stdout);
        gw_config_free(&cfg);
        return 0;
    }
    sr_log_level lvl = SR_LOG_INFO;
    (void)sr_log_level_parse(cfg.log_level, &lvl);
    sr_log_init("agent-gateway", lvl);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    srg_global_init();

    gw_gateway *g = NULL;
    r = gw_gateway_start(&cfg, &g, err, sizeof(err));
    if (r < 0) {
        sr_error("could not start: %s", err);
        srg_global_shutdown();
        gw_config_free(&cfg);
        return 1;
    }
    sr_info("agent-gateway %s (id %s) listening on %s (port %d), nats %s", SR_VERSION, cfg.gateway_id, cfg.listen,
            gw_gateway_port(g), cfg.nats_url);

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    sr_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gw_gateway_stop(g);
    gw_stats st;
    gw_gateway_stats(g, &st);
    sr_info("stopped: %" PRIu64 " uploads (%" PRIu64 " failed), %" PRIu64 " batches, %" PRIu64 " points, %" PRIu64
            " log records, %" PRIu64 " duplicates",
            st.uploads_ok, st.uploads_failed, st.batches_published, st.points, st.records, st.duplicates);
    gw_gateway_free(g);
    srg_global_shutdown();
    gw_config_free(&cfg);
    return 0;
}
