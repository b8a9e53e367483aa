-- correlate_keys_dirty: what changed since the last run. The (tenant, day)s
-- queued by the triggers of 0005_correlator.sql (new bounces; new reports,
-- whose days are queued with the +-1 day the matching allows) are taken off
-- the queue, and every group with policy-class rejects on those days is
-- recomputed (their day rows: 0025_bounce_days), and so is every flag whose
-- episode has such a day between its first and last day: a report arriving
-- late for a quiet day inside an episode changes the flag's window data
-- though no reject is near it. With a report's days queued one day wider
-- on each side, [first day, last day] of the flag is exactly the reports
-- that overlap its window [first day - 1, last day + 2).
WITH p AS (
	SELECT * FROM pg_temp.corr_params
), d AS (
	DELETE FROM dmarcsift.correlate_dirty c USING p
	WHERE (p.scope_tenant IS NULL OR c.tenant_id = p.scope_tenant)
	  AND c.tenant_id % p.parts = p.part -- this run's share of the tenants
	  AND (p.since IS NULL OR c.day >= p.since) AND (p.until IS NULL OR c.day <= p.until)
	RETURNING c.tenant_id, c.day
), t AS (
	INSERT INTO pg_temp.corr_tenants SELECT DISTINCT tenant_id FROM d
	ON CONFLICT DO NOTHING
), q AS (
	INSERT INTO pg_temp.corr_days SELECT DISTINCT tenant_id, day FROM d
	ON CONFLICT DO NOTHING
)
INSERT INTO pg_temp.corr_keys (tenant_id, provider, domain, ip_key)
SELECT b.tenant_id, b.provider, b.domain, b.ip_key
FROM d
JOIN dmarcsift.bounce_days b ON b.tenant_id = d.tenant_id AND b.day = d.day
UNION
SELECT f.tenant_id, f.provider, f.domain, f.ip_key
FROM d
JOIN dmarcsift.flags f ON f.tenant_id = d.tenant_id
 AND d.day >= (f.first_seen AT TIME ZONE 'UTC')::date
 AND d.day <= (f.last_seen AT TIME ZONE 'UTC')::date
ON CONFLICT DO NOTHING;
