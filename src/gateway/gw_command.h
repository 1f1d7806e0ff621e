/* JSON documents the gateway relays: commands from the core (commands.agent.<id>), results
 * to the core (commands.results.<id>) and agent status events (agents.status). Shapes are
 * fixed in docs/internals/contracts.md. Parsing is bounded and validated; every function
 * returns 0 or a negative errno and, for parse errors, a message in err. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "serviceradar/agent/v1/agent.pb-c.h"

#define GW_COMMAND_MAX_JSON (256 * 1024)  /* a command document on NATS */
#define GW_COMMAND_MAX_ID 128             /* command_id bytes */
#define GW_COMMAND_MAX_TYPE 64            /* type bytes */
#define GW_COMMAND_MAX_PAYLOAD (128 * 1024) /* payload bytes (a JSON document, kept as text) */

typedef struct gw_command {
    char command_id[GW_COMMAND_MAX_ID + 1];
    char type[GW_COMMAND_MAX_TYPE + 1];
    char *payload; /* heap; "{}" when absent */
    int64_t issued_unix_ms;
    int64_t deadline_unix_ms;
} gw_command;

/* Parses {"command_id","type","payload","issued_unix_ms","deadline_unix_ms"}. payload may
 * be a string holding JSON (the contract's form) or an inline object/array (serialised
 * compactly). Unknown keys are ignored. -EINVAL with err on anything malformed, -E2BIG when
 * the document or a field is over its cap. */
int gw_command_parse(const char *json, size_t len, gw_command *ret, char *err, size_t errlen);
/* Frees what gw_command_parse allocated (the struct itself belongs to the caller). */
void gw_command_clear(gw_command *c);
/* Fills a Command message whose strings point into c (valid while c is). */
void gw_command_to_proto(const gw_command *c, Serviceradar__Agent__V1__Command *m);

/* The commands.results JSON for an AgentMessage carrying ack, progress or result; now_ms
 * is used for time_unix_ms unless the result carries finished_unix_ms. Returns 0 with a
 * malloc'ed NUL-terminated document, -ENOMSG (the message is not an ack/progress/result),
 * -EINVAL (a string is not UTF-8 or the command id is missing/over-long). */
int gw_result_json(const char *agent_id, const Serviceradar__Agent__V1__AgentMessage *m, int64_t now_ms,
                   char **ret_json, size_t *ret_len);

/* agents.status events. hello may be NULL except for "hello"; heartbeat only for
 * "heartbeat". */
typedef enum { GW_EVENT_HELLO, GW_EVENT_HEARTBEAT, GW_EVENT_DISCONNECT } gw_event_kind;
int gw_status_json(gw_event_kind kind, const char *agent_id, const char *gateway_id,
                   const Serviceradar__Agent__V1__Hello *hello, const Serviceradar__Agent__V1__Heartbeat *hb,
                   int64_t now_ms, char **ret_json, size_t *ret_len);

/* Checks the strings of a Hello (lengths, UTF-8) before it is relayed. -EINVAL with err. */
int gw_hello_check(const Serviceradar__Agent__V1__Hello *h, char *err, size_t errlen);
