-- kind: events
-- columns: time timestamp, id text, host text, agent_id text, source_type text, severity severity, severity_text text, program text, pid integer, user_name text, src_ip ip, outcome text, action text, rule text, message text, fields json, tags text_array, score number
-- page: limit 100, offset cursor
-- highlight: "reverse shell" "nc"
WITH s AS (SELECT * FROM search_query_stats($2::text[]))
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, array_to_json(e.tags), search_bm25(e.search, s.terms, s.idf, s.avg_len) AS score
FROM (SELECT e.time, e.id, e.host, e.agent_id, e.source_type, e.severity, e.severity_text, e.program, e.pid, e.user_name, e.src_ip, e.outcome, e.action, e.rule, e.message, e.fields, e.tags, e.search
      FROM events e
      WHERE e.search @@ $1::tsquery
      ORDER BY e.time DESC LIMIT 10000) e CROSS JOIN s
ORDER BY score DESC, e.time DESC, e.id DESC
LIMIT $3 OFFSET $4;
-- $1 = "('reverse' <-> 'shell') & 'nc'"
-- $2 = "{\"reverse\",\"shell\",\"nc\"}"
-- $3 = "101"
-- $4 = "0"
-- histogram (filter params, then the bucket width):
SELECT to_char(time_bucket(make_interval(secs => $2::bigint), e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), count(*)
FROM events e
WHERE e.search @@ $1::tsquery
GROUP BY 1
ORDER BY 1;
