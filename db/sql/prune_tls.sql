-- prune: the next at most $3 TLS reports (RFC 8460) of tenant $1 whose
-- period ended before the cutoff $2, with their policies and failure
-- details (ON DELETE CASCADE). One row: how many, and their raw SHA-256s.
WITH k AS (
	SELECT id FROM dmarcsift.tls_reports
	WHERE tenant_id = $1::int AND end_at < $2::timestamptz
	ORDER BY id LIMIT $3::int
), r AS (
	DELETE FROM dmarcsift.tls_reports o USING k
	WHERE o.tenant_id = $1::int AND o.id = k.id
	RETURNING o.raw_sha256
)
SELECT (SELECT count(*) FROM r),
       (SELECT coalesce(array_agg(DISTINCT raw_sha256), '{}') FROM r
        WHERE raw_sha256 IS NOT NULL)
