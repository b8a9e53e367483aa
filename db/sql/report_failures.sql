-- Tenant report: the tenant's open quarantine entries (those whose policy
-- domain or pinned mailbox names the tenant; see 0016_failure_tenants).
-- $1 tenant_id.
SELECT to_char(received_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS received_at, stage, reason,
       source, sha256
FROM dmarcsift.failures
WHERE tenant_id = $1 AND resolved_at IS NULL
ORDER BY received_at, id
