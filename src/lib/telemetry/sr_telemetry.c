#include "sr_telemetry.h"

#include "sr_utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

/* Checks one string field; 0 or -EINVAL with err filled. item names the element ("point",
 * "record"; NULL for batch-level fields). */
static int check_string(const char *s, size_t max, bool required, uint64_t seq, const char *what, size_t idx,
                        const char *item, char *err, size_t errlen) {
    char where[48] = "";
    if (item)
        snprintf(where, sizeof(where), "%s %zu: ", item, idx);
    size_t len = s ? strlen(s) : 0;
    if (required && len == 0) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is empty", seq, where, what);
        return -EINVAL;
    }
    if (len > max) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is %zu bytes (limit %zu)", seq, where, what, len, max);
        return -EINVAL;
    }
    if (len > 0 && !sr_utf8_valid(s, len)) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %s%s is not valid UTF-8", seq, where, what);
        return -EINVAL;
    }
    return 0;
}

bool sr_telemetry_log_source_known(const char *source) {
    static const char *const known[] = {"auth", "syslog", "journald"};
    for (size_t i = 0; source && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(source, known[i]) == 0)
            return true;
    return false;
}

static int validate_metrics(const sr_upload_batch *b, size_t max_points, char *err, size_t errlen) {
    const Serviceradar__Agent__V1__MetricsBatch *m = b->metrics;
    if (m->n_points > max_points) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %zu points (limit %zu)", b->seq, m->n_points, max_points);
        return -EINVAL;
    }
    int r = check_string(m->hostname, SR_TELEMETRY_MAX_HOSTNAME_BYTES, false, b->seq, "hostname", 0, NULL, err,
                         errlen);
    if (r < 0)
        return r;
    for (size_t i = 0; i < m->n_points; i++) {
        const Serviceradar__Agent__V1__MetricPoint *p = m->points[i];
        if (!p) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": point %zu is missing", b->seq, i);
            return -EINVAL;
        }
        r = check_string(p->name, SR_TELEMETRY_MAX_NAME_BYTES, true, b->seq, "metric name", i, "point", err, errlen);
        if (r < 0)
            return r;
        r = check_string(p->dim, SR_TELEMETRY_MAX_DIM_BYTES, false, b->seq, "dim", i, "point", err, errlen);
        if (r < 0)
            return r;
        if (!isfinite(p->value)) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": point %zu (%s): value is not finite", b->seq, i, p->name);
            return -EINVAL;
        }
    }
    return 0;
}

static int validate_record(const Serviceradar__Agent__V1__LogRecord *rec, uint64_t seq, size_t i, char *err,
                           size_t errlen) {
    const struct {
        const char *s, *what;
        size_t max;
    } strings[] = {
        {rec->path, "path", SR_TELEMETRY_MAX_LOG_PATH_BYTES},
        {rec->raw, "raw", SR_TELEMETRY_MAX_LOG_RAW_BYTES},
        {rec->hostname, "hostname", SR_TELEMETRY_MAX_HOSTNAME_BYTES},
        {rec->program, "program", SR_TELEMETRY_MAX_LOG_WORD_BYTES},
        {rec->message, "message", SR_TELEMETRY_MAX_LOG_RAW_BYTES},
        {rec->user, "user", SR_TELEMETRY_MAX_LOG_WORD_BYTES},
        {rec->src_ip, "src_ip", SR_TELEMETRY_MAX_LOG_IP_BYTES},
        {rec->outcome, "outcome", SR_TELEMETRY_MAX_LOG_TAG_BYTES},
        {rec->action, "action", SR_TELEMETRY_MAX_LOG_TAG_BYTES},
    };
    if (!sr_telemetry_log_source_known(rec->source)) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: source \"%.32s\" is not auth, syslog or journald",
                 seq, i, rec->source ? rec->source : "");
        if (rec->source && !sr_utf8_valid(rec->source, strnlen(rec->source, 32)))
            snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: source is not auth, syslog or journald", seq, i);
        return -EINVAL;
    }
    for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
        int r = check_string(strings[k].s, strings[k].max, false, seq, strings[k].what, i, "record", err, errlen);
        if (r < 0)
            return r;
    }
    if ((!rec->message || !rec->message[0]) && (!rec->raw || !rec->raw[0])) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: message and raw are both empty", seq, i);
        return -EINVAL;
    }
    if (rec->syslog_severity < -1 || rec->syslog_severity > 7) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: syslog_severity %d is not in -1..7", seq, i,
                 (int)rec->syslog_severity);
        return -EINVAL;
    }
    if (rec->facility < -1 || rec->facility > 23) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: facility %d is not in -1..23", seq, i,
                 (int)rec->facility);
        return -EINVAL;
    }
    if (rec->n_fields > SR_TELEMETRY_MAX_LOG_FIELDS) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: %zu fields (limit %d)", seq, i, rec->n_fields,
                 SR_TELEMETRY_MAX_LOG_FIELDS);
        return -EINVAL;
    }
    for (size_t k = 0; k < rec->n_fields; k++) {
        const Serviceradar__Agent__V1__LogRecord__FieldsEntry *f = rec->fields[k];
        if (!f) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: field %zu is missing", seq, i, k);
            return -EINVAL;
        }
        int r = check_string(f->key, SR_TELEMETRY_MAX_LOG_FIELD_KEY_BYTES, true, seq, "field key", i, "record", err,
                             errlen);
        if (r == 0)
            r = check_string(f->value, SR_TELEMETRY_MAX_LOG_FIELD_VALUE_BYTES, false, seq, "field value", i, "record",
                             err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

static int validate_logs(const sr_upload_batch *b, char *err, size_t errlen) {
    const Serviceradar__Agent__V1__LogsBatch *l = b->logs;
    if (l->n_records > SR_TELEMETRY_MAX_LOG_RECORDS) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": %zu records (limit %d)", b->seq, l->n_records,
                 SR_TELEMETRY_MAX_LOG_RECORDS);
        return -EINVAL;
    }
    int r = check_string(l->hostname, SR_TELEMETRY_MAX_HOSTNAME_BYTES, false, b->seq, "hostname", 0, NULL, err,
                         errlen);
    for (size_t i = 0; r == 0 && i < l->n_records; i++) {
        if (!l->records[i]) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu is missing", b->seq, i);
            return -EINVAL;
        }
        r = validate_record(l->records[i], b->seq, i, err, errlen);
    }
    return r;
}

bool sr_telemetry_scan_target_valid(const char *target) {
    if (!target)
        return false;
    if (strcmp(target, "host") == 0)
        return true;
    if (strncmp(target, "container:", 10) != 0)
        return false;
    const char *id = target + 10;
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (n >= SR_TELEMETRY_SCAN_CONTAINER_ID_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return n > 0;
}

int sr_telemetry_scan_part_check(const Serviceradar__Agent__V1__ScanPart *p, uint64_t seq, char *err,
                                 size_t errlen) {
    const char *sid = p->scan_id ? p->scan_id : "";
    size_t sid_len = strlen(sid);
    bool hex = sid_len == SR_TELEMETRY_SCAN_ID_LEN;
    for (size_t i = 0; hex && i < sid_len; i++)
        hex = (sid[i] >= '0' && sid[i] <= '9') || (sid[i] >= 'a' && sid[i] <= 'f');
    if (!hex) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan_id is not %d lowercase hex characters", seq,
                 SR_TELEMETRY_SCAN_ID_LEN);
        return -EINVAL;
    }
    if (!sr_telemetry_scan_target_valid(p->target)) {
        snprintf(err, errlen,
                 "batch seq %" PRIu64 ": scan target is not \"host\" or \"container:<id>\" (id 1..%d of "
                 "[A-Za-z0-9._-])",
                 seq, SR_TELEMETRY_SCAN_CONTAINER_ID_MAX);
        return -EINVAL;
    }
    if (!p->kind || (strcmp(p->kind, "report") != 0 && strcmp(p->kind, "sbom") != 0)) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan kind is not \"report\" or \"sbom\"", seq);
        return -EINVAL;
    }
    if (p->count < 1 || p->count > SR_TELEMETRY_SCAN_MAX_PARTS) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan part count %" PRIu32 " is not in 1..%d", seq, p->count,
                 SR_TELEMETRY_SCAN_MAX_PARTS);
        return -EINVAL;
    }
    if (p->index >= p->count) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan part index %" PRIu32 " is not below count %" PRIu32, seq,
                 p->index, p->count);
        return -EINVAL;
    }
    if (p->data.len < 1 || p->data.len > SR_TELEMETRY_SCAN_MAX_PART_BYTES) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan part data is %zu bytes (1..%d)", seq, p->data.len,
                 SR_TELEMETRY_SCAN_MAX_PART_BYTES);
        return -EINVAL;
    }
    if (p->total_size > SR_TELEMETRY_SCAN_MAX_TOTAL_BYTES || p->total_size < p->data.len ||
        p->total_size < p->count) {
        snprintf(err, errlen,
                 "batch seq %" PRIu64 ": scan total_size %" PRIu64 " is not in %zu..%" PRIu64
                 " (at least the part and one byte per part)",
                 seq, p->total_size, p->data.len > p->count ? p->data.len : (size_t)p->count,
                 SR_TELEMETRY_SCAN_MAX_TOTAL_BYTES);
        return -EINVAL;
    }
    if (p->total_sha256.len != 32) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": scan total_sha256 is %zu bytes (expected 32)", seq,
                 p->total_sha256.len);
        return -EINVAL;
    }
    const struct {
        const char *s, *what;
        size_t max;
    } strings[] = {
        {p->db_version, "db_version", SR_TELEMETRY_SCAN_MAX_VERSION_BYTES},
        {p->scanner_version, "scanner_version", SR_TELEMETRY_SCAN_MAX_VERSION_BYTES},
        {p->target_name, "target_name", SR_TELEMETRY_SCAN_MAX_NAME_BYTES},
    };
    for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
        int r = check_string(strings[k].s, strings[k].max, false, seq, strings[k].what, 0, NULL, err, errlen);
        if (r < 0)
            return r;
    }
    if (p->targets_in_run > SR_TELEMETRY_SCAN_MAX_TARGETS) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": targets_in_run %" PRIu32 " is over %d", seq, p->targets_in_run,
                 SR_TELEMETRY_SCAN_MAX_TARGETS);
        return -EINVAL;
    }
    if (p->started_unix_ms < 0 || p->finished_unix_ms < p->started_unix_ms ||
        p->finished_unix_ms < SR_TELEMETRY_MIN_TIME_MS) {
        snprintf(err, errlen,
                 "batch seq %" PRIu64 ": scan times out of range (started %" PRId64 ", finished %" PRId64 ")", seq,
                 p->started_unix_ms, p->finished_unix_ms);
        return -EINVAL;
    }
    return 0;
}

int sr_telemetry_check_log_times(const sr_upload_batch *b, int64_t now_ms, char *err, size_t errlen) {
    if (!b || b->payload_case != SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS || !b->logs)
        return 0;
    int64_t latest = now_ms + SR_TELEMETRY_MAX_FUTURE_MS;
    for (size_t i = 0; i < b->logs->n_records; i++) {
        int64_t t = b->logs->records[i]->time_unix_ms;
        if (t < SR_TELEMETRY_MIN_TIME_MS || t > latest) {
            snprintf(err, errlen, "batch seq %" PRIu64 ": record %zu: time %" PRId64 " out of range", b->seq, i, t);
            return -EINVAL;
        }
    }
    return 0;
}

int sr_telemetry_validate(const sr_upload_batch *b, const char *identity, size_t max_points, char *err,
                          size_t errlen) {
    if (max_points == 0 || max_points > SR_TELEMETRY_MAX_POINTS)
        max_points = SR_TELEMETRY_MAX_POINTS;
    if (!b) {
        snprintf(err, errlen, "missing batch");
        return -EINVAL;
    }
    const char *aid = b->agent_id ? b->agent_id : "";
    if (identity && aid[0] != '\0' && strcmp(aid, identity) != 0) {
        snprintf(err, errlen, "batch seq %" PRIu64 ": agent_id \"%.*s\" does not match the certificate identity \"%s\"",
                 b->seq, 64, aid, identity);
        return -EPERM;
    }
    if (b->seq == 0) {
        snprintf(err, errlen, "batch seq 0: seq must be greater than 0");
        return -EINVAL;
    }
    if (b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_METRICS && b->metrics)
        return validate_metrics(b, max_points, err, errlen);
    if (b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_LOGS && b->logs)
        return validate_logs(b, err, errlen);
    if (b->payload_case == SERVICERADAR__AGENT__V1__UPLOAD_BATCH__PAYLOAD_SCAN && b->scan)
        return sr_telemetry_scan_part_check(b->scan, b->seq, err, errlen);
    snprintf(err, errlen, "batch seq %" PRIu64 ": payload is missing (expected metrics, logs or scan)", b->seq);
    return -EINVAL;
}

/* ---- wire-level point count ---- */

static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -EBADMSG;
        uint8_t c = buf[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return -EBADMSG;
}

/* Walks one message level. For each field number `want` of wire type LEN, calls back with
 * its contents (when cb is set) or counts it. */
static int walk(const uint8_t *buf, size_t len, uint32_t want, size_t *count,
                int (*cb)(const uint8_t *, size_t, void *), void *cb_arg) {
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag) < 0)
            return -EBADMSG;
        uint64_t field = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (field == 0)
            return -EBADMSG;
        switch (wt) {
        case 0:
            if (read_varint(buf, len, &pos, &v) < 0)
                return -EBADMSG;
            break;
        case 1:
            if (len - pos < 8)
                return -EBADMSG;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4)
                return -EBADMSG;
            pos += 4;
            break;
        case 2:
            if (read_varint(buf, len, &pos, &v) < 0 || v > len - pos)
                return -EBADMSG;
            if (field == want) {
                if (cb) {
                    int r = cb(buf + pos, (size_t)v, cb_arg);
                    if (r < 0)
                        return r;
                } else {
                    (*count)++;
                }
            }
            pos += (size_t)v;
            break;
        default: /* groups (3, 4) and reserved types: not in our schema */
            return -EBADMSG;
        }
    }
    return 0;
}

static int count_in_metrics(const uint8_t *buf, size_t len, void *count) {
    return walk(buf, len, 2 /* MetricsBatch.points */, count, NULL, NULL);
}

int sr_telemetry_count_points(const uint8_t *buf, size_t len, size_t *ret_points) {
    size_t n = 0;
    if (!buf && len > 0)
        return -EINVAL;
    /* UploadBatch.metrics (10); repeated occurrences merge, so count them all. */
    int r = walk(buf, len, 10, NULL, count_in_metrics, &n);
    if (r < 0)
        return r;
    *ret_points = n;
    return 0;
}

/* Counts the fields (16) of one LogRecord and keeps the largest count. */
static int count_in_record(const uint8_t *buf, size_t len, size_t *max_fields) {
    size_t n = 0;
    int r = walk(buf, len, 16 /* LogRecord.fields */, &n, NULL, NULL);
    if (r == 0 && n > *max_fields)
        *max_fields = n;
    return r;
}

typedef struct {
    size_t records, max_fields;
} record_count;

/* One LogsBatch: counts its records (2) and the fields of each. */
static int count_in_logs(const uint8_t *buf, size_t len, void *arg) {
    record_count *rc = arg;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag) < 0 || (tag >> 3) == 0)
            return -EBADMSG;
        unsigned wt = (unsigned)(tag & 7);
        if (wt == 0) {
            if (read_varint(buf, len, &pos, &v) < 0)
                return -EBADMSG;
        } else if (wt == 1 || wt == 5) {
            size_t skip = wt == 1 ? 8 : 4;
            if (len - pos < skip)
                return -EBADMSG;
            pos += skip;
        } else if (wt == 2) {
            if (read_varint(buf, len, &pos, &v) < 0 || v > len - pos)
                return -EBADMSG;
            if ((tag >> 3) == 2) {
                rc->records++;
                if (count_in_record(buf + pos, (size_t)v, &rc->max_fields) < 0)
                    return -EBADMSG;
            }
            pos += (size_t)v;
        } else {
            return -EBADMSG;
        }
    }
    return 0;
}

int sr_telemetry_count_records(const uint8_t *buf, size_t len, size_t *ret_records, size_t *ret_max_fields) {
    record_count rc = {0, 0};
    if (!buf && len > 0)
        return -EINVAL;
    /* UploadBatch.logs (11); repeated occurrences merge, so count them all. */
    int r = walk(buf, len, 11, NULL, count_in_logs, &rc);
    if (r < 0)
        return r;
    *ret_records = rc.records;
    if (ret_max_fields)
        *ret_max_fields = rc.max_fields;
    return 0;
}

/* ---- arena-backed decoder ---- */

#define ARENA_MIN_CHUNK (64 * 1024)
#define ARENA_ALIGN 16

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned storage */
} arena_chunk;

struct sr_telemetry_decoder {
    arena_chunk *chunks; /* head: the chunk being filled */
    size_t total;        /* bytes handed out since the last reset */
    bool failed;         /* an allocation failed during this decode */
    ProtobufCAllocator alloc;
};

static void *arena_alloc(void *data, size_t size) {
    sr_telemetry_decoder *d = data;
    size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size)
        goto fail;
    arena_chunk *c = d->chunks;
    if (!c || c->size - c->used < need) {
        size_t sz = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
        if (c && sz < c->size * 2)
            sz = c->size * 2;
        arena_chunk *n = malloc(sizeof(*n) + sz);
        if (!n)
            goto fail;
        n->next = c;
        n->size = sz;
        n->used = 0;
        d->chunks = c = n;
    }
    /* c is the chunk just allocated or one with room: never NULL here */
    // cppcheck-suppress nullPointerRedundantCheck
    void *p = (char *)c->data + c->used;
    // cppcheck-suppress nullPointerRedundantCheck
    c->used += need;
    d->total += need;
    return p;
fail:
    d->failed = true;
    return NULL;
}

static void arena_free(void *data, void *ptr) {
    (void)data;
    (void)ptr; /* released with the whole arena */
}

/* Keeps a single chunk big enough for the last decode, frees the rest. */
static void arena_reset(sr_telemetry_decoder *d) {
    arena_chunk *c = d->chunks;
    if (c && c->next) {
        size_t want = d->total > c->size ? d->total : c->size;
        while (c) {
            arena_chunk *n = c->next;
            free(c);
            c = n;
        }
        d->chunks = malloc(sizeof(arena_chunk) + want);
        if (d->chunks) {
            d->chunks->next = NULL;
            d->chunks->size = want;
        }
        c = d->chunks;
    }
    if (c)
        c->used = 0;
    d->total = 0;
    d->failed = false;
}

int sr_telemetry_decoder_new(sr_telemetry_decoder **ret) {
    sr_telemetry_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->alloc.alloc = arena_alloc;
    d->alloc.free = arena_free;
    d->alloc.allocator_data = d;
    *ret = d;
    return 0;
}

sr_telemetry_decoder *sr_telemetry_decoder_free(sr_telemetry_decoder *d) {
    if (!d)
        return NULL;
    arena_chunk *c = d->chunks;
    while (c) {
        arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(d);
    return NULL;
}

int sr_telemetry_decode(sr_telemetry_decoder *d, const uint8_t *buf, size_t len, const char *identity,
                        size_t max_points, const sr_upload_batch **ret, char *err, size_t errlen) {
    if (!d || (!buf && len > 0))
        return -EINVAL;
    if (max_points == 0 || max_points > SR_TELEMETRY_MAX_POINTS)
        max_points = SR_TELEMETRY_MAX_POINTS;
    size_t n = 0;
    if (sr_telemetry_count_points(buf, len, &n) < 0) {
        snprintf(err, errlen, "not a valid UploadBatch message");
        return -EBADMSG;
    }
    if (n > max_points) {
        snprintf(err, errlen, "batch has %zu points (limit %zu)", n, max_points);
        return -EINVAL;
    }
    size_t records = 0, fields = 0;
    if (sr_telemetry_count_records(buf, len, &records, &fields) < 0) {
        snprintf(err, errlen, "not a valid UploadBatch message");
        return -EBADMSG;
    }
    if (records > SR_TELEMETRY_MAX_LOG_RECORDS) {
        snprintf(err, errlen, "batch has %zu records (limit %d)", records, SR_TELEMETRY_MAX_LOG_RECORDS);
        return -EINVAL;
    }
    if (fields > SR_TELEMETRY_MAX_LOG_FIELDS) {
        snprintf(err, errlen, "a record of the batch has %zu fields (limit %d)", fields, SR_TELEMETRY_MAX_LOG_FIELDS);
        return -EINVAL;
    }
    arena_reset(d);
    sr_upload_batch *b = serviceradar__agent__v1__upload_batch__unpack(&d->alloc, len, buf);
    if (!b) {
        if (d->failed)
            return -ENOMEM;
        snprintf(err, errlen, "not a valid UploadBatch message");
        return -EBADMSG;
    }
    int r = sr_telemetry_validate(b, identity, max_points, err, errlen);
    if (r < 0)
        return r;
    *ret = b;
    return 0;
}

int sr_telemetry_msg_id(const char *agent_id, uint64_t epoch, uint64_t seq, char *buf, size_t buflen) {
    if (!agent_id || agent_id[0] == '\0' || strlen(agent_id) > SR_TELEMETRY_MAX_AGENT_ID_BYTES)
        return -EINVAL;
    int n = snprintf(buf, buflen, "%s:%" PRIu64 ":%" PRIu64, agent_id, epoch, seq);
    if (n < 0 || (size_t)n >= buflen)
        return -ENOBUFS;
    return 0;
}
