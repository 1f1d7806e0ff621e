/* Falco alerts as Falcosidekick forwards them (JSON: output, priority, rule, time, hostname,
 * source, tags, output_fields) to event rows (sr_event.h). Pure (no I/O): unit tested over
 * real alerts and fuzzed (fuzz/fuzz_falco.c). The mapping is documented in
 * docs/internals/ingest.md. */
#pragma once
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_event.h"

#define SR_FALCO_MAX_PAYLOAD (1024 * 1024)
#define SR_FALCO_MAX_FIELDS 512   /* entries of output_fields */
#define SR_FALCO_MAX_KEY_BYTES 256
#define SR_FALCO_MAX_TAGS 64
#define SR_FALCO_MAX_TAG_BYTES 256
#define SR_FALCO_MAX_WORD_BYTES 1024 /* rule, priority, hostname, source */
#define SR_FALCO_SOURCE_TYPE "falco_alert"

typedef struct {
    json_t *root; /* owns every string ev borrows, with the scratch given to sr_falco_decode */
    sr_event ev;
    const char *tags[SR_FALCO_MAX_TAGS];
} sr_falco_alert;

/* Decodes one alert into a->ev (all but ev.id, which comes from the message's identity: see
 * sr_falco_event_id). Required: output (non-empty string), priority (a Falco priority, any
 * case), rule (non-empty string), time (RFC 3339, in [2000-01-01, now_ms + 1 day]). Optional:
 * hostname, source (strings), tags (strings), output_fields (an object). Returns 0, or
 * -EBADMSG with a short reason ("missing rule", "time \"...\" is not RFC 3339") or -ENOMEM.
 * Call sr_falco_alert_clear afterwards in every case. */
int sr_falco_decode(const char *data, size_t len, int64_t now_ms, sr_event_scratch *s, sr_falco_alert *a,
                    char *reason, size_t reasonlen);
void sr_falco_alert_clear(sr_falco_alert *a);

/* Falco priority word (Emergency, Alert, Critical, Error, Warning, Notice, Informational, Info,
 * Debug; any case) to SR_SEV_*: Emergency/Alert/Critical critical, Error high, Warning medium,
 * Notice low, Informational/Info/Debug info. -EINVAL for anything else. */
int sr_falco_priority(const char *priority);

/* RFC 3339 ("2023-05-25T13:44:05.478445995Z", "...+02:00") to Unix microseconds (digits past
 * the sixth of the fraction are dropped). 0 or -EINVAL. */
int sr_falco_parse_time(const char *s, int64_t *ret_us);

/* The event id of the alert stored at (stream timestamp, stream sequence) of SECURITY. */
void sr_falco_event_id(int64_t stream_time_ns, uint64_t stream_seq, uint8_t out[16]);
