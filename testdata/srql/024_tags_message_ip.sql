-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array
-- page: limit 100, keyset cursor
-- highlight: "Accepted publickey"
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags)
FROM events e
WHERE e.tags && $1::text[] AND e.message ILIKE $2 AND e.src_ip <<= ANY($3::inet[]) AND e.id = $4::uuid
ORDER BY e.time DESC, e.id DESC
LIMIT $5;
-- $1 = "{\"shell\",\"mitre_execution\"}"
-- $2 = "%Accepted publickey%"
-- $3 = "{\"10.0.0.1\",\"fe80::/10\"}"
-- $4 = "0b7f1c2e-4d5a-4e3b-9c1d-2a3b4c5d6e7f"
-- $5 = "101"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $5::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE e.tags && $1::text[] AND e.message ILIKE $2 AND e.src_ip <<= ANY($3::inet[]) AND e.id = $4::uuid
GROUP BY 1
ORDER BY 1;
