-- 0016_failure_tenants: a quarantined input belongs to a tenant when it is
-- known whose it is. An input that failed after its report header was read
-- names its policy domain; one delivered through a mailbox or `--tenant`
-- pinned to a tenant names that tenant. Such a failure is stored under the
-- owner of the domain (else the pinned tenant), so the tenant's reader and
-- its report see it, and `tenant add` adopts the ones waiting in
-- 'unassigned' for a domain it now owns. Inputs that never parsed that far
-- stay in 'unassigned' (the intake).
ALTER TABLE dmarcsift.failures ADD COLUMN domain text;

-- One open entry per raw input whatever tenant holds it (the same bytes may
-- be attributed later than they first failed).
DROP INDEX dmarcsift.failures_open_idx;
CREATE UNIQUE INDEX failures_open_idx ON dmarcsift.failures (sha256) WHERE resolved_at IS NULL;
CREATE INDEX failures_domain_idx ON dmarcsift.failures (tenant_id, domain)
	WHERE domain IS NOT NULL AND resolved_at IS NULL;

CREATE OR REPLACE VIEW dmarcsift.v_failures WITH (security_invoker = true) AS
SELECT f.received_at, f.source, f.stage, f.reason, f.sha256,
       f.attempts, f.last_tried_at, f.last_stage, f.last_reason,
       t.name AS tenant, f.domain
FROM dmarcsift.failures f
JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id
WHERE f.resolved_at IS NULL
ORDER BY f.received_at, f.id;
COMMENT ON COLUMN dmarcsift.v_failures.tenant IS 'Tenant the input belongs to: owner of its policy domain, else the mailbox''s pinned tenant, else unassigned';
COMMENT ON COLUMN dmarcsift.v_failures.domain IS 'Policy domain of the report, when the input was read that far';
