/* sr_objstore against a real nats-server, checked for interoperability with the nats CLI
 * (nats.go's Object Store): what we put the CLI gets, what the CLI puts we get, byte for byte
 * and digest for digest. Also overwrite, delete, corruption, validation, timeouts and the
 * memory bound on a large object. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nats/nats.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_objstore.h"
#include "sr_parse.h"
#include "srtest.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SR_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SR_TEST_ASAN 1
#endif
#ifdef SR_TEST_ASAN
/* A small quarantine, so that freed chunks do not count as resident memory in test_large. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=4"; }
#endif

#define KiB 1024u
#define MiB (1024u * 1024u)

typedef struct {
    srtest_nats nats;
    natsConnection *nc;
    jsCtx *js;
    char cli[1024]; /* path of the nats CLI */
    char dir[256];  /* scratch files */
} world;

static world W;

static void find_cli(void) {
    const char *env = getenv("SR_NATS_CLI");
    if (env && *env) {
        snprintf(W.cli, sizeof(W.cli), "%s", env);
    } else {
        FILE *p = popen(SR_TOOLS_SH " nats 2>&1", "r");
        assert_non_null(p);
        char line[1024] = "", last[1024] = "";
        while (fgets(line, sizeof(line), p))
            snprintf(last, sizeof(last), "%s", line);
        int st = pclose(p);
        last[strcspn(last, "\n")] = '\0';
        if (st != 0)
            fail_msg("the nats CLI is required: `" SR_TOOLS_SH " nats` failed (%s); install Go or set SR_NATS_CLI", last);
        snprintf(W.cli, sizeof(W.cli), "%s/nats", last);
    }
    if (access(W.cli, X_OK) != 0)
        fail_msg("the nats CLI is required: %s is not executable (run scripts/tools.sh nats or set SR_NATS_CLI)",
                 W.cli);
}

static int setup(void **state) {
    (void)state;
    find_cli();
    int r = srtest_nats_start(&W.nats);
    if (r < 0)
        fail_msg("could not start nats-server: %s (set SR_NATS_SERVER)", strerror(-r));
    assert_int_equal(natsConnection_ConnectTo(&W.nc, W.nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&W.js, W.nc, NULL), NATS_OK);
    assert_int_equal(srtest_tmpdir(W.dir, sizeof(W.dir)), 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    jsCtx_Destroy(W.js);
    natsConnection_Destroy(W.nc);
    srtest_nats_stop(&W.nats, 0);
    srtest_rmtree(W.nats.dir);
    srtest_rmtree(W.dir);
    /* test_timeout leaves replies that arrive late, after SIGCONT: wait for nats.c's threads to
     * end rather than exit while one still handles them (it aborted once under load). */
    nats_CloseAndWait(5000);
    return 0;
}

/* ---- helpers ---- */

/* Runs the CLI with args (already quoted); returns its exit status, output into out. */
static int cli(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cli(char *out, size_t outlen, const char *fmt, ...) {
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' -s '%s' %s 2>&1", W.cli, W.nats.url, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof(tmp), p)) > 0) {
        if (out && n + 1 < outlen) {
            size_t c = got < outlen - 1 - n ? got : outlen - 1 - n;
            memcpy(out + n, tmp, c);
            n += c;
        }
    }
    if (out && outlen)
        out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void path_in(char *out, size_t outlen, const char *leaf) { snprintf(out, outlen, "%s/%s", W.dir, leaf); }

/* Writes size pseudo-random bytes (seeded) to path, streaming. */
static void write_random(const char *path, uint64_t size, uint64_t seed) {
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned char buf[64 * KiB];
    while (size > 0) {
        size_t n = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)(x >> 32);
        }
        assert_int_equal(fwrite(buf, 1, n, f), n);
        size -= n;
    }
    assert_int_equal(fclose(f), 0);
}

static void sha_hex_final(EVP_MD_CTX *md, char out[65]) {
    unsigned char sha[32];
    unsigned int len = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, sha, &len), 1);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

static void file_sha_hex(const char *path, char out[65]) {
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    unsigned char buf[64 * KiB];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    fclose(f);
    sha_hex_final(md, out);
    EVP_MD_CTX_free(md);
}

/* The digest string of an object in the nats.go format, decoded to hex. */
static void digest_to_hex(const char *digest, char out[65]) {
    assert_true(strncmp(digest, "SHA-256=", 8) == 0);
    char b64[64];
    snprintf(b64, sizeof(b64), "%s", digest + 8);
    assert_int_equal(strlen(b64), 44); /* padded base64 of 32 bytes */
    for (char *p = b64; *p; p++) {
        if (*p == '-')
            *p = '+';
        else if (*p == '_')
            *p = '/';
    }
    unsigned char raw[48];
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)b64, 44), 33); /* 32 + 1 pad byte */
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void assert_files_equal(const char *a, const char *b) {
    char ha[65], hb[65];
    struct stat sa, sb;
    assert_int_equal(stat(a, &sa), 0);
    assert_int_equal(stat(b, &sb), 0);
    assert_int_equal(sa.st_size, sb.st_size);
    file_sha_hex(a, ha);
    file_sha_hex(b, hb);
    assert_string_equal(ha, hb);
}

static uint64_t stream_msgs(const char *bucket) {
    char stream[128];
    snprintf(stream, sizeof(stream), "OBJ_%s", bucket);
    jsStreamInfo *si = NULL;
    assert_int_equal(js_GetStreamInfo(&si, W.js, stream, NULL, NULL), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

/* Value of "Field: value" in the CLI's object info output. */
static void cli_field(const char *out, const char *field, char *val, size_t vallen) {
    char key[64];
    snprintf(key, sizeof(key), "%s: ", field);
    const char *p = strstr(out, key);
    if (!p)
        fail_msg("no %s in nats object info output:\n%s", field, out);
    p += strlen(key);
    size_t n = strcspn(p, "\r\n");
    snprintf(val, vallen, "%.*s", (int)n, p);
}

static sr_objstore *open_store(const char *bucket, int create) {
    sr_objstore *os = NULL;
    char err[512] = "";
    int r = sr_objstore_open(W.js, bucket, create, NULL, &os, err, sizeof(err));
    if (r != 0)
        fail_msg("open %s: %d %s", bucket, r, err);
    return os;
}

typedef struct {
    EVP_MD_CTX *md;
    uint64_t bytes;
    uint32_t calls;
} hasher;

static int hash_cb(void *ud, const void *data, size_t len) {
    hasher *h = ud;
    EVP_DigestUpdate(h->md, data, len);
    h->bytes += len;
    h->calls++;
    return 0;
}

static const uint64_t SIZES[] = {0, 1, 128 * KiB, 128 * KiB + 1, 5 * MiB + 321};

/* ---- tests ---- */

/* Ours put, CLI get and info: same bytes, same digest, same chunk count. */
static void test_put_cli_get(void **state) {
    (void)state;
    sr_objstore *os = open_store("ours", 1);
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        char src[512], dst[512], name[64], err[512] = "", out[8192], val[256], hex[65];
        path_in(src, sizeof(src), "src.bin");
        path_in(dst, sizeof(dst), "cli-out.bin");
        snprintf(name, sizeof(name), "dir/obj %zu ü", i);
        write_random(src, SIZES[i], i + 1);
        sr_objstore_info info;
        int r = sr_objstore_put_file(os, name, src, "from C", 0, &info, err, sizeof(err));
        assert_int_equal(r, 0);
        assert_int_equal(info.size, SIZES[i]);
        assert_int_equal(info.chunks, (SIZES[i] + 128 * KiB - 1) / (128 * KiB));
        unlink(dst);
        if (cli(out, sizeof(out), "object get ours '%s' -O '%s' -f --no-progress", name, dst) != 0)
            fail_msg("nats object get failed for size %llu:\n%s", (unsigned long long)SIZES[i], out);
        assert_files_equal(src, dst);
        if (cli(out, sizeof(out), "object info ours '%s'", name) != 0)
            fail_msg("nats object info failed:\n%s", out);
        file_sha_hex(src, hex);
        cli_field(out, "Digest", val, sizeof(val));
        char want[128];
        snprintf(want, sizeof(want), "SHA-256 %s", hex);
        assert_string_equal(val, want);
        cli_field(out, "Chunks", val, sizeof(val));
        uint64_t cli_chunks = 0;
        assert_int_equal(sr_parse_u64(val, &cli_chunks), 0);
        assert_int_equal(cli_chunks, info.chunks);
        digest_to_hex(info.digest, want);
        assert_string_equal(want, hex);
    }
    sr_objstore_free(os);
}

/* CLI put, ours get (file and callback) and info. */
static void test_cli_put_get(void **state) {
    (void)state;
    char out[8192];
    if (cli(out, sizeof(out), "object add theirs") != 0)
        fail_msg("nats object add failed:\n%s", out);
    sr_objstore *os = open_store("theirs", 0);
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        char src[512], dst[512], name[64], err[512] = "", hex[65], got[65];
        path_in(src, sizeof(src), "cli-src.bin");
        path_in(dst, sizeof(dst), "ours-out.bin");
        snprintf(name, sizeof(name), "cli/%zu.bin", i);
        write_random(src, SIZES[i], 100 + i);
        if (cli(out, sizeof(out), "object put theirs '%s' --name '%s' -f --no-progress", src, name) != 0)
            fail_msg("nats object put failed:\n%s", out);
        file_sha_hex(src, hex);

        sr_objstore_info info;
        assert_int_equal(sr_objstore_info_get(os, name, &info, err, sizeof(err)), 0);
        assert_string_equal(info.name, name);
        assert_int_equal(info.size, SIZES[i]);
        assert_true(info.mtime_ns > 0);
        digest_to_hex(info.digest, got);
        assert_string_equal(got, hex);

        unlink(dst);
        int r = sr_objstore_get_file(os, name, dst, &info, err, sizeof(err));
        if (r != 0)
            fail_msg("get_file %s: %d %s", name, r, err);
        assert_files_equal(src, dst);

        hasher h = {.md = EVP_MD_CTX_new()};
        assert_int_equal(EVP_DigestInit_ex(h.md, EVP_sha256(), NULL), 1);
        assert_int_equal(sr_objstore_get(os, name, hash_cb, &h, NULL, err, sizeof(err)), 0);
        sha_hex_final(h.md, got);
        EVP_MD_CTX_free(h.md);
        assert_string_equal(got, hex);
        assert_int_equal(h.bytes, SIZES[i]);
        assert_int_equal(h.calls, info.chunks);
    }
    sr_objstore_free(os);
}

static void put_random(sr_objstore *os, const char *name, uint64_t size, uint64_t seed, size_t chunk,
                       sr_objstore_info *info) {
    char src[512], err[512] = "";
    path_in(src, sizeof(src), "put.bin");
    write_random(src, size, seed);
    int r = sr_objstore_put_file(os, name, src, NULL, chunk, info, err, sizeof(err));
    if (r != 0)
        fail_msg("put %s: %d %s", name, r, err);
}

/* Replacing an object: new content read back, old chunks purged. */
static void test_overwrite(void **state) {
    (void)state;
    sr_objstore *os = open_store("over", 1);
    sr_objstore_info a, b;
    char err[512] = "", src[512], dst[512], out[4096];
    put_random(os, "x", 5000, 1, 1000, &a);
    assert_int_equal(a.chunks, 5);
    assert_int_equal(stream_msgs("over"), 6);
    put_random(os, "x", 2500, 2, 1000, &b);
    assert_int_equal(b.chunks, 3);
    assert_string_not_equal(a.nuid, b.nuid);
    assert_int_equal(stream_msgs("over"), 4); /* 3 new chunks + 1 meta: old chunks and meta gone */
    path_in(src, sizeof(src), "put.bin");
    path_in(dst, sizeof(dst), "over.bin");
    assert_int_equal(sr_objstore_get_file(os, "x", dst, NULL, err, sizeof(err)), 0);
    assert_files_equal(src, dst);
    unlink(dst);
    if (cli(out, sizeof(out), "object get over x -O '%s' -f --no-progress", dst) != 0)
        fail_msg("nats object get failed:\n%s", out);
    assert_files_equal(src, dst);
    sr_objstore_free(os);
}

/* Delete: gone for us and for the CLI, chunks purged; CLI delete seen by us. */
static void test_delete(void **state) {
    (void)state;
    sr_objstore *os = open_store("del", 1);
    sr_objstore_info info;
    char err[512] = "", out[4096];
    put_random(os, "gone", 300 * KiB, 3, 0, &info);
    assert_int_equal(stream_msgs("del"), 4);
    assert_int_equal(sr_objstore_delete(os, "gone", err, sizeof(err)), 0);
    assert_int_equal(stream_msgs("del"), 1); /* only the delete marker */
    assert_int_equal(sr_objstore_info_get(os, "gone", &info, err, sizeof(err)), -ENOENT);
    assert_int_equal(sr_objstore_get(os, "gone", hash_cb, NULL, NULL, err, sizeof(err)), -ENOENT);
    assert_int_equal(sr_objstore_delete(os, "gone", err, sizeof(err)), -ENOENT);
    assert_int_equal(sr_objstore_info_get(os, "never", &info, err, sizeof(err)), -ENOENT);
    assert_int_not_equal(cli(out, sizeof(out), "object info del gone"), 0);

    put_random(os, "cli-deletes", 10, 4, 0, &info);
    if (cli(out, sizeof(out), "object del del cli-deletes -f") != 0)
        fail_msg("nats object del failed:\n%s", out);
    assert_int_equal(sr_objstore_info_get(os, "cli-deletes", &info, err, sizeof(err)), -ENOENT);

    /* a deleted name can be used again */
    put_random(os, "gone", 10, 5, 0, &info);
    assert_int_equal(sr_objstore_info_get(os, "gone", &info, err, sizeof(err)), 0);
    assert_int_equal(info.size, 10);
    sr_objstore_free(os);
}

/* Rewrites the meta of name with field set to a new value, over the real chunks. */
static void tamper_meta(const char *bucket, const char *meta_subj, const char *field, json_t *value) {
    char stream[128];
    snprintf(stream, sizeof(stream), "OBJ_%s", bucket);
    natsMsg *m = NULL;
    assert_int_equal(js_GetLastMsg(&m, W.js, stream, meta_subj, NULL, NULL), NATS_OK);
    json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
    natsMsg_Destroy(m);
    assert_non_null(j);
    json_object_set_new(j, field, value);
    char *doc = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    natsMsg *nm = NULL;
    assert_int_equal(natsMsg_Create(&nm, meta_subj, NULL, doc, (int)strlen(doc)), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(nm, "Nats-Rollup", "sub"), NATS_OK);
    assert_int_equal(js_PublishMsg(NULL, W.js, nm, NULL, NULL), NATS_OK);
    natsMsg_Destroy(nm);
    free(doc);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* A meta whose digest or size does not match the chunks: -EBADMSG, and no file written. */
static void test_corrupt(void **state) {
    (void)state;
    sr_objstore *os = open_store("bad", 1);
    sr_objstore_info info;
    char err[512] = "", outdir[512], dst[600], out[4096];
    put_random(os, "obj", 3 * 128 * KiB, 6, 0, &info);
    /* "obj" is b2Jq in base64url */
    tamper_meta("bad", "$O.bad.M.b2Jq", "digest", json_string("SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="));
    hasher h = {.md = EVP_MD_CTX_new()};
    assert_int_equal(EVP_DigestInit_ex(h.md, EVP_sha256(), NULL), 1);
    assert_int_equal(sr_objstore_get(os, "obj", hash_cb, &h, NULL, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "digest"));
    assert_int_equal(h.bytes, 3 * 128 * KiB); /* the mismatch is known only after the last chunk */
    EVP_MD_CTX_free(h.md);

    path_in(outdir, sizeof(outdir), "corrupt-out");
    assert_int_equal(mkdir(outdir, 0700), 0);
    snprintf(dst, sizeof(dst), "%s/obj.bin", outdir);
    assert_int_equal(sr_objstore_get_file(os, "obj", dst, NULL, err, sizeof(err)), -EBADMSG);
    assert_int_equal(count_entries(outdir), 0); /* neither the file nor a temporary */
    /* nats.go agrees that it is corrupt */
    assert_int_not_equal(cli(out, sizeof(out), "object get bad obj -O '%s/cli.bin' -f --no-progress", outdir), 0);

    /* size larger than the chunks hold */
    put_random(os, "obj", 1000, 7, 0, &info);
    tamper_meta("bad", "$O.bad.M.b2Jq", "size", json_integer(1001));
    assert_int_equal(sr_objstore_get_file(os, "obj", dst, NULL, err, sizeof(err)), -EBADMSG);
    /* more chunks claimed than exist */
    put_random(os, "obj", 1000, 8, 0, &info);
    tamper_meta("bad", "$O.bad.M.b2Jq", "chunks", json_integer(2));
    assert_int_equal(sr_objstore_get_file(os, "obj", dst, NULL, err, sizeof(err)), -EBADMSG);
    /* a nuid that is not a subject token must never reach a subject (purge of everything) */
    tamper_meta("bad", "$O.bad.M.b2Jq", "nuid", json_string(">"));
    assert_int_equal(sr_objstore_info_get(os, "obj", &info, err, sizeof(err)), -EBADMSG);
    assert_int_equal(sr_objstore_delete(os, "obj", err, sizeof(err)), -EBADMSG);
    assert_int_equal(count_entries(outdir), 0);
    sr_objstore_free(os);
}

static void test_missing_bucket(void **state) {
    (void)state;
    sr_objstore *os = NULL;
    char err[512] = "";
    assert_int_equal(sr_objstore_open(W.js, "nosuch", 0, NULL, &os, err, sizeof(err)), -ENOENT);
    assert_null(os);
    assert_non_null(strstr(err, "OBJ_nosuch does not exist"));
}

static void test_names(void **state) {
    (void)state;
    sr_objstore *os = NULL;
    char err[512] = "";
    const char *bad_buckets[] = {"", "a.b", "a b", "x*", "x>", "é"};
    for (size_t i = 0; i < sizeof(bad_buckets) / sizeof(bad_buckets[0]); i++) {
        assert_int_equal(sr_objstore_open(W.js, bad_buckets[i], 1, NULL, &os, err, sizeof(err)), -EINVAL);
        assert_null(os);
    }
    os = open_store("names", 1);
    char src[512], longname[300];
    sr_objstore_info info;
    path_in(src, sizeof(src), "name.bin");
    write_random(src, 10, 9);
    assert_int_equal(sr_objstore_put_file(os, "", src, NULL, 0, &info, err, sizeof(err)), -EINVAL);
    assert_int_equal(sr_objstore_put_file(os, "bad\xff", src, NULL, 0, &info, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "UTF-8"));
    memset(longname, 'n', 256);
    longname[256] = '\0';
    assert_int_equal(sr_objstore_put_file(os, longname, src, NULL, 0, &info, err, sizeof(err)), -EINVAL);
    assert_int_equal(sr_objstore_info_get(os, longname, &info, err, sizeof(err)), -EINVAL);
    longname[255] = '\0';
    assert_int_equal(sr_objstore_put_file(os, longname, src, NULL, 0, &info, err, sizeof(err)), 0);
    assert_int_equal(sr_objstore_info_get(os, longname, &info, err, sizeof(err)), 0);
    assert_string_equal(info.name, longname);
    /* names with subject characters are encoded, not interpreted */
    assert_int_equal(sr_objstore_put_file(os, "a.b.>*", src, NULL, 0, &info, err, sizeof(err)), 0);
    assert_int_equal(sr_objstore_info_get(os, "a.b.>*", &info, err, sizeof(err)), 0);
    assert_int_equal(sr_objstore_put_file(os, "x", src, NULL, SR_OBJSTORE_CHUNK_MAX + 1, &info, err, sizeof(err)),
                     -EINVAL);
    sr_objstore_free(os);
}

static long maxrss_kib(void) {
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* A 64 MiB object through put and get without the process holding it. */
static void test_large(void **state) {
    (void)state;
    sr_objstore *os = open_store("large", 1);
    char src[512], err[512] = "", hex[65], got[65];
    path_in(src, sizeof(src), "large.bin");
    write_random(src, 64 * MiB, 11);
    file_sha_hex(src, hex);
    long before = maxrss_kib();
    sr_objstore_info info;
    assert_int_equal(sr_objstore_put_file(os, "big", src, NULL, 0, &info, err, sizeof(err)), 0);
    assert_int_equal(info.chunks, 512);
    hasher h = {.md = EVP_MD_CTX_new()};
    assert_int_equal(EVP_DigestInit_ex(h.md, EVP_sha256(), NULL), 1);
    int r = sr_objstore_get(os, "big", hash_cb, &h, &info, err, sizeof(err));
    if (r != 0)
        fail_msg("get big: %d %s", r, err);
    sha_hex_final(h.md, got);
    EVP_MD_CTX_free(h.md);
    assert_string_equal(got, hex);
    long growth = maxrss_kib() - before;
    print_message("large object: max RSS %ld KiB before, grew by %ld KiB\n", before, growth);
    assert_true(growth < 32 * 1024);
    unlink(src);
    sr_objstore_free(os);
}

/* Waits until pid is in the stopped state (SIGSTOP is delivered asynchronously). */
static void wait_stopped(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'T')
            return;
        usleep(10 * 1000);
    }
    fail_msg("nats-server %ld did not stop", (long)pid);
}

/* A stalled server gives -ETIMEDOUT within the store's timeout, not a hang. */
static void test_timeout(void **state) {
    (void)state;
    sr_objstore *os = NULL;
    char err[512] = "", src[512];
    sr_objstore_config cfg = {.timeout_ms = 500};
    assert_int_equal(sr_objstore_open(W.js, "slow", 1, &cfg, &os, err, sizeof(err)), 0);
    sr_objstore_info info;
    put_random(os, "t", 1000, 12, 0, &info);
    path_in(src, sizeof(src), "put.bin");
    assert_int_equal(kill(W.nats.pid, SIGSTOP), 0);
    wait_stopped(W.nats.pid);
    int r1 = sr_objstore_info_get(os, "t", &info, err, sizeof(err));
    int r2 = sr_objstore_put_file(os, "t2", src, NULL, 0, &info, err, sizeof(err));
    assert_int_equal(kill(W.nats.pid, SIGCONT), 0);
    assert_int_equal(r1, -ETIMEDOUT);
    assert_int_equal(r2, -ETIMEDOUT);
    sr_objstore_free(os);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_cli_get), cmocka_unit_test(test_cli_put_get), cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_delete),      cmocka_unit_test(test_corrupt),     cmocka_unit_test(test_missing_bucket),
        cmocka_unit_test(test_names),       cmocka_unit_test(test_large),       cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
