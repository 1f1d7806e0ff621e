/* Fuzz target: the configuration file parser (a table with every value type). */
#include <stddef.h>
#include <stdint.h>

#include "sr_config.h"

typedef struct {
    char *s;
    int64_t i;
    int b;
    int64_t d;
    uint64_t z;
} fuzz_cfg;

static const sr_config_entry entries[] = {
    {"a.string", SR_CFG_STRING, offsetof(fuzz_cfg, s), "x", 0, 0, "a string"},
    {"a.int", SR_CFG_INT, offsetof(fuzz_cfg, i), "5", 1, 100, "an int"},
    {"a.bool", SR_CFG_BOOL, offsetof(fuzz_cfg, b), "true", 0, 0, "a bool"},
    {"a.duration", SR_CFG_DURATION, offsetof(fuzz_cfg, d), "15s", 1000, 3600000, "a duration"},
    {"a.size", SR_CFG_SIZE, offsetof(fuzz_cfg, z), "64M", 0, 0, "a size"},
};
static const sr_config_table table = {entries, sizeof(entries) / sizeof(entries[0])};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_cfg c = {0};
    char err[512];
    if (sr_config_defaults(&table, &c) == 0)
        (void)sr_config_parse(&table, &c, "fuzz", (const char *)data, size, err, sizeof(err));
    sr_config_free(&table, &c);
    return 0;
}
