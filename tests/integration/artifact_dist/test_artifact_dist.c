/* Trivy DB distribution end to end: a real nats-server, the agent-gateway and four
 * serviceradar-agent processes with mTLS certificates made by openssl (tests/support/gencerts.sh).
 * The test plays the core: it puts a bundle into the Object Store (sr_objstore) and the
 * trivy_db_update document into KV artifacts/trivy-db, exactly as the core's job does. The bundles
 * are real Trivy DBs made by sr-trivydb-fixture (scripts/trivy.sh fixture-tool) for the test root
 * filesystem (scripts/trivy.sh rootfs), and the agents install them with the real installer
 * (sr_trivy_db_install of the Trivy bridge).
 *
 * Checked: the gateway waits for a bucket that does not exist yet; three agents download, verify
 * and install the same 100 MiB version (their trivy.db is byte-identical to the bundle's);
 * agent-a is SIGKILLed mid-stream (SR_FAULT_ARTIFACT_KILL_AT) and resumes from the offset on
 * disk, not from 0; agent-b is fed a corrupted chunk (SR_FAULT_ARTIFACT_CORRUPT) and rejects it
 * and fetches it again; at most two downloads run at once (artifact.max_downloads = 2), so one
 * agent is refused and retries; agent-d, started later, gets the version at Hello; an agent that
 * holds the current version is sent nothing when it reconnects; Download semantics (unknown name
 * or version NOT_FOUND, offset beyond the size OUT_OF_RANGE, offset = size an empty OK, the
 * concurrency bound RESOURCE_EXHAUSTED); a second, smaller DB replaces the first on every agent;
 * agent-d (the only one with scan.enabled) scans the test root filesystem after each install and
 * finds exactly the vulnerabilities that DB predicts, never "invalid database"; a bundle whose
 * trivy.db is random bytes is refused by the installer and leaves the previous DB in place, and
 * the previous version is still served. Needs -DSR_FAULT_INJECTION=ON and SR_TRIVY (CMake
 * registers a failing test otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/status.h>
#include <nats/nats.h>
#include <openssl/evp.h>

#include "serviceradar/agent/v1/agent.pb-c.h"
#include "sr_cleanup.h"
#include "sr_file.h"
#include "sr_objstore.h"
#include "sr_parse.h"
#include "sr_time.h"
#include "srg.h"
#include "srtest.h"

#define N_AGENTS 4
#define BUNDLE1_PAD_MB 100 /* random padding in bundle 1's DB: a bundle of about 100 MiB */
#define BUNDLE2_PAD_MB 2
#define SCAN_AGENT 3 /* agent-d scans after each install */
#define KILL_AT 60000000u /* agent-a kills itself once past this offset */
#define CORRUPT_CHUNK 7   /* the chunk agent-b receives corrupted */

static const char *const agent_ids[N_AGENTS] = {"agent-a", "agent-b", "agent-c", "agent-d"};

static struct {
    char dir[256];
    char certs[300];
    srtest_nats nats;
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    pid_t gw;
    int gw_port;
    char gw_log[320];
    pid_t ag[N_AGENTS];
    char ag_dir[N_AGENTS][320];
    char ag_log[N_AGENTS][320];
    char tool[1024], rootfs[1024]; /* from scripts/trivy.sh */
    char v1[80], hex1[65];
    uint64_t size1;
    char db1_hex[65]; /* sha256 of trivy.db inside bundle 1 */
    int vulns1;       /* findings a scan of the root filesystem reports with DB 1 */
    char v2[80], hex2[65];
    uint64_t size2;
    char db2_hex[65];
    int vulns2;
    char v3[80], hex3[65]; /* the bundle that does not install */
    uint64_t size3;
} T;

/* ---- helpers ---- */

static void path_in(char *out, size_t outlen, const char *dir, const char *name) {
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < outlen);
}

static void sha256_file_hex(const char *path, char out[65], uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    static unsigned char buf[1 << 20];
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    unsigned char d[32];
    unsigned int dl = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, d, &dl), 1);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    if (size)
        *size = total;
}

static char *slurp(const char *path) {
    char *buf = NULL;
    size_t len = 0;
    if (sr_file_read_all(path, 64 * 1024 * 1024, &buf, &len) < 0)
        return strdup("");
    return buf;
}

static int count_in(const char *path, const char *needle) {
    _cleanup_free_ char *s = slurp(path);
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int wait_count(const char *path, const char *needle, int want, int timeout_ms) {
    int64_t end = sr_mono_ms() + timeout_ms;
    int n;
    while ((n = count_in(path, needle)) < want && sr_mono_ms() < end)
        sr_sleep_ms(100);
    if (n < want)
        fprintf(stderr, "timed out waiting for %d x \"%s\" in %s (found %d)\n", want, needle, path, n);
    return n;
}

static void dump(const char *path) {
    _cleanup_free_ char *s = slurp(path);
    size_t len = strlen(s);
    fprintf(stderr, "----- %s (last 6000 bytes) -----\n%s\n", path, len > 6000 ? s + len - 6000 : s);
}

static void dump_all(void) {
    dump(T.gw_log);
    for (int i = 0; i < N_AGENTS; i++)
        dump(T.ag_log[i]);
}

static pid_t spawn(const char *bin, const char *conf, const char *log, const char *const *env) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)(uintptr_t)*e);
        execl(bin, bin, "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* SIGTERM and reap: the exit status (or 128 + signal). */
static int stop_proc(pid_t *pid) {
    if (*pid <= 0)
        return 0;
    kill(*pid, SIGTERM);
    int st = 0;
    int64_t end = sr_mono_ms() + 30000;
    while (waitpid(*pid, &st, WNOHANG) == 0) {
        if (sr_mono_ms() > end) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &st, 0);
            break;
        }
        sr_sleep_ms(20);
    }
    *pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void start_gateway(void) {
    char conf[320], cache[320];
    path_in(conf, sizeof(conf), T.dir, "gateway.conf");
    path_in(cache, sizeof(cache), T.dir, "gateway-cache");
    FILE *f = fopen(conf, "we");
    assert_non_null(f);
    fprintf(f,
            "listen = \"127.0.0.1:%d\"\ntls.ca_file = \"%s/ca.crt\"\ntls.cert_file = \"%s/gateway.crt\"\n"
            "tls.key_file = \"%s/gateway.key\"\nnats.url = \"%s\"\nheartbeat_interval = \"2s\"\n"
            "artifact.cache_dir = \"%s\"\nartifact.retry_interval = \"500ms\"\nartifact.recheck_interval = \"5s\"\n"
            "artifact.max_downloads = 2\nlog_level = \"info\"\n",
            T.gw_port, T.certs, T.certs, T.certs, T.nats.url, cache);
    fclose(f);
    static char corrupt[64];
    snprintf(corrupt, sizeof(corrupt), "SR_FAULT_ARTIFACT_CORRUPT=agent-b:%d", CORRUPT_CHUNK);
    const char *env[] = {corrupt, NULL};
    T.gw = spawn(SR_GATEWAY_BIN, conf, T.gw_log, env);
    if (srtest_wait_port(T.gw_port, 20000) != 0) {
        dump(T.gw_log);
        fail_msg("the gateway did not start listening on %d", T.gw_port);
    }
}

static void start_agent(int i, int kill_midway) {
    char conf[360];
    snprintf(conf, sizeof(conf), "%s.conf", T.ag_dir[i]);
    FILE *f = fopen(conf, "we");
    assert_non_null(f);
    fprintf(f,
            "gateway.address = \"127.0.0.1:%d\"\ntls.ca_file = \"%s/ca.crt\"\ntls.cert_file = \"%s/%s.crt\"\n"
            "tls.key_file = \"%s/%s.key\"\ndata_dir = \"%s\"\ninterval = \"60s\"\nheartbeat_interval = \"2s\"\n"
            "logs.enabled = false\nlog_level = \"info\"\n",
            T.gw_port, T.certs, T.certs, agent_ids[i], T.certs, agent_ids[i], T.ag_dir[i]);
    /* Only agent-d scans, and only after an install (no scheduled run within the test): the test
     * root filesystem, no containers. */
    if (i == SCAN_AGENT)
        fprintf(f, "scan.enabled = true\nscan.host_root = \"%s\"\nscan.containers = false\nscan.interval = \"24h\"\n"
                   "scan.start_delay = \"24h\"\n",
                T.rootfs);
    else
        fprintf(f, "scan.enabled = false\n");
    fclose(f);
    static char kill_env[64];
    snprintf(kill_env, sizeof(kill_env), "SR_FAULT_ARTIFACT_KILL_AT=%u", KILL_AT);
    const char *env[] = {kill_midway ? kill_env : NULL, NULL};
    T.ag[i] = spawn(SR_AGENT_BIN, conf, T.ag_log[i], env);
}

/* Puts a bundle into the Object Store and announces it in KV, as the core's job does. */
static void publish(const char *bundle, char version[80], char hex[65], uint64_t *size) {
    sha256_file_hex(bundle, hex, size);
    snprintf(version, 80, "sha256:%s", hex);
    sr_objstore *os = NULL;
    char err[256] = "";
    if (sr_objstore_open(T.js, "artifacts", 1, NULL, &os, err, sizeof(err)) < 0)
        fail_msg("could not open the object store: %s", err);
    char desc[128];
    snprintf(desc, sizeof(desc), "Trivy DB bundle (db.tar.gz) %s", version);
    if (sr_objstore_put_file(os, "trivy-db", bundle, desc, 0, NULL, err, sizeof(err)) < 0)
        fail_msg("could not put %s: %s", bundle, err);
    sr_objstore_free(os);
    if (!T.kv) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = "artifacts";
        kc.History = 5;
        kc.StorageType = js_FileStorage;
        assert_int_equal(js_CreateKeyValue(&T.kv, T.js, &kc), NATS_OK);
    }
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"event\":\"trivy_db_update\",\"name\":\"trivy-db\",\"version\":\"%s\",\"sha256\":\"%s\",\"size\":%" PRIu64
             ",\"bucket\":\"artifacts\",\"object\":\"trivy-db\",\"source\":\"test\",\"updated_unix_ms\":%" PRId64 "}",
             version, hex, *size, sr_now_unix_ms());
    uint64_t rev = 0;
    assert_int_equal(kvStore_PutString(&rev, T.kv, "trivy-db", doc), NATS_OK);
}

/* The agent holds version: its installed file says so and its trivy.db is the bundle's. */
static int agent_has(int i, const char *version) {
    char p[400];
    snprintf(p, sizeof(p), "%s/artifacts/trivy-db.installed", T.ag_dir[i]);
    _cleanup_free_ char *s = slurp(p);
    return strstr(s, version) != NULL;
}

static int wait_agent_has(int i, const char *version, int timeout_ms) {
    int64_t end = sr_mono_ms() + timeout_ms;
    while (!agent_has(i, version) && sr_mono_ms() < end)
        sr_sleep_ms(100);
    return agent_has(i, version);
}

/* The agent's installed DB is the bundle's: trivy.db byte-identical (db_hex: its SHA-256),
 * metadata.json present, nothing left of the download or the swap. */
static void check_db(int i, const char *db_hex) {
    char p[400], h[65];
    snprintf(p, sizeof(p), "%s/trivy/db/trivy.db", T.ag_dir[i]);
    sha256_file_hex(p, h, NULL);
    assert_string_equal(h, db_hex);
    snprintf(p, sizeof(p), "%s/trivy/db/metadata.json", T.ag_dir[i]);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/trivy/db.new", T.ag_dir[i]);
    assert_int_not_equal(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/artifacts/trivy-db.part", T.ag_dir[i]);
    assert_int_not_equal(stat(p, &sb), 0);
}

/* The scanning agent's run number `run` (1-based) after an install: one target (the test root
 * filesystem) scanned with exactly the findings the DB was built to produce. */
static void check_scan(int run, int vulns) {
    const char *log = T.ag_log[SCAN_AGENT];
    if (wait_count(log, "scan: starting a run (new Trivy DB)", run, 60000) < run ||
        wait_count(log, ": done in ", run, 120000) < run) {
        dump(log);
        fail_msg("agent-d did not finish scan %d after installing a DB", run);
    }
    _cleanup_free_ char *s = slurp(log);
    const char *line = s;
    for (int k = 0; k < run; k++)
        line = strstr(k ? line + 1 : line, ": done in ");
    size_t len = strcspn(line, "\n");
    char want[64];
    snprintf(want, sizeof(want), ", %d vulnerabilities", vulns);
    fprintf(stderr, "agent-d scan %d%.*s\n", run, (int)len, line);
    if (!memmem(line, len, "1 of 1 targets", 14) || len < strlen(want) ||
        memcmp(line + len - strlen(want), want, strlen(want)) != 0) {
        dump(log);
        fail_msg("agent-d scan %d: expected one target and %d vulnerabilities", run, vulns);
    }
    assert_int_equal(count_in(log, "scan: run failed"), 0);
}

/* ---- a Download client (agent-d's certificate) ---- */

typedef struct {
    int code;
    char msg[256];
    int chunks;
    uint64_t bytes, first_offset;
    int digests_ok;
} dl_result;

static srg_channel *client(void) {
    char target[64], ca[360], crt[360], key[360];
    snprintf(target, sizeof(target), "127.0.0.1:%d", T.gw_port);
    snprintf(ca, sizeof(ca), "%s/ca.crt", T.certs);
    snprintf(crt, sizeof(crt), "%s/agent-d.crt", T.certs);
    snprintf(key, sizeof(key), "%s/agent-d.key", T.certs);
    srg_tls tls = {.ca_file = ca, .cert_file = crt, .key_file = key};
    srg_channel *ch = NULL;
    assert_int_equal(srg_channel_new(target, &tls, NULL, &ch), 0);
    return ch;
}

static srg_call *download_start(srg_channel *ch, const char *name, const char *version, uint64_t offset) {
    srg_call *c = NULL;
    assert_int_equal(srg_call_start(ch, "/serviceradar.agent.v1.AgentGateway/Download", 60000, &c), 0);
    Serviceradar__Agent__V1__ArtifactRequest req;
    serviceradar__agent__v1__artifact_request__init(&req);
    req.name = (char *)(uintptr_t)name;
    req.version = (char *)(uintptr_t)version;
    req.offset = offset;
    assert_int_equal(srg_call_send_msg(c, &req.base, 10000), 0);
    assert_int_equal(srg_call_close_send(c), 0);
    return c;
}

static dl_result download(const char *name, const char *version, uint64_t offset) {
    dl_result res = {.code = -1, .digests_ok = 1};
    srg_channel *ch = client();
    srg_call *c = download_start(ch, name, version, offset);
    Serviceradar__Agent__V1__ArtifactChunk *m = NULL;
    int r;
    while ((r = srg_call_recv_msg(c, &serviceradar__agent__v1__artifact_chunk__descriptor, 30000,
                                  (ProtobufCMessage **)&m)) == 1) {
        if (res.chunks == 0)
            res.first_offset = m->offset;
        res.chunks++;
        res.bytes += m->data.len;
        unsigned char d[32];
        unsigned int dl = 0;
        EVP_Digest(m->data.data, m->data.len, d, &dl, EVP_sha256(), NULL);
        res.digests_ok &= m->sha256.len == 32 && memcmp(m->sha256.data, d, 32) == 0;
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    assert_int_equal(srg_call_status(c, 30000, &res.code, res.msg, sizeof(res.msg)), 0);
    srg_call_free(c);
    srg_channel_free(ch);
    return res;
}

/* ---- the test ---- */

static void test_distribution(void **state) {
    (void)state;
    start_gateway();
    for (int i = 0; i < 3; i++)
        start_agent(i, i == 0);
    /* no bucket yet: the gateway waits and retries */
    assert_true(wait_count(T.gw_log, "artifact distribution waits: kv bucket artifacts does not exist yet", 1, 20000) >=
                1);

    char bundle[320];
    path_in(bundle, sizeof(bundle), T.dir, "bundle1.tar.gz");
    int64_t t0 = sr_mono_ms();
    publish(bundle, T.v1, T.hex1, &T.size1);
    fprintf(stderr, "published %s (%" PRIu64 " bytes) in %" PRId64 " ms\n", T.v1, T.size1, sr_mono_ms() - t0);
    assert_true(T.size1 >= 100u * 1000u * 1000u);

    /* agent-a dies mid-stream (SIGKILL from its fault hook) and is started again */
    int st = 0;
    int64_t end = sr_mono_ms() + 120000;
    while (waitpid(T.ag[0], &st, WNOHANG) == 0 && sr_mono_ms() < end)
        sr_sleep_ms(50);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        dump_all();
        fail_msg("agent-a was expected to kill itself mid-download");
    }
    T.ag[0] = 0;
    start_agent(0, 0);

    for (int i = 0; i < 3; i++) {
        if (!wait_agent_has(i, T.v1, 180000)) {
            dump_all();
            fail_msg("%s did not install %s", agent_ids[i], T.v1);
        }
    }
    for (int i = 0; i < 3; i++)
        check_db(i, T.db1_hex);

    /* agent-a resumed from what it had on disk, not from 0 */
    _cleanup_free_ char *alog = slurp(T.ag_log[0]);
    const char *p = strstr(alog, "resuming the download at offset ");
    if (!p) {
        dump_all();
        fail_msg("agent-a did not resume");
    }
    char num[32] = "";
    p += strlen("resuming the download at offset ");
    size_t nd = strspn(p, "0123456789");
    assert_true(nd > 0 && nd < sizeof(num));
    memcpy(num, p, nd);
    uint64_t resumed64 = 0;
    assert_int_equal(sr_parse_u64(num, &resumed64), 0);
    unsigned long long resumed = resumed64;
    fprintf(stderr, "agent-a resumed at offset %llu (killed past %u)\n", resumed, KILL_AT);
    assert_true(resumed > 0 && resumed <= KILL_AT + 2u * 1024 * 1024);
    char want[200];
    snprintf(want, sizeof(want), "download by agent-a: trivy-db %s from offset %llu", T.v1, resumed);
    assert_true(count_in(T.gw_log, want) >= 1);

    /* agent-b got a corrupted chunk, dropped it and fetched it again */
    assert_int_equal(count_in(T.gw_log, "fault injection: corrupted the chunk"), 1);
    assert_true(count_in(T.ag_log[1], "failed its SHA-256 check: dropped, fetching it again") >= 1);
    snprintf(want, sizeof(want), "download by agent-b: trivy-db %s from offset %u", T.v1, CORRUPT_CHUNK * 2u * 1024 * 1024);
    assert_true(count_in(T.gw_log, want) >= 1);
    assert_true(count_in(T.ag_log[1], "bad chunks") >= 1);

    /* every agent's install was reported back */
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "agent %s installed trivy-db %s", agent_ids[i], T.v1);
        assert_true(wait_count(T.gw_log, want, 1, 20000) >= 1);
    }

    /* agent-d connects later and gets the current version at Hello */
    start_agent(3, 0);
    if (!wait_agent_has(3, T.v1, 120000)) {
        dump_all();
        fail_msg("agent-d did not install %s", T.v1);
    }
    check_db(3, T.db1_hex);

    /* agent-c holds the current version: reconnecting announces it and nothing is sent */
    int sent_c = count_in(T.gw_log, "(artifact_update) to agent-c");
    assert_int_equal(sent_c, 1);
    assert_int_equal(stop_proc(&T.ag[2]), 0);
    start_agent(2, 0);
    assert_true(wait_count(T.gw_log, "agent agent-c connected", 2, 30000) >= 2);
    sr_sleep_ms(2000);
    assert_int_equal(count_in(T.gw_log, "(artifact_update) to agent-c"), 1);

    /* Download semantics */
    dl_result d = download("nope", "", 0);
    assert_int_equal(d.code, GRPC_STATUS_NOT_FOUND);
    d = download("trivy-db", "sha256:0000000000000000000000000000000000000000000000000000000000000000", 0);
    assert_int_equal(d.code, GRPC_STATUS_NOT_FOUND);
    d = download("trivy-db", "", T.size1 + 1);
    assert_int_equal(d.code, GRPC_STATUS_OUT_OF_RANGE);
    d = download("trivy-db", T.v1, T.size1);
    assert_int_equal(d.code, GRPC_STATUS_OK);
    assert_int_equal(d.chunks, 0);
    d = download("trivy-db", "", T.size1 - 1000);
    assert_int_equal(d.code, GRPC_STATUS_OK);
    assert_int_equal(d.chunks, 1);
    assert_int_equal(d.bytes, 1000);
    assert_int_equal(d.first_offset, T.size1 - 1000);
    assert_true(d.digests_ok);

    /* two downloads held open (nothing read) fill artifact.max_downloads: a third is refused */
    srg_channel *ch = client();
    srg_call *h1 = download_start(ch, "trivy-db", "", 0);
    srg_call *h2 = download_start(ch, "trivy-db", "", 0);
    assert_true(wait_count(T.gw_log, "download by agent-d: trivy-db", 4, 10000) >= 4); /* both started */
    d = download("trivy-db", "", 0);
    assert_int_equal(d.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    srg_call_free(h1);
    srg_call_free(h2);
    srg_channel_free(ch);

    /* agent-d scanned with DB 1 after installing it */
    check_scan(1, T.vulns1);

    /* a second, smaller DB replaces the first everywhere (the swap over an installed DB) */
    char bundle2[320];
    path_in(bundle2, sizeof(bundle2), T.dir, "bundle2.tar.gz");
    publish(bundle2, T.v2, T.hex2, &T.size2);
    for (int i = 0; i < N_AGENTS; i++) {
        if (!wait_agent_has(i, T.v2, 120000)) {
            dump_all();
            fail_msg("%s did not install %s", agent_ids[i], T.v2);
        }
        snprintf(want, sizeof(want), "agent %s installed trivy-db %s", agent_ids[i], T.v2);
        assert_true(wait_count(T.gw_log, want, 1, 20000) >= 1);
    }
    for (int i = 0; i < N_AGENTS; i++)
        check_db(i, T.db2_hex);
    check_scan(2, T.vulns2);
    /* the real installer took both DBs, and the scanner could open each one it was given */
    for (int i = 0; i < N_AGENTS; i++) {
        if (count_in(T.ag_log[i], "invalid database") != 0 || count_in(T.ag_log[i], "could not install") != 0) {
            dump(T.ag_log[i]);
            fail_msg("%s logged an install or DB error for a good bundle", agent_ids[i]);
        }
    }

    /* a bundle that does not install (trivy.db is random bytes, not a bbolt DB): the real
     * installer refuses it on every agent, which keeps the previous DB */
    char bundle3[320];
    path_in(bundle3, sizeof(bundle3), T.dir, "bundle3.tar.gz");
    publish(bundle3, T.v3, T.hex3, &T.size3);
    for (int i = 0; i < N_AGENTS; i++) {
        snprintf(want, sizeof(want), "could not install trivy-db %s", T.v3);
        if (wait_count(T.ag_log[i], want, 1, 60000) < 1) {
            dump_all();
            fail_msg("%s did not try %s", agent_ids[i], T.v3);
        }
        snprintf(want, sizeof(want), "agent %s could not update trivy-db to %s", agent_ids[i], T.v3);
        assert_true(wait_count(T.gw_log, want, 1, 20000) >= 1);
        /* the installer's own check said why (bbolt cannot open the file) */
        assert_true(count_in(T.ag_log[i], "trivy.db: invalid database") >= 1);
    }
    for (int i = 0; i < N_AGENTS; i++) {
        assert_true(agent_has(i, T.v2));
        check_db(i, T.db2_hex);
    }
    /* no scan was started for a DB that was not installed */
    assert_int_equal(count_in(T.ag_log[SCAN_AGENT], "scan: starting a run"), 2);
    /* the previous version is still served */
    d = download("trivy-db", T.v2, T.size2 - 10);
    assert_int_equal(d.code, GRPC_STATUS_OK);
    assert_int_equal(d.bytes, 10);
    d = download("trivy-db", "", 0);
    assert_int_equal(d.code, GRPC_STATUS_OK);
    assert_int_equal(d.bytes, T.size3);

    /* clean stops */
    for (int i = 0; i < N_AGENTS; i++) {
        int rc = stop_proc(&T.ag[i]);
        if (rc != 0) {
            dump_all();
            fail_msg("%s exited %d on SIGTERM", agent_ids[i], rc);
        }
    }
    int rc = stop_proc(&T.gw);
    if (rc != 0) {
        dump(T.gw_log);
        fail_msg("the gateway exited %d on SIGTERM", rc);
    }
}

/* The first line cmd prints, into out; -1 (with a message) when it fails or prints nothing. */
static int run_capture(const char *cmd, char *out, size_t outlen) {
    FILE *p = popen(cmd, "re");
    if (!p) {
        fprintf(stderr, "could not run %s: %s\n", cmd, strerror(errno));
        return -1;
    }
    if (!fgets(out, (int)outlen, p))
        out[0] = '\0';
    int rc = pclose(p);
    out[strcspn(out, "\n")] = '\0';
    if (rc != 0 || !out[0]) {
        fprintf(stderr, "`%s` failed (status %d): run it by hand to see why\n", cmd, rc);
        return -1;
    }
    return 0;
}

static int run_cmd(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "`%s` failed (status %d)\n", cmd, rc);
    return rc == 0 ? 0 : -1;
}

/* Findings in a fixture's expected-findings file (one "id" per finding). */
static int expected_findings(const char *name) {
    char p[320];
    path_in(p, sizeof(p), T.dir, name);
    return count_in(p, "\"id\"");
}

static void sha256_in_dir(const char *name, char out[65]) {
    char p[320];
    path_in(p, sizeof(p), T.dir, name);
    sha256_file_hex(p, out, NULL);
}

/* Bundle 1: a real DB for the test root filesystem (testdata/scan/spec.json) padded to about
 * 100 MiB; bundle 2: another real DB (one advisory, a little padding); bundle 3: bundle 1's
 * metadata.json with 1 MiB of random bytes as trivy.db, which the installer refuses. */
static int make_bundles(void) {
    if (run_capture(SR_SOURCE_DIR "/scripts/trivy.sh fixture-tool", T.tool, sizeof(T.tool)) < 0 ||
        run_capture(SR_SOURCE_DIR "/scripts/trivy.sh rootfs", T.rootfs, sizeof(T.rootfs)) < 0)
        return -1;
    char spec2[320];
    path_in(spec2, sizeof(spec2), T.dir, "spec2.json");
    FILE *f = fopen(spec2, "we");
    if (!f)
        return -1;
    fputs("{\"os\": [{\"source\": \"bash\", \"id\": \"CVE-2099-2001\", \"rule\": \"vulnerable\", \"severity\": \"HIGH\",\n"
          "         \"title\": \"bash: advisory of the second test DB\"}],\n \"npm\": []}\n",
          f);
    fclose(f);
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd),
                     "set -e; cd %s; "
                     "%s --rootfs %s --spec " SR_SOURCE_DIR "/testdata/scan/spec.json --out b1 --pad-mb %d "
                     "--expected b1.expected.json --bundle bundle1.tar.gz >/dev/null; "
                     "%s --rootfs %s --spec spec2.json --out b2 --pad-mb %d --expected b2.expected.json "
                     "--bundle bundle2.tar.gz >/dev/null; "
                     "mkdir b3; cp b1/metadata.json b3/; head -c 1048576 /dev/urandom > b3/trivy.db; "
                     "tar -C b3 -czf bundle3.tar.gz metadata.json trivy.db",
                     T.dir, T.tool, T.rootfs, BUNDLE1_PAD_MB, T.tool, T.rootfs, BUNDLE2_PAD_MB);
    if (n < 0 || (size_t)n >= sizeof(cmd) || run_cmd(cmd) < 0) {
        fprintf(stderr, "could not make the test bundles with %s\n", T.tool);
        return -1;
    }
    sha256_in_dir("b1/trivy.db", T.db1_hex);
    sha256_in_dir("b2/trivy.db", T.db2_hex);
    T.vulns1 = expected_findings("b1.expected.json");
    T.vulns2 = expected_findings("b2.expected.json");
    if (T.vulns1 < 1 || T.vulns2 != 1 || T.vulns1 == T.vulns2) {
        fprintf(stderr, "unexpected fixture findings: %d and %d\n", T.vulns1, T.vulns2);
        return -1;
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    if (srtest_tmpdir(T.dir, sizeof(T.dir)) < 0)
        return -1;
    snprintf(T.certs, sizeof(T.certs), "%s/certs", T.dir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash %s %s agent-a agent-b agent-c agent-d >/dev/null", SR_GENCERTS, T.certs);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not make certificates with %s\n", SR_GENCERTS);
        return -1;
    }
    if (make_bundles() < 0)
        return -1;
    if (srtest_nats_start(&T.nats) < 0) {
        fprintf(stderr, "could not start nats-server (set SR_NATS_SERVER)\n");
        return -1;
    }
    if (natsConnection_ConnectTo(&T.nc, T.nats.url) != NATS_OK || natsConnection_JetStream(&T.js, T.nc, NULL) != NATS_OK)
        return -1;
    T.gw_port = srtest_free_port();
    path_in(T.gw_log, sizeof(T.gw_log), T.dir, "gateway.log");
    for (int i = 0; i < N_AGENTS; i++) {
        snprintf(T.ag_dir[i], sizeof(T.ag_dir[i]), "%s/%s", T.dir, agent_ids[i]);
        snprintf(T.ag_log[i], sizeof(T.ag_log[i]), "%s/%s.log", T.dir, agent_ids[i]);
        mkdir(T.ag_dir[i], 0700);
    }
    srg_global_init();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N_AGENTS; i++)
        if (T.ag[i] > 0) {
            kill(T.ag[i], SIGKILL);
            waitpid(T.ag[i], NULL, 0);
        }
    if (T.gw > 0) {
        kill(T.gw, SIGKILL);
        waitpid(T.gw, NULL, 0);
    }
    if (T.kv)
        kvStore_Destroy(T.kv);
    jsCtx_Destroy(T.js);
    natsConnection_Destroy(T.nc);
    srtest_nats_stop(&T.nats, 0);
    srtest_rmtree(T.nats.dir);
    if (!getenv("SR_TEST_KEEP")) /* SR_TEST_KEEP=1 keeps the logs and data for a look */
        srtest_rmtree(T.dir);
    else
        fprintf(stderr, "kept %s\n", T.dir);
    nats_Close();
    srg_global_shutdown();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distribution),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
