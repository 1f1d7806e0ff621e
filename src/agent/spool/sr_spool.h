/* sr_spool: the agent's bounded on-disk queue of packed UploadBatch records, so that a
 * gateway outage or an agent restart loses nothing. Records carry a CRC32C; a torn or
 * corrupt tail is truncated at open. When appending would exceed max_bytes the oldest
 * unacknowledged records are dropped (counted in the stats and reported in heartbeats): the
 * newest data wins. Thread-safe: the collector thread appends while the transport thread
 * peeks and acknowledges. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct sr_spool sr_spool;

typedef struct {
    uint64_t records;         /* unacknowledged records held */
    uint64_t bytes;           /* bytes on disk */
    uint64_t dropped_records; /* dropped because the spool was full, since open */
    uint64_t dropped_bytes;
    uint64_t next_seq;        /* the seq the next sr_spool_next_seq returns */
} sr_spool_stats;

/* Opens (creating if needed, mode 0700) the spool in dir. A new spool gets a random epoch. */
int sr_spool_open(const char *dir, uint64_t max_bytes, sr_spool **ret);
sr_spool *sr_spool_free(sr_spool *s);
/* The epoch chosen when this spool was created (stable across restarts). */
uint64_t sr_spool_epoch(const sr_spool *s);
/* Hands out the next seq (1, 2, ...), persisted so that it never repeats within the epoch. */
int sr_spool_next_seq(sr_spool *s, uint64_t *ret_seq);
/* Appends one record; it is on disk (fdatasync) when this returns 0. seq must be increasing. */
int sr_spool_append(sr_spool *s, uint64_t seq, const uint8_t *data, size_t len);

/* Makes the record for seq into a malloc'ed *ret_buf (sr_spool_append_packed frees it). */
typedef int (*sr_spool_pack_fn)(uint64_t seq, uint8_t **ret_buf, size_t *ret_len, void *userdata);
/* Takes the next seq and appends the record pack makes for it, under the spool's lock, so
 * appenders on several threads cannot interleave seqs (next_seq then append can). pack runs under
 * the lock: keep it short. On failure the seq is skipped (seqs need only increase). */
int sr_spool_append_packed(sr_spool *s, sr_spool_pack_fn pack, void *userdata, uint64_t *ret_seq);

/* Visits up to max_records unacknowledged records in seq order whose sizes add up to at most
 * max_bytes (the first record is always visited). fn returns 0 to go on, non-zero to stop.
 * data is valid during the callback only. Returns the number visited or a negative errno. */
typedef int (*sr_spool_visit_fn)(uint64_t seq, const uint8_t *data, size_t len, void *userdata);
int sr_spool_peek(sr_spool *s, size_t max_records, size_t max_bytes, sr_spool_visit_fn fn, void *userdata);
/* Marks seq acknowledged (durably); storage is reclaimed as whole segments become acknowledged.
 * Acknowledging an unknown or already acknowledged seq is not an error. */
int sr_spool_ack(sr_spool *s, uint64_t seq);
/* Blocks until records are pending (returns 1), timeout_ms passes (0) or sr_spool_wakeup (0). */
int sr_spool_wait(sr_spool *s, int timeout_ms);
void sr_spool_wakeup(sr_spool *s);
void sr_spool_get_stats(sr_spool *s, sr_spool_stats *ret);
