-- Hosts, metrics, ingest bookkeeping, dead letters and commands (docs/internals/contracts.md).

CREATE TABLE hosts (
    agent_id          text PRIMARY KEY,
    hostname          text NOT NULL DEFAULT '',
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    agent_version     text NOT NULL DEFAULT '',
    os                text NOT NULL DEFAULT '',
    arch              text NOT NULL DEFAULT '',
    kernel            text NOT NULL DEFAULT '',
    capabilities      text[] NOT NULL DEFAULT '{}',
    gateway           text NOT NULL DEFAULT '',
    status_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hosts_status_last_seen ON hosts (status, last_seen);

-- One row per metric point. Written with COPY by the ingest workers only.
CREATE TABLE metrics (
    time     timestamptz NOT NULL,
    agent_id text NOT NULL,
    name     text NOT NULL,
    dim      text NOT NULL DEFAULT '',
    value    double precision NOT NULL
);
-- No default time index: every query names an agent and a metric, and one index less
-- keeps COPY fast.
SELECT create_hypertable('metrics', 'time', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => false);
CREATE INDEX metrics_agent_name_dim_time ON metrics (agent_id, name, dim, time DESC);

-- Upload batches already stored: a redelivered batch whose key is present is skipped.
CREATE TABLE ingest_batches (
    agent_id     text NOT NULL,
    epoch        bigint NOT NULL,  -- the agent's u64 spool epoch cast to bigint
    seq          bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, epoch, seq)
);

-- Messages that could not be stored, with the reason; they never block a stream.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    stream      text NOT NULL DEFAULT '',
    subject     text NOT NULL DEFAULT '',
    stream_seq  bigint,
    reason      text NOT NULL,
    headers     jsonb,
    payload     bytea
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);

-- Commands sent to agents and their outcome. Final states: succeeded, failed, expired.
CREATE TABLE commands (
    command_id  text PRIMARY KEY,
    agent_id    text NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    issued_at   timestamptz NOT NULL DEFAULT now(),
    deadline_at timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'acked', 'running', 'succeeded', 'failed', 'expired')),
    result      jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commands_agent_issued ON commands (agent_id, issued_at DESC);
CREATE INDEX commands_open_deadline ON commands (deadline_at)
    WHERE status IN ('pending', 'sent', 'acked', 'running');
