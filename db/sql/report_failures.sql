-- Tenant report: the tenant's open quarantine entries (intake failures
-- belong to 'unassigned' until a tenant is known).
-- $1 tenant_id.
SELECT to_char(received_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS received_at, stage, reason,
       source, sha256
FROM dmarcsift.failures
WHERE tenant_id = $1 AND resolved_at IS NULL
ORDER BY received_at, id
