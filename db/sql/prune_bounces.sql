-- prune: the next at most $3 bounce events of tenant $1 that happened before
-- the cutoff $2 (stored before it, when the time is unknown), through
-- bounces_at_idx. The statement trigger of 0025_bounce_days recomputes the
-- per-day rows they touched, which disappear with the day's last event.
-- One row: how many.
WITH k AS (
	SELECT id FROM dmarcsift.bounces
	WHERE tenant_id = $1::int
	  AND (at < $2::timestamptz OR (at IS NULL AND ingested_at < $2::timestamptz))
	LIMIT $3::int
), d AS (
	DELETE FROM dmarcsift.bounces b USING k
	WHERE b.tenant_id = $1::int AND b.id = k.id
	RETURNING 1
)
SELECT count(*) FROM d
