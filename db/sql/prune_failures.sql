-- prune: the next at most $3 closed quarantine entries of tenant $1 (dismissed,
-- or resolved by a reprocess) closed before the cutoff $2. Open entries are
-- never pruned. One row: how many, and their SHA-256s (their raw bytes go
-- when nothing else refers to them: prune_raw.sql).
WITH k AS (
	SELECT id FROM dmarcsift.failures
	WHERE tenant_id = $1::int AND resolved_at < $2::timestamptz
	ORDER BY id LIMIT $3::int
), r AS (
	DELETE FROM dmarcsift.failures o USING k
	WHERE o.tenant_id = $1::int AND o.id = k.id
	RETURNING o.sha256
)
SELECT (SELECT count(*) FROM r), (SELECT coalesce(array_agg(DISTINCT sha256), '{}') FROM r)
