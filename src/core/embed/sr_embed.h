/* Sentence embeddings: all-MiniLM-L6-v2 (or an operator's BERT-style ONNX graph) through the
 * ONNX Runtime C API, loaded at run time from a shared library so the same binary can use a
 * CPU-only or a CUDA-enabled runtime.
 *
 *   texts --sr_wordpiece--> token ids --ONNX Runtime--> token states --mean pool, L2--> vectors
 *
 * One sr_embed is safe to use from several threads at once: the tokenizer is read-only after
 * load and OrtSession Run is thread-safe. Library code: never logs; errors come back as a
 * negative errno plus a message in the caller's buffer (the runtime's own text where it has one). */
#pragma once
#include <stddef.h>

#define SR_EMBED_MAX_TOKENS 256 /* the model's limit, [CLS] and [SEP] included */

typedef enum {
    SR_EMBED_PROVIDER_AUTO = 0, /* CUDA when an NVIDIA GPU and a CUDA-capable runtime are present, else CPU */
    SR_EMBED_PROVIDER_CPU,
    SR_EMBED_PROVIDER_CUDA, /* CUDA or fail */
} sr_embed_provider;

typedef enum {
    SR_EMBED_FP32 = 0, /* model.onnx */
    SR_EMBED_INT8,     /* model_int8.onnx: weights quantized to int8, faster on CPUs, slightly less exact */
} sr_embed_precision;

typedef struct {
    const char *model_dir;  /* model.onnx + vocab.txt (or tokenizer.json) */
    sr_embed_precision precision;
    const char *runtime;    /* path of libonnxruntime.so; NULL: the built-in default */
    sr_embed_provider provider;
    int threads;            /* intra-op threads; 0: the CPUs this process may run on */
    size_t max_batch;       /* texts per runtime call; 0: 32 */
    size_t max_batch_tokens; /* texts x padded length per runtime call; 0: 8192. Bounds the runtime's
                              * memory: attention holds batch x heads x length^2 floats per layer */
    int max_tokens;         /* truncation length, [CLS]/[SEP] included; 0: SR_EMBED_MAX_TOKENS */
    int cuda_device;        /* CUDA device id */
    const char *gpu_probe;  /* file whose presence means an NVIDIA driver; NULL: /proc/driver/nvidia/version */
} sr_embed_options;

typedef struct sr_embed sr_embed;

/* Timing of the calls so far (nanoseconds, summed over threads), for benchmarks. */
typedef struct {
    unsigned long long texts;
    unsigned long long tokens;     /* non-padding tokens fed to the model */
    unsigned long long padded;     /* tokens fed including padding */
    unsigned long long tokenize_ns;
    unsigned long long infer_ns;   /* OrtRun */
    unsigned long long pool_ns;    /* pooling + normalization */
} sr_embed_stats;

/* Loads the runtime, the vocabulary and the graph. On failure returns a negative errno and
 * writes a message to err. */
int sr_embed_open(const sr_embed_options *opts, sr_embed **ret, char *err, size_t errlen);
sr_embed *sr_embed_free(sr_embed *e);

size_t sr_embed_dim(const sr_embed *e);
/* "cpu" or "cuda" */
const char *sr_embed_provider_name(const sr_embed *e);
/* Why the provider is what it is (e.g. "no NVIDIA GPU found", "CUDA provider failed: ..."). */
const char *sr_embed_provider_note(const sr_embed *e);
/* The tokenizer the engine uses (owned by e), and its truncation length. */
const struct sr_wordpiece *sr_embed_tokenizer(const sr_embed *e);
size_t sr_embed_max_tokens(const sr_embed *e);
/* "fp32" or "int8". */
const char *sr_embed_precision_name(const sr_embed *e);
/* ONNX Runtime's version string. */
const char *sr_embed_runtime_version(const sr_embed *e);

/* Embeds n texts (UTF-8; lens[i] bytes each, or strlen when lens is NULL) into out, n * dim
 * floats, row i for text i, each row L2-normalized. Invalid UTF-8 is replaced, never refused; a
 * text is cut at max_tokens. Tokenizes up to 8 x max_batch texts ahead, sorts them by length and
 * runs texts of about the same length together (at most max_batch texts and max_batch_tokens
 * padded tokens per runtime call), so memory stays bounded whatever n is. Returns 0, or a
 * negative errno with a message in err; on failure the contents of out are unspecified. */
int sr_embed_batch(sr_embed *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                   char *err, size_t errlen);

/* Cosine of two L2-normalized vectors of dim floats. */
float sr_embed_cosine(const float *a, const float *b, size_t dim);

void sr_embed_get_stats(const sr_embed *e, sr_embed_stats *ret);
