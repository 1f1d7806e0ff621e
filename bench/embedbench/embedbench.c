/* serviceradar-embedbench: how fast the embedding engine turns realistic security events into
 * vectors on this machine (`make bench-embed`).
 *
 * The input is a deterministic mix of --lines texts from the synthetic estate of eventgen: host
 * log lines and Falco alert outputs, 9 to 1, in time order. --text raw embeds the syslog line as
 * the agent ships it; --text message the message field the events table keeps (the parser's
 * output, without the syslog header). A Falco alert is its output text in both modes.
 *
 * Measured, each engine after a warm-up: one text per call (latency p50/p95 over 256 texts),
 * calls of 32 texts (engine max_batch 32), calls of 256 texts (engine max_batch 256), calls of
 * 256 texts that the max_batch 32 engine sorts by length into runtime batches of 32, the
 * tokenizer alone, where the time goes (tokenize / inference / pooling), the padding, and the
 * peak RSS. The engines are opened one after the other, each freed before the next, so the peak
 * reflects one engine. The last line is machine-readable:
 *   bench-embed: provider=cpu batch1_ms=... b32_lines_per_s=... b256_lines_per_s=... rss_mb=... */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "eg_world.h"
#include "sr_embed.h"
#include "sr_log.h"
#include "sr_logparse.h"
#include "sr_parse.h"
#include "sr_wordpiece.h"

#define LINES_MAX 1000000
#define FALCO_PCT 10.0              /* eventgen's default share of Falco alerts */
#define MIX_END_MS INT64_C(1717200000000) /* 2024-06-01T00:00:00Z: a fixed clock keeps the mix deterministic */
#define MIX_DAYS 30
#define FALCO_JSON_MAX 8192
#define SINGLE_LINES 256 /* texts embedded one per call */
#define WARMUP_CALLS 3
#define TOKENIZE_MIN_NS 300000000ULL /* repeat the tokenizer pass for at least 0.3 s */

typedef enum { TEXT_RAW, TEXT_MESSAGE } text_kind;

typedef struct {
    const char *model;
    const char *runtime;
    sr_embed_provider provider;
    sr_embed_precision precision;
    size_t batch_tokens; /* engine max_batch_tokens; 0: its default */
    int threads;
    size_t lines;
    text_kind text;
    uint64_t seed;
    size_t show; /* print this many texts of the mix and stop */
} opts;

typedef struct {
    int64_t time_ms;
    int is_falco;
    char *text;
} mix_line;

typedef struct {
    mix_line *lines;
    size_t n;
    size_t n_falco;
    const char **texts; /* lines[i].text, in order */
} mix;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* CPU seconds of all the process's threads, user and system. */
static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void mix_free(mix *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->lines[i].text);
    free(m->lines);
    free(m->texts);
    memset(m, 0, sizeof(*m));
}

static int by_time(const void *pa, const void *pb) {
    const mix_line *a = pa, *b = pb;
    return (a->time_ms > b->time_ms) - (a->time_ms < b->time_ms);
}

/* The "output" string of a Falcosidekick JSON alert, copied; NULL when absent or out of memory. */
static char *falco_output(const char *json, size_t len) {
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root)
        return NULL;
    const char *out = json_string_value(json_object_get(root, "output"));
    char *copy = out ? strdup(out) : NULL;
    json_decref(root);
    return copy;
}

/* Host lines split by host share as eventgen does (the remainder to the busier hosts), Falco
 * alerts spread evenly over the same month, everything sorted by time. */
static int mix_build(const opts *o, mix *m, char *err, size_t errlen) {
    int rc = -ENOMEM;
    eg_world *w = NULL;
    eg_logrec *recs = NULL;
    sr_logparse_record *rec = NULL;
    char *json = NULL;
    int64_t *per_host = NULL;
    int64_t start_ms = MIX_END_MS - MIX_DAYS * INT64_C(86400000);
    size_t n_falco = (size_t)((double)o->lines * FALCO_PCT / 100.0 + 0.5);
    size_t n_logs = o->lines - n_falco;

    memset(m, 0, sizeof(*m));
    eg_world_opts wo = {.seed = o->seed, .start_ms = start_ms, .end_ms = MIX_END_MS, .falco_total = (int64_t)n_falco};
    m->lines = calloc(o->lines, sizeof(mix_line));
    m->texts = calloc(o->lines, sizeof(char *));
    json = malloc(FALCO_JSON_MAX);
    rec = malloc(sizeof(*rec));
    if (!m->lines || !m->texts || !json || !rec || eg_world_new(&wo, &w) < 0)
        goto out;
    int hosts = eg_world_hosts(w);
    per_host = calloc((size_t)hosts, sizeof(int64_t));
    if (!per_host)
        goto out;
    int64_t given = 0, most = 0;
    for (int h = 0; h < hosts; h++) {
        per_host[h] = (int64_t)((double)n_logs * eg_world_host_share(w, h));
        given += per_host[h];
    }
    for (int64_t left = (int64_t)n_logs - given; left > 0;) {
        int64_t before = left;
        for (int h = 0; h < hosts && left > 0; h++)
            if (eg_world_host_share(w, h) * (double)hosts > 1.0) {
                per_host[h]++;
                left--;
            }
        if (left == before) { /* no host above the mean share: round-robin */
            for (int h = 0; h < hosts && left > 0; h++, left--)
                per_host[h]++;
        }
    }
    for (int h = 0; h < hosts; h++)
        most = per_host[h] > most ? per_host[h] : most;
    recs = calloc(most > 0 ? (size_t)most : 1, sizeof(eg_logrec));
    if (!recs)
        goto out;

    for (int h = 0; h < hosts; h++) {
        if (per_host[h] == 0)
            continue;
        sr_logparse *p = NULL; /* one parser per host, as the agent has one per log stream */
        if (o->text == TEXT_MESSAGE && sr_logparse_new(NULL, &p) < 0)
            goto out;
        eg_world_host_logs(w, h, start_ms, MIX_END_MS, recs, (int)per_host[h]);
        for (int64_t i = 0; i < per_host[h]; i++) {
            const char *text = recs[i].raw;
            if (p) {
                sr_logparse_line(p, recs[i].raw, strlen(recs[i].raw), MIX_END_MS, rec);
                text = rec->message;
            }
            mix_line *ml = &m->lines[m->n];
            ml->time_ms = recs[i].time_ms;
            ml->text = strdup(text);
            if (!ml->text) {
                sr_logparse_free(p);
                goto out;
            }
            m->n++;
        }
        sr_logparse_free(p);
    }
    double slot = (double)(MIX_END_MS - start_ms) / (double)(n_falco ? n_falco : 1);
    for (size_t j = 0; j < n_falco; j++) {
        int64_t t = start_ms + (int64_t)(slot * ((double)j + 0.5));
        size_t len = eg_world_falco(w, (int64_t)j, t, json, FALCO_JSON_MAX);
        char *text = len ? falco_output(json, len) : NULL;
        if (!text) {
            snprintf(err, errlen, "could not build Falco alert %zu: no output text", j);
            rc = -EINVAL;
            goto out;
        }
        m->lines[m->n++] = (mix_line){.time_ms = t, .is_falco = 1, .text = text};
    }
    m->n_falco = n_falco;
    qsort(m->lines, m->n, sizeof(mix_line), by_time);
    for (size_t i = 0; i < m->n; i++)
        m->texts[i] = m->lines[i].text;
    rc = 0;
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "could not build the mix: out of memory");
    if (rc < 0)
        mix_free(m);
    free(per_host);
    free(recs);
    free(rec);
    free(json);
    eg_world_free(w);
    return rc;
}

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted[0..n). */
static double percentile(const double *sorted, size_t n, double p) {
    if (n == 0)
        return 0;
    size_t k = (size_t)ceil(p * (double)n);
    return sorted[k > 0 ? k - 1 : 0];
}

typedef struct {
    double mean, p50, p95;
    size_t max, truncated;
} token_stats;

static int tokens_of_mix(const sr_embed *e, const mix *m, token_stats *ret) {
    const sr_wordpiece *wp = sr_embed_tokenizer(e);
    size_t max_ids = sr_embed_max_tokens(e);
    int32_t *ids = calloc(max_ids, sizeof(int32_t));
    double *counts = calloc(m->n ? m->n : 1, sizeof(double));
    if (!ids || !counts) {
        free(ids);
        free(counts);
        return -ENOMEM;
    }
    token_stats st = {0};
    double sum = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t n = 0;
        (void)sr_wordpiece_encode(wp, m->texts[i], strlen(m->texts[i]), ids, max_ids, &n);
        counts[i] = (double)n;
        sum += (double)n;
        st.max = n > st.max ? n : st.max;
        st.truncated += n == max_ids;
    }
    qsort(counts, m->n, sizeof(double), cmp_double);
    st.mean = m->n ? sum / (double)m->n : 0;
    st.p50 = percentile(counts, m->n, 0.50);
    st.p95 = percentile(counts, m->n, 0.95);
    free(ids);
    free(counts);
    *ret = st;
    return 0;
}

typedef struct {
    double lines_per_s;
    double seconds;
    double cpus; /* CPU seconds per second: how many CPUs the calls kept busy */
    size_t calls;
    sr_embed_stats stats; /* of the measured calls only */
} batch_result;

static void stats_delta(const sr_embed_stats *a, const sr_embed_stats *b, sr_embed_stats *ret) {
    ret->texts = b->texts - a->texts;
    ret->tokens = b->tokens - a->tokens;
    ret->padded = b->padded - a->padded;
    ret->tokenize_ns = b->tokenize_ns - a->tokenize_ns;
    ret->infer_ns = b->infer_ns - a->infer_ns;
    ret->pool_ns = b->pool_ns - a->pool_ns;
}

static int open_engine(const opts *o, size_t max_batch, sr_embed **ret) {
    sr_embed_options eo = {.model_dir = o->model, .runtime = o->runtime, .provider = o->provider,
                           .precision = o->precision, .threads = o->threads, .max_batch = max_batch,
                           .max_batch_tokens = o->batch_tokens};
    char err[1024];
    int r = sr_embed_open(&eo, ret, err, sizeof(err));
    if (r < 0)
        sr_error("could not open the engine (max_batch %zu): %s", max_batch, err);
    return r;
}

static int embed(sr_embed *e, const char *const *texts, size_t n, float *out) {
    char err[1024];
    int r = sr_embed_batch(e, texts, NULL, n, out, err, sizeof(err));
    if (r < 0)
        sr_error("could not embed %zu texts: %s", n, err);
    return r;
}

static int warm_up(sr_embed *e, const mix *m, size_t per_call, float *out) {
    for (int c = 0; c < WARMUP_CALLS; c++) {
        size_t first = ((size_t)c * per_call) % m->n;
        size_t n = first + per_call <= m->n ? per_call : m->n - first;
        int r = embed(e, m->texts + first, n, out);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Calls of per_call texts over the whole mix. */
static int run_batches(sr_embed *e, const mix *m, size_t per_call, float *out, batch_result *ret) {
    sr_embed_stats s0, s1;
    sr_embed_get_stats(e, &s0);
    size_t calls = 0;
    double c0 = cpu_seconds();
    uint64_t t0 = now_ns();
    for (size_t first = 0; first < m->n; first += per_call, calls++) {
        size_t n = first + per_call <= m->n ? per_call : m->n - first;
        int r = embed(e, m->texts + first, n, out);
        if (r < 0)
            return r;
    }
    uint64_t t1 = now_ns();
    sr_embed_get_stats(e, &s1);
    batch_result res = {.seconds = (double)(t1 - t0) / 1e9, .calls = calls};
    res.lines_per_s = res.seconds > 0 ? (double)m->n / res.seconds : 0;
    res.cpus = res.seconds > 0 ? (cpu_seconds() - c0) / res.seconds : 0;
    stats_delta(&s0, &s1, &res.stats);
    *ret = res;
    return 0;
}

static void print_breakdown(const char *label, const sr_embed_stats *s) {
    double total = (double)(s->tokenize_ns + s->infer_ns + s->pool_ns);
    if (total <= 0 || s->tokens == 0) {
        printf("  %-9s no calls\n", label);
        return;
    }
    printf("  %-9s tokenize %5.1f%%  inference %5.1f%%  pooling %5.1f%%  padding %.2fx (%llu tokens, %llu fed)\n",
           label, 100.0 * (double)s->tokenize_ns / total, 100.0 * (double)s->infer_ns / total,
           100.0 * (double)s->pool_ns / total, (double)s->padded / (double)s->tokens, s->tokens, s->padded);
}

static void usage(FILE *to) {
    fputs("usage: serviceradar-embedbench [--model DIR] [--runtime PATH] [--provider auto|cpu|cuda] [--threads N]\n"
          "                               [--precision fp32|int8] [--batch-tokens N] [--lines 2048]\n"
          "                               [--text raw|message] [--seed 1] [--show N]\n"
          "Embeds a deterministic mix of synthetic host log lines and Falco alerts (9:1): one text per call,\n"
          "calls of 32 and of 256 texts; the tokenizer alone; where the time goes; peak RSS. Progress on\n"
          "stderr, the report on stdout; last line:\n"
          "bench-embed: provider=... batch1_ms=... b32_lines_per_s=... b256_lines_per_s=... rss_mb=...\n"
          "--show N prints the first N texts of the mix (\"log\" or \"falco\", a tab, the text) and stops.\n",
          to);
}

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"runtime", required_argument, 0, 'r'},
        {"provider", required_argument, 0, 'p'}, {"threads", required_argument, 0, 't'},
        {"lines", required_argument, 0, 'n'},   {"text", required_argument, 0, 'x'},
        {"seed", required_argument, 0, 's'},    {"show", required_argument, 0, 'S'},
        {"precision", required_argument, 0, 'P'}, {"batch-tokens", required_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int ch;
    int64_t v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': o->model = optarg; break;
        case 'r': o->runtime = optarg; break;
        case 'p':
            if (strcmp(optarg, "auto") == 0)
                o->provider = SR_EMBED_PROVIDER_AUTO;
            else if (strcmp(optarg, "cpu") == 0)
                o->provider = SR_EMBED_PROVIDER_CPU;
            else if (strcmp(optarg, "cuda") == 0)
                o->provider = SR_EMBED_PROVIDER_CUDA;
            else
                return -EINVAL;
            break;
        case 'P':
            if (strcmp(optarg, "fp32") == 0)
                o->precision = SR_EMBED_FP32;
            else if (strcmp(optarg, "int8") == 0)
                o->precision = SR_EMBED_INT8;
            else
                return -EINVAL;
            break;
        case 'B':
            if (sr_parse_i64(optarg, 0, INT64_C(1) << 24, &v) < 0)
                return -EINVAL;
            o->batch_tokens = (size_t)v;
            break;
        case 't':
            if (sr_parse_i64(optarg, 0, 1024, &v) < 0)
                return -EINVAL;
            o->threads = (int)v;
            break;
        case 'n':
            if (sr_parse_i64(optarg, 1, LINES_MAX, &v) < 0)
                return -EINVAL;
            o->lines = (size_t)v;
            break;
        case 'x':
            if (strcmp(optarg, "raw") == 0)
                o->text = TEXT_RAW;
            else if (strcmp(optarg, "message") == 0)
                o->text = TEXT_MESSAGE;
            else
                return -EINVAL;
            break;
        case 's':
            if (sr_parse_u64(optarg, &o->seed) < 0)
                return -EINVAL;
            break;
        case 'S':
            if (sr_parse_i64(optarg, 1, LINES_MAX, &v) < 0)
                return -EINVAL;
            o->show = (size_t)v;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
    }
    return optind == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv) {
    opts o = {.model = SR_EMBED_MODEL_DIR, .lines = 2048, .text = TEXT_RAW, .seed = 1};
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    sr_log_init("embedbench", SR_LOG_INFO);

    int rc = 1;
    mix m = {0};
    sr_embed *e = NULL;
    float *out = NULL;
    double *lat = NULL;
    char err[512];
    uint64_t t0 = now_ns();
    if (mix_build(&o, &m, err, sizeof(err)) < 0) {
        sr_error("%s", err);
        return 1;
    }
    double rss_mix = peak_rss_mb();
    sr_info("mix: %zu texts (%zu Falco alerts) built in %.2f s", m.n, m.n_falco, (double)(now_ns() - t0) / 1e9);
    if (o.show) {
        for (size_t i = 0; i < m.n && i < o.show; i++)
            printf("%s\t%s\n", m.lines[i].is_falco ? "falco" : "log", m.lines[i].text);
        mix_free(&m);
        return 0;
    }

    /* ---- engine 1: max_batch 32; single-text latency and calls of 32 ---- */
    sr_info("opening the engine (max_batch 32)");
    if (open_engine(&o, 32, &e) < 0)
        goto out;
    size_t dim = sr_embed_dim(e);
    out = calloc(256 * dim, sizeof(float));
    lat = calloc(SINGLE_LINES, sizeof(double));
    if (!out || !lat) {
        sr_error("could not allocate the output: out of memory");
        goto out;
    }
    char provider[16];
    snprintf(provider, sizeof(provider), "%s", sr_embed_provider_name(e));
    char note[256], version[64], precision[16];
    snprintf(note, sizeof(note), "%s", sr_embed_provider_note(e));
    snprintf(precision, sizeof(precision), "%s", sr_embed_precision_name(e));
    snprintf(version, sizeof(version), "%s", sr_embed_runtime_version(e));
    token_stats ts;
    if (tokens_of_mix(e, &m, &ts) < 0) {
        sr_error("could not count tokens: out of memory");
        goto out;
    }

    sr_info("warm-up");
    if (warm_up(e, &m, 32, out) < 0)
        goto out;
    size_t n_single = m.n < SINGLE_LINES ? m.n : SINGLE_LINES;
    if (warm_up(e, &m, 1, out) < 0)
        goto out;
    sr_info("one text per call over %zu texts", n_single);
    sr_embed_stats s0, s1, single_stats;
    sr_embed_get_stats(e, &s0);
    double c0 = cpu_seconds();
    uint64_t w0 = now_ns();
    for (size_t i = 0; i < n_single; i++) {
        uint64_t a = now_ns();
        if (embed(e, &m.texts[i], 1, out) < 0)
            goto out;
        lat[i] = (double)(now_ns() - a) / 1e6;
    }
    double w1 = (double)(now_ns() - w0) / 1e9;
    double b1_cpus = w1 > 0 ? (cpu_seconds() - c0) / w1 : 0;
    sr_embed_get_stats(e, &s1);
    stats_delta(&s0, &s1, &single_stats);
    double lat_sum = 0;
    for (size_t i = 0; i < n_single; i++)
        lat_sum += lat[i];
    qsort(lat, n_single, sizeof(double), cmp_double);
    double b1_p50 = percentile(lat, n_single, 0.50), b1_p95 = percentile(lat, n_single, 0.95);
    double b1_mean = n_single ? lat_sum / (double)n_single : 0;

    sr_info("calls of 32 over %zu texts", m.n);
    batch_result b32;
    if (run_batches(e, &m, 32, out, &b32) < 0)
        goto out;
    sr_info("calls of 256 over %zu texts, runtime batches of 32", m.n);
    batch_result b256s;
    if (run_batches(e, &m, 256, out, &b256s) < 0)
        goto out;
    double rss_b32 = peak_rss_mb();
    e = sr_embed_free(e);

    /* ---- engine 2: max_batch 256; calls of 256 and the tokenizer alone ---- */
    sr_info("opening the engine (max_batch 256)");
    if (open_engine(&o, 256, &e) < 0)
        goto out;
    sr_info("warm-up");
    if (warm_up(e, &m, 256, out) < 0)
        goto out;
    sr_info("calls of 256 over %zu texts", m.n);
    batch_result b256;
    if (run_batches(e, &m, 256, out, &b256) < 0)
        goto out;

    sr_info("tokenizer alone");
    const sr_wordpiece *wp = sr_embed_tokenizer(e);
    size_t max_ids = sr_embed_max_tokens(e);
    int32_t ids[SR_EMBED_MAX_TOKENS];
    if (max_ids > SR_EMBED_MAX_TOKENS)
        max_ids = SR_EMBED_MAX_TOKENS;
    size_t passes = 0, tok_total = 0;
    uint64_t ta = now_ns(), tb = ta;
    while (passes == 0 || tb - ta < TOKENIZE_MIN_NS) {
        for (size_t i = 0; i < m.n; i++) {
            size_t n = 0;
            (void)sr_wordpiece_encode(wp, m.texts[i], strlen(m.texts[i]), ids, max_ids, &n);
            tok_total += n;
        }
        passes++;
        tb = now_ns();
    }
    double tok_us = (double)(tb - ta) / 1e3 / (double)(passes * m.n);
    e = sr_embed_free(e);
    double rss = peak_rss_mb();

    printf("embedding benchmark\n");
    printf("  engine     provider %s (%s), ONNX Runtime %s, %s, %zu dimensions, --threads %d, --batch-tokens %zu%s\n",
           provider, note, version, precision, dim, o.threads, o.batch_tokens, o.batch_tokens ? "" : " (default)");
    printf("  model      %s\n", o.model);
    printf("mix: %zu texts, %zu host log lines and %zu Falco alerts (seed %" PRIu64 ", text %s)\n", m.n,
           m.n - m.n_falco, m.n_falco, o.seed, o.text == TEXT_RAW ? "raw" : "message");
    printf("  tokens per text: mean %.1f  p50 %.0f  p95 %.0f  max %zu  (cut at %zu: %zu texts)\n", ts.mean, ts.p50,
           ts.p95, ts.max, max_ids, ts.truncated);
    printf("one text per call (%zu texts): p50 %.2f ms  p95 %.2f ms  mean %.2f ms  (%.1f texts/s, %.2f CPUs busy)\n",
           n_single, b1_p50, b1_p95, b1_mean, b1_mean > 0 ? 1000.0 / b1_mean : 0, b1_cpus);
    printf("calls of 32  (max_batch 32):  %.1f texts/s  (%zu calls, %.2f s, %.2f CPUs busy)\n", b32.lines_per_s,
           b32.calls, b32.seconds, b32.cpus);
    printf("calls of 256 (max_batch 256): %.1f texts/s  (%zu calls, %.2f s, %.2f CPUs busy)\n", b256.lines_per_s,
           b256.calls, b256.seconds, b256.cpus);
    printf("calls of 256 (max_batch 32, sorted by length into runtime batches of 32): %.1f texts/s  (%zu calls, "
           "%.2f s, %.2f CPUs busy)\n",
           b256s.lines_per_s, b256s.calls, b256s.seconds, b256s.cpus);
    printf("tokenizer alone: %.1f us per text  (%.0f texts/s, %zu passes, %.1f tokens per text)\n", tok_us,
           tok_us > 0 ? 1e6 / tok_us : 0, passes, (double)tok_total / (double)(passes * m.n));
    printf("time inside the engine (share of tokenize + inference + pooling), padding = fed / real tokens:\n");
    print_breakdown("batch 1", &single_stats);
    print_breakdown("batch 32", &b32.stats);
    print_breakdown("batch 256", &b256.stats);
    print_breakdown("256 by 32", &b256s.stats);
    printf("peak RSS: %.1f MB (%.1f MB before any engine, %.1f MB after the max_batch 32 engine)\n", rss, rss_mix,
           rss_b32);
    printf("bench-embed: provider=%s batch1_ms=%.1f b32_lines_per_s=%.1f b256_lines_per_s=%.1f rss_mb=%.1f\n", provider,
           b1_p50, b32.lines_per_s, b256.lines_per_s, rss);
    fflush(stdout);
    rc = 0;
out:
    sr_embed_free(e);
    free(out);
    free(lat);
    mix_free(&m);
    return rc;
}
