-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array
-- page: limit 100, keyset cursor
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags)
FROM events e
WHERE (e.fields @> $1::jsonb OR e.fields @> $2::jsonb) AND e.fields->>$3 LIKE $4 AND e.fields->>$5 = ANY($6::text[])
ORDER BY e.time DESC, e.id DESC
LIMIT $7;
-- $1 = "{\"proc.tty\":\"34816\"}"
-- $2 = "{\"proc.tty\":34816}"
-- $3 = "fd.name"
-- $4 = "/etc/shadow%"
-- $5 = "k8s.pod.name"
-- $6 = "{\"kubecon\",\"web\"}"
-- $7 = "101"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $7::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE (e.fields @> $1::jsonb OR e.fields @> $2::jsonb) AND e.fields->>$3 LIKE $4 AND e.fields->>$5 = ANY($6::text[])
GROUP BY 1
ORDER BY 1;
