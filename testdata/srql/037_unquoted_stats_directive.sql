-- kind: stats
-- columns: source_type text, count integer
-- page: limit 100, offset cursor
SELECT e.source_type, count(*)
FROM events e
WHERE e.outcome = $1
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT $2 OFFSET $3;
-- $1 = "failure"
-- $2 = "101"
-- $3 = "0"
