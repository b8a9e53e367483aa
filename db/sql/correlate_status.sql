-- correlate_status: the status of every flag of the tenants whose data
-- changed, by the tenant's clock (its newest bounce of any kind): resolved
-- after `resolve` without a reject, reopened when rejects came back after
-- a resolution (more than one episode), else open. Returns (resolved,
-- other changes).
WITH c AS (
	SELECT t.tenant_id,
	       (SELECT max(b.at) FROM dmarcsift.bounces b WHERE b.tenant_id = t.tenant_id) AS clock
	FROM pg_temp.corr_tenants t
), n AS (
	SELECT f.tenant_id, f.id,
	       CASE WHEN c.clock - f.last_seen >= p.resolve THEN 'resolved'
	            -- open and reopened were set with the episodes now in the
	            -- evidence (correlate_flags.sql): read it only for the others
	            WHEN f.status <> 'resolved' THEN f.status
	            WHEN coalesce((f.evidence ->> 'episodes')::integer, 1) > 1 THEN 'reopened'
	            ELSE 'open' END AS st
	FROM dmarcsift.flags f
	JOIN c ON c.tenant_id = f.tenant_id
	CROSS JOIN pg_temp.corr_params p
), u AS (
	UPDATE dmarcsift.flags f SET status = n.st, updated_at = now()
	FROM n WHERE f.tenant_id = n.tenant_id AND f.id = n.id AND f.status <> n.st
	RETURNING n.st
)
SELECT count(*) FILTER (WHERE st = 'resolved'), count(*) FILTER (WHERE st <> 'resolved')
FROM u;
