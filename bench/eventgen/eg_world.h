/* The synthetic estate behind serviceradar-eventgen: ~500 hosts, ~20k source addresses, ~2k user
 * names, Kubernetes namespaces and pods, and the line templates that turn them into host log
 * records (auth.log / syslog, shaped after the real lines in the fail2ban, Wazuh and elastic-beats
 * test corpora) and Falco alerts (shaped after real Falco / Falcosidekick JSON and the rule texts
 * of the Falco rules index).
 *
 * Everything is drawn from one seeded generator, so a seed gives the same data every time.
 * Distributions are heavy-tailed where real ones are: a few hosts are far noisier than the rest,
 * a few attacking addresses send most failed logins, "root" is the most tried user name.
 *
 * Needles: a fixed, small number of events carry rare strings whatever the total (CVE-2024-3094,
 * one SHA-256 of a dropped binary), so searches for them have a known answer; see
 * eg_world_needles(). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define EG_TEXT_MAX 1536
#define EG_MAX_FIELDS 16
#define EG_FIELD_KEY_MAX 24
#define EG_FIELD_VALUE_MAX 320

/* One host log line and what the agent's parser would extract from it. All strings are
 * NUL-terminated and owned by the record (protobuf-c wants char *, so they are writable). */
typedef struct {
    int64_t time_ms;
    char source[8]; /* "auth" | "syslog" */
    char path[24];
    char raw[EG_TEXT_MAX + 192];
    char hostname[64];
    char program[48];
    uint32_t pid;
    int32_t severity; /* syslog 0..7 */
    int32_t facility; /* syslog facility */
    char message[EG_TEXT_MAX];
    char user[64];
    char src_ip[48];
    uint32_t src_port;
    char outcome[12]; /* "success" | "failure" | "" */
    char action[24];
    int n_fields;
    char keys[EG_MAX_FIELDS][EG_FIELD_KEY_MAX];
    char values[EG_MAX_FIELDS][EG_FIELD_VALUE_MAX];
    uint64_t offset; /* byte offset of the line in its file */
} eg_logrec;

typedef struct eg_world eg_world;

typedef struct {
    uint64_t seed;
    int64_t start_ms; /* first event time */
    int64_t end_ms;   /* last event time (exclusive) */
    int64_t falco_total; /* number of Falco alerts the run will ask for (places the Falco needles) */
} eg_world_opts;

/* Returns 0 or -ENOMEM. */
int eg_world_new(const eg_world_opts *o, eg_world **ret);
eg_world *eg_world_free(eg_world *w);

int eg_world_hosts(const eg_world *w);
const char *eg_world_host_name(const eg_world *w, int host);
/* Relative log volume of a host (sums to 1 over all hosts). */
double eg_world_host_share(const eg_world *w, int host);

/* Fills recs[0..n) with the log lines of one host in [t0_ms, t1_ms), in time order. Needles whose
 * time falls in the window replace ordinary lines (the count stays n). */
void eg_world_host_logs(eg_world *w, int host, int64_t t0_ms, int64_t t1_ms, eg_logrec *recs, int n);

/* Writes Falco alert number index (0-based, of falco_total) at time t_ms as the JSON document
 * Falcosidekick publishes. Returns its length, or 0 when out is too small. */
size_t eg_world_falco(eg_world *w, int64_t index, int64_t t_ms, char *out, size_t outlen);

/* Number of events carrying the needle strings written so far (to print what was planted). */
typedef struct {
    int cve_2024_3094; /* host log lines + Falco alerts mentioning CVE-2024-3094 */
    int dropped_binary_sha256; /* lines with EG_NEEDLE_SHA256 */
} eg_needle_counts;
void eg_world_needles(const eg_world *w, eg_needle_counts *ret);

#define EG_NEEDLE_CVE "CVE-2024-3094"
#define EG_NEEDLE_SHA256 "5b1cf2a2b0f3a3f8e9d0e0a4c67c1ed1d1a5e6c2bb5d3a0e7f3f5b7c9d2e4f61"
/* A mid-ranked attacking address: a few hundred failed logins at 10M events. */
#define EG_NEEDLE_IP "203.0.113.7"
