/* The fields SRQL knows, their SQL columns and value types. */
#include <string.h>
#include <strings.h>

#include "srql_internal.h"

/* In result order: the events columns of a query's answer. */
static const srql_field catalog[] = {
    {"time", "e.time", SRQL_F_TIME, SRQL_COL_TIMESTAMP, false, false, true},
    {"id", "e.id", SRQL_F_UUID, SRQL_COL_TEXT, false, false, false},
    {"host", "e.host", SRQL_F_TEXT, SRQL_COL_TEXT, false, true, true},
    {"agent_id", "e.agent_id", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"source_type", "e.source_type", SRQL_F_TEXT, SRQL_COL_TEXT, false, true, true},
    {"severity", "e.severity", SRQL_F_SEVERITY, SRQL_COL_SEVERITY, false, true, true},
    {"severity_text", "e.severity_text", SRQL_F_TEXT, SRQL_COL_TEXT, false, true, true},
    {"program", "e.program", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"pid", "e.pid", SRQL_F_INT, SRQL_COL_INTEGER, true, true, true},
    {"user_name", "e.user_name", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"src_ip", "e.src_ip", SRQL_F_IP, SRQL_COL_IP, true, true, true},
    {"outcome", "e.outcome", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"action", "e.action", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"rule", "e.rule", SRQL_F_TEXT, SRQL_COL_TEXT, true, true, true},
    {"message", "e.message", SRQL_F_MESSAGE, SRQL_COL_TEXT, false, false, false},
    {"fields", "e.fields", SRQL_F_TEXT, SRQL_COL_JSON, false, false, false},
    {"tags", "e.tags", SRQL_F_TAGS, SRQL_COL_TEXT_ARRAY, false, false, false},
};

static const struct {
    const char *alias;
    const char *name;
} aliases[] = {
    {"timestamp", "time"}, {"agent", "agent_id"}, {"type", "source_type"}, {"user", "user_name"},
    {"msg", "message"},
};

static const srql_field *by_name(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++)
        if (strlen(catalog[i].name) == len && strncasecmp(catalog[i].name, name, len) == 0)
            return &catalog[i];
    return NULL;
}

const srql_field *srql_field_find(const char *name, size_t len) {
    const srql_field *f = by_name(name, len);
    if (f)
        return strcmp(f->name, "fields") == 0 ? NULL : f; /* the whole object is not a filter */
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strlen(aliases[i].alias) == len && strncasecmp(aliases[i].alias, name, len) == 0)
            return by_name(aliases[i].name, strlen(aliases[i].name));
    return NULL;
}

#define FIELD_LIST                                                                                                     \
    "time (timestamp), id, host, agent_id (agent), source_type (type), severity, severity_text, program, pid, "      \
    "user_name (user), src_ip, outcome, action, rule, message (msg), tags, or a dotted key of fields such as "        \
    "k8s.namespace"

const char *srql_field_list(void) { return FIELD_LIST; }

const char *srql_field_hint_term(void) { return FIELD_LIST "; put text that contains a colon in quotes"; }

const srql_field *srql_field_at(size_t i) { return i < srql_field_count() ? &catalog[i] : NULL; }

size_t srql_field_count(void) { return sizeof(catalog) / sizeof(catalog[0]); }

bool srql_dotted_valid(const char *s, size_t len) {
    if (len == 0 || len > 128 || s[0] == '.' || s[len - 1] == '.')
        return false;
    bool dot = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return false;
            dot = true;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                     c == '-')) {
            return false;
        }
    }
    return dot;
}

static const char *const severity_names[] = {"unknown", "info", "low", "medium", "high", "critical"};

const char *srql_severity_name(int severity) {
    return severity >= 0 && severity <= 5 ? severity_names[severity] : NULL;
}

int srql_severity_parse(const char *s, size_t len) {
    if (len == 1 && s[0] >= '0' && s[0] <= '5')
        return s[0] - '0';
    for (int i = 0; i <= 5; i++)
        if (strlen(severity_names[i]) == len && strncasecmp(severity_names[i], s, len) == 0)
            return i;
    return -1;
}

const char *srql_col_type_name(srql_col_type t) {
    switch (t) {
    case SRQL_COL_TIMESTAMP:
        return "timestamp";
    case SRQL_COL_TEXT:
        return "text";
    case SRQL_COL_INTEGER:
        return "integer";
    case SRQL_COL_NUMBER:
        return "number";
    case SRQL_COL_IP:
        return "ip";
    case SRQL_COL_JSON:
        return "json";
    case SRQL_COL_TEXT_ARRAY:
        return "text_array";
    case SRQL_COL_SEVERITY:
        return "severity";
    }
    return "text";
}
