-- Security and log events: Falco alerts, host logs (auth, syslog, journald) and, later, XDP drop
-- aggregates and exec guard denials. One hypertable, one row per event.
--
-- severity is normalized for every source: 0 unknown, 1 info, 2 low, 3 medium, 4 high,
-- 5 critical; severity_text keeps the source's own word ("Warning", "err", ...).
-- search is the full-text vector. The core builds it with its own tokenizer (src/lib/search),
-- which keeps IP addresses, paths, hashes, CVE ids and user names whole (PostgreSQL's default
-- parser splits "CVE-2024-3094" into three tokens and an IPv6 address into many); SRQL builds
-- its tsquery with the same tokenizer, so both sides agree.
-- embedding is empty until the semantic pipeline fills it for selected events.

CREATE TABLE events (
    time          timestamptz NOT NULL,
    id            uuid NOT NULL,            -- derived from the event's source identity
    received_at   timestamptz NOT NULL DEFAULT now(),
    host          text COLLATE "C" NOT NULL DEFAULT '',
    agent_id      text,                     -- NULL for events that did not come through an agent
    source_type   text COLLATE "C" NOT NULL, -- falco_alert, auth, syslog, journald, ...
    severity      smallint NOT NULL DEFAULT 0 CHECK (severity BETWEEN 0 AND 5),
    severity_text text NOT NULL DEFAULT '',
    program       text,
    pid           integer,
    user_name     text COLLATE "C",
    src_ip        inet,
    outcome       text,                     -- success, failure
    action        text,                     -- ssh_login, sudo, su, pam_auth, ...
    rule          text,                     -- the Falco rule
    message       text NOT NULL,
    fields        jsonb NOT NULL DEFAULT '{}',
    tags          text[] NOT NULL DEFAULT '{}',
    search        tsvector NOT NULL,
    embedding     vector(384)
);
SELECT create_hypertable('events', 'time', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => false);

-- Indexes, with their cost measured on COPY of 100,000 log events (CPU seconds of the backend;
-- docs/internals/ingest.md): the table alone 1.1-1.5 s, the time btree +0.2 s, the six btrees
-- +1.5 s, the search GIN +2.2 s, the fields GIN +0.7 s, a trigram GIN on message +5.1 s. The
-- trigram index is therefore not built: SRQL's wildcard terms (message ILIKE) filter the rows that
-- the time range and the other conditions select. The text columns that btrees cover compare
-- byte-wise (COLLATE "C": identifiers, not prose), which halves the cost of their comparisons.
-- The severity index holds medium and above only (the rare events such a filter looks for); the
-- bulk of info and low events costs it nothing, and a filter on those uses events_time.
-- The GIN indexes keep a larger pending list (32 MB instead of 4 MB): the list is merged into the
-- index in bigger, sorted runs, by the inserting backend or by autovacuum.
CREATE INDEX events_time ON events (time DESC);
CREATE INDEX events_search ON events USING gin (search) WITH (gin_pending_list_limit = 32768);
CREATE INDEX events_host_time ON events (host, time DESC);
CREATE INDEX events_type_time ON events (source_type, time DESC);
CREATE INDEX events_severity_time ON events (severity, time DESC) WHERE severity >= 3;
CREATE INDEX events_src_ip ON events (src_ip) WHERE src_ip IS NOT NULL;
CREATE INDEX events_user_time ON events (user_name, time DESC) WHERE user_name IS NOT NULL;
CREATE INDEX events_fields ON events USING gin (fields jsonb_path_ops) WITH (gin_pending_list_limit = 32768);
