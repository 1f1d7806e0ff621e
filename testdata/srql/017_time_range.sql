-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array
-- page: limit 100, keyset cursor
-- range: 79200 s
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags)
FROM events e
WHERE e.time >= $1::timestamptz AND e.time <= $2::timestamptz AND e.action = $3 AND e.outcome = $4
ORDER BY e.time DESC, e.id DESC
LIMIT $5;
-- $1 = "2026-01-01T00:00:00Z"
-- $2 = "2026-01-02T00:00:00+02:00"
-- $3 = "sudo"
-- $4 = "failure"
-- $5 = "101"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $5::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE e.time >= $1::timestamptz AND e.time <= $2::timestamptz AND e.action = $3 AND e.outcome = $4
GROUP BY 1
ORDER BY 1;
