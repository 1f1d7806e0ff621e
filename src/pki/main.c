/* serviceradar-pki: the operator's front end to the CA library (sr_pki.h) and the enrollment client.
 * Exit status: 0 done, 1 failed, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "enroll.h"
#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_parse.h"
#include "sr_pki.h"

#define PROG "serviceradar-pki"
#define CA_DAYS_DEFAULT 3650
#define CERT_DAYS_DEFAULT 365
#define TOKEN_TTL_DEFAULT_S 3600

enum {
    OPT_DIR, OPT_CN, OPT_DAYS, OPT_SAN, OPT_OUT_CERT, OPT_OUT_KEY, OPT_ID, OPT_SERIAL, OPT_CERT, OPT_TTL, OPT_CORE,
    OPT_TOKEN, OPT_FP, OPT_OUT, OPT_AGENT_ID, OPT_FORCE, OPT_QUIET, OPT_CORE_CA, OPT_HELP, OPT_COUNT
};
#define O(x) (1u << (x))

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"cn", required_argument, NULL, OPT_CN},
    {"days", required_argument, NULL, OPT_DAYS},
    {"san", required_argument, NULL, OPT_SAN},
    {"out-cert", required_argument, NULL, OPT_OUT_CERT},
    {"out-key", required_argument, NULL, OPT_OUT_KEY},
    {"id", required_argument, NULL, OPT_ID},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"cert", required_argument, NULL, OPT_CERT},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"core", required_argument, NULL, OPT_CORE},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"ca-fingerprint", required_argument, NULL, OPT_FP},
    {"out", required_argument, NULL, OPT_OUT},
    {"agent-id", required_argument, NULL, OPT_AGENT_ID},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"core-ca", required_argument, NULL, OPT_CORE_CA},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *dir, *cn, *out_cert, *out_key, *id, *serial, *cert, *core, *token, *fp, *out, *agent_id, *core_ca;
    const char *sans[SR_PKI_SAN_MAX + 1];
    size_t nsans;
    int days;
    int64_t ttl_s;
    bool force, quiet;
    unsigned seen;
} cli_opts;

typedef struct {
    const char *name;
    unsigned allowed, required;
    int (*run)(const cli_opts *o);
    const char *usage;
} cli_cmd;

static void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int path_in(char *buf, size_t n, const char *dir, const char *name) {
    int r = snprintf(buf, n, "%s/%s", dir, name);
    if (r < 0 || (size_t)r >= n) {
        cli_error("could not build a path under %s: name too long", dir);
        return -ENAMETOOLONG;
    }
    return 0;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Refuses to replace an existing file unless --force. */
static int check_new_file(const cli_opts *o, const char *path) {
    if (!o->force && file_exists(path)) {
        cli_error("could not write %s: it exists (use --force to replace it)", path);
        return -EEXIST;
    }
    return 0;
}

static int cmd_init(const cli_opts *o) {
    const char *cn = o->cn ? o->cn : "ServiceRadar CA";
    int days = o->days ? o->days : CA_DAYS_DEFAULT;
    int r = sr_pki_init_ca(o->dir, cn, days);
    if (r == -EEXIST) {
        cli_error("could not create a CA in %s: a CA already exists there", o->dir);
        return 1;
    }
    if (r < 0) {
        cli_error("could not create a CA in %s: %s", o->dir, strerror(-r));
        return 1;
    }
    char path[PATH_MAX], fp[SR_PKI_FINGERPRINT_SIZE];
    if (path_in(path, sizeof(path), o->dir, "ca.crt") < 0 || (r = sr_pki_fingerprint(path, fp, sizeof(fp))) < 0)
        return 1;
    printf("created CA \"%s\" in %s (valid %d days)\nca fingerprint: %s\n", cn, o->dir, days, fp);
    return 0;
}

static int issue_one(const cli_opts *o, sr_pki_kind kind, const char *cn, const char *cert, const char *key) {
    int days = o->days ? o->days : CERT_DAYS_DEFAULT;
    char ca[PATH_MAX];
    if (path_in(ca, sizeof(ca), o->dir, "ca.key") < 0)
        return 1;
    if (!file_exists(ca)) {
        cli_error("could not issue a certificate for %s: no CA in %s (run `" PROG " init --dir %s`)", cn, o->dir,
                  o->dir);
        return 1;
    }
    if (check_new_file(o, cert) < 0 || check_new_file(o, key) < 0)
        return 1;
    int r = sr_pki_issue(o->dir, kind, cn, kind == SR_PKI_SERVER ? o->sans : NULL, days, cert, key);
    if (r == -EINVAL) {
        cli_error("could not issue a certificate for %s: invalid name, SAN or validity", cn);
        return 1;
    }
    if (r < 0) {
        cli_error("could not issue a certificate for %s into %s: %s", cn, cert, strerror(-r));
        return 1;
    }
    printf("issued %s certificate for %s: %s (key %s)\n", kind == SR_PKI_SERVER ? "server" : "client", cn, cert,
           key);
    return 0;
}

static int cmd_issue_gateway(const cli_opts *o) {
    char cert[PATH_MAX], key[PATH_MAX];
    if (path_in(cert, sizeof(cert), o->dir, "gateway.crt") < 0 || path_in(key, sizeof(key), o->dir, "gateway.key") < 0)
        return 1;
    return issue_one(o, SR_PKI_SERVER, o->cn, o->out_cert ? o->out_cert : cert, o->out_key ? o->out_key : key);
}

static int cmd_issue_agent(const cli_opts *o) {
    if (!sr_pki_agent_id_valid(o->id)) {
        cli_error("invalid agent id \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", o->id);
        return 2;
    }
    char agents[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], name[SR_PKI_AGENT_ID_MAX + 8];
    if (path_in(agents, sizeof(agents), o->dir, "agents") < 0)
        return 1;
    snprintf(name, sizeof(name), "%s.crt", o->id);
    if (path_in(cert, sizeof(cert), agents, name) < 0)
        return 1;
    snprintf(name, sizeof(name), "%s.key", o->id);
    if (path_in(key, sizeof(key), agents, name) < 0)
        return 1;
    if ((!o->out_cert || !o->out_key)) {
        int r = sr_mkdir_p(agents, 0700);
        if (r < 0) {
            cli_error("could not create %s: %s", agents, strerror(-r));
            return 1;
        }
    }
    return issue_one(o, SR_PKI_CLIENT, o->id, o->out_cert ? o->out_cert : cert, o->out_key ? o->out_key : key);
}

static int cmd_revoke(const cli_opts *o) {
    if (!!o->serial == !!o->cert) {
        cli_error("revoke needs exactly one of --serial and --cert");
        return 2;
    }
    char arg[PATH_MAX];
    if (o->cert) {
        if (!file_exists(o->cert)) {
            cli_error("could not revoke %s: %s", o->cert, strerror(errno));
            return 1;
        }
        /* A path always reaches the library as a path: "./name" for a bare file name. */
        int n = snprintf(arg, sizeof(arg), "%s%s", strchr(o->cert, '/') ? "" : "./", o->cert);
        if (n < 0 || (size_t)n >= sizeof(arg)) {
            cli_error("could not revoke %s: path too long", o->cert);
            return 1;
        }
    } else {
        if (strchr(o->serial, '/')) {
            cli_error("invalid serial \"%s\": expected hex", o->serial);
            return 2;
        }
        snprintf(arg, sizeof(arg), "%s", o->serial);
    }
    const char *what = o->cert ? o->cert : o->serial;
    int r = sr_pki_revoke(o->dir, arg);
    switch (r) {
    case 0:
        printf("revoked %s; %s/ca.crl re-signed (gateways pick it up on reload)\n", what, o->dir);
        return 0;
    case -EINVAL:
        cli_error("could not revoke %s: not a hex serial (at most 20 bytes) or a PEM certificate", what);
        return 1;
    case -EXDEV:
        cli_error("could not revoke %s: issued by another CA", what);
        return 1;
    case -ENOENT:
        cli_error("could not revoke %s: no CA in %s", what, o->dir);
        return 1;
    default:
        cli_error("could not revoke %s: %s", what, strerror(-r));
        return 1;
    }
}

static int cmd_token(const cli_opts *o) {
    if (!sr_pki_agent_id_valid(o->id)) {
        cli_error("invalid agent id \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", o->id);
        return 2;
    }
    int64_t ttl = o->ttl_s ? o->ttl_s : TOKEN_TTL_DEFAULT_S;
    char token[SR_PKI_TOKEN_SIZE], path[PATH_MAX], fp[SR_PKI_FINGERPRINT_SIZE];
    if (path_in(path, sizeof(path), o->dir, "ca.crt") < 0)
        return 1;
    int r = sr_pki_fingerprint(path, fp, sizeof(fp));
    if (r < 0) {
        cli_error("could not read the CA certificate %s: %s", path, strerror(-r));
        return 1;
    }
    r = sr_pki_token_create(o->dir, o->id, ttl, token, sizeof(token));
    if (r < 0) {
        cli_error("could not create an enrollment token for %s: %s", o->id, strerror(-r));
        return 1;
    }
    if (o->quiet) {
        printf("%s\n", token);
        OPENSSL_cleanse(token, sizeof(token));
        return 0;
    }
    time_t expires = time(NULL) + (time_t)ttl;
    struct tm tm;
    char when[32] = "";
    if (gmtime_r(&expires, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("enrollment token for agent %s (one use, expires %s):\n  %s\n"
           "ca fingerprint:\n  %s\n"
           "run on the agent host:\n"
           "  " PROG " enroll --core %s --token %s --ca-fingerprint %s --out /etc/serviceradar/agent\n",
           o->id, when, token, fp, o->core ? o->core : "http://CORE-HOST:8080", token, fp);
    if (!o->core)
        printf("(replace http://CORE-HOST:8080 with the address of the core's API, or pass --core)\n");
    OPENSSL_cleanse(token, sizeof(token));
    return 0;
}

/* Writes a file atomically, reporting a failure. */
static int write_out(const char *dir, const char *name, const char *data, unsigned mode) {
    char path[PATH_MAX];
    if (path_in(path, sizeof(path), dir, name) < 0)
        return -ENAMETOOLONG;
    int r = sr_file_write_atomic(path, data, strlen(data), mode);
    if (r < 0)
        cli_error("could not write %s: %s", path, strerror(-r));
    return r;
}

static void free_secret(char **p) {
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
    }
}

static int cmd_enroll(const cli_opts *o) {
    char want[SR_PKI_FINGERPRINT_SIZE], path[PATH_MAX];
    if (sr_pki_fingerprint_parse(o->fp, want, sizeof(want)) < 0) {
        cli_error("invalid --ca-fingerprint \"%s\": expected sha256:<64 hex digits>", o->fp);
        return 2;
    }
    if (strnlen(o->token, SR_PKI_TOKEN_LEN + 1) != SR_PKI_TOKEN_LEN) {
        cli_error("invalid --token: expected the %d characters `" PROG " token` printed", SR_PKI_TOKEN_LEN);
        return 2;
    }
    if (o->id && !sr_pki_agent_id_valid(o->id)) {
        cli_error("invalid agent id \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", o->id);
        return 2;
    }
    if (path_in(path, sizeof(path), o->out, "agent.key") < 0 || check_new_file(o, path) < 0)
        return 1;
    if (enroll_url_is_remote_http(o->core))
        fprintf(stderr, PROG ": warning: %s is plain http: the token crosses the network in clear text\n", o->core);

    _cleanup_(free_secret) char *key_pem = NULL;
    _cleanup_free_ char *csr_pem = NULL, *cert_pem = NULL, *ca_pem = NULL;
    int r = sr_pki_csr_new(o->id, &key_pem, &csr_pem);
    if (r < 0) {
        cli_error("could not generate the agent key: %s", strerror(-r));
        return 1;
    }
    char err[512] = "";
    r = enroll_post(o->core, o->core_ca, o->token, csr_pem, &cert_pem, &ca_pem, err, sizeof(err));
    if (r < 0) {
        cli_error("could not enroll with %s: %s", o->core, err);
        return 1;
    }
    char cn[SR_PKI_CN_MAX + 1] = "";
    r = sr_pki_check_enrollment(key_pem, cert_pem, ca_pem, want, cn, sizeof(cn));
    if (r == -EPERM) {
        char got[SR_PKI_FINGERPRINT_SIZE] = "?";
        (void)sr_pki_fingerprint(ca_pem, got, sizeof(got));
        cli_error("refusing the enrollment: the core sent a CA with fingerprint %s, expected %s; nothing was written",
                  got, want);
        return 1;
    }
    if (r < 0) {
        cli_error("refusing the enrollment: the certificate the core sent is not valid for this key and CA; "
                  "nothing was written");
        return 1;
    }
    if (o->id && strcmp(cn, o->id) != 0) {
        cli_error("refusing the enrollment: the certificate is for %s, not %s", cn, o->id);
        return 1;
    }
    if ((r = sr_mkdir_p(o->out, 0700)) < 0) {
        cli_error("could not create %s: %s", o->out, strerror(-r));
        return 1;
    }
    if (write_out(o->out, "ca.crt", ca_pem, 0644) < 0 || write_out(o->out, "agent.key", key_pem, 0600) < 0 ||
        write_out(o->out, "agent.crt", cert_pem, 0644) < 0)
        return 1;
    printf("enrolled as agent %s: wrote %s/agent.key, %s/agent.crt, %s/ca.crt\n", cn, o->out, o->out, o->out);
    return 0;
}

/* 1 when both files exist, 0 when neither, -1 (reported) when only one does. */
static int pair_state(const char *dir, const char *a, const char *b) {
    char pa[PATH_MAX], pb[PATH_MAX];
    if (path_in(pa, sizeof(pa), dir, a) < 0 || path_in(pb, sizeof(pb), dir, b) < 0)
        return -1;
    bool ea = file_exists(pa), eb = file_exists(pb);
    if (ea != eb) {
        cli_error("could not set up %s: %s exists without %s; remove it or restore the pair", dir, ea ? pa : pb,
                  ea ? pb : pa);
        return -1;
    }
    return ea;
}

static int cmd_ensure_dev(const cli_opts *o) {
    if (!sr_pki_agent_id_valid(o->agent_id)) {
        cli_error("invalid agent id \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", o->agent_id);
        return 2;
    }
    int have = pair_state(o->dir, "ca.crt", "ca.key");
    if (have < 0)
        return 1;
    if (!have) {
        int r = sr_pki_init_ca(o->dir, "ServiceRadar Dev CA", CA_DAYS_DEFAULT);
        if (r < 0) {
            cli_error("could not create a CA in %s: %s", o->dir, strerror(-r));
            return 1;
        }
        printf("created %s/ca.crt, ca.key, ca.crl\n", o->dir);
    }
    char cert[PATH_MAX], key[PATH_MAX];
    if ((have = pair_state(o->dir, "gateway.crt", "gateway.key")) < 0)
        return 1;
    if (!have) {
        static const char *const sans[] = {"localhost", "127.0.0.1", "::1", NULL};
        if (path_in(cert, sizeof(cert), o->dir, "gateway.crt") < 0 ||
            path_in(key, sizeof(key), o->dir, "gateway.key") < 0)
            return 1;
        int r = sr_pki_issue(o->dir, SR_PKI_SERVER, "localhost", sans, CERT_DAYS_DEFAULT, cert, key);
        if (r < 0) {
            cli_error("could not issue the gateway certificate: %s", strerror(-r));
            return 1;
        }
        printf("created %s/gateway.crt, gateway.key (localhost, 127.0.0.1, ::1)\n", o->dir);
    }
    if ((have = pair_state(o->dir, "agent.crt", "agent.key")) < 0)
        return 1;
    if (path_in(cert, sizeof(cert), o->dir, "agent.crt") < 0 || path_in(key, sizeof(key), o->dir, "agent.key") < 0)
        return 1;
    if (have) {
        char cn[SR_PKI_CN_MAX + 1];
        int r = sr_pki_cert_file_cn(cert, cn, sizeof(cn));
        if (r < 0) {
            cli_error("could not read %s: %s", cert, strerror(-r));
            return 1;
        }
        if (strcmp(cn, o->agent_id) != 0) {
            cli_error("could not set up agent %s: %s is for agent %s (remove agent.crt and agent.key to replace it)",
                      o->agent_id, cert, cn);
            return 1;
        }
        return 0;
    }
    int r = sr_pki_issue(o->dir, SR_PKI_CLIENT, o->agent_id, NULL, CERT_DAYS_DEFAULT, cert, key);
    if (r < 0) {
        cli_error("could not issue the certificate of agent %s: %s", o->agent_id, strerror(-r));
        return 1;
    }
    printf("created %s/agent.crt, agent.key (agent %s)\n", o->dir, o->agent_id);
    return 0;
}

static const cli_cmd commands[] = {
    {"init", O(OPT_DIR) | O(OPT_CN) | O(OPT_DAYS), O(OPT_DIR), cmd_init,
     "init --dir DIR [--cn NAME] [--days N]\n"
     "  Creates a CA in DIR (0700): ca.key (0600), ca.crt, an empty signed ca.crl, revoked.txt, issued.txt.\n"
     "  Never overwrites an existing CA. Defaults: --cn \"ServiceRadar CA\", --days 3650.\n"},
    {"issue-gateway", O(OPT_DIR) | O(OPT_CN) | O(OPT_SAN) | O(OPT_DAYS) | O(OPT_OUT_CERT) | O(OPT_OUT_KEY) | O(OPT_FORCE),
     O(OPT_DIR) | O(OPT_CN), cmd_issue_gateway,
     "issue-gateway --dir DIR --cn NAME [--san DNS_OR_IP]... [--days N] [--out-cert F --out-key F] [--force]\n"
     "  Issues a server certificate (serverAuth) with a new EC P-256 key. Without --san the CN is the only\n"
     "  subjectAltName. Defaults: DIR/gateway.crt, DIR/gateway.key, 365 days. --force replaces existing files.\n"},
    {"issue-agent", O(OPT_DIR) | O(OPT_ID) | O(OPT_DAYS) | O(OPT_OUT_CERT) | O(OPT_OUT_KEY) | O(OPT_FORCE),
     O(OPT_DIR) | O(OPT_ID), cmd_issue_agent,
     "issue-agent --dir DIR --id AGENT_ID [--days N] [--out-cert F --out-key F] [--force]\n"
     "  Issues a client certificate (clientAuth) whose CN is AGENT_ID, with a new key made here.\n"
     "  Defaults: DIR/agents/AGENT_ID.crt and .key, 365 days. Prefer `token` + `enroll`: the key then\n"
     "  never leaves the agent host.\n"},
    {"revoke", O(OPT_DIR) | O(OPT_SERIAL) | O(OPT_CERT), O(OPT_DIR), cmd_revoke,
     "revoke --dir DIR (--serial HEX | --cert FILE)\n"
     "  Adds the certificate to DIR/revoked.txt and re-signs DIR/ca.crl; gateways refuse it once they load\n"
     "  the new CRL. Serials of every issued certificate are listed in DIR/issued.txt.\n"},
    {"token", O(OPT_DIR) | O(OPT_ID) | O(OPT_TTL) | O(OPT_CORE) | O(OPT_QUIET), O(OPT_DIR) | O(OPT_ID), cmd_token,
     "token --dir DIR --id AGENT_ID [--ttl 1h] [--core URL] [--quiet]\n"
     "  Creates a one-time enrollment token for AGENT_ID (default lifetime 1h, at most 30 days) and prints it\n"
     "  with the CA fingerprint and the enroll command to run on the agent host (--core fills in the core's\n"
     "  API address). --quiet prints the token alone.\n"},
    {"enroll", O(OPT_CORE) | O(OPT_TOKEN) | O(OPT_FP) | O(OPT_OUT) | O(OPT_ID) | O(OPT_CORE_CA) | O(OPT_FORCE),
     O(OPT_CORE) | O(OPT_TOKEN) | O(OPT_FP) | O(OPT_OUT), cmd_enroll,
     "enroll --core http(s)://HOST:PORT --token TOKEN --ca-fingerprint sha256:HEX --out DIR\n"
     "       [--id AGENT_ID] [--core-ca FILE] [--force]\n"
     "  Makes a key here (it never leaves this host), sends a CSR with the token to the core's\n"
     "  POST /api/v1/enroll, checks that the returned CA has the given fingerprint (otherwise nothing is\n"
     "  written) and writes DIR/agent.key (0600), DIR/agent.crt, DIR/ca.crt. --core-ca verifies an https core\n"
     "  with that CA bundle instead of the system's. --force replaces an existing DIR/agent.key.\n"},
    {"ensure-dev", O(OPT_DIR) | O(OPT_AGENT_ID), O(OPT_DIR) | O(OPT_AGENT_ID), cmd_ensure_dev,
     "ensure-dev --dir DIR --agent-id ID\n"
     "  For development (`make run`): creates whatever is missing of a CA, DIR/gateway.{crt,key} (localhost,\n"
     "  127.0.0.1, ::1) and DIR/agent.{crt,key} for agent ID. Running it again changes nothing.\n"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: " PROG " COMMAND [OPTIONS]   (" PROG " COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < SR_ARRAY_SIZE(commands); i++) {
        const char *u = commands[i].usage;
        fprintf(out, "  %.*s\n", (int)strcspn(u, "\n"), u);
    }
}

static int parse_opts(const cli_cmd *cmd, int argc, char **argv, cli_opts *o) {
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            cli_error("%s: %s option %s", cmd->name, c == ':' ? "missing value for" : "unknown",
                      argv[optind - 1]);
            return -EINVAL;
        }
        if (c == OPT_HELP) {
            printf("usage: " PROG " %s", cmd->usage);
            return 1;
        }
        if (!(cmd->allowed & O(c))) {
            cli_error("%s does not take --%s", cmd->name, long_opts[c].name);
            return -EINVAL;
        }
        if ((o->seen & O(c)) && c != OPT_SAN) {
            cli_error("%s: --%s given twice", cmd->name, long_opts[c].name);
            return -EINVAL;
        }
        o->seen |= O(c);
        switch (c) {
        case OPT_DIR: o->dir = optarg; break;
        case OPT_CN: o->cn = optarg; break;
        case OPT_OUT_CERT: o->out_cert = optarg; break;
        case OPT_OUT_KEY: o->out_key = optarg; break;
        case OPT_ID: o->id = optarg; break;
        case OPT_SERIAL: o->serial = optarg; break;
        case OPT_CERT: o->cert = optarg; break;
        case OPT_CORE: o->core = optarg; break;
        case OPT_TOKEN: o->token = optarg; break;
        case OPT_FP: o->fp = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_AGENT_ID: o->agent_id = optarg; break;
        case OPT_CORE_CA: o->core_ca = optarg; break;
        case OPT_FORCE: o->force = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_SAN:
            if (o->nsans >= SR_PKI_SAN_MAX) {
                cli_error("%s: at most %d --san", cmd->name, SR_PKI_SAN_MAX);
                return -EINVAL;
            }
            o->sans[o->nsans++] = optarg;
            break;
        case OPT_DAYS: {
            int64_t d = 0;
            if (sr_parse_i64(optarg, 1, SR_PKI_DAYS_MAX, &d) < 0) {
                cli_error("%s: invalid --days \"%s\": expected 1 to %d", cmd->name, optarg, SR_PKI_DAYS_MAX);
                return -EINVAL;
            }
            o->days = (int)d;
            break;
        }
        case OPT_TTL: {
            int64_t ms = 0;
            if (sr_parse_duration_ms(optarg, &ms) < 0 || ms < 1000 || ms > (int64_t)SR_PKI_TOKEN_TTL_MAX * 1000) {
                cli_error("%s: invalid --ttl \"%s\": expected a duration from 1s to 720h", cmd->name, optarg);
                return -EINVAL;
            }
            o->ttl_s = ms / 1000;
            break;
        }
        default: return -EINVAL;
        }
    }
    if (optind < argc) {
        cli_error("%s: unexpected argument \"%s\"", cmd->name, argv[optind]);
        return -EINVAL;
    }
    unsigned missing = cmd->required & ~o->seen;
    for (int i = 0; i < OPT_COUNT; i++) {
        if (missing & O(i)) {
            cli_error("%s needs --%s", cmd->name, long_opts[i].name);
            return -EINVAL;
        }
    }
    if (!!o->out_cert != !!o->out_key) {
        cli_error("%s: give both --out-cert and --out-key, or neither", cmd->name);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf(PROG " %s\n", SR_VERSION);
        return 0;
    }
    const cli_cmd *cmd = NULL;
    for (size_t i = 0; i < SR_ARRAY_SIZE(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        cli_error("unknown command \"%s\"", argv[1]);
        usage(stderr);
        return 2;
    }
    cli_opts o = {0};
    int r = parse_opts(cmd, argc - 1, argv + 1, &o);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error("could not initialize libcurl");
        return 1;
    }
    int rc = cmd->run(&o);
    curl_global_cleanup();
    return rc;
}
