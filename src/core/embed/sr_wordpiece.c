#include "sr_wordpiece.h"

#include "sr_cleanup.h"
#include "sr_err.h"
#include "sr_file.h"
#include "sr_utf8.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define WP_FNV_OFFSET 0xcbf29ce484222325ULL
#define WP_FNV_PRIME 0x100000001b3ULL
#define WP_NO_RUN ((size_t)-1)
#define WP_WORD_BYTES (4 * (SR_WORDPIECE_WORD_CHARS_MAX + 1))
#define WP_DECOMP_MAX 8
#define WP_SPAN_KEYS 65536

/* Byte classes of the raw text (the ASCII fast path), plus a flag for bytes that may start an
 * added token. */
enum { WP_B_WORD, WP_B_UPPER, WP_B_SPACE, WP_B_DROP, WP_B_PUNCT, WP_B_HIGH, WP_B_CLASS = 7, WP_B_ADDED = 8 };

typedef struct {
    uint32_t tag; /* upper half of the hash */
    int32_t id;   /* -1: empty */
} wp_slot;

typedef struct {
    int32_t id;
    size_t len;
    char text[SR_WORDPIECE_TOKEN_MAX];
} wp_added;

struct sr_wordpiece {
    size_t n;      /* ids 0..n-1 */
    char *blob;    /* the tokens in id order, each NUL-terminated */
    uint32_t *off; /* n + 1 offsets into blob */
    wp_slot *slots;
    size_t mask;        /* slot count - 1 */
    unsigned max_probe; /* longest probe sequence seen at build time */
    size_t max_token_len;
    int32_t cls, sep, pad, unk;
    char prefix[SR_WORDPIECE_PREFIX_MAX];
    size_t prefix_len;
    uint64_t prefix_state; /* hash state after the prefix */
    size_t max_word_chars;
    wp_added *added;
    size_t n_added;
    uint8_t bytes[256]; /* WP_B_* of each byte value */
    /* Longest token (span[0]) and longest continuation piece after the prefix (span[1]) that
     * starts with a given pair of bytes, 255 meaning 255 or more: a two-level trie that bounds
     * the candidates of the greedy match. 0: none. */
    uint8_t *span;
};

static int wp_fail(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int wp_fail(char *err, size_t errlen, int r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sr_verrf(err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- vocabulary map ---------------------------------------------------------------------- */

static inline uint64_t wp_hash_step(uint64_t h, const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= WP_FNV_PRIME;
    }
    return h;
}

static inline uint64_t wp_hash_fin(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline size_t wp_tok_len(const sr_wordpiece *wp, int32_t id) {
    return wp->off[id + 1] - wp->off[id] - 1;
}

/* Id of pre[0..plen) + s[0..len) given the hash state after both, -1 when absent. */
static inline int32_t wp_lookup(const sr_wordpiece *wp, uint64_t state, const char *pre, size_t plen,
                                const unsigned char *s, size_t len) {
    uint64_t h = wp_hash_fin(state);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & wp->mask;
    for (unsigned p = 0; p <= wp->max_probe; p++, i = (i + 1) & wp->mask) {
        const wp_slot *sl = &wp->slots[i];
        if (sl->id < 0)
            return -1;
        if (sl->tag != tag || wp_tok_len(wp, sl->id) != plen + len)
            continue;
        const char *t = wp->blob + wp->off[sl->id];
        if (memcmp(t, pre, plen) == 0 && memcmp(t + plen, s, len) == 0)
            return sl->id;
    }
    return -1;
}

static inline size_t wp_span_key(const void *p) {
    const unsigned char *b = p;
    return (size_t)b[0] << 8 | b[1];
}

static void wp_span_note(uint8_t *span, const char *t, size_t len) {
    if (len < 2)
        return;
    uint8_t *m = &span[wp_span_key(t)];
    if (len > *m)
        *m = len > 255 ? 255 : (uint8_t)len;
}

static int wp_build_map(sr_wordpiece *wp) {
    size_t cap = 16;
    while (cap < 2 * wp->n)
        cap *= 2;
    wp->slots = malloc(cap * sizeof(*wp->slots));
    if (!wp->slots)
        return -ENOMEM;
    for (size_t i = 0; i < cap; i++)
        wp->slots[i] = (wp_slot){.tag = 0, .id = -1};
    wp->span = calloc(2 * WP_SPAN_KEYS, 1);
    if (!wp->span)
        return -ENOMEM;
    wp->mask = cap - 1;
    wp->max_probe = 0;
    wp->max_token_len = 0;
    for (size_t id = 0; id < wp->n; id++) {
        size_t len = wp_tok_len(wp, (int32_t)id);
        if (len == 0)
            continue; /* an empty line: never looked up */
        const char *t = wp->blob + wp->off[id];
        if (len > wp->max_token_len)
            wp->max_token_len = len;
        wp_span_note(wp->span, t, len);
        if (len > wp->prefix_len && memcmp(t, wp->prefix, wp->prefix_len) == 0)
            wp_span_note(wp->span + WP_SPAN_KEYS, t + wp->prefix_len, len - wp->prefix_len);
        uint64_t h = wp_hash_fin(wp_hash_step(WP_FNV_OFFSET, (const unsigned char *)t, len));
        uint32_t tag = (uint32_t)(h >> 32);
        size_t i = (size_t)h & wp->mask;
        for (unsigned p = 0;; p++, i = (i + 1) & wp->mask) {
            wp_slot *sl = &wp->slots[i];
            if (sl->id < 0) {
                *sl = (wp_slot){.tag = tag, .id = (int32_t)id};
            } else if (sl->tag == tag && wp_tok_len(wp, sl->id) == len &&
                       memcmp(wp->blob + wp->off[sl->id], t, len) == 0) {
                sl->id = (int32_t)id; /* a later duplicate wins, as in HF's dict */
            } else {
                continue;
            }
            if (p > wp->max_probe)
                wp->max_probe = p;
            break;
        }
    }
    return 0;
}

int32_t sr_wordpiece_id(const sr_wordpiece *wp, const char *token, size_t len) {
    if (!wp || !token || len == 0 || len > SR_WORDPIECE_TOKEN_MAX)
        return -1;
    const unsigned char *s = (const unsigned char *)token;
    return wp_lookup(wp, wp_hash_step(WP_FNV_OFFSET, s, len), "", 0, s, len);
}

/* ---- loading ----------------------------------------------------------------------------- */

static int wp_add_special(sr_wordpiece *wp, const char *text, size_t len, int32_t id) {
    if (len == 0 || len > SR_WORDPIECE_TOKEN_MAX || wp->n_added >= SR_WORDPIECE_ADDED_MAX)
        return -EINVAL;
    for (size_t i = 0; i < wp->n_added; i++)
        if (wp->added[i].len == len && memcmp(wp->added[i].text, text, len) == 0)
            return -EEXIST;
    wp_added *a = &wp->added[wp->n_added++];
    a->id = id;
    a->len = len;
    memcpy(a->text, text, len);
    unsigned char c = (unsigned char)text[0];
    wp->bytes[c] |= WP_B_ADDED;
    return 0;
}

/* Finishes a vocabulary whose blob and offsets are set: map, special ids, prefix state. */
static int wp_finish(sr_wordpiece *wp, const char *unk_token, const char *name, char *err, size_t errlen) {
    int r = wp_build_map(wp);
    if (r < 0)
        return wp_fail(err, errlen, r, "could not load %s: out of memory", name);
    static const char *const names[] = {"[CLS]", "[SEP]", "[PAD]"};
    int32_t *dst[] = {&wp->cls, &wp->sep, &wp->pad};
    for (size_t i = 0; i < SR_ARRAY_SIZE(names); i++) {
        *dst[i] = sr_wordpiece_id(wp, names[i], strlen(names[i]));
        if (*dst[i] < 0)
            return wp_fail(err, errlen, -EINVAL, "could not load %s: special token %s missing", name, names[i]);
    }
    wp->unk = sr_wordpiece_id(wp, unk_token, strlen(unk_token));
    if (wp->unk < 0)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: unknown token %.64s missing", name, unk_token);
    wp->prefix_state = wp_hash_step(WP_FNV_OFFSET, (const unsigned char *)wp->prefix, wp->prefix_len);
    return 0;
}

static sr_wordpiece *wp_new(void) {
    sr_wordpiece *wp = calloc(1, sizeof(*wp));
    if (!wp)
        return NULL;
    wp->added = calloc(SR_WORDPIECE_ADDED_MAX, sizeof(*wp->added));
    if (!wp->added)
        return sr_wordpiece_free(wp);
    for (unsigned c = 0; c < 256; c++) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            wp->bytes[c] = WP_B_WORD;
        else if (c >= 'A' && c <= 'Z')
            wp->bytes[c] = WP_B_UPPER;
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            wp->bytes[c] = WP_B_SPACE;
        else if (c < 0x20 || c == 0x7f)
            wp->bytes[c] = WP_B_DROP; /* control: dropped, no word break */
        else if (c < 0x80)
            wp->bytes[c] = WP_B_PUNCT; /* all other printable ASCII, $+<=>^`|~ included */
        else
            wp->bytes[c] = WP_B_HIGH;
    }
    memcpy(wp->prefix, "##", 2);
    wp->prefix_len = 2;
    wp->max_word_chars = 100;
    return wp;
}

sr_wordpiece *sr_wordpiece_free(sr_wordpiece *wp) {
    if (!wp)
        return NULL;
    free(wp->blob);
    free(wp->off);
    free(wp->slots);
    free(wp->added);
    free(wp->span);
    free(wp);
    return NULL;
}

static inline void wp_freep(sr_wordpiece **p) { sr_wordpiece_free(*p); }
#define _cleanup_wordpiece_ _cleanup_(wp_freep)

static int wp_load_vocab(const char *buf, size_t len, const char *name, sr_wordpiece **ret, char *err, size_t errlen) {
    if ((!buf && len > 0) || !ret)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: invalid arguments", name);
    if (len > SR_WORDPIECE_FILE_MAX)
        return wp_fail(err, errlen, -EFBIG, "could not load %s: larger than %u bytes", name, SR_WORDPIECE_FILE_MAX);
    /* lines end with '\n', "\r\n" or '\r' (Python's universal newlines, which HF reads it with) */
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && buf[i] != '\n' && buf[i] != '\r')
            i++;
        n++;
        if (i < len)
            i += (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') ? 2 : 1;
    }
    if (n > SR_WORDPIECE_VOCAB_MAX)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: more than %u tokens", name, SR_WORDPIECE_VOCAB_MAX);
    _cleanup_wordpiece_ sr_wordpiece *wp = wp_new();
    if (!wp)
        return wp_fail(err, errlen, -ENOMEM, "could not load %s: out of memory", name);
    wp->blob = malloc(len + 1);
    wp->off = malloc((n + 1) * sizeof(*wp->off));
    if (!wp->blob || !wp->off)
        return wp_fail(err, errlen, -ENOMEM, "could not load %s: out of memory", name);
    size_t pos = 0, id = 0;
    for (size_t i = 0; i < len; id++) {
        size_t start = i;
        while (i < len && buf[i] != '\n' && buf[i] != '\r')
            i++;
        size_t tl = i - start;
        if (tl > SR_WORDPIECE_TOKEN_MAX)
            return wp_fail(err, errlen, -EINVAL, "could not load %s: line %zu longer than %d bytes", name, id + 1,
                           SR_WORDPIECE_TOKEN_MAX);
        if (!sr_utf8_valid(buf + start, tl))
            return wp_fail(err, errlen, -EINVAL, "could not load %s: line %zu is not valid UTF-8", name, id + 1);
        wp->off[id] = (uint32_t)pos;
        memcpy(wp->blob + pos, buf + start, tl);
        pos += tl;
        wp->blob[pos++] = '\0';
        if (i < len)
            i += (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') ? 2 : 1;
    }
    wp->off[n] = (uint32_t)pos;
    wp->n = n;
    int r = wp_finish(wp, "[UNK]", name, err, errlen);
    if (r < 0)
        return r;
    /* BertTokenizerFast built from a vocab.txt matches its special tokens in the raw text */
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < SR_ARRAY_SIZE(specials); i++) {
        int32_t sid = sr_wordpiece_id(wp, specials[i], strlen(specials[i]));
        if (sid >= 0)
            (void)wp_add_special(wp, specials[i], strlen(specials[i]), sid);
    }
    *ret = SR_TAKE_PTR(wp);
    return 0;
}

static inline void wp_json_decrefp(json_t **j) { json_decref(*j); }

static bool wp_json_false(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return !v || json_is_false(v);
}

static int wp_json_check_pipeline(const json_t *root, const char *name, char *err, size_t errlen) {
    const json_t *norm = json_object_get(root, "normalizer");
    const char *type = json_string_value(json_object_get(norm, "type"));
    if (!type || strcmp(type, "BertNormalizer") != 0)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: normalizer %s unsupported, want BertNormalizer", name,
                       type ? type : "(none)");
    const json_t *sa = json_object_get(norm, "strip_accents");
    if (!json_is_true(json_object_get(norm, "lowercase")) || !json_is_true(json_object_get(norm, "clean_text")) ||
        !json_is_true(json_object_get(norm, "handle_chinese_chars")) || (sa && !json_is_null(sa) && !json_is_true(sa)))
        return wp_fail(err, errlen, -EINVAL,
                       "could not load %s: BertNormalizer must have lowercase, clean_text, "
                       "handle_chinese_chars and strip_accents unset or true", name);
    type = json_string_value(json_object_get(json_object_get(root, "pre_tokenizer"), "type"));
    if (!type || strcmp(type, "BertPreTokenizer") != 0)
        return wp_fail(err, errlen, -EINVAL,
                       "could not load %s: pre_tokenizer %s unsupported, want BertPreTokenizer", name,
                       type ? type : "(none)");
    return 0;
}

static int wp_json_model(sr_wordpiece *wp, json_t *model, const char **ret_unk, const char *name, char *err,
                         size_t errlen) {
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "WordPiece") != 0)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: model type %s unsupported, want WordPiece", name,
                       type ? type : "(none)");
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    if (!unk)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: model.unk_token missing", name);
    const json_t *pre = json_object_get(model, "continuing_subword_prefix");
    if (pre && !json_is_null(pre)) {
        const char *p = json_string_value(pre);
        size_t pl = p ? json_string_length(pre) : 0;
        if (!p || pl > SR_WORDPIECE_PREFIX_MAX || strlen(p) != pl)
            return wp_fail(err, errlen, -EINVAL,
                           "could not load %s: continuing_subword_prefix must be a string of at most %d bytes", name,
                           SR_WORDPIECE_PREFIX_MAX);
        memcpy(wp->prefix, p, pl);
        wp->prefix_len = pl;
    }
    const json_t *mx = json_object_get(model, "max_input_chars_per_word");
    if (mx && !json_is_null(mx)) {
        json_int_t v = json_is_integer(mx) ? json_integer_value(mx) : -1;
        if (v < 1 || v > SR_WORDPIECE_WORD_CHARS_MAX)
            return wp_fail(err, errlen, -EINVAL,
                           "could not load %s: max_input_chars_per_word must be 1..%d", name,
                           SR_WORDPIECE_WORD_CHARS_MAX);
        wp->max_word_chars = (size_t)v;
    }
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return wp_fail(err, errlen, -EINVAL, "could not load %s: model.vocab is not an object", name);
    size_t n = json_object_size(vocab);
    if (n == 0 || n > SR_WORDPIECE_VOCAB_MAX)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: model.vocab has %zu tokens, want 1..%u", name, n,
                       SR_WORDPIECE_VOCAB_MAX);
    _cleanup_free_ const char **by_id = calloc(n, sizeof(*by_id));
    _cleanup_free_ size_t *lens = calloc(n, sizeof(*lens));
    if (!by_id || !lens)
        return wp_fail(err, errlen, -ENOMEM, "could not load %s: out of memory", name);
    size_t total = 0;
    for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        const char *key = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || (size_t)id >= n)
            return wp_fail(err, errlen, -EINVAL, "could not load %s: id of token \"%.64s\" not in 0..%zu", name, key,
                           n - 1);
        if (by_id[id])
            return wp_fail(err, errlen, -EINVAL, "could not load %s: id %lld used twice", name, (long long)id);
        if (kl > SR_WORDPIECE_TOKEN_MAX || strlen(key) != kl)
            return wp_fail(err, errlen, -EINVAL, "could not load %s: token %lld too long or holds NUL", name,
                           (long long)id);
        by_id[id] = key;
        lens[id] = kl;
        total += kl + 1;
    }
    wp->blob = malloc(total);
    wp->off = malloc((n + 1) * sizeof(*wp->off));
    if (!wp->blob || !wp->off)
        return wp_fail(err, errlen, -ENOMEM, "could not load %s: out of memory", name);
    size_t pos = 0;
    for (size_t id = 0; id < n; id++) {
        wp->off[id] = (uint32_t)pos;
        memcpy(wp->blob + pos, by_id[id], lens[id] + 1);
        pos += lens[id] + 1;
    }
    wp->off[n] = (uint32_t)pos;
    wp->n = n;
    *ret_unk = unk;
    return 0;
}

static int wp_json_added(sr_wordpiece *wp, const json_t *added, const char *name, char *err, size_t errlen) {
    if (!added || json_is_null(added))
        return 0;
    if (!json_is_array(added))
        return wp_fail(err, errlen, -EINVAL, "could not load %s: added_tokens is not an array", name);
    size_t i;
    const json_t *a;
    json_array_foreach(added, i, a) {
        const json_t *c = json_object_get(a, "content");
        const char *text = json_string_value(c);
        const json_t *idv = json_object_get(a, "id");
        json_int_t id = json_is_integer(idv) ? json_integer_value(idv) : -1;
        if (!text || id < 0 || (size_t)id >= wp->n)
            return wp_fail(err, errlen, -EINVAL, "could not load %s: added token %zu has no content or a bad id", name,
                           i);
        if (!json_is_false(json_object_get(a, "normalized")) || !wp_json_false(a, "lstrip") ||
            !wp_json_false(a, "rstrip") ||
            !wp_json_false(a, "single_word"))
            return wp_fail(err, errlen, -EINVAL,
                           "could not load %s: added token \"%.64s\" unsupported (normalized, lstrip, rstrip "
                           "or single_word set)", name,
                           text);
        size_t len = json_string_length(c);
        int r = strlen(text) == len ? wp_add_special(wp, text, len, (int32_t)id) : -EINVAL;
        if (r == -EEXIST)
            continue;
        if (r < 0)
            return wp_fail(err, errlen, -EINVAL,
                           "could not load %s: added token %zu empty, too long or one too many (at most %d)", name, i,
                           SR_WORDPIECE_ADDED_MAX);
    }
    return 0;
}

static int wp_load_json(const char *buf, size_t len, const char *name, sr_wordpiece **ret, char *err, size_t errlen) {
    if (!buf || !ret)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: invalid arguments", name);
    if (len > SR_WORDPIECE_FILE_MAX)
        return wp_fail(err, errlen, -EFBIG, "could not load %s: larger than %u bytes", name, SR_WORDPIECE_FILE_MAX);
    json_error_t jerr;
    _cleanup_(wp_json_decrefp) json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wp_fail(err, errlen, -EINVAL, "could not load %s: line %d: %s", name, jerr.line, jerr.text);
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return wp_fail(err, errlen, -EINVAL, "could not load %s: no model object", name);
    _cleanup_wordpiece_ sr_wordpiece *wp = wp_new();
    if (!wp)
        return wp_fail(err, errlen, -ENOMEM, "could not load %s: out of memory", name);
    const char *unk = "[UNK]";
    int r = wp_json_model(wp, model, &unk, name, err, errlen);
    if (r < 0)
        return r;
    r = wp_json_check_pipeline(root, name, err, errlen);
    if (r < 0)
        return r;
    r = wp_finish(wp, unk, name, err, errlen);
    if (r < 0)
        return r;
    r = wp_json_added(wp, json_object_get(root, "added_tokens"), name, err, errlen);
    if (r < 0)
        return r;
    *ret = SR_TAKE_PTR(wp);
    return 0;
}

int sr_wordpiece_load_vocab_buffer(const char *buf, size_t len, sr_wordpiece **ret, char *err, size_t errlen) {
    return wp_load_vocab(buf, len, "vocabulary", ret, err, errlen);
}

int sr_wordpiece_load_json_buffer(const char *buf, size_t len, sr_wordpiece **ret, char *err, size_t errlen) {
    return wp_load_json(buf, len, "tokenizer", ret, err, errlen);
}

int sr_wordpiece_load(const char *path, sr_wordpiece **ret, char *err, size_t errlen) {
    if (!path || !ret)
        return wp_fail(err, errlen, -EINVAL, "could not load vocabulary: invalid arguments");
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = sr_file_read_all(path, SR_WORDPIECE_FILE_MAX, &buf, &len);
    if (r == -EFBIG)
        return wp_fail(err, errlen, r, "could not read %s: larger than %u bytes", path, SR_WORDPIECE_FILE_MAX);
    if (r < 0)
        return wp_fail(err, errlen, r, "could not read %s: %s", path, strerror(-r));
    size_t pl = strlen(path);
    if (pl >= 5 && strcmp(path + pl - 5, ".json") == 0)
        return wp_load_json(buf, len, path, ret, err, errlen);
    return wp_load_vocab(buf, len, path, ret, err, errlen);
}

size_t sr_wordpiece_vocab_size(const sr_wordpiece *wp) { return wp ? wp->n : 0; }
int32_t sr_wordpiece_cls(const sr_wordpiece *wp) { return wp ? wp->cls : -1; }
int32_t sr_wordpiece_sep(const sr_wordpiece *wp) { return wp ? wp->sep : -1; }
int32_t sr_wordpiece_pad(const sr_wordpiece *wp) { return wp ? wp->pad : -1; }
int32_t sr_wordpiece_unk(const sr_wordpiece *wp) { return wp ? wp->unk : -1; }

const char *sr_wordpiece_token(const sr_wordpiece *wp, int32_t id) {
    if (!wp || id < 0 || (size_t)id >= wp->n)
        return NULL;
    return wp->blob + wp->off[id];
}

/* ---- normalization and pre-tokenization -------------------------------------------------- */

typedef struct wp_scan wp_scan;
/* Receives each pre-token: a word (w[0..len), nchars characters; when nchars exceeds the
 * vocabulary's max_input_chars_per_word, w holds only its start) or an added token (added >= 0,
 * w NULL). Returns true to stop the scan. */
typedef bool (*wp_sink_fn)(wp_scan *s, const unsigned char *w, size_t len, size_t nchars, int32_t added);

struct wp_scan {
    const sr_wordpiece *wp;
    wp_sink_fn sink;
    void *ud;
    bool stop;
    size_t wlen, wchars;
    size_t run; /* offset in w of the current run of kept combining characters (canonical order), or WP_NO_RUN */
    unsigned char w[WP_WORD_BYTES];
};

static inline void wp_end_word(wp_scan *s) {
    if (s->wchars > 0 && !s->stop)
        s->stop = s->sink(s, s->w, s->wlen, s->wchars, -1);
    s->wlen = 0;
    s->wchars = 0;
    s->run = WP_NO_RUN;
}

/* Appends one ASCII byte to the word. */
static inline void wp_push_ascii(wp_scan *s, unsigned char c) {
    s->run = WP_NO_RUN;
    if (s->wchars < s->wp->max_word_chars)
        s->w[s->wlen++] = c;
    if (s->wchars <= s->wp->max_word_chars)
        s->wchars++;
}

static size_t wp_encode_utf8(uint32_t cp, unsigned char *b) {
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (unsigned char)(0xf0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes one character at s[0..len), len > 0. An invalid sequence gives U+FFFD and consumes its
 * maximal valid prefix (at least one byte), as Python's errors="replace" does. */
static size_t wp_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        v = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        v = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= len || s[k] < lo || s[k] > hi) {
            *cp = 0xfffd;
            return k;
        }
        v = (v << 6) | (s[k] & 0x3f);
        lo = 0x80;
        hi = 0xbf;
    }
    *cp = v;
    return need + 1;
}

static inline bool wp_is_cjk(uint32_t cp) {
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
           (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/* HF's tokenizers classifies characters with frozen tables: the general categories of the
 * unicode_categories crate (Unicode 8.0) for "control" (Cc, Cf, Co), "nonspacing mark" (Mn) and
 * "punctuation" (P*), and the NFD data of unicode-normalization-alignments (Unicode 9.0).
 * utf8proc has a newer Unicode. This table, generated by comparing those tables with utf8proc's
 * (15.0) and Unicode 18.0 over every code point, and checked against HF's output for each, lists
 * where HF's answer differs: mostly characters assigned after Unicode 8.0, which HF keeps as
 * ordinary letters. Flags: WP_CLASS_* in the low bits, WP_F_NODECOMP (HF does not decompose it),
 * WP_F_CCC0 (HF's combining class is 0). Sorted, non-overlapping. docs/internals/wordpiece.md. */
enum { WP_CLASS_OTHER = 0, WP_CLASS_CONTROL = 1, WP_CLASS_MN = 2, WP_CLASS_PUNCT = 3, WP_CLASS_MASK = 3 };
enum { WP_F_NODECOMP = 4, WP_F_CCC0 = 8 };

typedef struct {
    uint32_t first, last;
    uint8_t flags;
} wp_compat;

static const wp_compat wp_compat_table[] = {
    {0x5c8, 0x5c9, 8}, {0x61d, 0x61d, 0}, {0x7fd, 0x7fd, 8}, {0x890, 0x891, 0}, {0x897, 0x89f, 8},
    {0x8ca, 0x8d3, 8}, {0x8d4, 0x8e2, 0}, {0x9fd, 0x9fd, 0}, {0x9fe, 0x9fe, 8}, {0xa76, 0xa76, 0},
    {0xafa, 0xaff, 0}, {0xb53, 0xb55, 0}, {0xc04, 0xc04, 0}, {0xc3c, 0xc3c, 8}, {0xc77, 0xc77, 0},
    {0xc84, 0xc84, 0}, {0xd00, 0xd00, 0}, {0xd3b, 0xd3c, 8}, {0xd81, 0xd81, 0}, {0xeba, 0xeba, 8},
    {0xece, 0xece, 0}, {0x166d, 0x166d, 3}, {0x1715, 0x1715, 8}, {0x1734, 0x1734, 2}, {0x180f, 0x180f, 0},
    {0x1885, 0x1886, 0}, {0x1abf, 0x1af0, 8}, {0x1b4e, 0x1b4f, 0}, {0x1b7d, 0x1b7f, 0}, {0x1df6, 0x1dfa, 8},
    {0x1dfb, 0x1dfb, 0}, {0x2e43, 0x2e4f, 0}, {0x2e52, 0x2e5d, 0}, {0x2e60, 0x2e63, 0}, {0xa82c, 0xa82c, 8},
    {0xa8c5, 0xa8c5, 0}, {0xa8ff, 0xa8ff, 0}, {0xa9bd, 0xa9bd, 0}, {0x105c9, 0x105c9, 4}, {0x105e4, 0x105e4, 4},
    {0x10d24, 0x10d27, 8}, {0x10d69, 0x10d6d, 8}, {0x10d6e, 0x10d6e, 0}, {0x10eab, 0x10eac, 8},
    {0x10ead, 0x10ead, 0}, {0x10ecb, 0x10ecf, 8}, {0x10ed0, 0x10ed0, 0}, {0x10ef0, 0x10efb, 8},
    {0x10efc, 0x10efc, 0}, {0x10efd, 0x10eff, 8}, {0x10f46, 0x10f50, 8}, {0x10f55, 0x10f59, 0},
    {0x10f82, 0x10f85, 8}, {0x10f86, 0x10f89, 0}, {0x11070, 0x11070, 8}, {0x11073, 0x11074, 0},
    {0x110c2, 0x110c2, 0}, {0x110cd, 0x110cd, 0}, {0x111c9, 0x111c9, 3}, {0x111cf, 0x111cf, 0},
    {0x1123e, 0x1123e, 0}, {0x11241, 0x11241, 0}, {0x1133b, 0x1133b, 8}, {0x11383, 0x11383, 4},
    {0x11385, 0x11385, 4}, {0x1138e, 0x1138e, 4}, {0x11391, 0x11391, 4}, {0x113bb, 0x113c0, 0},
    {0x113c5, 0x113c5, 4}, {0x113c7, 0x113c8, 4}, {0x113ce, 0x113d0, 8}, {0x113d2, 0x113d2, 0},
    {0x113d4, 0x113d5, 0}, {0x113d7, 0x113d8, 0}, {0x113e1, 0x113e2, 0}, {0x11438, 0x1143f, 0},
    {0x11442, 0x11444, 0}, {0x11446, 0x11446, 0}, {0x1144b, 0x1144f, 0}, {0x1145a, 0x1145b, 0},
    {0x1145d, 0x1145d, 0}, {0x1145e, 0x1145e, 8}, {0x11660, 0x1166c, 0}, {0x116b9, 0x116b9, 0},
    {0x1171e, 0x1171e, 2}, {0x1182f, 0x11837, 0}, {0x11839, 0x1183a, 8}, {0x1183b, 0x1183b, 0},
    {0x11938, 0x11938, 4}, {0x1193b, 0x1193c, 0}, {0x1193d, 0x1193e, 8}, {0x11943, 0x11943, 8},
    {0x11944, 0x11946, 0}, {0x119d4, 0x119d7, 0}, {0x119da, 0x119db, 0}, {0x119e0, 0x119e0, 8},
    {0x119e2, 0x119e2, 0}, {0x11a01, 0x11a0a, 0}, {0x11a33, 0x11a33, 0}, {0x11a34, 0x11a34, 8},
    {0x11a35, 0x11a38, 0}, {0x11a3b, 0x11a46, 0}, {0x11a47, 0x11a47, 8}, {0x11a51, 0x11a56, 0},
    {0x11a59, 0x11a5b, 0}, {0x11a8a, 0x11a96, 0}, {0x11a98, 0x11a98, 0}, {0x11a99, 0x11a99, 8},
    {0x11a9a, 0x11a9c, 0}, {0x11a9e, 0x11aa2, 0}, {0x11b00, 0x11b09, 0}, {0x11b60, 0x11b60, 0},
    {0x11b62, 0x11b64, 0}, {0x11b66, 0x11b66, 0}, {0x11be1, 0x11be1, 0}, {0x11c30, 0x11c36, 0},
    {0x11c38, 0x11c3d, 0}, {0x11c3f, 0x11c3f, 0}, {0x11c41, 0x11c45, 0}, {0x11c70, 0x11c71, 0},
    {0x11c92, 0x11ca7, 0}, {0x11caa, 0x11cb0, 0}, {0x11cb2, 0x11cb3, 0}, {0x11cb5, 0x11cb6, 0},
    {0x11d31, 0x11d36, 0}, {0x11d3a, 0x11d3a, 0}, {0x11d3c, 0x11d3d, 0}, {0x11d3f, 0x11d41, 0},
    {0x11d42, 0x11d42, 8}, {0x11d43, 0x11d43, 0}, {0x11d44, 0x11d45, 8}, {0x11d47, 0x11d47, 0},
    {0x11d90, 0x11d91, 0}, {0x11d95, 0x11d95, 0}, {0x11d97, 0x11d97, 8}, {0x11df0, 0x11df0, 0},
    {0x11ef3, 0x11ef4, 0}, {0x11ef7, 0x11ef8, 0}, {0x11f00, 0x11f01, 0}, {0x11f36, 0x11f3a, 0},
    {0x11f40, 0x11f40, 0}, {0x11f41, 0x11f42, 8}, {0x11f43, 0x11f4f, 0}, {0x11f5a, 0x11f5a, 0},
    {0x11fff, 0x11fff, 0}, {0x12ff1, 0x12ff2, 0}, {0x13430, 0x13440, 0}, {0x13447, 0x13455, 0},
    {0x1611e, 0x16120, 0}, {0x16121, 0x16128, 4}, {0x16129, 0x16129, 0}, {0x1612d, 0x1612e, 0},
    {0x1612f, 0x1612f, 8}, {0x16d68, 0x16d6a, 4}, {0x16d6d, 0x16d6f, 0}, {0x16e97, 0x16e9a, 0},
    {0x16f4f, 0x16f4f, 0}, {0x16fe2, 0x16fe2, 0}, {0x16fe4, 0x16fe4, 0}, {0x16ff0, 0x16ff1, 8},
    {0x1cf00, 0x1cf2d, 0}, {0x1cf30, 0x1cf46, 0}, {0x1d127, 0x1d128, 8}, {0x1d250, 0x1d252, 8},
    {0x1d25b, 0x1d25c, 8}, {0x1d25f, 0x1d25f, 8}, {0x1d280, 0x1d281, 8}, {0x1e000, 0x1e006, 0},
    {0x1e008, 0x1e018, 0}, {0x1e01b, 0x1e021, 0}, {0x1e023, 0x1e024, 0}, {0x1e026, 0x1e02a, 0},
    {0x1e08f, 0x1e08f, 8}, {0x1e130, 0x1e136, 8}, {0x1e2ae, 0x1e2ae, 8}, {0x1e2ec, 0x1e2ef, 8},
    {0x1e4ec, 0x1e4ef, 8}, {0x1e5ee, 0x1e5ef, 8}, {0x1e5ff, 0x1e5ff, 0}, {0x1e6e3, 0x1e6e3, 8},
    {0x1e6e6, 0x1e6e6, 8}, {0x1e6ee, 0x1e6ef, 8}, {0x1e6f5, 0x1e6f5, 8}, {0x1e944, 0x1e94a, 0},
    {0x1e95e, 0x1e95f, 0},
};

/* Class and flags of a non-ASCII character as HF's tables see it. */
static unsigned wp_flags(uint32_t cp, const utf8proc_property_t *p) {
    size_t lo = 0, hi = SR_ARRAY_SIZE(wp_compat_table);
    if (cp >= wp_compat_table[0].first) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cp > wp_compat_table[mid].last)
                lo = mid + 1;
            else if (cp < wp_compat_table[mid].first)
                hi = mid;
            else
                return wp_compat_table[mid].flags;
        }
    }
    switch (p->category) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
        return WP_CLASS_CONTROL;
    case UTF8PROC_CATEGORY_MN:
        return WP_CLASS_MN;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return WP_CLASS_PUNCT;
    default:
        return WP_CLASS_OTHER;
    }
}

/* Appends a non-ASCII character of canonical combining class ccc, keeping a run of combining
 * characters in canonical order as NFD does (the run's nonspacing marks are already gone). */
static void wp_push(wp_scan *s, uint32_t cp, int ccc) {
    if (s->wchars >= s->wp->max_word_chars) {
        if (s->wchars == s->wp->max_word_chars)
            s->wchars++;
        return;
    }
    unsigned char b[4];
    size_t n = wp_encode_utf8(cp, b), at = s->wlen;
    if (ccc == 0) {
        s->run = WP_NO_RUN;
    } else if (s->run == WP_NO_RUN) {
        s->run = s->wlen;
    } else {
        while (at > s->run) {
            size_t q = at - 1;
            while (q > s->run && (s->w[q] & 0xc0) == 0x80)
                q--;
            uint32_t prev;
            (void)wp_decode(s->w + q, at - q, &prev);
            const utf8proc_property_t *pp = utf8proc_get_property((utf8proc_int32_t)prev);
            int pc = (wp_flags(prev, pp) & WP_F_CCC0) ? 0 : pp->combining_class;
            if (pc <= ccc)
                break;
            at = q;
        }
        memmove(s->w + at + n, s->w + at, s->wlen - at);
    }
    memcpy(s->w + at, b, n);
    s->wlen += n;
    s->wchars++;
}

/* One non-ASCII character of the raw text. */
static void wp_scan_char(wp_scan *s, uint32_t cp) {
    if (cp == 0xfffd)
        return;
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    unsigned f = wp_flags(cp, p);
    if ((f & WP_CLASS_MASK) == WP_CLASS_CONTROL) /* dropped by the cleaning */
        return;
    if (p->category == UTF8PROC_CATEGORY_ZS || p->category == UTF8PROC_CATEGORY_ZL ||
        p->category == UTF8PROC_CATEGORY_ZP) {
        wp_end_word(s);
        return;
    }
    bool cjk = wp_is_cjk(cp);
    if (cjk)
        wp_end_word(s);
    utf8proc_int32_t d[WP_DECOMP_MAX];
    utf8proc_ssize_t m = 0;
    if (!(f & WP_F_NODECOMP)) {
        int bound = 0;
        m = utf8proc_decompose_char((utf8proc_int32_t)cp, d, WP_DECOMP_MAX, UTF8PROC_DECOMPOSE, &bound);
    }
    if (m < 1 || m > WP_DECOMP_MAX) {
        d[0] = (utf8proc_int32_t)cp;
        m = 1;
    }
    for (utf8proc_ssize_t j = 0; j < m; j++) {
        uint32_t dc = (uint32_t)d[j];
        const utf8proc_property_t *q = dc == cp ? p : utf8proc_get_property(d[j]);
        unsigned g = dc == cp ? f : wp_flags(dc, q);
        int ccc = (g & WP_F_CCC0) ? 0 : q->combining_class;
        if (ccc == 0)
            s->run = WP_NO_RUN;
        if ((g & WP_CLASS_MASK) == WP_CLASS_MN)
            continue;
        uint32_t lc = (uint32_t)utf8proc_tolower(d[j]);
        if (lc < 0x80) {
            bool alnum = (lc >= 'a' && lc <= 'z') || (lc >= '0' && lc <= '9');
            if (!alnum)
                wp_end_word(s);
            wp_push_ascii(s, (unsigned char)lc);
            if (!alnum)
                wp_end_word(s);
            continue;
        }
        unsigned lf = lc == dc ? g : wp_flags(lc, utf8proc_get_property((utf8proc_int32_t)lc));
        if ((lf & WP_CLASS_MASK) == WP_CLASS_PUNCT) {
            wp_end_word(s);
            wp_push(s, lc, 0);
            wp_end_word(s);
        } else {
            wp_push(s, lc, ccc);
        }
    }
    if (cjk)
        wp_end_word(s);
}

/* Longest added token at t[0..len), its id or -1. */
static int32_t wp_match_added(const sr_wordpiece *wp, const unsigned char *t, size_t len, size_t *ret_len) {
    int32_t id = -1;
    size_t best = 0;
    for (size_t i = 0; i < wp->n_added; i++) {
        const wp_added *a = &wp->added[i];
        if (a->len > best && a->len <= len && memcmp(a->text, t, a->len) == 0) {
            best = a->len;
            id = a->id;
        }
    }
    *ret_len = best;
    return id;
}

static void wp_scan_text(wp_scan *s, const unsigned char *t, size_t len) {
    const sr_wordpiece *wp = s->wp;
    size_t i = 0;
    while (i < len && !s->stop) {
        unsigned c = t[i], b = wp->bytes[c];
        if (b & WP_B_ADDED) {
            size_t mlen;
            int32_t id = wp_match_added(wp, t + i, len - i, &mlen);
            if (id >= 0) {
                wp_end_word(s);
                if (!s->stop)
                    s->stop = s->sink(s, NULL, 0, 0, id);
                i += mlen;
                continue;
            }
        }
        switch (b & WP_B_CLASS) {
        case WP_B_WORD:
            wp_push_ascii(s, (unsigned char)c);
            break;
        case WP_B_UPPER:
            wp_push_ascii(s, (unsigned char)(c + ('a' - 'A')));
            break;
        case WP_B_SPACE:
            wp_end_word(s);
            break;
        case WP_B_DROP:
            break;
        case WP_B_PUNCT:
            wp_end_word(s);
            wp_push_ascii(s, (unsigned char)c);
            wp_end_word(s);
            break;
        default: {
            uint32_t cp;
            size_t n = wp_decode(t + i, len - i, &cp);
            wp_scan_char(s, cp);
            i += n;
            continue;
        }
        }
        i++;
    }
    wp_end_word(s);
}

/* ---- WordPiece --------------------------------------------------------------------------- */

/* Greedy longest-match-first pieces of one word into out (room for nchars ids); the count,
 * or 0 when the word is one [UNK]. */
static size_t wp_pieces(const sr_wordpiece *wp, const unsigned char *w, size_t len, size_t nchars, int32_t *out) {
    if (nchars > wp->max_word_chars)
        return 0;
    size_t ends[SR_WORDPIECE_TOKEN_MAX];
    uint64_t states[SR_WORDPIECE_TOKEN_MAX];
    size_t k = 0, start = 0;
    while (start < len) {
        size_t plen = start > 0 ? wp->prefix_len : 0;
        if (wp->max_token_len <= plen)
            return 0;
        size_t room = wp->max_token_len - plen;
        if (len - start >= 2) {
            size_t m = wp->span[(start > 0 ? WP_SPAN_KEYS : 0) + wp_span_key(w + start)];
            if (m < 255 && m < room)
                room = m > 0 ? m : 1;
        }
        uint64_t h = start > 0 ? wp->prefix_state : WP_FNV_OFFSET;
        size_t nb = 0, pos = start;
        while (pos < len) {
            size_t cl = 1;
            while (pos + cl < len && (w[pos + cl] & 0xc0) == 0x80)
                cl++;
            if (pos + cl - start > room)
                break;
            h = wp_hash_step(h, w + pos, cl);
            pos += cl;
            ends[nb] = pos;
            states[nb++] = h;
        }
        int32_t id = -1;
        size_t j = nb;
        while (j-- > 0) {
            id = wp_lookup(wp, states[j], wp->prefix, plen, w + start, ends[j] - start);
            if (id >= 0)
                break;
        }
        if (id < 0)
            return 0;
        out[k++] = id;
        start = ends[j];
    }
    return k;
}

typedef struct {
    int32_t *ids;
    size_t n, limit; /* limit: room for pieces, [CLS] and [SEP] excluded */
} wp_out;

static bool wp_emit(wp_scan *s, const unsigned char *w, size_t len, size_t nchars, int32_t added) {
    wp_out *o = s->ud;
    const sr_wordpiece *wp = s->wp;
    int32_t pieces[SR_WORDPIECE_WORD_CHARS_MAX + 1];
    size_t k = 1;
    if (added >= 0) {
        pieces[0] = added;
    } else {
        k = wp_pieces(wp, w, len, nchars, pieces);
        if (k == 0) {
            pieces[0] = wp->unk;
            k = 1;
        }
    }
    for (size_t i = 0; i < k && o->n < o->limit; i++)
        o->ids[1 + o->n++] = pieces[i];
    return o->n >= o->limit;
}

int sr_wordpiece_encode(const sr_wordpiece *wp, const char *text, size_t len, int32_t *ids, size_t max_ids,
                        size_t *ret_n) {
    if (!wp || !ids || !ret_n || (!text && len > 0) || max_ids < 2)
        return -EINVAL;
    wp_out o = {.ids = ids, .n = 0, .limit = max_ids - 2};
    ids[0] = wp->cls;
    if (o.limit > 0) {
        wp_scan s; /* w is not cleared: only its first wlen bytes are ever read */
        s.wp = wp;
        s.sink = wp_emit;
        s.ud = &o;
        s.stop = false;
        s.wlen = 0;
        s.wchars = 0;
        s.run = WP_NO_RUN;
        wp_scan_text(&s, (const unsigned char *)text, len);
    }
    ids[1 + o.n] = wp->sep;
    *ret_n = o.n + 2;
    return 0;
}
