-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array
-- page: limit 100, keyset cursor
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags)
FROM events e
WHERE (e.fields @> $1::jsonb OR e.fields @> $2::jsonb) AND (e.fields @> $3::jsonb OR e.fields @> $4::jsonb) AND CASE WHEN jsonb_typeof(e.fields->$5) = 'number' THEN (e.fields->>$5)::numeric END > $6::numeric
ORDER BY e.time DESC, e.id DESC
LIMIT $7;
-- $1 = "{\"proc.ratio\":\"0.1\"}"
-- $2 = "{\"proc.ratio\":0.1}"
-- $3 = "{\"proc.big\":\"12345678901234567890123\"}"
-- $4 = "{\"proc.big\":12345678901234567890123}"
-- $5 = "proc.exp"
-- $6 = "1e400"
-- $7 = "101"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $7::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE (e.fields @> $1::jsonb OR e.fields @> $2::jsonb) AND (e.fields @> $3::jsonb OR e.fields @> $4::jsonb) AND CASE WHEN jsonb_typeof(e.fields->$5) = 'number' THEN (e.fields->>$5)::numeric END > $6::numeric
GROUP BY 1
ORDER BY 1;
