-- prune: of the raw messages $1 (SHA-256s whose rows prune has just
-- deleted, or old unreferenced candidates), those nothing kept refers to:
-- no aggregate report read from or replaced by them, no TLS or failure
-- report, no quarantine entry (open entries are never pruned, so the bytes
-- of an open quarantine entry always stay; closed ones inside the window
-- keep theirs too). Raw messages are the intake's, tenant 0. The tenant
-- columns are matched as = ANY (every tenant id) so that the existing
-- (tenant_id, sha) indexes answer. One row: how many were deleted.
WITH t AS (
	SELECT array_agg(tenant_id) AS ids FROM dmarcsift.tenants
), d AS (
	DELETE FROM dmarcsift.raw_messages m
	WHERE m.tenant_id = 0 AND m.sha256 = ANY ($1::text[])
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.reports o
	                  WHERE o.tenant_id = ANY ((SELECT ids FROM t)::int[]) AND o.raw_sha256 = m.sha256)
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.reports o
	                  WHERE o.replaced_sha256 = m.sha256 AND o.replaced_sha256 IS NOT NULL)
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.tls_reports o
	                  WHERE o.tenant_id = ANY ((SELECT ids FROM t)::int[]) AND o.raw_sha256 = m.sha256)
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.failure_reports o
	                  WHERE o.tenant_id = ANY ((SELECT ids FROM t)::int[]) AND o.raw_sha256 = m.sha256)
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.failures f WHERE f.sha256 = m.sha256)
	RETURNING 1
)
SELECT count(*) FROM d
