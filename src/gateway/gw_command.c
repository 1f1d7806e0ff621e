#include "gw_command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define GW_HELLO_MAX_HOSTNAME 255
#define GW_HELLO_MAX_FIELD 256
#define GW_HELLO_MAX_CAPS 64
#define GW_HELLO_MAX_CAP_LEN 64
#define GW_RESULT_MAX_TEXT (1024 * 1024) /* output / error / message relayed to the core */

static void json_decref_p(json_t **j) {
    if (*j)
        json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(json_decref_p)))

/* Copies a required string member into buf; -EINVAL / -E2BIG with err. */
static int get_string(json_t *obj, const char *key, char *buf, size_t cap, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_string(v)) {
        snprintf(err, errlen, "command: \"%s\" is missing or not a string", key);
        return -EINVAL;
    }
    size_t len = json_string_length(v);
    if (len == 0) {
        snprintf(err, errlen, "command: \"%s\" is empty", key);
        return -EINVAL;
    }
    if (len > cap) {
        snprintf(err, errlen, "command: \"%s\" is %zu bytes (limit %zu)", key, len, cap);
        return -E2BIG;
    }
    if (memchr(json_string_value(v), '\0', len)) {
        snprintf(err, errlen, "command: \"%s\" contains a NUL character", key);
        return -EINVAL;
    }
    memcpy(buf, json_string_value(v), len);
    buf[len] = '\0';
    return 0;
}

static int get_ms(json_t *obj, const char *key, int64_t *ret, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *ret = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "command: \"%s\" is not a non-negative integer", key);
        return -EINVAL;
    }
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

int gw_command_parse(const char *json, size_t len, gw_command *ret, char *err, size_t errlen) {
    if (!json || len == 0) {
        snprintf(err, errlen, "command: empty document");
        return -EINVAL;
    }
    if (len > GW_COMMAND_MAX_JSON) {
        snprintf(err, errlen, "command: document is %zu bytes (limit %d)", len, GW_COMMAND_MAX_JSON);
        return -E2BIG;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "command: invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "command: document is not a JSON object");
        return -EINVAL;
    }
    gw_command c = {0};
    int r = get_string(root, "command_id", c.command_id, GW_COMMAND_MAX_ID, err, errlen);
    if (r == 0)
        r = get_string(root, "type", c.type, GW_COMMAND_MAX_TYPE, err, errlen);
    if (r == 0)
        r = get_ms(root, "issued_unix_ms", &c.issued_unix_ms, err, errlen);
    if (r == 0)
        r = get_ms(root, "deadline_unix_ms", &c.deadline_unix_ms, err, errlen);
    if (r < 0)
        return r;

    json_t *p = json_object_get(root, "payload");
    size_t plen = 0;
    if (!p || json_is_null(p)) {
        c.payload = strdup("{}");
    } else if (json_is_string(p)) {
        plen = json_string_length(p);
        if (memchr(json_string_value(p), '\0', plen)) {
            snprintf(err, errlen, "command: \"payload\" contains a NUL character");
            /* nothing allocated yet on this path */
            // cppcheck-suppress memleak
            return -EINVAL;
        }
        c.payload = strndup(json_string_value(p), plen);
    } else if (json_is_object(p) || json_is_array(p)) {
        c.payload = json_dumps(p, JSON_COMPACT);
        plen = c.payload ? strlen(c.payload) : 0;
    } else {
        snprintf(err, errlen, "command: \"payload\" is not a string, object or array");
        return -EINVAL;
    }
    if (!c.payload)
        return -ENOMEM;
    if (plen > GW_COMMAND_MAX_PAYLOAD) {
        free(c.payload);
        snprintf(err, errlen, "command: \"payload\" is %zu bytes (limit %d)", plen, GW_COMMAND_MAX_PAYLOAD);
        return -E2BIG;
    }
    *ret = c;
    return 0;
}

void gw_command_clear(gw_command *c) {
    if (!c)
        return;
    free(c->payload);
    c->payload = NULL;
}

void gw_command_to_proto(const gw_command *c, Serviceradar__Agent__V1__Command *m) {
    serviceradar__agent__v1__command__init(m);
    /* protobuf-c fields are not const; packing never writes through them */
    m->command_id = (char *)(uintptr_t)c->command_id;
    m->type = (char *)(uintptr_t)c->type;
    m->payload = c->payload;
    m->issued_unix_ms = c->issued_unix_ms;
    m->deadline_unix_ms = c->deadline_unix_ms;
}

/* ---- documents towards the core ---- */

/* Adds key: string (NULL treated as ""). -EINVAL when not UTF-8 or over max bytes. */
static int add_str(json_t *o, const char *key, const char *v, size_t max) {
    if (!v)
        v = "";
    size_t len = strlen(v);
    if (len > max)
        return -EINVAL;
    json_t *s = json_stringn(v, len);
    if (!s)
        return -EINVAL; /* jansson refuses invalid UTF-8 */
    return json_object_set_new(o, key, s) == 0 ? 0 : -ENOMEM;
}

static int add_int(json_t *o, const char *key, json_int_t v) {
    json_t *j = json_integer(v);
    return j && json_object_set_new(o, key, j) == 0 ? 0 : -ENOMEM;
}

static int add_bool(json_t *o, const char *key, int v) {
    return json_object_set_new(o, key, json_boolean(v)) == 0 ? 0 : -ENOMEM;
}

static int dump(json_t *o, char **ret_json, size_t *ret_len) {
    char *s = json_dumps(o, JSON_COMPACT);
    if (!s)
        return -ENOMEM;
    *ret_json = s;
    *ret_len = strlen(s);
    return 0;
}

static json_int_t clamp_u64(uint64_t v) { return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v; }

int gw_result_json(const char *agent_id, const Serviceradar__Agent__V1__AgentMessage *m, int64_t now_ms,
                   char **ret_json, size_t *ret_len) {
    _cleanup_json_ json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    const char *cid = NULL;
    int r = 0;
    switch (m->msg_case) {
    case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_ACK:
        cid = m->ack ? m->ack->command_id : NULL;
        r = add_str(o, "kind", "ack", 16);
        if (r == 0)
            r = add_int(o, "time_unix_ms", now_ms);
        break;
    case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_PROGRESS:
        cid = m->progress ? m->progress->command_id : NULL;
        r = add_str(o, "kind", "progress", 16);
        if (r == 0)
            r = add_int(o, "percent", m->progress ? (m->progress->percent > 100 ? 100 : m->progress->percent) : 0);
        if (r == 0)
            r = add_str(o, "message", m->progress ? m->progress->message : "", GW_RESULT_MAX_TEXT);
        if (r == 0)
            r = add_int(o, "time_unix_ms", now_ms);
        break;
    case SERVICERADAR__AGENT__V1__AGENT_MESSAGE__MSG_RESULT: {
        const Serviceradar__Agent__V1__CommandResult *res = m->result;
        cid = res ? res->command_id : NULL;
        r = add_str(o, "kind", "result", 16);
        if (r == 0)
            r = add_bool(o, "ok", res ? res->ok : 0);
        if (r == 0)
            r = add_str(o, "output", res ? res->output : "", GW_RESULT_MAX_TEXT);
        if (r == 0)
            r = add_str(o, "error", res ? res->error : "", GW_RESULT_MAX_TEXT);
        if (r == 0)
            r = add_int(o, "time_unix_ms", res && res->finished_unix_ms > 0 ? res->finished_unix_ms : now_ms);
        break;
    }
    default:
        return -ENOMSG;
    }
    if (r < 0)
        return r;
    if (!cid || cid[0] == '\0')
        return -EINVAL;
    r = add_str(o, "command_id", cid, GW_COMMAND_MAX_ID);
    if (r == 0)
        r = add_str(o, "agent_id", agent_id, 255);
    if (r < 0)
        return r;
    return dump(o, ret_json, ret_len);
}

int gw_hello_check(const Serviceradar__Agent__V1__Hello *h, char *err, size_t errlen) {
    const struct {
        const char *name;
        const char *v;
        size_t max;
    } f[] = {
        {"hostname", h->hostname, GW_HELLO_MAX_HOSTNAME}, {"agent_version", h->agent_version, GW_HELLO_MAX_FIELD},
        {"os", h->os, GW_HELLO_MAX_FIELD},                {"arch", h->arch, GW_HELLO_MAX_FIELD},
        {"kernel", h->kernel, GW_HELLO_MAX_FIELD},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        const char *v = f[i].v ? f[i].v : "";
        size_t len = strlen(v);
        if (len > f[i].max) {
            snprintf(err, errlen, "hello: %s is %zu bytes (limit %zu)", f[i].name, len, f[i].max);
            return -EINVAL;
        }
        json_t *s = json_stringn(v, len);
        if (!s) {
            snprintf(err, errlen, "hello: %s is not valid UTF-8", f[i].name);
            return -EINVAL;
        }
        json_decref(s);
    }
    if (h->n_capabilities > GW_HELLO_MAX_CAPS) {
        snprintf(err, errlen, "hello: %zu capabilities (limit %d)", h->n_capabilities, GW_HELLO_MAX_CAPS);
        return -EINVAL;
    }
    for (size_t i = 0; i < h->n_capabilities; i++) {
        const char *v = h->capabilities[i] ? h->capabilities[i] : "";
        size_t len = strlen(v);
        json_t *s = len <= GW_HELLO_MAX_CAP_LEN ? json_stringn(v, len) : NULL;
        if (!s) {
            snprintf(err, errlen, "hello: capability %zu is over-long or not valid UTF-8", i);
            return -EINVAL;
        }
        json_decref(s);
    }
    return 0;
}

int gw_status_json(gw_event_kind kind, const char *agent_id, const char *gateway_id,
                   const Serviceradar__Agent__V1__Hello *hello, const Serviceradar__Agent__V1__Heartbeat *hb,
                   int64_t now_ms, char **ret_json, size_t *ret_len) {
    static const char *const names[] = {"hello", "heartbeat", "disconnect"};
    if ((unsigned)kind > GW_EVENT_DISCONNECT || (kind == GW_EVENT_HELLO && !hello))
        return -EINVAL;
    _cleanup_json_ json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = add_str(o, "event", names[kind], 16);
    if (r == 0)
        r = add_str(o, "agent_id", agent_id, 255);
    if (r == 0 && kind == GW_EVENT_HELLO) {
        r = add_str(o, "hostname", hello->hostname, GW_HELLO_MAX_HOSTNAME);
        if (r == 0)
            r = add_str(o, "agent_version", hello->agent_version, GW_HELLO_MAX_FIELD);
        if (r == 0)
            r = add_str(o, "os", hello->os, GW_HELLO_MAX_FIELD);
        if (r == 0)
            r = add_str(o, "arch", hello->arch, GW_HELLO_MAX_FIELD);
        if (r == 0)
            r = add_str(o, "kernel", hello->kernel, GW_HELLO_MAX_FIELD);
        json_t *caps = r == 0 ? json_array() : NULL;
        if (r == 0 && !caps)
            r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < hello->n_capabilities && i < GW_HELLO_MAX_CAPS; i++) {
            json_t *s = json_string(hello->capabilities[i] ? hello->capabilities[i] : "");
            if (!s || json_array_append_new(caps, s) < 0)
                r = -EINVAL;
        }
        if (caps && json_object_set_new(o, "capabilities", caps) < 0 && r == 0)
            r = -ENOMEM;
    }
    if (r == 0)
        r = add_str(o, "gateway", gateway_id, 255);
    if (r == 0)
        r = add_int(o, "time_unix_ms", now_ms);
    if (r == 0 && kind == GW_EVENT_HEARTBEAT && hb) {
        r = add_int(o, "spool_bytes", clamp_u64(hb->spool_bytes));
        if (r == 0)
            r = add_int(o, "spool_records", clamp_u64(hb->spool_records));
    }
    if (r < 0)
        return r;
    return dump(o, ret_json, ret_len);
}
