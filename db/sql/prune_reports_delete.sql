-- prune, inside a batch's transaction, last: the reports themselves. One
-- row: how many, and the SHA-256s of the raw messages they were read from
-- (or replaced), for prune_raw.sql. $1 tenant_id, $2 report ids.
WITH r AS (
	DELETE FROM dmarcsift.reports
	WHERE tenant_id = $1::int AND id = ANY ($2::bigint[])
	RETURNING raw_sha256, replaced_sha256
)
SELECT (SELECT count(*) FROM r),
       (SELECT coalesce(array_agg(DISTINCT u.sha), '{}')
        FROM r CROSS JOIN LATERAL unnest(ARRAY[r.raw_sha256, r.replaced_sha256]) u(sha)
        WHERE u.sha IS NOT NULL)
