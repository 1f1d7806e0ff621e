/* sr_logtail: follows log files (auth.log, syslog, ...) line by line, parses each line
 * (sr_logparse) and hands batches of records to an emit callback (the agent packs them into an
 * UploadBatch and appends it to the spool).
 *
 * - Missing files are watched for appearance. On the first run a file that exists is read from
 *   its end (from_start: from its beginning); a file that appears later is read from its start.
 * - Rotation: rename + new file: the old inode is read to its end (one more poll after the new
 *   file appeared, for late writes), its unterminated last line is taken as a line, then the new
 *   file is read from offset 0. copytruncate: a file that shrank below the read position is
 *   read again from 0.
 * - A line is taken when its newline arrives; a line over SR_LOGPARSE_RAW_MAX bytes keeps its
 *   first SR_LOGPARSE_RAW_MAX bytes and is marked (fields log.truncated, log.original_bytes).
 * - Offsets (path, device, inode, offset of the first line not yet emitted) are written to the
 *   state file atomically after the emit callback succeeded, so a crash re-reads at most the
 *   lines of the batch being emitted and loses none. A restart that finds another inode at a
 *   path looks for the remembered one among the file's siblings ("auth.log.1") and finishes it.
 * - Back-pressure: when emit fails (e.g. -ENOSPC: the spool is full), the batch is kept, no
 *   more is read and no offset moves; the next poll tries again.
 * - journald (journal != SR_LOGTAIL_JOURNAL_OFF): entries of the system journal (or of the
 *   journal files of journal_dir) are read in order after the files, parsed with
 *   sr_logparse_message and batched with the lines (path "journald", source "auth" or "journald":
 *   sr_logjournal_source). The cursor of the last spooled entry is kept in the state file
 *   ("journal <cursor>"), committed like the offsets; a restart resumes after it. A first run
 *   starts after the journal's last entry (from_start: at its head).
 * - Memory: one batch (at most max_batch_records records / max_batch_bytes of text), one line
 *   buffer per file, one 64 KiB read buffer. Single-threaded: call from one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_logparse.h"

#define SR_LOGTAIL_MAX_FILES 32

typedef struct {
    const char *path;   /* absolute */
    const char *source; /* "auth" or "syslog" */
} sr_logtail_file;

/* One record of a batch; strings stay valid until the emit callback returns. */
typedef struct {
    const char *source, *path;
    uint64_t offset;
    int64_t read_unix_ms;
    uint64_t original_bytes; /* length of the line in the file */
    bool cut;                /* the line was longer than SR_LOGPARSE_RAW_MAX */
    const sr_logparse_record *rec;
} sr_logtail_entry;

typedef struct sr_logtail_batch sr_logtail_batch;
size_t sr_logtail_batch_count(const sr_logtail_batch *b);
/* Fills *ret with entry i (the record is decoded into storage owned by the batch, valid until
 * the next call). */
void sr_logtail_batch_entry(const sr_logtail_batch *b, size_t i, sr_logtail_entry *ret);

/* Returns 0 when the batch is durably stored; a negative errno keeps it (-ENOSPC: full). */
typedef int (*sr_logtail_emit_fn)(const sr_logtail_batch *b, void *userdata);

typedef struct {
    const sr_logtail_file *files;
    size_t n_files;
    const char *state_path;   /* offsets file, written atomically */
    bool from_start;          /* read files present on the first run from their beginning */
    int64_t flush_ms;         /* emit a non-empty batch at least this often */
    size_t max_batch_records;
    size_t max_batch_bytes;   /* text bytes held by one batch; 0: 1 MiB */
    sr_logparse_tz tz;        /* zone of timestamps without one */
    sr_logtail_emit_fn emit;
    void *userdata;
    int journal;             /* SR_LOGTAIL_JOURNAL_* */
    const char *journal_dir; /* NULL or "": the local system journal; else the journal files there */
} sr_logtail_config;

enum {
    SR_LOGTAIL_JOURNAL_OFF = 0,
    SR_LOGTAIL_JOURNAL_AUTO, /* read it when it opens; a failure is reported by the first poll */
    SR_LOGTAIL_JOURNAL_ON,   /* sr_logtail_new fails when it cannot be opened */
};

typedef struct {
    uint64_t lines, bytes, batches, emit_failures, rotations, truncations, cut_lines, journal_entries;
} sr_logtail_stats;

typedef struct sr_logtail sr_logtail;

/* Copies what it needs from cfg. Reads the state file (a missing one is a first run; a corrupt
 * one is -EBADMSG with err naming it). Returns 0 or a negative errno. */
int sr_logtail_new(const sr_logtail_config *cfg, sr_logtail **ret, char *err, size_t errlen);
sr_logtail *sr_logtail_free(sr_logtail *t);

/* Reads what is new, emits when a batch is full or flush_ms passed since its first record.
 * now_mono_ms: CLOCK_MONOTONIC ms; now_unix_ms: the read time of new lines. Returns the delay in
 * ms until the next call is due. Problems with a file (permission, symlink, read error) are
 * reported once per change through err (an empty err: nothing new to report). */
int64_t sr_logtail_poll(sr_logtail *t, int64_t now_mono_ms, int64_t now_unix_ms, char *err, size_t errlen);
/* Emits what is pending now (at shutdown). 0 or the emit callback's error. */
int sr_logtail_flush(sr_logtail *t);
void sr_logtail_get_stats(const sr_logtail *t, sr_logtail_stats *ret);

/* Parses "path[=source],path..." (whitespace around items ignored) into files (at most
 * SR_LOGTAIL_MAX_FILES; strings point into buf, which is modified). A path named *auth.log* or
 * *secure* is "auth", anything else "syslog". Returns the count or -EINVAL with err. */
int sr_logtail_parse_files(char *buf, sr_logtail_file *files, size_t max, char *err, size_t errlen);
