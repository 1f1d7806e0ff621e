-- Narrow metric rows: each (agent_id, name, dim) is stored once in metric_series, each point is
-- (time, series_id, value) in the hypertable metric_points with one index on (series_id, time).
-- An index over three text columns cost PostgreSQL about five times the rest of a COPY; an
-- integer key makes the rows and the index smaller and the comparisons cheap.
-- The view `metrics` keeps the wide shape (time, agent_id, name, dim, value) for readers, and
-- accepts INSERT (one row at a time, for tests and tools; the core COPYs into metric_points).

CREATE TABLE metric_series (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id text NOT NULL,
    name     text NOT NULL,
    dim      text NOT NULL DEFAULT '',
    UNIQUE (agent_id, name, dim)
);

-- series_id has no foreign key (it would cost a lookup per row); only the core writes it, with
-- ids of committed metric_series rows, which are never deleted.
CREATE TABLE metric_points (
    time      timestamptz NOT NULL,
    series_id bigint NOT NULL,
    value     double precision NOT NULL
);
SELECT create_hypertable('metric_points', 'time', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => false);
CREATE INDEX metric_points_series_time ON metric_points (series_id, time DESC);

INSERT INTO metric_series (agent_id, name, dim)
    SELECT DISTINCT agent_id, name, dim FROM metrics ORDER BY 1, 2, 3;
INSERT INTO metric_points (time, series_id, value)
    SELECT m.time, s.id, m.value FROM metrics m
    JOIN metric_series s ON s.agent_id = m.agent_id AND s.name = m.name AND s.dim = m.dim;
DROP TABLE metrics;

CREATE VIEW metrics AS
    SELECT p.time, s.agent_id, s.name, s.dim, p.value
    FROM metric_points p JOIN metric_series s ON s.id = p.series_id;
ALTER VIEW metrics ALTER COLUMN dim SET DEFAULT '';

CREATE FUNCTION metrics_view_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sid bigint;
BEGIN
    INSERT INTO metric_series (agent_id, name, dim) VALUES (NEW.agent_id, NEW.name, NEW.dim)
        ON CONFLICT (agent_id, name, dim) DO NOTHING;
    SELECT id INTO STRICT sid FROM metric_series
        WHERE agent_id = NEW.agent_id AND name = NEW.name AND dim = NEW.dim;
    INSERT INTO metric_points (time, series_id, value) VALUES (NEW.time, sid, NEW.value);
    RETURN NEW;
END
$$;
CREATE TRIGGER metrics_view_insert INSTEAD OF INSERT ON metrics
    FOR EACH ROW EXECUTE FUNCTION metrics_view_insert();
