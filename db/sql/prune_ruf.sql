-- prune: the next at most $3 DMARC failure reports (RUF) of tenant $1 that
-- arrived before the cutoff $2 (their Arrival-Date, else when they were
-- stored). One row: how many, and their raw SHA-256s.
WITH k AS (
	SELECT id FROM dmarcsift.failure_reports
	WHERE tenant_id = $1::int AND coalesce(arrival_at, ingested_at) < $2::timestamptz
	ORDER BY id LIMIT $3::int
), r AS (
	DELETE FROM dmarcsift.failure_reports o USING k
	WHERE o.tenant_id = $1::int AND o.id = k.id
	RETURNING o.raw_sha256
)
SELECT (SELECT count(*) FROM r), (SELECT coalesce(array_agg(DISTINCT raw_sha256), '{}') FROM r)
