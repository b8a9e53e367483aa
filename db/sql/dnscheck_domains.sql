-- dnscheck_domains: the domains `dns check` looks at, with the numbers its
-- DMARC policy stage needs: per tenant domain, the messages of the last $2
-- days of the tenant's reports (before its clock: its newest report, never
-- later than now, as the correlator's), how many passed DMARC (aligned
-- DKIM or SPF) and on how many days there was data. $1: a tenant name,
-- NULL for every tenant but 'unassigned'.
-- Columns: tenant_id, tenant, domain, messages, dmarc_pass, days.
WITH t AS (
	SELECT tenant_id, name FROM dmarcsift.tenants
	WHERE tenant_id <> 0 AND ($1::text IS NULL OR name = $1::text)
), clk AS (
	SELECT t.tenant_id,
	       (least(now(), coalesce((SELECT max(r.end_at) FROM dmarcsift.reports r
	                               WHERE r.tenant_id = t.tenant_id), now()))
	        AT TIME ZONE 'UTC')::date - $2::int AS since
	FROM t
), agg AS (
	SELECT d.tenant_id, d.policy_domain AS domain, sum(d.messages) AS messages,
	       coalesce(sum(d.messages) FILTER (WHERE d.dkim_pass OR d.spf_pass), 0) AS pass,
	       count(DISTINCT d.day) AS days
	FROM dmarcsift.daily_rollup d JOIN clk c USING (tenant_id)
	WHERE d.day > c.since
	GROUP BY 1, 2
)
SELECT t.tenant_id, t.name, td.domain, coalesce(a.messages, 0), coalesce(a.pass, 0),
       coalesce(a.days, 0)
FROM t
JOIN dmarcsift.tenant_domains td USING (tenant_id)
LEFT JOIN agg a ON a.tenant_id = td.tenant_id AND a.domain = td.domain
ORDER BY t.tenant_id, td.domain COLLATE "C"
