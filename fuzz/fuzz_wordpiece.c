/* Fuzz target: the WordPiece tokenizer (src/core/embed/sr_wordpiece) over arbitrary bytes, with a
 * vocabulary built here (ASCII, "##" pieces, multi-byte tokens) so it runs without the model.
 * The first byte picks max_ids. Every output must be [CLS] ... [SEP], at most max_ids long, with
 * ids in range, and a prefix of the untruncated output. The input is also tried as a vocab.txt
 * and as a tokenizer.json. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_wordpiece.h"

#define FULL_MAX 4096

static const char *const words[] = {
    "the", "a", "an", "of", "to", "in", "for", "from", "root", "user", "password", "failed", "accepted", "session",
    "opened", "closed", "for", "by", "port", "ssh", "sshd", "sudo", "pam", "unix", "auth", "kernel", "etc", "shadow",
    "passwd", "bin", "bash", "usr", "tmp", "var", "log", "home", "host", "local", "error", "warning", "denied",
    "connection", "invalid", "un", "cafe", "naive", "hello", "world", "x", "y", "i", "k",
    "\xc3\x9f",                 /* ß */
    "\xcf\x83",                 /* σ */
    "\xe4\xb8\xad",             /* 中 */
    "\xe6\x96\x87",             /* 文 */
    "\xef\xac\x81",             /* ﬁ */
    "\xf0\x9f\x99\x82",         /* 🙂 */
    "\xd0\xbf\xd1\x80\xd0\xb8", /* при */
    "\xe3\x81\x82",             /* あ */
};
static const char *const pieces[] = {
    "s", "ed", "ing", "er", "ly", "d", "aff", "able", "ello", "word", "ion", "ions", "al",
    "\xce\xb1", "\xcf\x83", "\xf0\x9f\x99\x82", "\xd0\xb2\xd0\xb5\xd1\x82", "\xe3\x81\x84",
};

/* Builds the harness vocabulary as vocab.txt text into buf; returns its length. */
static size_t build_vocab(char *buf, size_t cap) {
    size_t len = 0;
#define ADD(...) len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__)
    ADD("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int c = 33; c < 127; c++) {
        if (c >= 'A' && c <= 'Z')
            continue;
        ADD("%c\n", c);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            ADD("##%c\n", c);
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        ADD("%s\n", words[i]);
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
        ADD("##%s\n", pieces[i]);
    for (int a = 'a'; a <= 'f'; a++)
        for (int b = '0'; b <= '9'; b++)
            ADD("##%c%c\n", a, b);
#undef ADD
    return len;
}

static void check(const sr_wordpiece *wp, const char *text, size_t len, size_t max_ids) {
    int32_t full[FULL_MAX], ids[FULL_MAX];
    size_t nfull = 0, n = 0;
    if (sr_wordpiece_encode(wp, text, len, full, FULL_MAX, &nfull) != 0 ||
        sr_wordpiece_encode(wp, text, len, ids, max_ids, &n) != 0)
        abort();
    size_t size = sr_wordpiece_vocab_size(wp);
    if (n < 2 || n > max_ids || nfull < n || nfull > FULL_MAX)
        abort();
    if (ids[0] != sr_wordpiece_cls(wp) || ids[n - 1] != sr_wordpiece_sep(wp) || full[nfull - 1] != ids[n - 1])
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= size || sr_wordpiece_token(wp, ids[i]) == NULL)
            abort();
    /* truncation keeps a prefix: the same pieces, cut */
    if (memcmp(ids, full, (n - 1) * sizeof(*ids)) != 0)
        abort();
    if (n < max_ids && n != nfull)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 64 * 1024)
        return 0;
    char vocab[8192];
    size_t vlen = build_vocab(vocab, sizeof(vocab));
    if (vlen >= sizeof(vocab))
        abort();
    sr_wordpiece *wp = NULL;
    if (sr_wordpiece_load_vocab_buffer(vocab, vlen, &wp, NULL, 0) != 0)
        abort();
    size_t max_ids = 2;
    const char *text = (const char *)data;
    if (size > 0) {
        max_ids = data[0] >= 0xf0 ? 512 : 2 + data[0] % 64u;
        text++;
        size--;
    }
    check(wp, text, size, max_ids);
    sr_wordpiece_free(wp);

    /* the input as a vocabulary */
    char err[256];
    sr_wordpiece *own = NULL;
    if (sr_wordpiece_load_vocab_buffer(text, size, &own, err, sizeof(err)) == 0) {
        check(own, text, size, max_ids);
        own = sr_wordpiece_free(own);
    }
    if (sr_wordpiece_load_json_buffer(text, size, &own, err, sizeof(err)) == 0) {
        check(own, text, size, max_ids);
        sr_wordpiece_free(own);
    }
    return 0;
}
