-- Failure reports of domain $2 waiting in 'unassigned' move to tenant $1,
-- unless the tenant holds the same raw message already.
UPDATE dmarcsift.failure_reports r SET tenant_id = $1::int
WHERE r.tenant_id = 0 AND r.domain = $2
  AND NOT EXISTS (SELECT 1 FROM dmarcsift.failure_reports t
                  WHERE t.tenant_id = $1::int AND t.raw_sha256 = r.raw_sha256)
