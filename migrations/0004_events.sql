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
    host          text NOT NULL DEFAULT '',
    agent_id      text,                     -- NULL for events that did not come through an agent
    source_type   text NOT NULL,            -- falco_alert, auth, syslog, journald, ...
    severity      smallint NOT NULL DEFAULT 0 CHECK (severity BETWEEN 0 AND 5),
    severity_text text NOT NULL DEFAULT '',
    program       text,
    pid           integer,
    user_name     text,
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

CREATE INDEX events_time ON events (time DESC);
CREATE INDEX events_search ON events USING gin (search);
CREATE INDEX events_message_trgm ON events USING gin (message gin_trgm_ops);
CREATE INDEX events_host_time ON events (host, time DESC);
CREATE INDEX events_type_time ON events (source_type, time DESC);
CREATE INDEX events_severity_time ON events (severity, time DESC);
CREATE INDEX events_src_ip ON events (src_ip) WHERE src_ip IS NOT NULL;
CREATE INDEX events_user_time ON events (user_name, time DESC) WHERE user_name IS NOT NULL;
CREATE INDEX events_fields ON events USING gin (fields jsonb_path_ops);
