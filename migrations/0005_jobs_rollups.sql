-- Scheduled jobs run by the core (src/core/jobs, docs/internals/jobs.md) and the hourly metric
-- rollups they maintain. The Apache edition of TimescaleDB has no policies and no continuous
-- aggregates: retention and rollups are the core's own jobs.

-- One row per job. A runner claims a due row by setting lease_owner and lease_until in one
-- UPDATE (FOR UPDATE SKIP LOCKED), so one runner runs a job even when several cores share the
-- database; a crashed runner's lease expires and another runner takes the job.
CREATE TABLE jobs (
    name             text PRIMARY KEY,
    run_interval     interval NOT NULL,
    next_run_at      timestamptz NOT NULL DEFAULT now(),
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_status      text CHECK (last_status IN ('ok', 'error', 'running')),
    last_error       text,             -- the reason of the last failure, NULL after a success
    last_message     text,             -- what the last run did ("rolled up 24 hours", "skipped: ...")
    last_duration_ms bigint,
    runs             bigint NOT NULL DEFAULT 0,
    failures         bigint NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_until      timestamptz
);
CREATE INDEX jobs_next_run_at ON jobs (next_run_at);

-- Hourly rollups of metric_points: one row per series and hour (time = the hour's start).
CREATE TABLE metric_rollups_1h (
    time      timestamptz NOT NULL,
    series_id bigint NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    avg       double precision NOT NULL,
    count     bigint NOT NULL,
    UNIQUE (series_id, time)
);
SELECT create_hypertable('metric_rollups_1h', 'time', chunk_time_interval => INTERVAL '7 days');

-- Where the metric jobs stand (one row):
--   rollup_done_before  every hour before this instant is rolled up (NULL: nothing yet)
--   raw_kept_from       raw points before this instant were dropped, only rollups remain there
--                       (NULL: nothing dropped); the API reads rollups before it and raw after
CREATE TABLE metric_storage_state (
    only_row           boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    rollup_done_before timestamptz,
    raw_kept_from      timestamptz
);
INSERT INTO metric_storage_state DEFAULT VALUES;

-- Rolls up every hour that overlaps [from_time, to_time) into metric_rollups_1h (a bound inside
-- an hour widens to the whole hour: a partial hour is never written) and returns the number of
-- rows written. merge = false replaces the hours' rows (a rerun gives the same rows);
-- merge = true adds the points to the rows already there, for points that arrived after their
-- raw chunk was dropped (that chunk then holds only the late points).
CREATE FUNCTION metric_rollup_hours(from_time timestamptz, to_time timestamptz, merge boolean)
RETURNS bigint LANGUAGE sql AS $$
    WITH written AS (
        INSERT INTO metric_rollups_1h AS r (time, series_id, min, max, avg, count)
        SELECT time_bucket(INTERVAL '1 hour', p.time), p.series_id, min(p.value), max(p.value), avg(p.value),
               count(*)
        FROM metric_points p
        WHERE p.time >= time_bucket(INTERVAL '1 hour', from_time)
          AND p.time < time_bucket(INTERVAL '1 hour', to_time - INTERVAL '1 microsecond') + INTERVAL '1 hour'
        GROUP BY 1, 2
        ON CONFLICT (series_id, time) DO UPDATE SET
            min   = CASE WHEN merge THEN least(r.min, EXCLUDED.min) ELSE EXCLUDED.min END,
            max   = CASE WHEN merge THEN greatest(r.max, EXCLUDED.max) ELSE EXCLUDED.max END,
            avg   = CASE WHEN merge THEN (r.avg * r.count + EXCLUDED.avg * EXCLUDED.count) / (r.count + EXCLUDED.count)
                         ELSE EXCLUDED.avg END,
            count = CASE WHEN merge THEN r.count + EXCLUDED.count ELSE EXCLUDED.count END
        RETURNING 1
    )
    SELECT count(*) FROM written
$$;

-- Rolling up an hour reads only that hour's pages of its day's chunk: points arrive roughly in
-- time order, so a BRIN index on time is small, costs COPY next to nothing, and narrows the scan
-- (metric_points has no btree on time, see 0003).
CREATE INDEX metric_points_time_brin ON metric_points USING brin (time) WITH (autosummarize = on);

-- Dedupe keys are deleted by age (the ingest_batches_retention job).
CREATE INDEX ingest_batches_committed_at ON ingest_batches (committed_at);
