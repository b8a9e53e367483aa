-- blocklists_assets: what `blocklists check` looks up for each tenant, in
-- the order it asks: own MTAs first (addresses in the tenant's source
-- labels, and the sending IPs of its bounces: its own MTAs' logs), then the
-- other sources of its aggregate records with at least $3 messages, busiest
-- first; then its domains (tenant domains, envelope domains of its bounces,
-- DKIM d= domains of its records at or under a tenant domain). The window
-- is the last $2 days before the tenant's clock: its newest report or
-- bounce (never later than now), as the correlator's. At most $4 assets per
-- tenant. $1: a tenant name, NULL for every tenant but 'unassigned'.
-- Columns: tenant_id, tenant, asset, asset_kind, why, messages.
WITH t AS (
	SELECT tenant_id, name FROM dmarcsift.tenants
	WHERE tenant_id <> 0 AND ($1::text IS NULL OR name = $1::text)
), clk AS (
	SELECT t.tenant_id, t.name,
	       least(now(), coalesce(greatest(
	           (SELECT max(b.at) FROM dmarcsift.bounces b WHERE b.tenant_id = t.tenant_id),
	           (SELECT max(r.end_at) FROM dmarcsift.reports r WHERE r.tenant_id = t.tenant_id)),
	           now())) - make_interval(days => $2::int) AS since
	FROM t
), src AS (
	SELECT s.tenant_id, s.source_ip, sum(s.messages) AS messages, false AS own
	FROM dmarcsift.record_sources s JOIN clk c USING (tenant_id)
	WHERE s.end_at > c.since
	GROUP BY 1, 2
	UNION ALL
	SELECT b.tenant_id, b.sending_ip, 0, true
	FROM dmarcsift.bounces b JOIN clk c USING (tenant_id)
	WHERE b.sending_ip IS NOT NULL AND b.at > c.since
	GROUP BY 1, 2
), ips AS (
	SELECT i.tenant_id, host(i.source_ip) AS asset, 'ip' AS asset_kind,
	       CASE WHEN bool_or(i.own) OR EXISTS (
	                SELECT 1 FROM dmarcsift.source_labels l
	                WHERE l.tenant_id = i.tenant_id AND i.source_ip <<= l.cidr)
	            THEN 'own_mta' ELSE 'source' END AS why,
	       sum(i.messages)::bigint AS messages
	FROM src i
	GROUP BY i.tenant_id, i.source_ip
), doms AS (
	SELECT d.tenant_id, d.domain AS asset, 0 AS pri, 'tenant_domain' AS why, 0::bigint AS n
	FROM dmarcsift.tenant_domains d JOIN clk c USING (tenant_id)
	UNION ALL
	SELECT b.tenant_id, lower(b.mail_from_domain), 1, 'bounce_domain', count(*)
	FROM dmarcsift.bounces b JOIN clk c USING (tenant_id)
	WHERE coalesce(b.mail_from_domain, '') <> '' AND b.at > c.since
	GROUP BY 1, 2
	UNION ALL
	SELECT x.tenant_id, lower(a ->> 'domain'), 2, 'dkim_domain', sum(x.count)::bigint
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	JOIN clk c ON c.tenant_id = x.tenant_id
	CROSS JOIN LATERAL jsonb_array_elements(
		CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth ELSE '[]' END) a
	WHERE r.end_at > c.since AND coalesce(a ->> 'domain', '') <> ''
	  AND EXISTS (SELECT 1 FROM dmarcsift.tenant_domains td
	              WHERE td.tenant_id = x.tenant_id
	                AND (lower(a ->> 'domain') = td.domain
	                     OR right(lower(a ->> 'domain'), length(td.domain) + 1) = '.' || td.domain))
	GROUP BY 1, 2
), dom1 AS (
	SELECT DISTINCT ON (tenant_id, asset) tenant_id, asset, 'domain' AS asset_kind, why, n AS messages, pri
	FROM doms
	ORDER BY tenant_id, asset, pri
), allx AS (
	SELECT tenant_id, asset, asset_kind, why, messages,
	       CASE why WHEN 'own_mta' THEN 0 ELSE 1 END AS pri
	FROM ips WHERE why = 'own_mta' OR messages >= $3::bigint
	UNION ALL
	SELECT tenant_id, asset, asset_kind, why, messages, 2 + pri FROM dom1
), ranked AS (
	SELECT a.*, row_number() OVER (PARTITION BY a.tenant_id
	                               ORDER BY a.pri, a.messages DESC, a.asset) AS rk
	FROM allx a
)
SELECT r.tenant_id, c.name, r.asset, r.asset_kind, r.why, r.messages
FROM ranked r JOIN clk c USING (tenant_id)
WHERE r.rk <= $4::int
ORDER BY c.name, r.rk
