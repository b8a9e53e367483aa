-- correlate_keys_full: every group with policy-class rejects in the run's
-- scope (tenant, since, until), from their day rows (0025_bounce_days), and
-- every tenant in scope. The dirty queue
-- of that scope is consumed too: all of it is recomputed anyway.
WITH p AS (
	SELECT * FROM pg_temp.corr_params
), done AS (
	DELETE FROM dmarcsift.correlate_dirty c USING p
	WHERE (p.scope_tenant IS NULL OR c.tenant_id = p.scope_tenant)
	  AND c.tenant_id % p.parts = p.part -- this run's share of the tenants
	  AND (p.since IS NULL OR c.day >= p.since) AND (p.until IS NULL OR c.day <= p.until)
), t AS (
	INSERT INTO pg_temp.corr_tenants
	SELECT t.tenant_id FROM dmarcsift.tenants t, p
	WHERE (p.scope_tenant IS NULL OR t.tenant_id = p.scope_tenant)
	  AND t.tenant_id % p.parts = p.part -- this run's share of the tenants
	ON CONFLICT DO NOTHING
)
INSERT INTO pg_temp.corr_keys (tenant_id, provider, domain, ip_key)
SELECT DISTINCT b.tenant_id, b.provider, b.domain, b.ip_key
FROM dmarcsift.bounce_days b, p
WHERE (p.scope_tenant IS NULL OR b.tenant_id = p.scope_tenant)
	  AND b.tenant_id % p.parts = p.part -- this run's share of the tenants
  AND (p.since IS NULL OR b.day >= p.since) AND (p.until IS NULL OR b.day <= p.until)
ON CONFLICT DO NOTHING;
