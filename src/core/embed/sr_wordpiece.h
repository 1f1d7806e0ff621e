/* BERT uncased WordPiece tokenizer, token for token what Hugging Face's BertTokenizerFast (the
 * `tokenizers` BertNormalizer + BertPreTokenizer + WordPiece pipeline) produces for models such
 * as all-MiniLM-L6-v2:
 *
 *   raw text -> added tokens ([CLS], [SEP], [PAD], [UNK], [MASK], ...) matched verbatim
 *            -> clean (drop NUL, U+FFFD, control/format/private-use; whitespace -> ' ')
 *            -> spaces around CJK ideographs -> NFD, drop nonspacing marks -> lowercase
 *            -> split on whitespace, each punctuation character alone
 *            -> greedy longest-match WordPiece ("##" continuations; [UNK] for a word that
 *               cannot be covered or is longer than max_input_chars_per_word characters)
 *            -> [CLS] pieces... [SEP], truncated to max_ids
 *
 * docs/internals/wordpiece.md has the details and the points where HF's tables differ from
 * plain Unicode. Library code: never logs; errors are a negative errno plus a message. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SR_WORDPIECE_FILE_MAX (64u * 1024 * 1024) /* vocab.txt or tokenizer.json */
#define SR_WORDPIECE_VOCAB_MAX (1u << 20)         /* entries */
#define SR_WORDPIECE_TOKEN_MAX 256                /* bytes per vocabulary or added token */
#define SR_WORDPIECE_PREFIX_MAX 16                /* bytes of continuing_subword_prefix */
#define SR_WORDPIECE_WORD_CHARS_MAX 256           /* upper bound of max_input_chars_per_word */
#define SR_WORDPIECE_ADDED_MAX 256                /* added tokens matched in the raw text */

typedef struct sr_wordpiece sr_wordpiece;

/* Loads a vocabulary: a BERT vocab.txt (one token per line, id = line number; '\n', "\r\n" or
 * '\r' end a line; a later duplicate wins the lookup) or a Hugging Face tokenizer.json (model.type
 * "WordPiece" with model.vocab {token: id} dense from 0, model.unk_token,
 * model.continuing_subword_prefix, model.max_input_chars_per_word; normalizer BertNormalizer
 * with lowercase, pre_tokenizer BertPreTokenizer; added_tokens matched verbatim). Chosen by the
 * file name suffix ".json". [CLS], [SEP], [PAD] and [UNK] (or model.unk_token) must exist.
 * Returns 0, -ENOENT and the like for the file, -EFBIG, -EINVAL (malformed or unsupported),
 * -ENOMEM; the reason goes to err (may be NULL). */
int sr_wordpiece_load(const char *path, sr_wordpiece **ret, char *err, size_t errlen);
/* Same from memory, vocab.txt format, for tests and fuzzing. */
int sr_wordpiece_load_vocab_buffer(const char *buf, size_t len, sr_wordpiece **ret, char *err, size_t errlen);
/* Same from memory, tokenizer.json format. */
int sr_wordpiece_load_json_buffer(const char *buf, size_t len, sr_wordpiece **ret, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
sr_wordpiece *sr_wordpiece_free(sr_wordpiece *wp);

/* Number of ids: every id in [0, vocab_size) has a token. */
size_t sr_wordpiece_vocab_size(const sr_wordpiece *wp);
int32_t sr_wordpiece_cls(const sr_wordpiece *wp);
int32_t sr_wordpiece_sep(const sr_wordpiece *wp);
int32_t sr_wordpiece_pad(const sr_wordpiece *wp);
int32_t sr_wordpiece_unk(const sr_wordpiece *wp);
/* Id of token[0..len) (exact bytes), -1 when absent. */
int32_t sr_wordpiece_id(const sr_wordpiece *wp, const char *token, size_t len);
/* NUL-terminated token of id, NULL when out of range. Valid until sr_wordpiece_free. */
const char *sr_wordpiece_token(const sr_wordpiece *wp, int32_t id);

/* Encodes text (len bytes of UTF-8; an invalid sequence counts as U+FFFD, which the cleaning
 * removes) as [CLS] tokens... [SEP], truncated so that the total is at most max_ids
 * (max_ids >= 2), as HF does with truncation=True, max_length=max_ids. Writes the ids to
 * ids[0..max_ids) and their count to *ret_n. Work is bounded: scanning stops once max_ids - 2
 * pieces have been produced. No allocation. Returns 0 or -EINVAL (NULL arguments, text NULL
 * with len > 0, max_ids < 2). Thread-safe: wp is read-only after load. */
int sr_wordpiece_encode(const sr_wordpiece *wp, const char *text, size_t len, int32_t *ids, size_t max_ids,
                        size_t *ret_n);
