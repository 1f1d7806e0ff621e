-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array
-- page: limit 100, keyset cursor
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags)
FROM events e
WHERE e.host = $1 AND e.user_name = $2
ORDER BY e.time DESC, e.id DESC
LIMIT $3;
-- $1 = "x' OR 1=1 --"
-- $2 = "root\"; DROP TABLE events; --"
-- $3 = "101"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $3::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE e.host = $1 AND e.user_name = $2
GROUP BY 1
ORDER BY 1;
