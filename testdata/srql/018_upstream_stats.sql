-- kind: stats
-- columns: host text, n integer
-- page: limit 100, offset cursor
SELECT e.host, count(*)
FROM events e
WHERE e.source_type = ANY($1::text[])
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1
LIMIT $2 OFFSET $3;
-- $1 = "{\"auth\",\"syslog\",\"journald\"}"
-- $2 = "101"
-- $3 = "0"
