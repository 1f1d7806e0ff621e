/* Declarative configuration: one table of (key, type, default, bounds, offset, help) drives
 * parsing, validation, --check-config, dumping and the documented sample file.
 *
 * File format: one "key = value" per line; '#' starts a comment line; blank lines ignored;
 * values may be wrapped in double quotes. Unknown keys and bad values are errors that name
 * the file, line and key. Environment overrides are not read here: the caller decides. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    SR_CFG_STRING,   /* char * (heap, owned by the config struct; "" default allowed) */
    SR_CFG_INT,      /* int64_t, bounds inclusive */
    SR_CFG_BOOL,     /* int, 0 or 1 */
    SR_CFG_DURATION, /* int64_t milliseconds; "500ms", "15s", "2m", "1h" */
    SR_CFG_SIZE,     /* uint64_t bytes; "64k", "100M", "2G" (bounds as int64) */
} sr_config_type;

typedef struct {
    const char *key;
    sr_config_type type;
    size_t offset;    /* offsetof(struct, field) */
    const char *def;  /* default, in file syntax */
    int64_t min, max; /* for INT, DURATION (ms) and SIZE; ignored when min == max == 0 */
    const char *help;
} sr_config_entry;

typedef struct {
    const sr_config_entry *entries;
    size_t n;
} sr_config_table;

/* Writes every default into obj. Returns 0 or a negative errno (a bad default is a bug). */
int sr_config_defaults(const sr_config_table *t, void *obj);
/* Sets one key from text. err receives a message on failure. */
int sr_config_set(const sr_config_table *t, void *obj, const char *key, const char *value, char *err,
                  size_t errlen);
/* Parses a whole buffer (len bytes, need not be NUL-terminated); name is used in messages. */
int sr_config_parse(const sr_config_table *t, void *obj, const char *name, const char *buf, size_t len, char *err,
                    size_t errlen);
/* Reads and parses a file (at most 1 MiB). */
int sr_config_load_file(const sr_config_table *t, void *obj, const char *path, char *err, size_t errlen);
/* Prints the effective configuration in file syntax. */
void sr_config_dump(const sr_config_table *t, const void *obj, FILE *out);
/* Prints a commented sample file with every default and its help. */
void sr_config_print_doc(const sr_config_table *t, FILE *out);
/* Frees the strings the table owns in obj; obj itself belongs to the caller. */
void sr_config_free(const sr_config_table *t, void *obj);
