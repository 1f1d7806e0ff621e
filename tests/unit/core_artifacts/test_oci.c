/* The artifact parsers: OCI references and sources, image manifests (the Trivy DB layer, image
 * indexes and other types refused), WWW-Authenticate challenges, sha256sum files, URL origins,
 * and the trivy_db.* configuration checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sr_core_config.h"
#include "sr_dbsync.h"
#include "sr_fetch.h"
#include "sr_oci.h"

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void expect_err(int r, int want, const char *err, const char *needle) {
    if (r != want)
        fail_msg("returned %d, want %d (%s)", r, want, err);
    if (needle && !strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_ref_parse(void **state) {
    (void)state;
    sr_oci_ref ref;
    char err[512], out[512];
    assert_int_equal(sr_oci_ref_parse("oci://ghcr.io/aquasecurity/trivy-db:2", &ref, err, sizeof(err)), 0);
    assert_false(ref.plain_http);
    assert_string_equal(ref.host, "ghcr.io");
    assert_string_equal(ref.repo, "aquasecurity/trivy-db");
    assert_string_equal(ref.tag, "2");
    assert_string_equal(ref.digest, "");
    sr_oci_ref_format(&ref, out, sizeof(out));
    assert_string_equal(out, "oci://ghcr.io/aquasecurity/trivy-db:2");

    assert_int_equal(sr_oci_ref_parse("oci+http://127.0.0.1:5000/mirror/trivy-db:latest", &ref, err, sizeof(err)), 0);
    assert_true(ref.plain_http);
    assert_string_equal(ref.host, "127.0.0.1:5000");
    assert_string_equal(ref.repo, "mirror/trivy-db");
    assert_string_equal(ref.tag, "latest");

    assert_int_equal(sr_oci_ref_parse("oci://registry.local:443/trivy-db@sha256:" HEX_A, &ref, err, sizeof(err)), 0);
    assert_string_equal(ref.host, "registry.local:443");
    assert_string_equal(ref.repo, "trivy-db");
    assert_string_equal(ref.tag, "");
    assert_string_equal(ref.digest, "sha256:" HEX_A);
    sr_oci_ref_format(&ref, out, sizeof(out));
    assert_string_equal(out, "oci://registry.local:443/trivy-db@sha256:" HEX_A);

    assert_int_equal(sr_oci_ref_parse("oci://[::1]:5000/a.b/c__d/e--f:v1.2_3@sha256:" HEX_B, &ref, err, sizeof(err)),
                     0);
    assert_string_equal(ref.host, "[::1]:5000");
    assert_string_equal(ref.repo, "a.b/c__d/e--f");
    assert_string_equal(ref.tag, "v1.2_3");
    assert_string_equal(ref.digest, "sha256:" HEX_B);

    static const struct {
        const char *in, *needle;
    } bad[] = {
        {"ghcr.io/aquasecurity/trivy-db:2", "expected oci://"},
        {"https://ghcr.io/aquasecurity/trivy-db:2", "expected oci://"},
        {"oci://", "registry host"},
        {"oci://ghcr.io", "registry host"},
        {"oci:///trivy-db:2", "registry host"},
        {"oci://user@ghcr.io/trivy-db:2", "registry host"},
        {"oci://ghcr.io:0/trivy-db:2", "registry host"},
        {"oci://ghcr.io:65536/trivy-db:2", "registry host"},
        {"oci://ghcr.io:/trivy-db:2", "registry host"},
        {"oci://ghcr.io/", "repository"},
        {"oci://ghcr.io/:2", "repository"},
        {"oci://ghcr.io/AquaSecurity/trivy-db:2", "repository"},
        {"oci://ghcr.io/a//b:2", "repository"},
        {"oci://ghcr.io/a/../b:2", "repository"},
        {"oci://ghcr.io/a..b:2", "repository"},
        {"oci://ghcr.io/a___b:2", "repository"},
        {"oci://ghcr.io/-a:2", "repository"},
        {"oci://ghcr.io/a-:2", "repository"},
        {"oci://ghcr.io/trivy-db", "a tag (:tag) or a digest"},
        {"oci://ghcr.io/trivy-db:", "bad tag"},
        {"oci://ghcr.io/trivy-db:.x", "bad tag"},
        {"oci://ghcr.io/trivy-db:a b", "bad tag"},
        {"oci://ghcr.io/trivy-db@sha256:abc", "the digest must be"},
        {"oci://ghcr.io/trivy-db@sha512:" HEX_A, "the digest must be"},
        {"oci://ghcr.io/trivy-db@sha256:" HEX_A "0", "the digest must be"},
        {"oci://ghcr.io/trivy-db@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         "the digest must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&ref, 0x5a, sizeof(ref));
        sr_oci_ref before = ref;
        err[0] = '\0';
        int r = sr_oci_ref_parse(bad[i].in, &ref, err, sizeof(err));
        if (r != -EINVAL || !strstr(err, bad[i].needle))
            fail_msg("%s: returned %d, error '%s' (want '%s')", bad[i].in, r, err, bad[i].needle);
        assert_memory_equal(&ref, &before, sizeof(ref)); /* untouched on failure */
    }
    char tag[SR_OCI_TAG_MAX + 2];
    memset(tag, 'a', sizeof(tag) - 1);
    tag[sizeof(tag) - 1] = '\0';
    char longref[400];
    snprintf(longref, sizeof(longref), "oci://ghcr.io/x:%s", tag);
    expect_err(sr_oci_ref_parse(longref, &ref, err, sizeof(err)), -EINVAL, err, "bad tag");
    tag[SR_OCI_TAG_MAX] = '\0';
    snprintf(longref, sizeof(longref), "oci://ghcr.io/x:%s", tag);
    assert_int_equal(sr_oci_ref_parse(longref, &ref, err, sizeof(err)), 0);
}

static void test_source(void **state) {
    (void)state;
    sr_oci_source_kind kind = 0;
    sr_oci_ref ref;
    char err[512], out[256];
    assert_int_equal(sr_oci_source_parse(SR_DBSYNC_DEFAULT_SOURCE, &kind, &ref, err, sizeof(err)), 0);
    assert_int_equal(kind, SR_OCI_SOURCE_OCI);
    assert_string_equal(ref.repo, "aquasecurity/trivy-db");
    assert_int_equal(sr_oci_source_parse("https://mirror.example/trivy/db.tar.gz", &kind, NULL, err, sizeof(err)), 0);
    assert_int_equal(kind, SR_OCI_SOURCE_HTTP);
    assert_int_equal(sr_oci_source_parse("http://10.0.0.1:8080/db.tar.gz?x=1", &kind, NULL, err, sizeof(err)), 0);
    assert_int_equal(kind, SR_OCI_SOURCE_HTTP);
    static const struct {
        const char *in, *needle;
    } bad[] = {
        {"", "empty"},
        {"ftp://mirror/db.tar.gz", "expected oci://"},
        {"/var/lib/db.tar.gz", "expected oci://"},
        {"https://", "host"},
        {"https:///db.tar.gz", "host"},
        {"https://mirror", "must name the file"},
        {"https://mirror/", "must name the file"},
        {"https://mirror/?a=b", "must name the file"},
        {"https://mir ror/db.tar.gz", "spaces"},
        {"https://mirror/db.tar.gz#x", "fragments"},
        {"https://mirror/db\n.tar.gz", "control"},
        {"oci://ghcr.io/trivy-db", "a tag"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = sr_oci_source_parse(bad[i].in, &kind, NULL, err, sizeof(err));
        if (r != -EINVAL || !strstr(err, bad[i].needle))
            fail_msg("'%s': returned %d, error '%s' (want '%s')", bad[i].in, r, err, bad[i].needle);
    }
    sr_oci_source_display("https://user:secret@mirror.example:8443/trivy/db.tar.gz?X-Sig=abc", out, sizeof(out));
    assert_string_equal(out, "https://mirror.example:8443/trivy/db.tar.gz");
    sr_oci_source_display("http://mirror/db.tar.gz", out, sizeof(out));
    assert_string_equal(out, "http://mirror/db.tar.gz");
    sr_oci_source_display(SR_DBSYNC_DEFAULT_SOURCE, out, sizeof(out));
    assert_string_equal(out, SR_DBSYNC_DEFAULT_SOURCE);
}

/* The manifest ghcr.io/aquasecurity/trivy-db:2 serves (oras push with an artifact type). */
static const char trivy_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/vnd.aquasec.trivy.config.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2,"
    "\"data\":\"e30=\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:" HEX_A "\",\"size\":56890123,"
    "\"annotations\":{\"org.opencontainers.image.title\":\"db.tar.gz\"}}],"
    "\"annotations\":{\"org.opencontainers.image.created\":\"2025-01-01T00:00:00Z\"}}";

static int parse(const char *json, const char *ct, sr_oci_layer *l, char *err, size_t errlen) {
    return sr_oci_manifest_parse(json, strlen(json), ct, SR_OCI_MT_TRIVY_DB, l, err, errlen);
}

static void test_manifest(void **state) {
    (void)state;
    sr_oci_layer l;
    char err[512];
    assert_int_equal(parse(trivy_manifest, NULL, &l, err, sizeof(err)), 0);
    assert_string_equal(l.digest, "sha256:" HEX_A);
    assert_int_equal(l.size, 56890123);

    /* Docker v2 manifest, media type from the Content-Type only */
    const char *docker = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.aquasec.trivy.config.v1+json\","
                         "\"digest\":\"sha256:" HEX_B "\",\"size\":0},\"layers\":[{\"mediaType\":"
                         "\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\",\"digest\":\"sha256:" HEX_B
                         "\",\"size\":0}]}";
    assert_int_equal(parse(docker, SR_OCI_MT_DOCKER_MANIFEST, &l, err, sizeof(err)), 0);
    assert_string_equal(l.digest, "sha256:" HEX_B);
    assert_int_equal(l.size, 0);

    static const struct {
        const char *json, *ct;
        int r;
        const char *needle;
    } bad[] = {
        {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}", NULL,
         -EMEDIUMTYPE, "an image index (application/vnd.oci.image.index.v1+json)"},
        {"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:" HEX_A "\"}]}", NULL, -EMEDIUMTYPE,
         "image index"},
        {"{\"schemaVersion\":2,\"layers\":[]}", SR_OCI_MT_DOCKER_LIST, -EMEDIUMTYPE, "image index"},
        {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[{\"mediaType\":"
         "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:" HEX_A "\",\"size\":1}]}",
         NULL, -EMEDIUMTYPE, "layer media type application/vnd.oci.image.layer.v1.tar+gzip, expected "
                             "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"},
        {"{\"schemaVersion\":2,\"layers\":[{\"digest\":\"sha256:" HEX_A "\",\"size\":1}]}", NULL, -EMEDIUMTYPE,
         "layer media type (none)"},
        {"{\"schemaVersion\":2,\"layers\":[]}", NULL, -EMEDIUMTYPE, "0 layers"},
        {"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
         "\"digest\":\"sha256:" HEX_A "\",\"size\":1},{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
         "\"digest\":\"sha256:" HEX_B "\",\"size\":1}]}",
         NULL, -EMEDIUMTYPE, "2 layers"},
        {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"layers\":[]}", NULL,
         -EMEDIUMTYPE, "is not an OCI or Docker v2 image manifest"},
        {"{\"schemaVersion\":1,\"layers\":[]}", NULL, -EBADMSG, "schemaVersion"},
        {"{\"layers\":[]}", NULL, -EBADMSG, "schemaVersion"},
        {"{\"schemaVersion\":2}", NULL, -EBADMSG, "no layers"},
        {"{\"schemaVersion\":2,\"layers\":[7]}", NULL, -EBADMSG, "not an object"},
        {"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
         "\"digest\":\"sha512:" HEX_A HEX_A "\",\"size\":1}]}",
         NULL, -EBADMSG, "not sha256"},
        {"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
         "\"digest\":\"sha256:" HEX_A "\",\"size\":-1}]}",
         NULL, -EBADMSG, "size"},
        {"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip\","
         "\"digest\":\"sha256:" HEX_A "\",\"size\":\"1\"}]}",
         NULL, -EBADMSG, "size"},
        {"{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}", NULL, -EBADMSG, "not JSON"},
        {"[1,2]", NULL, -EBADMSG, "not a JSON object"},
        {"", NULL, -EBADMSG, "not JSON"},
        {"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\x01y\"}]}", NULL, -EBADMSG, "not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = parse(bad[i].json, bad[i].ct, &l, err, sizeof(err));
        if (r != bad[i].r || !strstr(err, bad[i].needle))
            fail_msg("case %zu: returned %d (want %d), error '%s' (want '%s')", i, r, bad[i].r, err, bad[i].needle);
    }
    /* outside text in messages is printable and short */
    const char *ctl = "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"evil\\u0007\\nline\",\"digest\":\"x\","
                      "\"size\":1}]}";
    assert_int_equal(parse(ctl, NULL, &l, err, sizeof(err)), -EMEDIUMTYPE);
    assert_non_null(strstr(err, "evil??line"));
    static char big[SR_OCI_MANIFEST_MAX + 2];
    memset(big, ' ', sizeof(big));
    assert_int_equal(sr_oci_manifest_parse(big, sizeof(big), NULL, SR_OCI_MT_TRIVY_DB, &l, err, sizeof(err)), -EFBIG);
}

static void test_challenge(void **state) {
    (void)state;
    sr_oci_challenge ch;
    char err[256];
    assert_int_equal(sr_oci_challenge_parse("Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
                                            "scope=\"repository:aquasecurity/trivy-db:pull\"",
                                            &ch, err, sizeof(err)),
                     0);
    assert_string_equal(ch.scheme, "Bearer");
    assert_string_equal(ch.realm, "https://ghcr.io/token");
    assert_string_equal(ch.service, "ghcr.io");
    assert_string_equal(ch.scope, "repository:aquasecurity/trivy-db:pull");

    assert_int_equal(sr_oci_challenge_parse("  bearer   Realm = \"https://a/t?x=\\\"1\\\"\" , SERVICE=reg.local ,"
                                            " scope=repository:x/y:pull, error=\"invalid_token\"",
                                            &ch, err, sizeof(err)),
                     0);
    assert_string_equal(ch.scheme, "bearer");
    assert_string_equal(ch.realm, "https://a/t?x=\"1\"");
    assert_string_equal(ch.service, "reg.local");
    assert_string_equal(ch.scope, "repository:x/y:pull");

    /* the first of two challenges */
    assert_int_equal(sr_oci_challenge_parse("Basic realm=\"registry\", Bearer realm=\"https://t\"", &ch, err,
                                            sizeof(err)),
                     0);
    assert_string_equal(ch.scheme, "Basic");
    assert_string_equal(ch.realm, "registry");
    assert_string_equal(ch.service, "");

    assert_int_equal(sr_oci_challenge_parse("Negotiate", &ch, err, sizeof(err)), 0);
    assert_string_equal(ch.scheme, "Negotiate");
    assert_string_equal(ch.realm, "");

    expect_err(sr_oci_challenge_parse("", &ch, err, sizeof(err)), -EBADMSG, err, "no authentication scheme");
    expect_err(sr_oci_challenge_parse("=x", &ch, err, sizeof(err)), -EBADMSG, err, "no authentication scheme");
    expect_err(sr_oci_challenge_parse("Bearer realm=\"https://x", &ch, err, sizeof(err)), -EBADMSG, err,
               "unterminated");
    char lng[1200];
    memset(lng, 'a', sizeof(lng));
    memcpy(lng, "Bearer realm=", 13);
    lng[sizeof(lng) - 1] = '\0';
    expect_err(sr_oci_challenge_parse(lng, &ch, err, sizeof(err)), -EBADMSG, err, "too long");
    char huge[5000];
    memset(huge, 'a', sizeof(huge));
    huge[sizeof(huge) - 1] = '\0';
    expect_err(sr_oci_challenge_parse(huge, &ch, err, sizeof(err)), -EBADMSG, err, "longer than");
}

static void test_sha256sum(void **state) {
    (void)state;
    char hex[65], err[256];
    const char *one = HEX_A "  db.tar.gz\n";
    assert_int_equal(sr_oci_sha256sum_parse(one, strlen(one), "db.tar.gz", hex, err, sizeof(err)), 0);
    assert_string_equal(hex, HEX_A);
    /* a single line is taken whatever it names; a bare digest too; upper case is folded */
    assert_int_equal(sr_oci_sha256sum_parse(one, strlen(one), "other.tgz", hex, err, sizeof(err)), 0);
    assert_string_equal(hex, HEX_A);
    const char *bare = "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210\r\n";
    assert_int_equal(sr_oci_sha256sum_parse(bare, strlen(bare), "db.tar.gz", hex, err, sizeof(err)), 0);
    assert_string_equal(hex, HEX_B);
    const char *many = HEX_A " *./java-db.tar.gz\n\n" HEX_B " *./db.tar.gz\n";
    assert_int_equal(sr_oci_sha256sum_parse(many, strlen(many), "db.tar.gz", hex, err, sizeof(err)), 0);
    assert_string_equal(hex, HEX_B);
    expect_err(sr_oci_sha256sum_parse(many, strlen(many), "x.tgz", hex, err, sizeof(err)), -ENOENT, err,
               "none named x.tgz");
    expect_err(sr_oci_sha256sum_parse("", 0, "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err, "empty");
    expect_err(sr_oci_sha256sum_parse("\n\n", 2, "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err, "empty");
    const char *shrt = "abc  db.tar.gz\n";
    expect_err(sr_oci_sha256sum_parse(shrt, strlen(shrt), "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err,
               "line 1");
    const char *nothex = "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  db.tar.gz";
    expect_err(sr_oci_sha256sum_parse(nothex, strlen(nothex), "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err,
               "64 hex");
    const char *glued = HEX_A "0  db.tar.gz";
    expect_err(sr_oci_sha256sum_parse(glued, strlen(glued), "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err,
               "64 hex");
    const char *html = "<html><body>404 Not Found</body></html>";
    expect_err(sr_oci_sha256sum_parse(html, strlen(html), "db.tar.gz", hex, err, sizeof(err)), -EBADMSG, err,
               "line 1");
}

static void test_origin(void **state) {
    (void)state;
    char o[256];
    assert_int_equal(sr_fetch_origin("https://GHCR.io/v2/x/manifests/2", o, sizeof(o)), 0);
    assert_string_equal(o, "https://ghcr.io:443");
    assert_int_equal(sr_fetch_origin("http://127.0.0.1:5000/v2/", o, sizeof(o)), 0);
    assert_string_equal(o, "http://127.0.0.1:5000");
    assert_int_equal(sr_fetch_origin("http://localhost/x", o, sizeof(o)), 0);
    assert_string_equal(o, "http://localhost:80");
    assert_int_equal(sr_fetch_origin("not a url", o, sizeof(o)), -EINVAL);
    char hex[65];
    unsigned char d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (unsigned char)(i * 8 + 1);
    sr_fetch_hex(d, hex);
    assert_string_equal(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
}

static void set_key(sr_core_config *c, const char *key, const char *value) {
    char err[256];
    if (sr_config_set(&sr_core_config_table, c, key, value, err, sizeof(err)) < 0)
        fail_msg("%s", err);
}

static void expect_invalid(sr_core_config *c, const char *needle) {
    char err[512] = "";
    assert_int_equal(sr_core_config_validate(c, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_config(void **state) {
    (void)state;
    sr_core_config c;
    char err[512], dir[256];
    assert_int_equal(sr_core_config_defaults(&c), 0);
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    assert_true(c.trivy_db_enabled);
    assert_string_equal(c.trivy_db_source, SR_DBSYNC_DEFAULT_SOURCE);
    assert_int_equal(c.trivy_db_interval_ms, SR_DBSYNC_DEFAULT_INTERVAL_MS);
    assert_int_equal(c.trivy_db_interval_ms, sr_dbsync_job.default_interval_ms);
    assert_string_equal(sr_dbsync_job.name, SR_DBSYNC_JOB);
    assert_true(c.trivy_db_max_bytes == (UINT64_C(2) << 30));
    assert_int_equal(c.trivy_db_timeout_ms, 60000);
    assert_int_equal(sr_core_config_trivy_db_work_dir(&c, dir, sizeof(dir)), 0);
    assert_string_equal(dir, "./.data/core/artifacts");

    set_key(&c, "trivy_db.source", "ftp://mirror/db.tar.gz");
    expect_invalid(&c, "trivy_db.source: invalid source");
    set_key(&c, "trivy_db.source", "oci://ghcr.io/aquasecurity/trivy-db");
    expect_invalid(&c, "trivy_db.source: invalid OCI reference");
    set_key(&c, "trivy_db.source", "https://mirror.local/trivy/db.tar.gz");
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    set_key(&c, "trivy_db.sha256", "abc");
    expect_invalid(&c, "trivy_db.sha256");
    set_key(&c, "trivy_db.sha256", HEX_A "z");
    expect_invalid(&c, "trivy_db.sha256");
    set_key(&c, "trivy_db.sha256", HEX_A);
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    set_key(&c, "trivy_db.password_file", "/etc/serviceradar/registry.pw");
    expect_invalid(&c, "trivy_db.password_file needs trivy_db.username");
    set_key(&c, "trivy_db.username", "robot");
    assert_int_equal(sr_core_config_validate(&c, err, sizeof(err)), 0);
    set_key(&c, "trivy_db.work_dir", "/var/tmp/sr");
    assert_int_equal(sr_core_config_trivy_db_work_dir(&c, dir, sizeof(dir)), 0);
    assert_string_equal(dir, "/var/tmp/sr");
    assert_int_equal(sr_config_set(&sr_core_config_table, &c, "trivy_db.interval", "10s", err, sizeof(err)), -ERANGE);
    assert_int_equal(sr_config_set(&sr_core_config_table, &c, "trivy_db.max_bytes", "100", err, sizeof(err)),
                     -ERANGE);
    sr_core_config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_parse),  cmocka_unit_test(test_source), cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_challenge),  cmocka_unit_test(test_sha256sum), cmocka_unit_test(test_origin),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
