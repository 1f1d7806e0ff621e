/* Sentence embeddings through the ONNX Runtime C API; see sr_embed.h and docs/internals/embed.md. */
#include "sr_embed.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <onnxruntime_c_api.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sr_err.h"
#include "sr_wordpiece.h"

#ifndef SR_ORT_LIBRARY
#define SR_ORT_LIBRARY "libonnxruntime.so.1"
#endif

#define EMBED_DEFAULT_BATCH 32
#define EMBED_DEFAULT_BATCH_TOKENS 8192
/* A runtime call pads its texts to its longest; on CPU it takes at most 1/EMBED_PAD_DEN_CPU
 * padding: a call costs its padded tokens and next to nothing besides (one text per call ran as
 * fast as calls of 32 padded 1.14x), so texts of about the same length go together and no others.
 * On a GPU a call has a fixed cost worth a lot of padding: up to 1/EMBED_PAD_DEN_CUDA. */
#define EMBED_PAD_DEN_CPU 50
#define EMBED_PAD_DEN_CUDA 4
#define EMBED_MAX_BATCH 1024
/* Texts tokenized ahead and sorted by length before they are cut into runtime batches. */
#define EMBED_WINDOW_BATCHES 8

enum { IN_IDS, IN_MASK, IN_TYPES, IN_COUNT };

struct sr_embed {
    void *dl;
    const OrtApi *ort;
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *meminfo;
    sr_wordpiece *wp;
    char *in_names[IN_COUNT]; /* NULL where the graph has no such input (token_type_ids) */
    ONNXTensorElementDataType in_type[IN_COUNT];
    char *out_name;
    int out_rank; /* 3: token states to pool; 2: sentence vectors */
    size_t dim;
    size_t max_batch;
    size_t max_batch_tokens;
    size_t max_tokens;
    size_t pad_den;
    const char *provider;
    const char *precision;
    char provider_note[512];
    char version[64];
    _Atomic unsigned long long st_texts, st_tokens, st_padded, st_tok_ns, st_infer_ns, st_pool_ns;
};

static unsigned long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Takes an OrtStatus: NULL is success; otherwise its message goes to err with context. */
/* The runtime's message, without the line breaks it sometimes ends with. */
static void copy_msg(char *dst, size_t dstlen, const char *what, const char *msg) {
    if (!dst || dstlen == 0)
        return;
    if (what)
        snprintf(dst, dstlen, "%s: %s", what, msg ? msg : "unknown error");
    else
        snprintf(dst, dstlen, "%s", msg ? msg : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == '\r' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static int ort_check(const OrtApi *ort, OrtStatus *st, char *err, size_t errlen, const char *what) {
    if (!st)
        return 0;
    copy_msg(err, errlen, what, ort->GetErrorMessage(st));
    ort->ReleaseStatus(st);
    return -EIO;
}

static void ort_free_name(const OrtApi *ort, OrtAllocator *alloc, char *name) {
    OrtStatus *st = ort->AllocatorFree(alloc, name);
    if (st)
        ort->ReleaseStatus(st);
}

static int cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* An NVIDIA GPU is present when the kernel driver reports itself or the CUDA driver library loads.
 * A probe file given by the caller replaces both checks. */
static int gpu_detect(const char *probe, char *note, size_t notelen) {
    int fd = open(probe ? probe : "/proc/driver/nvidia/version", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[160] = {0};
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[strcspn(buf, "\n")] = '\0';
            snprintf(note, notelen, "NVIDIA driver: %s", buf);
            return 1;
        }
    }
    void *cuda = probe ? NULL : dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (cuda) {
        dlclose(cuda);
        snprintf(note, notelen, "CUDA driver library libcuda.so.1 found");
        return 1;
    }
    snprintf(note, notelen, "no NVIDIA GPU found");
    return 0;
}

static int path_join(char *out, size_t outlen, const char *dir, const char *name) {
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds which graph input is which and their element types (int64 or int32). */
static int inspect_io(sr_embed *e, char *err, size_t errlen) {
    const OrtApi *ort = e->ort;
    OrtAllocator *alloc = NULL;
    int r = ort_check(ort, ort->GetAllocatorWithDefaultOptions(&alloc), err, errlen, "could not get an allocator");
    if (r < 0)
        return r;
    size_t nin = 0, nout = 0;
    if ((r = ort_check(ort, ort->SessionGetInputCount(e->session, &nin), err, errlen, "could not count inputs")) < 0 ||
        (r = ort_check(ort, ort->SessionGetOutputCount(e->session, &nout), err, errlen, "could not count outputs")) < 0)
        return r;
    static const char *const known[IN_COUNT] = {"input_ids", "attention_mask", "token_type_ids"};
    for (size_t i = 0; i < nin; i++) {
        char *name = NULL;
        if ((r = ort_check(ort, ort->SessionGetInputName(e->session, i, alloc, &name), err, errlen,
                           "could not read an input name")) < 0)
            return r;
        int slot = -1;
        for (int k = 0; k < IN_COUNT; k++)
            if (strcmp(name, known[k]) == 0)
                slot = k;
        if (slot < 0) {
            sr_errf(err, errlen, "model input %s is not one of input_ids, attention_mask, token_type_ids", name);
            ort_free_name(ort, alloc, name);
            return -EINVAL;
        }
        e->in_names[slot] = strdup(name);
        ort_free_name(ort, alloc, name);
        if (!e->in_names[slot]) {
            sr_errf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        OrtTypeInfo *ti = NULL;
        const OrtTensorTypeAndShapeInfo *tsi = NULL;
        if ((r = ort_check(ort, ort->SessionGetInputTypeInfo(e->session, i, &ti), err, errlen,
                           "could not read an input type")) < 0)
            return r;
        r = ort_check(ort, ort->CastTypeInfoToTensorInfo(ti, &tsi), err, errlen, "input is not a tensor");
        if (r == 0 && tsi)
            r = ort_check(ort, ort->GetTensorElementType(tsi, &e->in_type[slot]), err, errlen,
                          "could not read an input element type");
        ort->ReleaseTypeInfo(ti);
        if (r < 0)
            return r;
        if (e->in_type[slot] != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 &&
            e->in_type[slot] != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32) {
            sr_errf(err, errlen, "model input %s must be int64 or int32", known[slot]);
            return -EINVAL;
        }
    }
    if (!e->in_names[IN_IDS] || !e->in_names[IN_MASK]) {
        sr_errf(err, errlen, "model must take input_ids and attention_mask");
        return -EINVAL;
    }
    /* "sentence_embedding" (pooled by the graph itself) over "last_hidden_state" (token states we
     * mean-pool) over the first output. */
    size_t pick = 0;
    int rank = 0;
    for (size_t i = 0; i < nout; i++) {
        char *name = NULL;
        if ((r = ort_check(ort, ort->SessionGetOutputName(e->session, i, alloc, &name), err, errlen,
                           "could not read an output name")) < 0)
            return r;
        int score = strcmp(name, "sentence_embedding") == 0 ? 2 : strcmp(name, "last_hidden_state") == 0 ? 1 : 0;
        ort_free_name(ort, alloc, name);
        if (score > rank) {
            pick = i;
            rank = score;
        }
    }
    char *name = NULL;
    if (nout == 0) {
        sr_errf(err, errlen, "model has no outputs");
        return -EINVAL;
    }
    if ((r = ort_check(ort, ort->SessionGetOutputName(e->session, pick, alloc, &name), err, errlen,
                       "could not read an output name")) < 0)
        return r;
    e->out_name = strdup(name);
    ort_free_name(ort, alloc, name);
    if (!e->out_name) {
        sr_errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* One runtime call over rows [0, rows) of padded ids (stride seq), writing pooled, normalized
 * vectors to dst[row] (each dim floats). Sets e->dim/out_rank when probe is set. */
static int run_batch(sr_embed *e, const int32_t *ids, const size_t *lens, size_t rows, size_t seq, float *const *dst,
                     int probe, char *err, size_t errlen) {
    const OrtApi *ort = e->ort;
    size_t cells = rows * seq;
    int wide = e->in_type[IN_IDS] == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    size_t esz = wide ? sizeof(int64_t) : sizeof(int32_t);
    unsigned char *buf = calloc(IN_COUNT * cells, esz);
    if (!buf) {
        sr_errf(err, errlen, "could not allocate %zu input cells", cells);
        return -ENOMEM;
    }
    unsigned char *in_ids = buf, *in_mask = buf + cells * esz, *in_types = buf + 2 * cells * esz;
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < lens[r]; t++) {
            size_t c = r * seq + t;
            if (wide) {
                ((int64_t *)(void *)in_ids)[c] = ids[c];
                ((int64_t *)(void *)in_mask)[c] = 1;
            } else {
                ((int32_t *)(void *)in_ids)[c] = ids[c];
                ((int32_t *)(void *)in_mask)[c] = 1;
            }
        }
    /* padding cells stay 0: [PAD] is id 0 in BERT vocabularies, mask 0, token type 0 */
    int32_t pad = sr_wordpiece_pad(e->wp);
    if (pad != 0)
        for (size_t r = 0; r < rows; r++)
            for (size_t t = lens[r]; t < seq; t++) {
                if (wide)
                    ((int64_t *)(void *)in_ids)[r * seq + t] = pad;
                else
                    ((int32_t *)(void *)in_ids)[r * seq + t] = pad;
            }

    const int64_t shape[2] = {(int64_t)rows, (int64_t)seq};
    OrtValue *inputs[IN_COUNT] = {0};
    const char *names[IN_COUNT];
    size_t nin = 0;
    unsigned char *data[IN_COUNT] = {in_ids, in_mask, in_types};
    int rc = 0;
    for (int k = 0; k < IN_COUNT && rc == 0; k++) {
        if (!e->in_names[k])
            continue;
        ONNXTensorElementDataType ty = e->in_type[k];
        size_t ksz = ty == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 ? sizeof(int64_t) : sizeof(int32_t);
        if (ksz != esz) {
            sr_errf(err, errlen, "model inputs mix int32 and int64");
            rc = -EINVAL;
            break;
        }
        rc = ort_check(ort,
                       ort->CreateTensorWithDataAsOrtValue(e->meminfo, data[k], cells * esz, shape, 2, ty, &inputs[nin]),
                       err, errlen, "could not create an input tensor");
        names[nin++] = e->in_names[k];
    }
    OrtValue *output = NULL;
    unsigned long long t0 = now_ns();
    if (rc == 0) {
        const char *outs[1] = {e->out_name};
        rc = ort_check(ort, ort->Run(e->session, NULL, names, (const OrtValue *const *)inputs, nin, outs, 1, &output),
                       err, errlen, "inference failed");
    }
    unsigned long long t1 = now_ns();
    OrtTensorTypeAndShapeInfo *info = NULL;
    int64_t dims[3] = {0};
    size_t rank = 0;
    float *out = NULL;
    if (rc == 0)
        rc = ort_check(ort, ort->GetTensorTypeAndShape(output, &info), err, errlen, "could not read the output shape");
    if (rc == 0)
        rc = ort_check(ort, ort->GetDimensionsCount(info, &rank), err, errlen, "could not read the output rank");
    if (rc == 0 && (rank < 2 || rank > 3)) {
        sr_errf(err, errlen, "model output %s has rank %zu; expected [batch, tokens, dim] or [batch, dim]", e->out_name,
             rank);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = ort_check(ort, ort->GetDimensions(info, dims, rank), err, errlen, "could not read the output shape");
    ONNXTensorElementDataType oty = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    if (rc == 0)
        rc = ort_check(ort, ort->GetTensorElementType(info, &oty), err, errlen, "could not read the output type");
    if (rc == 0 && oty != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        sr_errf(err, errlen, "model output %s is not float32", e->out_name);
        rc = -EINVAL;
    }
    if (rc == 0) {
        size_t d = (size_t)dims[rank - 1];
        if (dims[0] != (int64_t)rows || (rank == 3 && dims[1] != (int64_t)seq) || d == 0 || d > 65536) {
            sr_errf(err, errlen, "model output %s has an unexpected shape", e->out_name);
            rc = -EINVAL;
        } else if (probe) {
            e->dim = d;
            e->out_rank = (int)rank;
        } else if (d != e->dim || (int)rank != e->out_rank) {
            sr_errf(err, errlen, "model output %s changed shape between calls", e->out_name);
            rc = -EINVAL;
        }
    }
    if (rc == 0)
        rc = ort_check(ort, ort->GetTensorMutableData(output, (void **)&out), err, errlen, "could not read the output");
    if (rc == 0 && !probe) {
        size_t dim = e->dim;
        for (size_t r = 0; r < rows; r++) {
            float *v = dst[r];
            if (rank == 3) {
                /* mean over the attended tokens: the real (unpadded) ones */
                memset(v, 0, dim * sizeof(float));
                const float *row = out + r * seq * dim;
                for (size_t t = 0; t < lens[r]; t++)
                    for (size_t j = 0; j < dim; j++)
                        v[j] += row[t * dim + j];
                float inv = 1.0f / (float)(lens[r] ? lens[r] : 1);
                for (size_t j = 0; j < dim; j++)
                    v[j] *= inv;
            } else {
                memcpy(v, out + r * dim, dim * sizeof(float));
            }
            double norm = 0;
            for (size_t j = 0; j < dim; j++)
                norm += (double)v[j] * v[j];
            norm = sqrt(norm);
            float scale = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
            for (size_t j = 0; j < dim; j++)
                v[j] *= scale;
        }
    }
    unsigned long long t2 = now_ns();
    if (info)
        ort->ReleaseTensorTypeAndShapeInfo(info);
    if (output)
        ort->ReleaseValue(output);
    for (size_t k = 0; k < nin; k++)
        if (inputs[k])
            ort->ReleaseValue(inputs[k]);
    free(buf);
    if (rc == 0 && !probe) {
        size_t real = 0;
        for (size_t r = 0; r < rows; r++)
            real += lens[r];
        atomic_fetch_add(&e->st_tokens, real);
        atomic_fetch_add(&e->st_padded, cells);
        atomic_fetch_add(&e->st_infer_ns, t1 - t0);
        atomic_fetch_add(&e->st_pool_ns, t2 - t1);
    }
    return rc;
}

/* Creates the session with the options' provider; CUDA is tried first where asked or detected. */
/* Session options common to both providers. */
static int session_options(const OrtApi *ort, int threads, OrtSessionOptions **ret, char *err, size_t errlen) {
    OrtSessionOptions *so = NULL;
    int r = ort_check(ort, ort->CreateSessionOptions(&so), err, errlen, "could not create session options");
    if (r == 0)
        r = ort_check(ort, ort->SetIntraOpNumThreads(so, threads), err, errlen, "could not set threads");
    if (r == 0)
        r = ort_check(ort, ort->SetInterOpNumThreads(so, 1), err, errlen, "could not set threads");
    if (r == 0)
        r = ort_check(ort, ort->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), err, errlen,
                      "could not enable graph optimizations");
    /* worker threads spin briefly between parallel sections (the runtime's default, said
     * explicitly): sleeping there cost a third of the throughput on 2 cores */
    if (r == 0)
        r = ort_check(ort, ort->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "1"), err, errlen,
                      "could not set a session option");
    if (r < 0) {
        if (so)
            ort->ReleaseSessionOptions(so);
        return r;
    }
    *ret = so;
    return 0;
}

/* A session on the CUDA provider, or -ENODEV with the runtime's reason in why. */
static int cuda_session(sr_embed *e, const sr_embed_options *o, const char *model_path, int threads, char *why,
                        size_t whylen) {
    const OrtApi *ort = e->ort;
    OrtSessionOptions *so = NULL;
    if (session_options(ort, threads, &so, why, whylen) < 0)
        return -ENODEV;
    OrtCUDAProviderOptionsV2 *co = NULL;
    OrtStatus *st = ort->CreateCUDAProviderOptions(&co);
    if (!st) {
        char dev[16];
        snprintf(dev, sizeof(dev), "%d", o->cuda_device);
        const char *keys[] = {"device_id"};
        const char *vals[] = {dev};
        st = ort->UpdateCUDAProviderOptions(co, keys, vals, 1);
    }
    if (!st)
        st = ort->SessionOptionsAppendExecutionProvider_CUDA_V2(so, co);
    if (co)
        ort->ReleaseCUDAProviderOptions(co);
    int r = ort_check(ort, st, why, whylen, NULL);
    if (r == 0)
        r = ort_check(ort, ort->CreateSession(e->env, model_path, so, &e->session), why, whylen, NULL);
    ort->ReleaseSessionOptions(so);
    return r < 0 ? -ENODEV : 0;
}

/* Creates the session: on CUDA where asked for or where an NVIDIA GPU is seen, else (or when
 * CUDA fails and was not insisted on) on CPU. */
static int create_session(sr_embed *e, const sr_embed_options *o, const char *model_path, int threads, char *err,
                          size_t errlen) {
    const OrtApi *ort = e->ort;
    char gpu_note[256] = "";
    int want_cuda = 0;
    switch (o->provider) {
    case SR_EMBED_PROVIDER_CPU:
        snprintf(gpu_note, sizeof(gpu_note), "CPU requested");
        break;
    case SR_EMBED_PROVIDER_CUDA:
        snprintf(gpu_note, sizeof(gpu_note), "CUDA requested");
        want_cuda = 1;
        break;
    case SR_EMBED_PROVIDER_AUTO:
        want_cuda = gpu_detect(o->gpu_probe, gpu_note, sizeof(gpu_note));
        break;
    }
    char cuda_err[512] = "";
    if (want_cuda) {
        if (cuda_session(e, o, model_path, threads, cuda_err, sizeof(cuda_err)) == 0) {
            e->provider = "cuda";
            snprintf(e->provider_note, sizeof(e->provider_note), "%s; CUDA provider loaded (device %d)", gpu_note,
                     o->cuda_device);
            return 0;
        }
        if (o->provider == SR_EMBED_PROVIDER_CUDA) {
            sr_errf(err, errlen, "CUDA provider unavailable: %s", cuda_err);
            return -ENODEV;
        }
    }
    OrtSessionOptions *so = NULL;
    int r = session_options(ort, threads, &so, err, errlen);
    if (r < 0)
        return r;
    r = ort_check(ort, ort->CreateSession(e->env, model_path, so, &e->session), err, errlen, "could not load the model");
    ort->ReleaseSessionOptions(so);
    if (r < 0)
        return r;
    e->provider = "cpu";
    if (cuda_err[0])
        snprintf(e->provider_note, sizeof(e->provider_note), "%s; CUDA provider failed, using CPU: %s", gpu_note,
                 cuda_err);
    else
        snprintf(e->provider_note, sizeof(e->provider_note), "%s; %d intra-op threads", gpu_note, threads);
    return 0;
}

int sr_embed_open(const sr_embed_options *o, sr_embed **ret, char *err, size_t errlen) {
    if (!o || !o->model_dir || !ret) {
        sr_errf(err, errlen, "no model directory given");
        return -EINVAL;
    }
    if (o->provider != SR_EMBED_PROVIDER_AUTO && o->provider != SR_EMBED_PROVIDER_CPU &&
        o->provider != SR_EMBED_PROVIDER_CUDA) {
        sr_errf(err, errlen, "unknown provider %d", (int)o->provider);
        return -EINVAL;
    }
    if (o->precision != SR_EMBED_FP32 && o->precision != SR_EMBED_INT8) {
        sr_errf(err, errlen, "unknown precision %d", (int)o->precision);
        return -EINVAL;
    }
    if (o->max_batch > EMBED_MAX_BATCH) {
        sr_errf(err, errlen, "batch of %zu texts is over the limit of %d", o->max_batch, EMBED_MAX_BATCH);
        return -EINVAL;
    }
    if (o->max_batch_tokens > 0 &&
        (o->max_batch_tokens < SR_EMBED_MAX_TOKENS || o->max_batch_tokens > (size_t)EMBED_MAX_BATCH * SR_EMBED_MAX_TOKENS)) {
        sr_errf(err, errlen, "batch tokens %zu out of range (%d..%d)", o->max_batch_tokens, SR_EMBED_MAX_TOKENS,
                EMBED_MAX_BATCH * SR_EMBED_MAX_TOKENS);
        return -EINVAL;
    }
    if (o->max_tokens < 0 || o->max_tokens == 1 || o->max_tokens > SR_EMBED_MAX_TOKENS) {
        sr_errf(err, errlen, "token limit %d out of range (2..%d)", o->max_tokens, SR_EMBED_MAX_TOKENS);
        return -EINVAL;
    }
    if (o->threads < 0 || o->threads > 256 || o->cuda_device < 0) {
        sr_errf(err, errlen, "threads (0..256) or CUDA device (>= 0) out of range");
        return -EINVAL;
    }
    char model_path[4096], vocab_path[4096];
    int r = path_join(model_path, sizeof(model_path), o->model_dir,
                      o->precision == SR_EMBED_INT8 ? "model_int8.onnx" : "model.onnx");
    if (r == 0)
        r = path_join(vocab_path, sizeof(vocab_path), o->model_dir, "vocab.txt");
    if (r < 0) {
        sr_errf(err, errlen, "model directory path too long");
        return r;
    }
    if (!file_exists(model_path)) {
        sr_errf(err, errlen, "could not find %s (run `make model`, or point to a directory with %s and vocab.txt "
                          "or tokenizer.json)", model_path, o->precision == SR_EMBED_INT8 ? "model_int8.onnx" : "model.onnx");
        return -ENOENT;
    }
    if (!file_exists(vocab_path) && path_join(vocab_path, sizeof(vocab_path), o->model_dir, "tokenizer.json") == 0 &&
        !file_exists(vocab_path)) {
        sr_errf(err, errlen, "could not find vocab.txt or tokenizer.json in %s", o->model_dir);
        return -ENOENT;
    }

    sr_embed *e = calloc(1, sizeof(*e));
    if (!e) {
        sr_errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    e->max_batch = o->max_batch ? o->max_batch : EMBED_DEFAULT_BATCH;
    e->max_batch_tokens = o->max_batch_tokens ? o->max_batch_tokens : EMBED_DEFAULT_BATCH_TOKENS;
    e->precision = o->precision == SR_EMBED_INT8 ? "int8" : "fp32";
    e->max_tokens = o->max_tokens ? (size_t)o->max_tokens : SR_EMBED_MAX_TOKENS;
    r = sr_wordpiece_load(vocab_path, &e->wp, err, errlen);
    if (r < 0)
        goto fail;

    const char *lib = o->runtime && o->runtime[0] ? o->runtime : SR_ORT_LIBRARY;
    e->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!e->dl) {
        const char *why = dlerror();
        sr_errf(err, errlen, "could not load ONNX Runtime %s: %s", lib, why ? why : "unknown error");
        r = -ENOENT;
        goto fail;
    }
    const OrtApiBase *(*get_base)(void) = NULL;
    *(void **)&get_base = dlsym(e->dl, "OrtGetApiBase");
    const OrtApiBase *base = get_base ? get_base() : NULL;
    if (!base) {
        sr_errf(err, errlen, "%s is not an ONNX Runtime library (no OrtGetApiBase)", lib);
        r = -EINVAL;
        goto fail;
    }
    snprintf(e->version, sizeof(e->version), "%s", base->GetVersionString());
    e->ort = base->GetApi(ORT_API_VERSION);
    if (!e->ort) {
        sr_errf(err, errlen, "ONNX Runtime %s at %s is older than the API this build needs (version %d)", e->version,
             lib, ORT_API_VERSION);
        r = -ENOTSUP;
        goto fail;
    }
    const OrtApi *ort = e->ort;
    if ((r = ort_check(ort, ort->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "serviceradar-embed", &e->env), err, errlen,
                       "could not create the runtime environment")) < 0)
        goto fail;
    if ((r = ort_check(ort, ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &e->meminfo), err,
                       errlen, "could not describe CPU memory")) < 0)
        goto fail;
    int threads = o->threads > 0 ? o->threads : cpu_count();
    if ((r = create_session(e, o, model_path, threads, err, errlen)) < 0)
        goto fail;
    e->pad_den = strcmp(e->provider, "cuda") == 0 ? EMBED_PAD_DEN_CUDA : EMBED_PAD_DEN_CPU;
    if ((r = inspect_io(e, err, errlen)) < 0)
        goto fail;
    /* A probe run: checks that the graph runs, and learns the output's rank and width. */
    int32_t probe_ids[2] = {sr_wordpiece_cls(e->wp), sr_wordpiece_sep(e->wp)};
    size_t probe_len = 2;
    if ((r = run_batch(e, probe_ids, &probe_len, 1, 2, NULL, 1, err, errlen)) < 0)
        goto fail;
    *ret = e;
    return 0;
fail:
    sr_embed_free(e);
    return r;
}

sr_embed *sr_embed_free(sr_embed *e) {
    if (!e)
        return NULL;
    if (e->ort) {
        if (e->session)
            e->ort->ReleaseSession(e->session);
        if (e->meminfo)
            e->ort->ReleaseMemoryInfo(e->meminfo);
        if (e->env)
            e->ort->ReleaseEnv(e->env);
    }
    for (int k = 0; k < IN_COUNT; k++)
        free(e->in_names[k]);
    free(e->out_name);
    sr_wordpiece_free(e->wp);
    /* the runtime stays mapped: its thread pools and static destructors outlive the session */
    free(e);
    return NULL;
}

size_t sr_embed_dim(const sr_embed *e) { return e->dim; }
const char *sr_embed_provider_name(const sr_embed *e) { return e->provider; }
const char *sr_embed_provider_note(const sr_embed *e) { return e->provider_note; }
const sr_wordpiece *sr_embed_tokenizer(const sr_embed *e) { return e->wp; }
size_t sr_embed_max_tokens(const sr_embed *e) { return e->max_tokens; }
const char *sr_embed_precision_name(const sr_embed *e) { return e->precision; }
const char *sr_embed_runtime_version(const sr_embed *e) { return e->version; }

typedef struct {
    size_t index; /* position in the caller's batch */
    size_t len;   /* token count */
} embed_item;

static int item_cmp(const void *a, const void *b) {
    const embed_item *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* How many of the next items (sorted by length) go into one runtime call: at most max_rows, at
 * most max_cells padded tokens, and little padding (above). */
static size_t next_batch(const embed_item *items, size_t avail, size_t max_rows, size_t max_cells, size_t pad_den) {
    size_t rows = 1, real = items[0].len;
    while (rows < avail && rows < max_rows) {
        size_t len = items[rows].len; /* the longest so far, being sorted */
        size_t cells = (rows + 1) * len;
        if (cells > max_cells || (cells - (real + len)) * pad_den > real + len)
            break;
        real += len;
        rows++;
    }
    return rows;
}

int sr_embed_batch(sr_embed *e, const char *const *texts, const size_t *lens, size_t n, float *out, char *err,
                   size_t errlen) {
    if (n == 0)
        return 0;
    if (!texts || !out) {
        sr_errf(err, errlen, "no texts or no output buffer");
        return -EINVAL;
    }
    size_t window = e->max_batch * EMBED_WINDOW_BATCHES;
    if (window > n)
        window = n;
    size_t maxt = e->max_tokens;
    int32_t *ids = malloc(window * maxt * sizeof(int32_t));
    int32_t *packed = malloc(e->max_batch * maxt * sizeof(int32_t));
    embed_item *items = malloc(window * sizeof(*items));
    size_t *blens = malloc(e->max_batch * sizeof(size_t));
    float **dst = malloc(e->max_batch * sizeof(float *));
    int r = 0;
    if (!ids || !packed || !items || !blens || !dst) {
        sr_errf(err, errlen, "could not allocate a batch of %zu texts", window);
        r = -ENOMEM;
        goto done;
    }
    for (size_t start = 0; start < n && r == 0; start += window) {
        size_t count = n - start < window ? n - start : window;
        unsigned long long t0 = now_ns();
        for (size_t i = 0; i < count; i++) {
            const char *t = texts[start + i];
            size_t len = lens ? lens[start + i] : (t ? strlen(t) : 0);
            size_t got = 0;
            r = sr_wordpiece_encode(e->wp, t ? t : "", t ? len : 0, ids + i * maxt, maxt, &got);
            if (r < 0) {
                sr_errf(err, errlen, "could not tokenize text %zu of the batch: %s", start + i, strerror(-r));
                break;
            }
            items[i] = (embed_item){.index = i, .len = got};
        }
        atomic_fetch_add(&e->st_tok_ns, now_ns() - t0);
        if (r < 0)
            break;
        qsort(items, count, sizeof(*items), item_cmp);
        for (size_t b = 0, rows = 0; b < count && r == 0; b += rows) {
            rows = next_batch(items + b, count - b, e->max_batch, e->max_batch_tokens, e->pad_den);
            size_t seq = items[b + rows - 1].len;
            for (size_t k = 0; k < rows; k++) {
                const embed_item *it = &items[b + k];
                memcpy(packed + k * seq, ids + it->index * maxt, it->len * sizeof(int32_t));
                blens[k] = it->len;
                dst[k] = out + (start + it->index) * e->dim;
            }
            r = run_batch(e, packed, blens, rows, seq, dst, 0, err, errlen);
        }
        if (r == 0)
            atomic_fetch_add(&e->st_texts, count);
    }
done:
    free(ids);
    free(packed);
    free(items);
    free(blens);
    free(dst);
    return r;
}

float sr_embed_cosine(const float *a, const float *b, size_t dim) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (na <= 0 || nb <= 0)
        return 0.0f;
    return (float)(dot / (sqrt(na) * sqrt(nb)));
}

void sr_embed_get_stats(const sr_embed *e, sr_embed_stats *ret) {
    sr_embed *m = (sr_embed *)(uintptr_t)e;
    *ret = (sr_embed_stats){
        .texts = atomic_load(&m->st_texts),
        .tokens = atomic_load(&m->st_tokens),
        .padded = atomic_load(&m->st_padded),
        .tokenize_ns = atomic_load(&m->st_tok_ns),
        .infer_ns = atomic_load(&m->st_infer_ns),
        .pool_ns = atomic_load(&m->st_pool_ns),
    };
}
