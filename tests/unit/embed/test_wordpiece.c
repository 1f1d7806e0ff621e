/* Unit tests: the BERT uncased WordPiece tokenizer (src/core/embed/sr_wordpiece). A small
 * vocabulary built here pins each normalization and splitting rule; the expected ids are those
 * Hugging Face's tokenizers gives with the same vocabulary. With SR_EMBED_MODEL_DIR, a few checks
 * also run against the real all-MiniLM-L6-v2 vocabulary. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sr_wordpiece.h"

/* id = line number (from 0) */
static const char test_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"                             /* 0-4 */
    "cafe\nnaive\n/\netc\nshadow\nuser\n@\nhost\na\n.\n"                /* 5-14 */
    "b\n,\nc\nhello\nworld\nun\n##aff\n##able\n\xe4\xb8\xad\n"           /* 15-23: 中 */
    "\xe6\x96\x87\nx\ny\n!\ni\n\xc3\x9f\n\xcf\x83\n"                   /* 24-30: 文 ß σ */
    "##\xce\xb1\n##\xcf\x83\n[\n]\nmask\n##a\n##s\n;\nk\n"              /* 31-39: ##α ##σ */
    "##ello\nh\n\xef\xac\x81\n\xf0\x9f\x99\x82\n"                       /* 40-43: ﬁ 🙂 */
    "##\xf0\x9f\x99\x82\nx\xf0\x9d\x85\xa5\xe3\x80\xae\n"               /* 44-45: ##🙂, x U+1D165 U+302E */
    "\xf0\x91\xa4\xb8\n";                                             /* 46: U+11938 */

#define ENC_MAX 512

static sr_wordpiece *load_test_vocab(void) {
    sr_wordpiece *wp = NULL;
    char err[256] = "";
    int r = sr_wordpiece_load_vocab_buffer(test_vocab, strlen(test_vocab), &wp, err, sizeof(err));
    if (r != 0)
        fail_msg("could not load the test vocabulary: %s", err);
    return wp;
}

static int setup(void **state) {
    *state = load_test_vocab();
    return 0;
}

static int teardown(void **state) {
    sr_wordpiece_free(*state);
    return 0;
}

static void render(char *out, size_t outlen, const int32_t *ids, size_t n) {
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && pos < outlen; i++) {
        int w = snprintf(out + pos, outlen - pos, "%s%d", i ? "," : "", ids[i]);
        if (w < 0)
            break;
        pos += (size_t)w;
    }
}

/* Encodes text[0..len) with max_ids and compares with want (the full output, [CLS] and [SEP] included). */
static void check_ids(const sr_wordpiece *wp, const char *text, size_t len, size_t max_ids, const int32_t *want,
                      size_t nwant, int line) {
    int32_t ids[ENC_MAX];
    size_t n = 0;
    assert_true(max_ids <= ENC_MAX);
    int r = sr_wordpiece_encode(wp, text, len, ids, max_ids, &n);
    if (r != 0)
        fail_msg("line %d: encode returned %d", line, r);
    if (n != nwant || memcmp(ids, want, n * sizeof(*ids)) != 0) {
        char got[4096], exp[4096];
        render(got, sizeof(got), ids, n);
        render(exp, sizeof(exp), want, nwant);
        fail_msg("line %d: ids of \"%.*s\" (max %zu)\n  got:  %s\n  want: %s", line, (int)len, text ? text : "",
                 max_ids, got, exp);
    }
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), (sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))
/* EXPECT(wp, text, [CLS]=2 ... [SEP]=3) on a string literal (embedded NULs count) */
#define EXPECT(wp, lit, ...) check_ids(wp, lit, sizeof(lit) - 1, ENC_MAX, IDS(__VA_ARGS__), __LINE__)
#define EXPECT_MAX(wp, lit, max, ...) check_ids(wp, lit, sizeof(lit) - 1, max, IDS(__VA_ARGS__), __LINE__)

static void test_accessors(void **state) {
    const sr_wordpiece *wp = *state;
    assert_int_equal(sr_wordpiece_vocab_size(wp), 47);
    assert_int_equal(sr_wordpiece_cls(wp), 2);
    assert_int_equal(sr_wordpiece_sep(wp), 3);
    assert_int_equal(sr_wordpiece_pad(wp), 0);
    assert_int_equal(sr_wordpiece_unk(wp), 1);
    assert_int_equal(sr_wordpiece_id(wp, "hello", 5), 18);
    assert_int_equal(sr_wordpiece_id(wp, "##aff", 5), 21);
    assert_int_equal(sr_wordpiece_id(wp, "hell", 4), -1);
    assert_int_equal(sr_wordpiece_id(wp, "hellos", 6), -1);
    assert_int_equal(sr_wordpiece_id(wp, "\xf0\x9f\x99\x82", 4), 43);
    assert_int_equal(sr_wordpiece_id(wp, "", 0), -1);
    assert_string_equal(sr_wordpiece_token(wp, 18), "hello");
    assert_string_equal(sr_wordpiece_token(wp, 45), "x\xf0\x9d\x85\xa5\xe3\x80\xae");
    assert_null(sr_wordpiece_token(wp, -1));
    assert_null(sr_wordpiece_token(wp, 47));
    assert_int_equal(sr_wordpiece_vocab_size(NULL), 0);
    assert_null(sr_wordpiece_free(NULL));
}

static void test_lowercase_and_accents(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "HELLO World", 2, 18, 19, 3);
    EXPECT(wp, "Caf\xc3\xa9 na\xc3\xafve", 2, 5, 6, 3);           /* Café naïve */
    EXPECT(wp, "CAFE\xcc\x81 NAI\xcc\x88VE", 2, 5, 6, 3);         /* decomposed accents */
    EXPECT(wp, "\xc3\x87\xc3\x81\xc6\x92\xc3\x89", 2, 1, 3);      /* ÇÁƒÉ: ƒ has no decomposition */
    EXPECT(wp, "\xc4\xb0", 2, 28, 3);                             /* İ: NFD gives I + U+0307, the mark goes */
    EXPECT(wp, "\xe1\xba\x9e", 2, 29, 3);                         /* ẞ lowercases to ß */
    EXPECT(wp, "\xce\xa3\xce\x91\xce\xa3", 2, 30, 31, 32, 3);     /* ΣΑΣ: per-character σ, never final ς */
    EXPECT(wp, "\xe2\x84\xaa", 2, 39, 3);                         /* KELVIN SIGN: NFD gives K */
    EXPECT(wp, "a\xcd\xbe" "b", 2, 13, 38, 15, 3);                /* GREEK QUESTION MARK: NFD gives ';' */
    EXPECT(wp, "\xef\xac\x81", 2, 42, 3);                         /* ﬁ: canonical NFD only, no compatibility */
    EXPECT(wp, "\xef\xbc\xa1", 2, 1, 3);                          /* fullwidth A stays, so [UNK] */
    /* kept combining characters are put in canonical order (U+1D165 ccc 216 before U+302E ccc 224) */
    EXPECT(wp, "x\xe3\x80\xae\xf0\x9d\x85\xa5", 2, 45, 3);
    EXPECT(wp, "x\xf0\x9d\x85\xa5\xe3\x80\xae", 2, 45, 3);
}

static void test_punctuation(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "/etc/shadow", 2, 7, 8, 7, 9, 3);
    EXPECT(wp, "user@host", 2, 10, 11, 12, 3);
    EXPECT(wp, "a.b,c", 2, 13, 14, 15, 16, 17, 3);
    EXPECT(wp, "hello!!", 2, 18, 27, 27, 3);
    /* ASCII symbols are punctuation for BERT; other symbols are not */
    EXPECT(wp, "a$b", 2, 13, 1, 15, 3);
    EXPECT(wp, "a\xc2\xa2" "b", 2, 1, 3); /* a¢b: ¢ is Sc, stays inside the word */
    EXPECT(wp, "a\xe2\x80\x94" "b", 2, 13, 1, 15, 3); /* em dash is Pd */
}

static void test_cjk(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "\xe4\xb8\xad\xe6\x96\x87", 2, 23, 24, 3);       /* 中文 */
    EXPECT(wp, "x\xe4\xb8\xady", 2, 25, 23, 26, 3);             /* x中y */
    EXPECT(wp, "a\xe3\x81\x82", 2, 1, 3);                       /* hiragana is not split off */
}

/* HF classifies with Unicode 8.0 categories and Unicode 9.0 NFD data: characters assigned or
 * recategorized later keep their old treatment. */
static void test_hf_unicode_tables(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "hello\xe0\xa3\x94", 2, 1, 3);             /* U+08D4 (Mn since 9.0) is not stripped */
    EXPECT(wp, "hel\xe0\xa3\xa2lo", 2, 1, 3);             /* U+08E2 (Cf since 9.0) is not removed */
    EXPECT(wp, "hello\xe2\xb9\x8fworld", 2, 1, 3);        /* U+2E4F (Po since 11.0) is not split off */
    EXPECT(wp, "hel\xe1\x9c\xb4lo", 2, 18, 3);            /* U+1734 was Mn in 8.0: stripped */
    EXPECT(wp, "hello\xe1\x99\xadworld", 2, 18, 1, 19, 3); /* U+166D was Po in 8.0: split off */
    EXPECT(wp, "\xf0\x91\xa4\xb8", 2, 46, 3);             /* U+11938 has no decomposition in 9.0 */
}

static void test_whitespace_and_control(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "  hello\t\n\r world  ", 2, 18, 19, 3);
    EXPECT(wp, "hel\x01lo", 2, 18, 3);                 /* control: removed, no split */
    EXPECT(wp, "\0hello\x7f", 2, 18, 3);               /* NUL and DEL */
    EXPECT(wp, "hel\xe2\x80\x8blo", 2, 18, 3);         /* U+200B ZERO WIDTH SPACE is Cf */
    EXPECT(wp, "hel\xc2\xadlo", 2, 18, 3);             /* soft hyphen */
    EXPECT(wp, "hel\xee\x80\x80lo", 2, 18, 3);         /* private use */
    EXPECT(wp, "hello\xc2\xa0world", 2, 18, 19, 3);    /* NO-BREAK SPACE */
    EXPECT(wp, "hello\xe3\x80\x80world", 2, 18, 19, 3); /* IDEOGRAPHIC SPACE */
    EXPECT(wp, "hello\xe2\x80\xa8world", 2, 18, 19, 3); /* LINE SEPARATOR */
    /* \v, \f and NEL are control characters first: removed, so the words join */
    EXPECT(wp, "hello\x0bworld", 2, 1, 3);
    EXPECT(wp, "hello\x0cworld", 2, 1, 3);
    EXPECT(wp, "hello\xc2\x85world", 2, 1, 3);
}

static void test_unknown_and_continuation(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "zzz", 2, 1, 3);
    EXPECT(wp, "hello zzz world", 2, 18, 1, 19, 3);
    EXPECT(wp, "unaffable", 2, 20, 21, 22, 3);
    EXPECT(wp, "unaffablex", 2, 1, 3); /* no ##x: the whole word is [UNK] */
    EXPECT(wp, "hello", 2, 18, 3);     /* longest match first, not h ##ello */
    EXPECT(wp, "hellos", 2, 18, 37, 3);
    EXPECT(wp, "\xf0\x9f\x99\x82\xf0\x9f\x99\x82", 2, 43, 44, 3);

    /* 100 characters are one word of pieces; 101 are [UNK] */
    char word[102];
    memset(word, 'a', sizeof(word));
    int32_t want[103];
    want[0] = 2;
    want[1] = 13;
    for (size_t i = 2; i <= 100; i++)
        want[i] = 36;
    want[101] = 3;
    check_ids(wp, word, 100, ENC_MAX, want, 102, __LINE__);
    check_ids(wp, word, 101, ENC_MAX, IDS(2, 1, 3), __LINE__);
    /* the limit counts characters after normalization, not bytes: 100 x "á" (3 bytes decomposed) */
    char acc[300];
    for (size_t i = 0; i < 100; i++)
        memcpy(acc + 3 * i, "a\xcc\x81", 3);
    check_ids(wp, acc, 300, ENC_MAX, want, 102, __LINE__);
}

static void test_truncation(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT_MAX(wp, "hello world hello world", 2, 2, 3);
    EXPECT_MAX(wp, "hello world hello world", 3, 2, 18, 3);
    EXPECT_MAX(wp, "hello world hello world", 4, 2, 18, 19, 3);
    EXPECT_MAX(wp, "hello world hello world", 6, 2, 18, 19, 18, 19, 3);
    EXPECT_MAX(wp, "hello world hello world", 7, 2, 18, 19, 18, 19, 3);
    EXPECT_MAX(wp, "unaffable", 4, 2, 20, 21, 3); /* a word may be cut between its pieces */
    EXPECT_MAX(wp, "x[MASK]y", 3, 2, 25, 3);

    /* a long input stops early and [SEP] stays last */
    size_t big = 1 << 20;
    char *text = malloc(big);
    assert_non_null(text);
    for (size_t i = 0; i + 6 <= big; i += 6)
        memcpy(text + i, "hello ", 6);
    int32_t ids[8];
    size_t n = 0;
    assert_int_equal(sr_wordpiece_encode(wp, text, big - big % 6, ids, 8, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(ids[0], 2);
    for (size_t i = 1; i < 7; i++)
        assert_int_equal(ids[i], 18);
    assert_int_equal(ids[7], 3);
    free(text);
}

static void test_invalid_utf8(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "hel\xfflo", 2, 18, 3);
    EXPECT(wp, "hel\xc0\xaflo", 2, 18, 3);          /* overlong '/' is not a slash */
    EXPECT(wp, "hel\xed\xa0\x80lo", 2, 18, 3);      /* encoded surrogate */
    EXPECT(wp, "a\xc3", 2, 13, 3);                  /* truncated at the end */
    EXPECT(wp, "\xe2\x82[SEP]", 2, 3, 3);           /* a truncated sequence never swallows the next character */
    EXPECT(wp, "\xf0\x9f\x99" "a", 2, 13, 3);
    EXPECT(wp, "\x80\x80hello\xbf", 2, 18, 3);
}

static void test_empty_and_special(void **state) {
    const sr_wordpiece *wp = *state;
    EXPECT(wp, "", 2, 3);
    EXPECT(wp, "   \t ", 2, 3);
    EXPECT(wp, "\x01\x02", 2, 3);
    check_ids(wp, NULL, 0, ENC_MAX, IDS(2, 3), __LINE__);
    /* special tokens in the raw text are matched verbatim, as HF's added tokens */
    EXPECT(wp, "x[MASK]y", 2, 25, 4, 26, 3);
    EXPECT(wp, "[mask]", 2, 33, 35, 34, 3);
    EXPECT(wp, "[MASK", 2, 33, 35, 3);
    EXPECT(wp, "[[SEP]]", 2, 33, 3, 34, 3);
    EXPECT(wp, "[CLS][PAD][UNK]", 2, 2, 0, 1, 3);
    EXPECT(wp, "[MA\x01SK]", 2, 33, 35, 34, 3); /* matched before cleaning, so not here */

    int32_t ids[4];
    size_t n = 99;
    assert_int_equal(sr_wordpiece_encode(wp, "a", 1, ids, 1, &n), -EINVAL);
    assert_int_equal(sr_wordpiece_encode(wp, "a", 1, ids, 0, &n), -EINVAL);
    assert_int_equal(sr_wordpiece_encode(wp, NULL, 1, ids, 4, &n), -EINVAL);
    assert_int_equal(sr_wordpiece_encode(NULL, "a", 1, ids, 4, &n), -EINVAL);
    assert_int_equal(sr_wordpiece_encode(wp, "a", 1, NULL, 4, &n), -EINVAL);
    assert_int_equal(n, 99);
}

/* ---- loading -------------------------------------------------------------------------------------- */

static int load_buf(const char *s, sr_wordpiece **ret, char *err, size_t errlen) {
    return sr_wordpiece_load_vocab_buffer(s, strlen(s), ret, err, errlen);
}

static void expect_vocab_error(const char *s, const char *msg_part) {
    sr_wordpiece *wp = NULL;
    char err[256] = "";
    int r = load_buf(s, &wp, err, sizeof(err));
    assert_int_equal(r, -EINVAL);
    assert_null(wp);
    if (!strstr(err, msg_part))
        fail_msg("error \"%s\" does not mention \"%s\"", err, msg_part);
    assert_non_null(strstr(err, "could not load"));
}

static void test_vocab_format(void **state) {
    (void)state;
    sr_wordpiece *wp = NULL;
    char err[256] = "";
    /* "\r\n", "\r" and "\n" all end a line; a last line without one counts */
    assert_int_equal(load_buf("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\nfoo", &wp, err, sizeof(err)), 0);
    assert_int_equal(sr_wordpiece_vocab_size(wp), 5);
    assert_int_equal(sr_wordpiece_id(wp, "foo", 3), 4);
    assert_int_equal(sr_wordpiece_sep(wp), 3);
    wp = sr_wordpiece_free(wp);
    /* a later duplicate wins the lookup; an empty line is an id with an empty token */
    assert_int_equal(load_buf("[PAD]\n[UNK]\n[CLS]\n[SEP]\nfoo\n\nfoo\n", &wp, err, sizeof(err)), 0);
    assert_int_equal(sr_wordpiece_vocab_size(wp), 7);
    assert_int_equal(sr_wordpiece_id(wp, "foo", 3), 6);
    assert_string_equal(sr_wordpiece_token(wp, 4), "foo");
    assert_string_equal(sr_wordpiece_token(wp, 5), "");
    check_ids(wp, "FOO bar", 7, 16, IDS(2, 6, 1, 3), __LINE__);
    wp = sr_wordpiece_free(wp);

    expect_vocab_error("[PAD]\n[UNK]\n[SEP]\n", "[CLS]");
    expect_vocab_error("[PAD]\n[CLS]\n[SEP]\n", "[UNK]");
    expect_vocab_error("[UNK]\n[CLS]\n[SEP]\n", "[PAD]");
    expect_vocab_error("", "[CLS]");
    expect_vocab_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\xff\n", "line 5");
    char long_line[400];
    memset(long_line, 'a', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = '\0';
    char buf[512];
    snprintf(buf, sizeof(buf), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n%s\n", long_line);
    expect_vocab_error(buf, "line 5");
    assert_int_equal(sr_wordpiece_load_vocab_buffer(NULL, 3, &wp, NULL, 0), -EINVAL);
}

/* Writes data to a new temporary file whose name ends in suffix; path receives its name. */
static void write_temp(char *path, size_t pathlen, const char *suffix, const char *data) {
    int n = snprintf(path, pathlen, "/tmp/test_wordpiece_XXXXXX%s", suffix);
    assert_true(n > 0 && (size_t)n < pathlen);
    int fd = mkostemps(path, (int)strlen(suffix), O_CLOEXEC);
    assert_true(fd >= 0);
    size_t len = strlen(data);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Writes data to a temporary file with the suffix, loads it, removes the file. */
static sr_wordpiece *load_temp(const char *suffix, const char *data) {
    char path[64];
    write_temp(path, sizeof(path), suffix, data);
    sr_wordpiece *wp = NULL;
    char err[256] = "";
    int r = sr_wordpiece_load(path, &wp, err, sizeof(err));
    unlink(path);
    if (r != 0)
        fail_msg("could not load %s: %s", path, err);
    return wp;
}

static void test_load_file(void **state) {
    (void)state;
    sr_wordpiece *wp = load_temp(".txt", test_vocab);
    char err[256] = "";
    assert_int_equal(sr_wordpiece_vocab_size(wp), 47);
    check_ids(wp, "Hello, World!", 13, 16, IDS(2, 18, 16, 19, 27, 3), __LINE__);
    sr_wordpiece_free(wp);

    wp = NULL;
    assert_int_equal(sr_wordpiece_load("/nonexistent/vocab.txt", &wp, err, sizeof(err)), -ENOENT);
    assert_null(wp);
    assert_non_null(strstr(err, "/nonexistent/vocab.txt"));
}

/* A tokenizer.json with a small vocabulary; %s slots: model type, normalizer, pre_tokenizer,
 * added tokens, vocabulary extra. */
static const char json_fmt[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\n"
    " \"added_tokens\":[%s],\n"
    " \"normalizer\":%s,\n"
    " \"pre_tokenizer\":%s,\n"
    " \"post_processor\":null,\"decoder\":null,\n"
    " \"model\":{\"type\":\"%s\",\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":\"++\",\n"
    "   \"max_input_chars_per_word\":5,\n"
    "   \"vocab\":{\"[PAD]\":0,\"<unk>\":1,\"[CLS]\":2,\"[SEP]\":3,\"<mask>\":4,\"hello\":5,\"h\":6,\"++ello\":7,"
    "\"++s\":8,\"!\":9%s}}}\n";
static const char json_added[] =
    "{\"id\":0,\"content\":\"[PAD]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true},"
    "{\"id\":4,\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true}";
static const char json_norm[] = "{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
                                "\"strip_accents\":null,\"lowercase\":true}";
static const char json_pre[] = "{\"type\":\"BertPreTokenizer\"}";

static int load_json(const char *added, const char *norm, const char *pre, const char *type, const char *extra,
                     sr_wordpiece **ret, char *err, size_t errlen) {
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), json_fmt, added, norm, pre, type, extra);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return sr_wordpiece_load_json_buffer(buf, (size_t)n, ret, err, errlen);
}

static void expect_json_error(const char *added, const char *norm, const char *pre, const char *type,
                              const char *extra, const char *msg_part) {
    sr_wordpiece *wp = NULL;
    char err[256] = "";
    int r = load_json(added, norm, pre, type, extra, &wp, err, sizeof(err));
    assert_int_equal(r, -EINVAL);
    assert_null(wp);
    if (!strstr(err, msg_part))
        fail_msg("error \"%s\" does not mention \"%s\"", err, msg_part);
}

static void test_tokenizer_json(void **state) {
    (void)state;
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), json_fmt, json_added, json_norm, json_pre, "WordPiece", "");
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    sr_wordpiece *wp = load_temp(".json", buf);
    char err[256] = "";
    assert_int_equal(sr_wordpiece_vocab_size(wp), 10);
    assert_int_equal(sr_wordpiece_unk(wp), 1);
    assert_int_equal(sr_wordpiece_cls(wp), 2);
    /* unk_token, the "++" prefix, max_input_chars_per_word 5 and the added tokens come from the file */
    EXPECT(wp, "Hello hellos hi!", 2, 5, 1, 1, 9, 3);
    EXPECT(wp, "helloo", 2, 1, 3);
    EXPECT(wp, "x<mask>[PAD][CLS]", 2, 1, 4, 0, 1, 1, 1, 3); /* [CLS] is not an added token here */
    sr_wordpiece_free(wp);

    /* continuation pieces use the file's prefix */
    wp = NULL;
    assert_int_equal(load_json("", json_norm, json_pre, "WordPiece", ",\"hel\":10,\"##l\":11", &wp, err,
                               sizeof(err)),
                     0);
    EXPECT(wp, "HELS", 2, 10, 8, 3);
    EXPECT(wp, "hell", 2, 1, 3);
    sr_wordpiece_free(wp);

    expect_json_error(json_added, json_norm, json_pre, "BPE", "", "WordPiece");
    expect_json_error(json_added, "{\"type\":\"Lowercase\"}", json_pre, "WordPiece", "", "BertNormalizer");
    expect_json_error(json_added, "null", json_pre, "WordPiece", "", "BertNormalizer");
    expect_json_error(json_added,
                      "{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
                      "\"strip_accents\":null,\"lowercase\":false}",
                      json_pre, "WordPiece", "", "lowercase");
    expect_json_error(json_added,
                      "{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
                      "\"strip_accents\":false,\"lowercase\":true}",
                      json_pre, "WordPiece", "", "strip_accents");
    expect_json_error(json_added, json_norm, "{\"type\":\"Whitespace\"}", "WordPiece", "", "BertPreTokenizer");
    expect_json_error(json_added, json_norm, json_pre, "WordPiece", ",\"dup\":5", "used twice");
    expect_json_error(json_added, json_norm, json_pre, "WordPiece", ",\"far\":99", "not in");
    expect_json_error("{\"id\":4,\"content\":\"<mask>\",\"lstrip\":true,\"normalized\":false}", json_norm, json_pre,
                      "WordPiece", "", "unsupported");
    expect_json_error("{\"id\":4,\"content\":\"<mask>\"}", json_norm, json_pre, "WordPiece", "", "unsupported");

    /* malformed, missing parts */
    sr_wordpiece *bad = NULL;
    assert_int_equal(sr_wordpiece_load_json_buffer("{\"model\":", 9, &bad, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "could not load tokenizer"));
    assert_int_equal(sr_wordpiece_load_json_buffer("[]", 2, &bad, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "model"));
    const char *no_cls = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":"
                         "true,\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                         "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
                         "\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[SEP]\":2}}}";
    assert_int_equal(sr_wordpiece_load_json_buffer(no_cls, strlen(no_cls), &bad, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "[CLS]"));
    assert_null(bad);
}

/* ---- the real vocabulary ------------------------------------------------------------------------- */

#ifdef SR_EMBED_MODEL_DIR
/* Expected ids from Hugging Face's BertTokenizerFast for all-MiniLM-L6-v2. */
static void check_real(const char *file) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", SR_EMBED_MODEL_DIR, file);
    sr_wordpiece *wp = NULL;
    char err[1200] = "";
    int r = sr_wordpiece_load(path, &wp, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(sr_wordpiece_vocab_size(wp), 30522);
    assert_int_equal(sr_wordpiece_cls(wp), 101);
    assert_int_equal(sr_wordpiece_sep(wp), 102);
    assert_int_equal(sr_wordpiece_pad(wp), 0);
    assert_int_equal(sr_wordpiece_unk(wp), 100);
    assert_int_equal(sr_wordpiece_id(wp, "hello", 5), 7592);
    EXPECT(wp, "hello world", 101, 7592, 2088, 102);
    EXPECT(wp, "Hello world! Caf\xc3\xa9 na\xc3\xafve /etc/shadow user@host [MASK] x", 101, 7592, 2088, 999, 7668,
           15743, 1013, 4385, 1013, 5192, 5310, 1030, 3677, 103, 1060, 102);
    EXPECT_MAX(wp, "Hello world! Caf\xc3\xa9 na\xc3\xafve /etc/shadow", 6, 101, 7592, 2088, 999, 7668, 102);
    EXPECT(wp, "sshd[2314]: Failed password", 101, 7020, 14945, 1031, 20304, 2549, 1033, 1024, 3478, 20786, 102);
    sr_wordpiece_free(wp);
}

static void test_real_vocabulary(void **state) {
    (void)state;
    static const char *const files[] = {"vocab.txt", "tokenizer.json"};
    int found = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", SR_EMBED_MODEL_DIR, files[i]);
        if (stat(path, &st) == 0) {
            check_real(files[i]);
            found++;
        }
    }
    if (found == 0)
        fail_msg("no vocab.txt or tokenizer.json in %s (SR_EMBED_MODEL_DIR): run `make model`", SR_EMBED_MODEL_DIR);
}
#else
static void test_real_vocabulary(void **state) {
    (void)state;
    print_message("SR_EMBED_MODEL_DIR not set at build time: the real vocabulary is not checked\n");
    skip();
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lowercase_and_accents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_punctuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cjk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hf_unicode_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whitespace_and_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_continuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_special, setup, teardown),
        cmocka_unit_test(test_vocab_format),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_tokenizer_json),
        cmocka_unit_test(test_real_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
