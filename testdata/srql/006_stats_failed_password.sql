-- kind: stats
-- columns: src_ip ip, count integer
-- page: limit 10, offset cursor, last page
-- highlight: "Failed password"
SELECT e.src_ip, count(*)
FROM events e
WHERE e.search @@ $1::tsquery
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1
LIMIT $2 OFFSET $3;
-- $1 = "'failed' <-> 'password'"
-- $2 = "11"
-- $3 = "0"
