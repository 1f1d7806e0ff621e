#include "sr_agent_config.h"

#include "sr_cleanup.h"
#include "sr_log.h"
#include "sr_logtail.h"
#include "sr_parse.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Keep in step with deploy/agent/serviceradar-agent.conf.example (a test compares them). */
static const sr_config_entry agent_entries[] = {
    {"gateway.address", SR_CFG_STRING, offsetof(sr_agent_config, gateway), "127.0.0.1:50052", 0, 0,
     "gateway to connect to, host:port ([v6]:port for IPv6 literals)"},
    {"gateway.server_name", SR_CFG_STRING, offsetof(sr_agent_config, gateway_server_name), "", 0, 0,
     "name expected in the gateway certificate; empty: the host part of gateway.address"},
    {"tls.ca_file", SR_CFG_STRING, offsetof(sr_agent_config, tls_ca_file), "/etc/serviceradar/certs/ca.crt", 0, 0,
     "PEM bundle of the CA that signed the gateway certificate"},
    {"tls.cert_file", SR_CFG_STRING, offsetof(sr_agent_config, tls_cert_file), "/etc/serviceradar/certs/agent.crt",
     0, 0, "this agent's certificate (PEM); its common name is the agent id"},
    {"tls.key_file", SR_CFG_STRING, offsetof(sr_agent_config, tls_key_file), "/etc/serviceradar/certs/agent.key",
     0, 0, "this agent's private key (PEM)"},
    {"data_dir", SR_CFG_STRING, offsetof(sr_agent_config, data_dir), "/var/lib/serviceradar/agent", 0, 0,
     "state directory; the spool of unacknowledged batches lives in <data_dir>/spool"},
    {"interval", SR_CFG_DURATION, offsetof(sr_agent_config, interval_ms), "15s", 1000, 3600000,
     "collection interval"},
    {"heartbeat_interval", SR_CFG_DURATION, offsetof(sr_agent_config, heartbeat_ms), "15s", 1000, 3600000,
     "heartbeat interval on the control stream"},
    {"spool.max_bytes", SR_CFG_SIZE, offsetof(sr_agent_config, spool_max_bytes), "256M", 1048576,
     INT64_C(68719476736), "disk space for unacknowledged batches; when full the oldest are dropped"},
    {"upload.max_records", SR_CFG_INT, offsetof(sr_agent_config, upload_max_records), "64", 1, 10000,
     "batches sent in one Upload call"},
    {"proc_root", SR_CFG_STRING, offsetof(sr_agent_config, proc_root), "/proc", 0, 0,
     "where procfs is mounted (e.g. /host/proc in a container)"},
    {"sys_root", SR_CFG_STRING, offsetof(sr_agent_config, sys_root), "/sys", 0, 0,
     "where sysfs is mounted (e.g. /host/sys in a container)"},
    {"hostname", SR_CFG_STRING, offsetof(sr_agent_config, hostname), "", 0, 0,
     "host name reported with metrics; empty: the system host name"},
    {"log_level", SR_CFG_STRING, offsetof(sr_agent_config, log_level), "info", 0, 0,
     "debug, info, warn or error"},
    {"logs.enabled", SR_CFG_BOOL, offsetof(sr_agent_config, logs_enabled), "true", 0, 0,
     "follow the log files below and upload their lines (parsed: time, program, user, source address, outcome)"},
    {"logs.files", SR_CFG_STRING, offsetof(sr_agent_config, logs_files),
     "/var/log/auth.log,/var/log/syslog,/var/log/secure,/var/log/messages", 0, 0,
     "comma-separated absolute paths, each optionally path=auth or path=syslog (default: auth for *auth.log* and "
     "secure, else syslog); missing files are watched for"},
    {"logs.from_start", SR_CFG_BOOL, offsetof(sr_agent_config, logs_from_start), "false", 0, 0,
     "read files already present at the first start from their beginning (false: from their end; files that "
     "appear later are always read from the beginning)"},
    {"logs.flush_interval", SR_CFG_DURATION, offsetof(sr_agent_config, logs_flush_ms), "1s", 100, 60000,
     "longest wait before read lines are spooled"},
    {"logs.max_batch_records", SR_CFG_INT, offsetof(sr_agent_config, logs_max_batch_records), "1000", 1, 5000,
     "log lines in one uploaded batch"},
    {"logs.timezone", SR_CFG_STRING, offsetof(sr_agent_config, logs_timezone), "UTC", 0, 0,
     "zone of timestamps that carry none (traditional syslog files): UTC, local or an offset such as +02:00"},
    {"logs.journald", SR_CFG_STRING, offsetof(sr_agent_config, logs_journald), "auto", 0, 0,
     "read the systemd journal: auto (when /var/log/journal or /run/log/journal exists and none of logs.files does, "
     "so that a host whose syslog daemon writes those files is not read twice), on (an error at start if it cannot "
     "be opened) or off"},
    {"logs.journald_dir", SR_CFG_STRING, offsetof(sr_agent_config, logs_journald_dir), "", 0, 0,
     "directory of journal files to read instead of the local system journal; empty: the system journal"},
    {"scan.enabled", SR_CFG_BOOL, offsetof(sr_agent_config, scan_enabled), "true", 0, 0,
     "scan the host and its running containers for vulnerable packages with the linked-in Trivy (an agent built "
     "without it ignores this), offline, against the Trivy DB the gateway distributes"},
    {"scan.interval", SR_CFG_DURATION, offsetof(sr_agent_config, scan_interval_ms), "12h", 60000,
     INT64_C(2592000000), "time between scheduled scans (a scan also runs on a `scan` command and after a new DB)"},
    {"scan.start_delay", SR_CFG_DURATION, offsetof(sr_agent_config, scan_start_delay_ms), "2m", 0, 86400000,
     "wait this long after start before a scan that is due (so a boot is not slowed down)"},
    {"scan.timeout", SR_CFG_DURATION, offsetof(sr_agent_config, scan_timeout_ms), "1h", 10000, 86400000,
     "longest scan of one target (the host or one container)"},
    {"scan.host_root", SR_CFG_STRING, offsetof(sr_agent_config, scan_host_root), "/", 0, 0,
     "root filesystem of the host (e.g. /host when the agent runs in a container)"},
    {"scan.db_dir", SR_CFG_STRING, offsetof(sr_agent_config, scan_db_dir), "", 0, 0,
     "Trivy DB directory (trivy.db, metadata.json); empty: <data_dir>/trivy/db, where distributed DBs are installed"},
    {"scan.containers", SR_CFG_BOOL, offsetof(sr_agent_config, scan_containers), "true", 0, 0,
     "also scan each running container (Docker, containerd, CRI-O, Podman, LXC) through /proc/<pid>/root"},
    {"scan.max_containers", SR_CFG_INT, offsetof(sr_agent_config, scan_max_containers), "64", 0, 4096,
     "most containers scanned in one run (the rest are reported as skipped)"},
    {"scan.parallel", SR_CFG_INT, offsetof(sr_agent_config, scan_parallel), "1", 1, 64,
     "CPU threads and file analyzers a scan may use; scans run at the lowest CPU and I/O priority"},
    {"scan.skip_dirs", SR_CFG_STRING, offsetof(sr_agent_config, scan_skip_dirs), "", 0, 0,
     "comma-separated directories not to scan, relative to each root (proc, sys and dev are always skipped)"},
};

#define ENABLED_HELP_MAX 200

struct sr_agent_settings {
    sr_config_table table;
    sr_config_entry *entries;
    char **owned;   /* keys and help strings made here */
    size_t n_owned;
    void *obj;      /* sr_agent_config, then one area per collector */
    const sr_collector *const *collectors;
    size_t n_collectors;
    size_t *area;   /* offset of each collector's area: int enabled, then its config */
    size_t *cfg_at; /* offset of each collector's config struct */
};

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static char *own(sr_agent_settings *s, char *str) {
    if (str)
        s->owned[s->n_owned++] = str;
    return str;
}

sr_agent_settings *sr_agent_settings_free(sr_agent_settings *s) {
    if (!s)
        return NULL;
    if (s->obj)
        sr_config_free(&s->table, s->obj);
    free(s->obj);
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->entries);
    free(s->area);
    free(s->cfg_at);
    free(s);
    return NULL;
}

int sr_agent_settings_new(const sr_collector *const *collectors, sr_agent_settings **ret) {
    if (!collectors)
        collectors = sr_collector_registry();
    sr_agent_settings *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->collectors = collectors;
    while (collectors[s->n_collectors])
        s->n_collectors++;
    size_t n = SR_ARRAY_SIZE(agent_entries);
    for (size_t i = 0; i < s->n_collectors; i++)
        n += 1 + collectors[i]->n_config;
    s->entries = calloc(n, sizeof(*s->entries));
    s->owned = calloc(2 * s->n_collectors + 1, sizeof(*s->owned));
    s->area = calloc(s->n_collectors + 1, sizeof(*s->area));
    s->cfg_at = calloc(s->n_collectors + 1, sizeof(*s->cfg_at));
    if (!s->entries || !s->owned || !s->area || !s->cfg_at)
        goto nomem;

    const size_t al = alignof(max_align_t);
    size_t size = align_up(sizeof(sr_agent_config), al);
    size_t k = 0;
    for (size_t i = 0; i < SR_ARRAY_SIZE(agent_entries); i++)
        s->entries[k++] = agent_entries[i];
    for (size_t i = 0; i < s->n_collectors; i++) {
        const sr_collector *c = collectors[i];
        s->area[i] = size;
        s->cfg_at[i] = size + al;
        size = align_up(s->cfg_at[i] + c->config_size, al);
        size_t klen = strlen(c->name) + sizeof(".enabled");
        char *key = own(s, malloc(klen));
        char *help = own(s, malloc(ENABLED_HELP_MAX));
        if (!key || !help)
            goto nomem;
        snprintf(key, klen, "%s.enabled", c->name);
        snprintf(help, ENABLED_HELP_MAX, "run the %s collector (%s)", c->name, c->help ? c->help : c->name);
        s->entries[k++] = (sr_config_entry){key, SR_CFG_BOOL, s->area[i], "true", 0, 0, help};
        for (size_t j = 0; j < c->n_config; j++) {
            s->entries[k] = c->config[j];
            s->entries[k].offset += s->cfg_at[i];
            k++;
        }
    }
    s->table = (sr_config_table){s->entries, k};
    s->obj = calloc(1, size);
    if (!s->obj)
        goto nomem;
    int r = sr_config_defaults(&s->table, s->obj);
    if (r < 0) {
        sr_agent_settings_free(s);
        return r;
    }
    *ret = s;
    return 0;
nomem:
    sr_agent_settings_free(s);
    return -ENOMEM;
}

int sr_agent_settings_load(sr_agent_settings *s, const char *path, char *err, size_t errlen) {
    return sr_config_load_file(&s->table, s->obj, path, err, errlen);
}

int sr_agent_settings_parse(sr_agent_settings *s, const char *name, const char *buf, size_t len, char *err,
                            size_t errlen) {
    return sr_config_parse(&s->table, s->obj, name, buf, len, err, errlen);
}

int sr_agent_split_address(const char *addr, char *host, size_t hostlen, unsigned *ret_port) {
    const char *colon, *hs, *he;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return -EINVAL;
        hs = addr + 1;
        he = rb;
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return -EINVAL; /* bare IPv6 needs brackets */
        hs = addr;
        he = colon;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    for (const char *c = hs; c < he; c++)
        if (*c == ' ' || *c == '/' || (unsigned char)*c < 0x21)
            return -EINVAL;
    int64_t port;
    if (sr_parse_i64(colon + 1, 1, 65535, &port) < 0)
        return -EINVAL;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *ret_port = (unsigned)port;
    return 0;
}

int sr_agent_settings_validate(const sr_agent_settings *s, char *err, size_t errlen) {
    const sr_agent_config *c = s->obj;
    char host[256];
    unsigned port;
    if (sr_agent_split_address(c->gateway, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "invalid value \"%s\" for gateway.address: expected host:port", c->gateway);
        return -EINVAL;
    }
    sr_log_level lvl;
    if (sr_log_level_parse(c->log_level, &lvl) < 0) {
        snprintf(err, errlen, "invalid value \"%s\" for log_level: expected debug, info, warn or error",
                 c->log_level);
        return -EINVAL;
    }
    const struct {
        const char *key, *value;
        int absolute;
    } paths[] = {
        {"data_dir", c->data_dir, 1},          {"proc_root", c->proc_root, 1},
        {"sys_root", c->sys_root, 1},          {"tls.ca_file", c->tls_ca_file, 0},
        {"tls.cert_file", c->tls_cert_file, 0}, {"tls.key_file", c->tls_key_file, 0},
    };
    for (size_t i = 0; i < SR_ARRAY_SIZE(paths); i++) {
        if (!paths[i].value[0] || (paths[i].absolute && paths[i].value[0] != '/')) {
            snprintf(err, errlen, "invalid value \"%s\" for %s: expected %s path", paths[i].value, paths[i].key,
                     paths[i].absolute ? "an absolute" : "a");
            return -EINVAL;
        }
        if (strlen(paths[i].value) > 1024) {
            snprintf(err, errlen, "invalid value for %s: path longer than 1024 bytes", paths[i].key);
            return -EINVAL;
        }
    }
    if (c->logs_enabled) {
        sr_logparse_tz tz;
        if (sr_logparse_tz_parse(c->logs_timezone, &tz) < 0) {
            snprintf(err, errlen, "invalid value \"%s\" for logs.timezone: expected UTC, local or +HH:MM",
                     c->logs_timezone);
            return -EINVAL;
        }
        if (strcmp(c->logs_journald, "auto") != 0 && strcmp(c->logs_journald, "on") != 0 &&
            strcmp(c->logs_journald, "off") != 0) {
            snprintf(err, errlen, "invalid value \"%s\" for logs.journald: expected auto, on or off", c->logs_journald);
            return -EINVAL;
        }
        if (c->logs_journald_dir[0] && (c->logs_journald_dir[0] != '/' || strlen(c->logs_journald_dir) > 1024)) {
            snprintf(err, errlen, "invalid value for logs.journald_dir: expected an absolute path of at most 1024 bytes");
            return -EINVAL;
        }
        _cleanup_free_ char *files = strdup(c->logs_files);
        if (!files)
            return -ENOMEM;
        sr_logtail_file f[SR_LOGTAIL_MAX_FILES];
        char why[256];
        if (sr_logtail_parse_files(files, f, SR_LOGTAIL_MAX_FILES, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "invalid value for logs.files: %s", why);
            return -EINVAL;
        }
    }
    if (strlen(c->hostname) > SR_POINT_DIM_MAX - 1) {
        snprintf(err, errlen, "invalid value for hostname: longer than 255 bytes");
        return -EINVAL;
    }
    return 0;
}

const sr_agent_config *sr_agent_settings_config(const sr_agent_settings *s) { return s->obj; }
const sr_config_table *sr_agent_settings_table(const sr_agent_settings *s) { return &s->table; }
void sr_agent_settings_dump(const sr_agent_settings *s, FILE *out) { sr_config_dump(&s->table, s->obj, out); }

void sr_agent_settings_print_doc(const sr_agent_settings *s, FILE *out) {
    fputs("# serviceradar-agent configuration (" SR_AGENT_DEFAULT_CONFIG ").\n"
          "# Generated by `serviceradar-agent --print-default-config`: every key with its default.\n"
          "# Format: key = value; durations 500ms/15s/2m/1h; sizes 64k/100M/2G.\n\n",
          out);
    sr_config_print_doc(&s->table, out);
}

size_t sr_agent_settings_collector_count(const sr_agent_settings *s) { return s->n_collectors; }
const sr_collector *sr_agent_settings_collector(const sr_agent_settings *s, size_t i) { return s->collectors[i]; }

int sr_agent_settings_collector_enabled(const sr_agent_settings *s, size_t i) {
    return *(const int *)(const void *)((const char *)s->obj + s->area[i]);
}

const void *sr_agent_settings_collector_config(const sr_agent_settings *s, size_t i) {
    return (const char *)s->obj + s->cfg_at[i];
}
