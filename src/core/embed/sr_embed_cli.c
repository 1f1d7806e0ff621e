/* `serviceradar-core embed`: what the embedding engine sees and makes, for operators. */
#include "sr_embed_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_config.h"
#include "sr_core_config.h"
#include "sr_embed.h"
#include "sr_parse.h"
#include "sr_wordpiece.h"

#define CLI_MAX_LINE (64 * 1024)     /* longer lines are cut (the model reads 256 tokens at most) */
#define CLI_KEEP_LINE 4096           /* line buffers larger than this are freed after each chunk */
#define CLI_CHUNK_BATCHES 8          /* lines read ahead per call: batch x this */

static void usage(FILE *out) {
    fprintf(out,
            "usage: serviceradar-core embed [options]                 one JSON array of floats per stdin line\n"
            "       serviceradar-core embed [options] --similarity A B  the cosine of two texts\n"
            "       serviceradar-core embed [options] --tokens          the WordPiece tokens of each stdin line\n"
            "options:\n"
            "  -c, --config FILE     read embed.* from the core's configuration file\n"
            "      --model DIR       model directory (model.onnx + vocab.txt or tokenizer.json)\n"
            "      --runtime PATH    ONNX Runtime library to load\n"
            "      --provider P      auto, cpu or cuda\n"
            "      --precision P     fp32 (model.onnx) or int8 (model_int8.onnx)\n"
            "      --threads N       inference threads (0: all CPUs this process may use)\n"
            "      --batch N         texts per inference call (1..1024)\n"
            "  -q, --quiet           do not print the provider line on stderr\n");
}

typedef struct {
    const char *config;
    const char *model, *runtime, *provider, *precision;
    long threads, batch;
    int similarity, tokens, quiet;
} cli_opts;

static int parse_args(int argc, char **argv, cli_opts *o) {
    enum { O_MODEL = 256, O_RUNTIME, O_PROVIDER, O_PRECISION, O_THREADS, O_BATCH, O_SIM, O_TOKENS };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},     {"model", required_argument, NULL, O_MODEL},
        {"runtime", required_argument, NULL, O_RUNTIME}, {"provider", required_argument, NULL, O_PROVIDER},
        {"precision", required_argument, NULL, O_PRECISION},
        {"threads", required_argument, NULL, O_THREADS}, {"batch", required_argument, NULL, O_BATCH},
        {"similarity", no_argument, NULL, O_SIM},     {"tokens", no_argument, NULL, O_TOKENS},
        {"quiet", no_argument, NULL, 'q'},            {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:qh", longopts, NULL)) != -1) {
        int64_t v = 0;
        switch (opt) {
        case 'c':
            o->config = optarg;
            break;
        case O_MODEL:
            o->model = optarg;
            break;
        case O_RUNTIME:
            o->runtime = optarg;
            break;
        case O_PROVIDER:
            o->provider = optarg;
            break;
        case O_PRECISION:
            o->precision = optarg;
            break;
        case O_THREADS:
            if (sr_parse_i64(optarg, 0, 256, &v) < 0) {
                fprintf(stderr, "embed: --threads: \"%s\" is not a number from 0 to 256\n", optarg);
                return -EINVAL;
            }
            o->threads = (long)v;
            break;
        case O_BATCH:
            if (sr_parse_i64(optarg, 1, 1024, &v) < 0) {
                fprintf(stderr, "embed: --batch: \"%s\" is not a number from 1 to 1024\n", optarg);
                return -EINVAL;
            }
            o->batch = (long)v;
            break;
        case O_SIM:
            o->similarity = 1;
            break;
        case O_TOKENS:
            o->tokens = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (o->similarity && o->tokens) {
        fprintf(stderr, "embed: --similarity and --tokens do not go together\n");
        return -EINVAL;
    }
    if (o->similarity ? argc - optind != 2 : argc - optind != 0) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static int provider_parse(const char *s, sr_embed_provider *ret) {
    if (strcmp(s, "auto") == 0)
        *ret = SR_EMBED_PROVIDER_AUTO;
    else if (strcmp(s, "cpu") == 0)
        *ret = SR_EMBED_PROVIDER_CPU;
    else if (strcmp(s, "cuda") == 0)
        *ret = SR_EMBED_PROVIDER_CUDA;
    else
        return -EINVAL;
    return 0;
}

/* Reads one line into *buf (grown up to CLI_MAX_LINE; the rest of a longer line is skipped).
 * Returns its length, or -1 at end of input. */
static ssize_t read_line(FILE *in, char **buf, size_t *cap, int *ret_cut) {
    size_t len = 0;
    int c;
    *ret_cut = 0;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (len >= CLI_MAX_LINE) {
            *ret_cut = 1;
            continue;
        }
        if (len + 1 >= *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            if (ncap > CLI_MAX_LINE + 1)
                ncap = CLI_MAX_LINE + 1;
            char *n = realloc(*buf, ncap);
            if (!n)
                return -2;
            *buf = n;
            *cap = ncap;
        }
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && len == 0)
        return -1;
    if (len > 0 && (*buf)[len - 1] == '\r')
        len--;
    if (!*buf) {
        *buf = malloc(1);
        if (!*buf)
            return -2;
        *cap = 1;
    }
    (*buf)[len] = '\0';
    return (ssize_t)len;
}

static void print_vector(const float *v, size_t dim) {
    putchar('[');
    for (size_t j = 0; j < dim; j++)
        printf(j ? ",%.9g" : "%.9g", (double)v[j]); /* 9 digits: a float read back is the same float */
    fputs("]\n", stdout);
}

static int run_tokens(const sr_wordpiece *wp, size_t max_tokens) {
    char *line = NULL;
    size_t cap = 0;
    int32_t ids[SR_EMBED_MAX_TOKENS];
    int cut = 0, rc = 0;
    ssize_t n;
    while ((n = read_line(stdin, &line, &cap, &cut)) >= 0) {
        size_t got = 0;
        if (sr_wordpiece_encode(wp, line, (size_t)n, ids, max_tokens, &got) < 0) {
            fprintf(stderr, "embed: could not tokenize a line\n");
            rc = 1;
            break;
        }
        for (size_t i = 0; i < got; i++)
            printf(i ? " %s" : "%s", sr_wordpiece_token(wp, ids[i]));
        putchar('\n');
    }
    if (n == -2) {
        fprintf(stderr, "embed: out of memory reading a line\n");
        rc = 1;
    }
    free(line);
    return rc;
}

static int run_lines(sr_embed *e, size_t batch) {
    size_t chunk = batch * CLI_CHUNK_BATCHES, dim = sr_embed_dim(e);
    char **lines = calloc(chunk, sizeof(char *));
    size_t *caps = calloc(chunk, sizeof(size_t));
    size_t *lens = calloc(chunk, sizeof(size_t));
    float *vecs = malloc(chunk * dim * sizeof(float));
    int rc = 0, eof = 0;
    unsigned long long lineno = 0;
    if (!lines || !caps || !lens || !vecs) {
        fprintf(stderr, "embed: out of memory\n");
        rc = 1;
        goto done;
    }
    while (!eof && rc == 0) {
        size_t count = 0;
        while (count < chunk) {
            int cut = 0;
            ssize_t n = read_line(stdin, &lines[count], &caps[count], &cut);
            if (n == -1) {
                eof = 1;
                break;
            }
            if (n == -2) {
                fprintf(stderr, "embed: out of memory reading line %llu\n", lineno + 1);
                rc = 1;
                break;
            }
            lineno++;
            if (cut)
                fprintf(stderr, "embed: line %llu is longer than %d bytes; only its start is read\n", lineno,
                        CLI_MAX_LINE);
            lens[count++] = (size_t)n;
        }
        if (rc || count == 0)
            break;
        char err[1024];
        if (sr_embed_batch(e, (const char *const *)lines, lens, count, vecs, err, sizeof(err)) < 0) {
            fprintf(stderr, "embed: %s\n", err);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < count; i++) {
            print_vector(vecs + i * dim, dim);
            if (caps[i] > CLI_KEEP_LINE) {
                free(lines[i]);
                lines[i] = NULL;
                caps[i] = 0;
            }
        }
        if (fflush(stdout) != 0)
            break; /* reported by the caller */
    }
done:
    if (lines)
        for (size_t i = 0; i < chunk; i++)
            free(lines[i]);
    free(lines);
    free(caps);
    free(lens);
    free(vecs);
    return rc;
}

int sr_embed_cli_main(int argc, char **argv) {
    cli_opts o = {.threads = -1, .batch = -1};
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : 2;

    sr_core_config cfg;
    char err[1024] = "";
    if (sr_core_config_defaults(&cfg) < 0) {
        fprintf(stderr, "embed: out of memory\n");
        return 1;
    }
    if (o.config && sr_config_load_file(&sr_core_config_table, &cfg, o.config, err, sizeof(err)) < 0) {
        fprintf(stderr, "embed: %s\n", err);
        sr_core_config_free(&cfg);
        return 2;
    }
    sr_embed_options eo = {
        .model_dir = o.model ? o.model : sr_core_config_embed_model_dir(&cfg),
        .runtime = o.runtime ? o.runtime : sr_core_config_embed_runtime(&cfg),
        .threads = (int)(o.threads >= 0 ? o.threads : cfg.embed_threads),
        .max_batch = (size_t)(o.batch > 0 ? o.batch : cfg.embed_batch),
    };
    if (provider_parse(o.provider ? o.provider : cfg.embed_provider, &eo.provider) < 0) {
        fprintf(stderr, "embed: provider \"%s\" is not auto, cpu or cuda\n", o.provider ? o.provider : cfg.embed_provider);
        sr_core_config_free(&cfg);
        return 2;
    }
    const char *precision = o.precision ? o.precision : cfg.embed_precision;
    if (strcmp(precision, "fp32") == 0) {
        eo.precision = SR_EMBED_FP32;
    } else if (strcmp(precision, "int8") == 0) {
        eo.precision = SR_EMBED_INT8;
    } else {
        fprintf(stderr, "embed: precision \"%s\" is not fp32 or int8\n", precision);
        sr_core_config_free(&cfg);
        return 2;
    }
    sr_embed *e = NULL;
    r = sr_embed_open(&eo, &e, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "embed: %s\n", err);
        sr_core_config_free(&cfg);
        return 1;
    }
    if (!o.quiet)
        fprintf(stderr, "embed: provider %s (%s), ONNX Runtime %s, model %s (%s), %zu dimensions\n",
                sr_embed_provider_name(e), sr_embed_provider_note(e), sr_embed_runtime_version(e), eo.model_dir,
                sr_embed_precision_name(e), sr_embed_dim(e));
    int rc = 0;
    if (o.similarity) {
        const char *texts[2] = {argv[optind], argv[optind + 1]};
        size_t dim = sr_embed_dim(e);
        float *v = malloc(2 * dim * sizeof(float));
        if (!v || sr_embed_batch(e, texts, NULL, 2, v, err, sizeof(err)) < 0) {
            fprintf(stderr, "embed: %s\n", v ? err : "out of memory");
            rc = 1;
        } else {
            printf("%.6f\n", (double)sr_embed_cosine(v, v + dim, dim));
        }
        free(v);
    } else if (o.tokens) {
        rc = run_tokens(sr_embed_tokenizer(e), sr_embed_max_tokens(e));
    } else {
        rc = run_lines(e, eo.max_batch);
    }
    if (rc == 0 && ferror(stdin)) {
        fprintf(stderr, "embed: could not read standard input\n");
        rc = 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "embed: could not write output: %s\n", strerror(errno));
        rc = 1;
    }
    sr_embed_free(e);
    sr_core_config_free(&cfg);
    return rc;
}
