/* sr_agent_config: the agent's configuration: its own table plus, merged in, every compiled
 * collector's "<name>.<option>" entries and a "<name>.enabled" switch. One table drives
 * parsing, validation, --check-config, the sample file (deploy/agent/...conf.example) and
 * docs. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sr_collector.h"
#include "sr_config.h"

#define SR_AGENT_DEFAULT_CONFIG "/etc/serviceradar/agent.conf"

typedef struct {
    char *gateway;             /* "host:port" */
    char *gateway_server_name; /* "" = host part of gateway */
    char *tls_ca_file;
    char *tls_cert_file;
    char *tls_key_file;
    char *data_dir; /* the spool lives in <data_dir>/spool */
    int64_t interval_ms;
    int64_t heartbeat_ms;
    uint64_t spool_max_bytes;
    int64_t upload_max_records;
    char *proc_root;
    char *sys_root;
    char *hostname; /* "" = gethostname() */
    char *log_level;
    int logs_enabled;
    char *logs_files;     /* "path[=source],..." */
    int logs_from_start;
    int64_t logs_flush_ms;
    int64_t logs_max_batch_records;
    char *logs_timezone;  /* "UTC", "local" or "+HH:MM" */
    char *logs_journald;  /* "auto", "on" or "off" */
    char *logs_journald_dir; /* "" = the system journal */
    int scan_enabled;
    int64_t scan_interval_ms;
    int64_t scan_start_delay_ms;
    int64_t scan_timeout_ms;
    char *scan_host_root;
    char *scan_db_dir;        /* "" = <data_dir>/trivy/db */
    int scan_containers;
    int64_t scan_max_containers;
    int64_t scan_parallel;
    char *scan_skip_dirs;     /* comma-separated, relative to each scanned root */
} sr_agent_config;

typedef struct sr_agent_settings sr_agent_settings;

/* Builds the merged table for the given collectors (NULL: the compiled-in registry) and
 * writes every default. */
int sr_agent_settings_new(const sr_collector *const *collectors, sr_agent_settings **ret);
sr_agent_settings *sr_agent_settings_free(sr_agent_settings *s);

/* Parse a file / a buffer over the current values. err names file, line and key. */
int sr_agent_settings_load(sr_agent_settings *s, const char *path, char *err, size_t errlen);
int sr_agent_settings_parse(sr_agent_settings *s, const char *name, const char *buf, size_t len, char *err,
                            size_t errlen);
/* Checks what the table's bounds cannot: address syntax, log level, paths. 0 or -EINVAL. */
int sr_agent_settings_validate(const sr_agent_settings *s, char *err, size_t errlen);

const sr_agent_config *sr_agent_settings_config(const sr_agent_settings *s);
const sr_config_table *sr_agent_settings_table(const sr_agent_settings *s);
/* Prints the effective configuration / the documented sample file. */
void sr_agent_settings_dump(const sr_agent_settings *s, FILE *out);
void sr_agent_settings_print_doc(const sr_agent_settings *s, FILE *out);

/* Collectors in registry order: count, descriptor, enabled flag and parsed config. */
size_t sr_agent_settings_collector_count(const sr_agent_settings *s);
const sr_collector *sr_agent_settings_collector(const sr_agent_settings *s, size_t i);
int sr_agent_settings_collector_enabled(const sr_agent_settings *s, size_t i);
const void *sr_agent_settings_collector_config(const sr_agent_settings *s, size_t i);

/* Splits "host:port" or "[v6]:port". Writes host (without brackets) into host. 0 or -EINVAL. */
int sr_agent_split_address(const char *addr, char *host, size_t hostlen, unsigned *ret_port);
