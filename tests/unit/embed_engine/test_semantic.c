/* Semantic sanity of the embedding engine on the real model: attacker command lines and log
 * texts of one intent sit closer to that intent's anchor than benign texts do.
 *
 * testdata/embed/semantic.tsv holds groups of "group<TAB>role<TAB>text" lines (format at the top
 * of the file). Per group, embedded in one batch:
 *  - separation: min cosine(anchor, positive) > max cosine(anchor, negative);
 *  - centroids: the anchor is closer to its own positives' centroid than to any other group's.
 * known_miss lines (same intent, but measured below a negative) are embedded and printed with
 * their cosines, never asserted. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "sr_embed.h"

#define SEM_LINE_MAX 4096   /* bytes per data line */
#define SEM_ITEMS_MAX 1024  /* texts in the file */
#define SEM_GROUPS_MAX 32
#define SEM_GROUP_NAME_MAX 64
#define SEM_MIN_GROUPS 6

typedef enum { ROLE_ANCHOR, ROLE_POSITIVE, ROLE_NEGATIVE, ROLE_KNOWN_MISS } sem_role;

static const char *const role_names[] = {"anchor", "positive", "negative", "known_miss"};

typedef struct {
    size_t group;
    sem_role role;
    char *text;
    unsigned lineno;
    float cos; /* to the group's anchor */
} sem_item;

typedef struct {
    char name[SEM_GROUP_NAME_MAX];
    size_t anchor; /* item index */
    size_t n_anchor, n_pos, n_neg, n_miss;
    float *centroid; /* normalized mean of the positives */
} sem_group;

typedef struct {
    sem_item *items;
    size_t n;
    sem_group groups[SEM_GROUPS_MAX];
    size_t n_groups;
    size_t dim;
    float *vecs; /* n * dim, row i for item i */
} fixture;

static int parse_role(const char *s, sem_role *ret) {
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(s, role_names[i]) == 0) {
            *ret = (sem_role)i;
            return 0;
        }
    return -EINVAL;
}

static size_t group_index(fixture *f, const char *name, unsigned lineno) {
    for (size_t g = 0; g < f->n_groups; g++)
        if (strcmp(f->groups[g].name, name) == 0)
            return g;
    if (f->n_groups >= SEM_GROUPS_MAX)
        fail_msg("%s:%u: more than %d groups", SR_EMBED_SEMANTIC, lineno, SEM_GROUPS_MAX);
    size_t len = strlen(name);
    if (len == 0 || len >= SEM_GROUP_NAME_MAX)
        fail_msg("%s:%u: group name of %zu bytes (limit 1..%d)", SR_EMBED_SEMANTIC, lineno, len,
                 SEM_GROUP_NAME_MAX - 1);
    memcpy(f->groups[f->n_groups].name, name, len + 1);
    return f->n_groups++;
}

static void load_data(fixture *f) {
    FILE *in = fopen(SR_EMBED_SEMANTIC, "re");
    if (!in)
        fail_msg("could not open %s: %s", SR_EMBED_SEMANTIC, strerror(errno));
    f->items = calloc(SEM_ITEMS_MAX, sizeof(sem_item));
    assert_non_null(f->items);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        lineno++;
        if ((size_t)len > SEM_LINE_MAX)
            fail_msg("%s:%u: line of %zd bytes (limit %d)", SR_EMBED_SEMANTIC, lineno, len, SEM_LINE_MAX);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *tab1 = strchr(line, '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab2 || tab2[1] == '\0')
            fail_msg("%s:%u: expected group<TAB>role<TAB>text", SR_EMBED_SEMANTIC, lineno);
        *tab1 = *tab2 = '\0';
        sem_role role = ROLE_ANCHOR;
        if (parse_role(tab1 + 1, &role) < 0)
            fail_msg("%s:%u: unknown role \"%s\"", SR_EMBED_SEMANTIC, lineno, tab1 + 1);
        if (f->n >= SEM_ITEMS_MAX)
            fail_msg("%s:%u: more than %d texts", SR_EMBED_SEMANTIC, lineno, SEM_ITEMS_MAX);
        size_t g = group_index(f, line, lineno);
        sem_item *it = &f->items[f->n];
        it->group = g;
        it->role = role;
        it->lineno = lineno;
        it->text = strdup(tab2 + 1);
        assert_non_null(it->text);
        sem_group *gr = &f->groups[g];
        switch (role) {
        case ROLE_ANCHOR:
            gr->anchor = f->n;
            gr->n_anchor++;
            break;
        case ROLE_POSITIVE: gr->n_pos++; break;
        case ROLE_NEGATIVE: gr->n_neg++; break;
        case ROLE_KNOWN_MISS: gr->n_miss++; break;
        }
        f->n++;
    }
    free(line);
    fclose(in);
    for (size_t g = 0; g < f->n_groups; g++) {
        const sem_group *gr = &f->groups[g];
        if (gr->n_anchor != 1 || gr->n_pos == 0 || gr->n_neg == 0)
            fail_msg("%s: group %s needs one anchor, a positive and a negative (has %zu, %zu, %zu)",
                     SR_EMBED_SEMANTIC, gr->name, gr->n_anchor, gr->n_pos, gr->n_neg);
    }
    if (f->n_groups < SEM_MIN_GROUPS)
        fail_msg("%s: %zu groups (at least %d expected)", SR_EMBED_SEMANTIC, f->n_groups, SEM_MIN_GROUPS);
}

/* Embeds each group in one batch and fills the cosines to its anchor and its centroid. */
static void embed_groups(fixture *f, sr_embed *e) {
    f->dim = sr_embed_dim(e);
    f->vecs = calloc(f->n * f->dim, sizeof(float));
    assert_non_null(f->vecs);
    const char **texts = calloc(f->n, sizeof(char *));
    size_t *rows = calloc(f->n, sizeof(size_t));
    float *out = calloc(f->n * f->dim, sizeof(float));
    assert_non_null(texts);
    assert_non_null(rows);
    assert_non_null(out);
    char err[1024];
    for (size_t g = 0; g < f->n_groups; g++) {
        size_t k = 0;
        for (size_t i = 0; i < f->n; i++)
            if (f->items[i].group == g) {
                texts[k] = f->items[i].text;
                rows[k++] = i;
            }
        if (sr_embed_batch(e, texts, NULL, k, out, err, sizeof(err)) < 0)
            fail_msg("could not embed group %s: %s", f->groups[g].name, err);
        for (size_t j = 0; j < k; j++)
            memcpy(f->vecs + rows[j] * f->dim, out + j * f->dim, f->dim * sizeof(float));
    }
    free(texts);
    free(rows);
    free(out);

    for (size_t g = 0; g < f->n_groups; g++) {
        sem_group *gr = &f->groups[g];
        const float *a = f->vecs + gr->anchor * f->dim;
        gr->centroid = calloc(f->dim, sizeof(float));
        assert_non_null(gr->centroid);
        double *sum = calloc(f->dim, sizeof(double));
        assert_non_null(sum);
        for (size_t i = 0; i < f->n; i++) {
            if (f->items[i].group != g)
                continue;
            f->items[i].cos = sr_embed_cosine(a, f->vecs + i * f->dim, f->dim);
            if (f->items[i].role == ROLE_POSITIVE)
                for (size_t d = 0; d < f->dim; d++)
                    sum[d] += f->vecs[i * f->dim + d];
        }
        double norm = 0;
        for (size_t d = 0; d < f->dim; d++)
            norm += sum[d] * sum[d];
        norm = sqrt(norm);
        assert_true(norm > 0);
        for (size_t d = 0; d < f->dim; d++)
            gr->centroid[d] = (float)(sum[d] / norm);
        free(sum);
    }
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    load_data(f);
    sr_embed_options o = {.model_dir = SR_EMBED_MODEL_DIR, .provider = SR_EMBED_PROVIDER_CPU};
    sr_embed *e = NULL;
    char err[1024];
    if (sr_embed_open(&o, &e, err, sizeof(err)) < 0)
        fail_msg("could not open the engine: %s", err);
    embed_groups(f, e);
    sr_embed_free(e);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f)
        return 0;
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i].text);
    for (size_t g = 0; g < f->n_groups; g++)
        free(f->groups[g].centroid);
    free(f->items);
    free(f->vecs);
    free(f);
    return 0;
}

static int by_cosine_desc(const void *pa, const void *pb) {
    const sem_item *a = *(const sem_item *const *)pa, *b = *(const sem_item *const *)pb;
    return (a->cos < b->cos) - (a->cos > b->cos);
}

/* Prints the group's texts by cosine to the anchor, highest first; a positive or known_miss
 * at or below the highest negative is marked. */
static void print_group(const fixture *f, size_t g, float max_neg) {
    const sem_item **sorted = calloc(f->n, sizeof(*sorted));
    assert_non_null(sorted);
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].group == g && f->items[i].role != ROLE_ANCHOR)
            sorted[k++] = &f->items[i];
    qsort(sorted, k, sizeof(*sorted), by_cosine_desc);
    print_message("group %s, anchor: %s\n", f->groups[g].name, f->items[f->groups[g].anchor].text);
    for (size_t j = 0; j < k; j++) {
        const sem_item *it = sorted[j];
        int below = (it->role == ROLE_POSITIVE || it->role == ROLE_KNOWN_MISS) && it->cos <= max_neg;
        print_message("  %7.4f  %-10s %s%s\n", (double)it->cos, role_names[it->role], it->text,
                      below ? "   <- at or below a negative" : "");
    }
    free(sorted);
}

static void test_positives_beat_negatives(void **state) {
    fixture *f = *state;
    size_t failed = 0;
    for (size_t g = 0; g < f->n_groups; g++) {
        float min_pos = INFINITY, max_neg = -INFINITY;
        const char *worst_pos = NULL, *best_neg = NULL;
        for (size_t i = 0; i < f->n; i++) {
            const sem_item *it = &f->items[i];
            if (it->group != g)
                continue;
            if (it->role == ROLE_POSITIVE && it->cos < min_pos) {
                min_pos = it->cos;
                worst_pos = it->text;
            } else if (it->role == ROLE_NEGATIVE && it->cos > max_neg) {
                max_neg = it->cos;
                best_neg = it->text;
            }
        }
        print_group(f, g, max_neg);
        int ok = min_pos > max_neg;
        print_message("  %s: %zu positives, %zu negatives, %zu known misses; lowest positive %.4f, highest "
                      "negative %.4f, margin %+.4f\n\n",
                      ok ? "ok" : "FAILED", f->groups[g].n_pos, f->groups[g].n_neg, f->groups[g].n_miss,
                      (double)min_pos, (double)max_neg, (double)(min_pos - max_neg));
        if (!ok) {
            print_message("  group %s: positive \"%s\" (%.4f) is not above negative \"%s\" (%.4f)\n\n",
                          f->groups[g].name, worst_pos, (double)min_pos, best_neg, (double)max_neg);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void test_anchor_nearest_own_centroid(void **state) {
    fixture *f = *state;
    size_t failed = 0;
    print_message("cosine of each anchor (row) to each group's positive centroid (column)\n");
    for (size_t g = 0; g < f->n_groups; g++) {
        const float *a = f->vecs + f->groups[g].anchor * f->dim;
        float own = sr_embed_cosine(a, f->groups[g].centroid, f->dim);
        char row[1024];
        size_t used = 0;
        size_t nearest_other = g;
        float other = -INFINITY;
        for (size_t h = 0; h < f->n_groups; h++) {
            float c = sr_embed_cosine(a, f->groups[h].centroid, f->dim);
            int w = snprintf(row + used, sizeof(row) - used, " %s=%.3f", f->groups[h].name, (double)c);
            if (w > 0)
                used = (size_t)w < sizeof(row) - used ? used + (size_t)w : sizeof(row) - 1;
            if (h != g && c > other) {
                other = c;
                nearest_other = h;
            }
        }
        int ok = own > other;
        print_message("  %-20s%s  %s (own %.3f, nearest other %s %.3f)\n", f->groups[g].name, row,
                      ok ? "ok" : "FAILED", (double)own, f->groups[nearest_other].name, (double)other);
        if (!ok)
            failed++;
    }
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positives_beat_negatives),
        cmocka_unit_test(test_anchor_nearest_own_centroid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
