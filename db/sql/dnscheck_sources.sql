-- dnscheck_sources: the sending sources of each tenant domain in the same
-- window as dnscheck_domains ($1 tenant name or NULL, $2 days), the $3
-- busiest per domain, with the messages whose aligned SPF and aligned DKIM
-- passed (is each covered by the domain's SPF record?).
-- Columns: tenant_id, domain, ip, messages, spf_pass, dkim_pass.
WITH t AS (
	SELECT tenant_id FROM dmarcsift.tenants
	WHERE tenant_id <> 0 AND ($1::text IS NULL OR name = $1::text)
), clk AS (
	SELECT t.tenant_id,
	       (least(now(), coalesce((SELECT max(r.end_at) FROM dmarcsift.reports r
	                               WHERE r.tenant_id = t.tenant_id), now()))
	        AT TIME ZONE 'UTC')::date - $2::int AS since
	FROM t
), src AS (
	SELECT d.tenant_id, d.policy_domain AS domain, host(d.source_ip) AS ip,
	       sum(d.messages) AS messages,
	       coalesce(sum(d.messages) FILTER (WHERE d.spf_pass), 0) AS spf_pass,
	       coalesce(sum(d.messages) FILTER (WHERE d.dkim_pass), 0) AS dkim_pass,
	       row_number() OVER (PARTITION BY d.tenant_id, d.policy_domain
	                          ORDER BY sum(d.messages) DESC, d.source_ip) AS rank
	FROM dmarcsift.daily_rollup d
	JOIN clk c USING (tenant_id)
	JOIN dmarcsift.tenant_domains td ON td.tenant_id = d.tenant_id AND td.domain = d.policy_domain
	WHERE d.day > c.since
	GROUP BY d.tenant_id, d.policy_domain, d.source_ip
)
SELECT tenant_id, domain, ip, messages, spf_pass, dkim_pass
FROM src WHERE rank <= $3::int
ORDER BY tenant_id, domain COLLATE "C", messages DESC, ip
