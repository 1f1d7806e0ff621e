-- kind: stats
-- columns: rule text, k8s.namespace text, count integer, count_distinct_host integer, max_time timestamp
-- page: limit 100, offset cursor
SELECT e.rule, e.fields->>$2, count(*), count(DISTINCT e.host), to_char(max(e.time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM events e
WHERE e.source_type = ANY($1::text[])
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2
LIMIT $3 OFFSET $4;
-- $1 = "{\"falco_alert\",\"exec_denied\",\"xdp_drop\"}"
-- $2 = "k8s.namespace"
-- $3 = "101"
-- $4 = "0"
