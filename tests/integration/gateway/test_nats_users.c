/* The NATS users of deploy/nats/serviceradar-users.conf on a real nats-server: falcosidekick may
 * publish security.falco.alerts and nothing else, and may subscribe to nothing; the gateway may
 * publish its subjects through JetStream but not security.>; the core manages streams, pulls and
 * acknowledges; a wrong password is refused. Permission violations are observed the way a
 * client sees them (the server's asynchronous error) and by what the streams hold afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_objstore.h"
#include "sr_time.h"
#include "srtest.h"

#define CORE_PW "core-secret-1"
#define GW_PW "gateway-secret-2"
#define FS_PW "falcosidekick-secret-3"

typedef struct {
    char dir[256];
    pid_t pid;
    int port;
    char url[64];
} server;

static server S;

static int setup(void **state) {
    (void)state;
    assert_int_equal(srtest_tmpdir(S.dir, sizeof(S.dir)), 0);
    char path[512], cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp %s %s/serviceradar-users.conf", SR_NATS_USERS_CONF, S.dir);
    assert_int_equal(system(cmd), 0);
    S.port = srtest_free_port();
    assert_true(S.port > 0);
    snprintf(path, sizeof(path), "%s/nats.conf", S.dir);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fprintf(f, "listen: 127.0.0.1:%d\njetstream { store_dir: \"%s/js\" }\ninclude ./serviceradar-users.conf\n", S.port,
            S.dir);
    fclose(f);
    const char *bin = getenv("SR_NATS_SERVER");
    if (!bin || !*bin)
        bin = "nats-server";
    S.pid = fork();
    assert_true(S.pid >= 0);
    if (S.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("SR_NATS_CORE_PASSWORD", CORE_PW, 1);
        setenv("SR_NATS_GATEWAY_PASSWORD", GW_PW, 1);
        setenv("SR_NATS_FALCOSIDEKICK_PASSWORD", FS_PW, 1);
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execlp(bin, bin, "-c", path, (char *)NULL);
        fprintf(stderr, "could not exec %s (install nats-server or set SR_NATS_SERVER)\n", bin);
        _exit(127);
    }
    if (srtest_wait_port(S.port, 10000) != 0)
        fail_msg("nats-server with %s did not start", path);
    snprintf(S.url, sizeof(S.url), "nats://127.0.0.1:%d", S.port);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kill(S.pid, SIGTERM);
    waitpid(S.pid, NULL, 0);
    srtest_rmtree(S.dir);
    nats_Close();
    return 0;
}

/* Asynchronous errors the server sent to a connection. */
typedef struct {
    pthread_mutex_t mu;
    int violations;
    char last[256];
} errs;

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    (void)sub;
    errs *e = closure;
    const char *text = NULL;
    natsConnection_GetLastError(nc, &text);
    pthread_mutex_lock(&e->mu);
    if (err == NATS_NOT_PERMITTED)
        e->violations++;
    snprintf(e->last, sizeof(e->last), "%s", text ? text : natsStatus_GetText(err));
    pthread_mutex_unlock(&e->mu);
}

static natsStatus connect_as(const char *user, const char *pw, errs *e, natsConnection **nc) {
    natsOptions *o = NULL;
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    assert_int_equal(natsOptions_SetURL(o, S.url), NATS_OK);
    assert_int_equal(natsOptions_SetUserInfo(o, user, pw), NATS_OK);
    assert_int_equal(natsOptions_SetMaxReconnect(o, 0), NATS_OK);
    if (e)
        assert_int_equal(natsOptions_SetErrorHandler(o, on_error, e), NATS_OK);
    natsStatus s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

static int wait_violations(errs *e, int want) {
    int64_t deadline = sr_mono_ms() + 5000;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        int n = e->violations;
        pthread_mutex_unlock(&e->mu);
        if (n >= want || sr_mono_ms() > deadline)
            return n;
        sr_sleep_ms(10);
    }
}

static uint64_t stream_msgs(jsCtx *js, const char *stream) {
    jsStreamInfo *si = NULL;
    assert_int_equal(js_GetStreamInfo(&si, js, stream, NULL, NULL), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static void add_stream(jsCtx *js, const char *name, const char *subject) {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    const char *subjects[] = {subject};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    jsErrCode jerr = 0;
    if (js_AddStream(NULL, js, &sc, NULL, &jerr) != NATS_OK)
        fail_msg("core could not create stream %s (jetstream error %d)", name, (int)jerr);
}

static void check_artifacts(jsCtx *cjs, jsCtx *gjs, errs *ge) {
    int before = wait_violations(ge, 0);
    char path[512], err[256] = "";
    snprintf(path, sizeof(path), "%s/bundle", S.dir);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    for (int i = 0; i < 300 * 1024; i++)
        fputc('a' + i % 23, f);
    fclose(f);
    sr_objstore *cos = NULL; /* the core creates both buckets on its job's first run */
    assert_int_equal(sr_objstore_open(cjs, "artifacts", 1, NULL, &cos, err, sizeof(err)), 0);
    assert_int_equal(sr_objstore_put_file(cos, "trivy-db", path, NULL, 0, NULL, err, sizeof(err)), 0);
    sr_objstore_free(cos);
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = "artifacts";
    kc.History = 5;
    kc.StorageType = js_FileStorage;
    kvStore *ckv = NULL;
    assert_int_equal(js_CreateKeyValue(&ckv, cjs, &kc), NATS_OK);
    uint64_t rev = 0;
    assert_int_equal(kvStore_PutString(&rev, ckv, "trivy-db", "{\"event\":\"trivy_db_update\"}"), NATS_OK);

    kvStore *gkv = NULL;
    assert_int_equal(js_KeyValue(&gkv, gjs, "artifacts"), NATS_OK);
    kvWatcher *w = NULL;
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    assert_int_equal(kvStore_Watch(&w, gkv, "trivy-db", &wo), NATS_OK);
    kvEntry *e = NULL;
    assert_int_equal(kvWatcher_Next(&e, w, 5000), NATS_OK);
    assert_non_null(e);
    assert_string_equal(kvEntry_ValueString(e), "{\"event\":\"trivy_db_update\"}");
    kvEntry_Destroy(e);
    assert_int_equal(kvWatcher_Next(&e, w, 5000), NATS_OK); /* end of the initial values */
    assert_null(e);
    assert_int_equal(kvStore_PutString(&rev, ckv, "trivy-db", "{\"v\":2}"), NATS_OK);
    assert_int_equal(kvWatcher_Next(&e, w, 5000), NATS_OK); /* an update */
    assert_non_null(e);
    assert_string_equal(kvEntry_ValueString(e), "{\"v\":2}");
    kvEntry_Destroy(e);
    assert_int_equal(kvStore_Get(&e, gkv, "trivy-db"), NATS_OK);
    kvEntry_Destroy(e);
    kvWatcher_Destroy(w);

    sr_objstore *gos = NULL;
    sr_objstore_info info;
    assert_int_equal(sr_objstore_open(gjs, "artifacts", 0, NULL, &gos, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/bundle.copy", S.dir);
    assert_int_equal(sr_objstore_get_file(gos, "trivy-db", path, &info, err, sizeof(err)), 0);
    assert_int_equal(info.size, 300 * 1024);
    sr_objstore_free(gos);
    assert_int_equal(wait_violations(ge, before), before);

    /* ... but the gateway may not write them */
    assert_int_not_equal(kvStore_PutString(&rev, gkv, "trivy-db", "{}"), NATS_OK);
    assert_int_equal(wait_violations(ge, before + 1), before + 1);
    kvStore_Destroy(gkv);
    kvStore_Destroy(ckv);
}

static void test_users(void **state) {
    (void)state;
    /* the core creates the streams (it may use the JetStream API) */
    natsConnection *core = NULL;
    assert_int_equal(connect_as("serviceradar-core", CORE_PW, NULL, &core), NATS_OK);
    jsCtx *cjs = NULL;
    assert_int_equal(natsConnection_JetStream(&cjs, core, NULL), NATS_OK);
    add_stream(cjs, "SECURITY", "security.>");
    add_stream(cjs, "LOGS", "logs.>");

    /* falcosidekick: its subject is stored */
    errs fe = {.mu = PTHREAD_MUTEX_INITIALIZER};
    natsConnection *fs = NULL;
    assert_int_equal(connect_as("falcosidekick", FS_PW, &fe, &fs), NATS_OK);
    static const char alert[] = "{\"output\":\"x\",\"priority\":\"Notice\",\"rule\":\"r\",\"time\":\"2024-01-01T00:00:00Z\"}";
    assert_int_equal(natsConnection_Publish(fs, "security.falco.alerts", alert, (int)sizeof(alert) - 1), NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(fs, 5000), NATS_OK);
    int64_t deadline = sr_mono_ms() + 5000;
    while (stream_msgs(cjs, "SECURITY") < 1 && sr_mono_ms() < deadline)
        sr_sleep_ms(10);
    assert_int_equal(stream_msgs(cjs, "SECURITY"), 1);
    assert_int_equal(wait_violations(&fe, 0), 0);

    /* ... any other subject is refused by the server and stored nowhere */
    assert_int_equal(natsConnection_Publish(fs, "logs.edge", alert, (int)sizeof(alert) - 1), NATS_OK);
    assert_int_equal(wait_violations(&fe, 1), 1);
    pthread_mutex_lock(&fe.mu);
    assert_non_null(strstr(fe.last, "Permissions Violation for Publish to \"logs.edge\""));
    pthread_mutex_unlock(&fe.mu);
    assert_int_equal(natsConnection_Publish(fs, "security.other", alert, (int)sizeof(alert) - 1), NATS_OK);
    assert_int_equal(wait_violations(&fe, 2), 2);
    /* ... including the JetStream API */
    assert_int_equal(natsConnection_PublishString(fs, "$JS.API.STREAM.DELETE.SECURITY", ""), NATS_OK);
    assert_int_equal(wait_violations(&fe, 3), 3);
    /* ... and it may subscribe to nothing, not even its own subject */
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&sub, fs, "security.falco.alerts"), NATS_OK);
    assert_int_equal(wait_violations(&fe, 4), 4);
    pthread_mutex_lock(&fe.mu);
    assert_non_null(strstr(fe.last, "Permissions Violation for Subscription to \"security.falco.alerts\""));
    pthread_mutex_unlock(&fe.mu);
    natsSubscription_Destroy(sub);
    assert_int_equal(stream_msgs(cjs, "SECURITY"), 1);
    assert_int_equal(stream_msgs(cjs, "LOGS"), 0);

    /* the gateway publishes logs through JetStream (acknowledged on its inbox) but not alerts */
    errs ge = {.mu = PTHREAD_MUTEX_INITIALIZER};
    natsConnection *gw = NULL;
    assert_int_equal(connect_as("serviceradar-gateway", GW_PW, &ge, &gw), NATS_OK);
    jsCtx *gjs = NULL;
    assert_int_equal(natsConnection_JetStream(&gjs, gw, NULL), NATS_OK);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_Publish(&pa, gjs, "logs.edge", "x", 1, NULL, &jerr), NATS_OK);
    assert_string_equal(pa->Stream, "LOGS");
    jsPubAck_Destroy(pa);
    assert_int_equal(natsConnection_PublishString(gw, "security.falco.alerts", "{}"), NATS_OK);
    assert_int_equal(wait_violations(&ge, 1), 1);
    assert_int_equal(stream_msgs(cjs, "SECURITY"), 1);
    assert_int_equal(stream_msgs(cjs, "LOGS"), 1);

    /* the core pulls and acknowledges what falcosidekick stored */
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "core-falco";
    cc.FilterSubject = "security.falco.alerts";
    cc.AckPolicy = js_AckExplicit;
    assert_int_equal(js_AddConsumer(NULL, cjs, "SECURITY", &cc, NULL, &jerr), NATS_OK);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "SECURITY";
    so.Consumer = "core-falco";
    so.ManualAck = true;
    natsSubscription *pull = NULL;
    assert_int_equal(js_PullSubscribe(&pull, cjs, "security.falco.alerts", "core-falco", NULL, &so, &jerr), NATS_OK);
    natsMsgList list = {0};
    assert_int_equal(natsSubscription_Fetch(&list, pull, 10, 5000, &jerr), NATS_OK);
    assert_int_equal(list.Count, 1);
    assert_int_equal(natsMsg_GetDataLength(list.Msgs[0]), (int)sizeof(alert) - 1);
    assert_int_equal(natsMsg_AckSync(list.Msgs[0], NULL, &jerr), NATS_OK);
    natsMsgList_Destroy(&list);
    natsSubscription_Unsubscribe(pull);
    natsSubscription_Destroy(pull);

    /* the Trivy DB: the core stores the bundle and its version (Object Store and KV bucket artifacts);
     * the gateway reads both the way gw_artifact does (watch, get, object get) and may write neither */
    check_artifacts(cjs, gjs, &ge);

    /* a wrong password is refused */
    natsConnection *bad = NULL;
    assert_int_equal(connect_as("falcosidekick", "wrong", NULL, &bad), NATS_CONNECTION_AUTH_FAILED);
    assert_int_not_equal(connect_as("nobody", FS_PW, NULL, &bad), NATS_OK);

    jsCtx_Destroy(gjs);
    natsConnection_Destroy(gw);
    natsConnection_Destroy(fs);
    jsCtx_Destroy(cjs);
    natsConnection_Destroy(core);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_users)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
