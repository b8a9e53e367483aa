-- dnscheck_domains: the domains `dns check` looks at, with the numbers its
-- DMARC policy stage needs: per tenant domain, the messages of the last $2
-- days of the tenant's reports (before its clock: its newest report, never
-- later than now, as the correlator's), how many passed DMARC (aligned
-- DKIM or SPF) and on how many days there was data. $1: a tenant name,
-- NULL for every tenant but 'unassigned'. With them, what the domain's SMTP
-- TLS reports (RFC 8460) of the same window say: how many arrived, the
-- sessions that succeeded and failed, and the most frequent failure.
-- Columns: tenant_id, tenant, domain, messages, dmarc_pass, days,
-- tls_reports, tls_ok, tls_failed, tls_top_failure, tls_top_failed.
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
), tls AS (
	SELECT r.tenant_id, r.policy_domain AS domain, count(DISTINCT r.id) AS reports,
	       coalesce(sum(p.successful_sessions), 0) AS ok,
	       coalesce(sum(p.failed_sessions), 0) AS failed
	FROM dmarcsift.tls_reports r JOIN clk c USING (tenant_id)
	LEFT JOIN dmarcsift.tls_policies p ON p.tenant_id = r.tenant_id AND p.report_pk = r.id
	WHERE (r.begin_at AT TIME ZONE 'UTC')::date > c.since
	GROUP BY 1, 2
), tls_top AS (
	SELECT DISTINCT ON (r.tenant_id, r.policy_domain) r.tenant_id, r.policy_domain AS domain,
	       f.result_type, sum(f.failed_sessions) AS failed
	FROM dmarcsift.tls_reports r JOIN clk c USING (tenant_id)
	JOIN dmarcsift.tls_failures f ON f.tenant_id = r.tenant_id AND f.report_pk = r.id
	WHERE (r.begin_at AT TIME ZONE 'UTC')::date > c.since
	GROUP BY r.tenant_id, r.policy_domain, f.result_type
	ORDER BY r.tenant_id, r.policy_domain, sum(f.failed_sessions) DESC, f.result_type
)
SELECT t.tenant_id, t.name, td.domain, coalesce(a.messages, 0), coalesce(a.pass, 0),
       coalesce(a.days, 0), coalesce(x.reports, 0), coalesce(x.ok, 0),
       coalesce(x.failed, 0), coalesce(y.result_type, ''), coalesce(y.failed, 0)
FROM t
JOIN dmarcsift.tenant_domains td USING (tenant_id)
LEFT JOIN agg a ON a.tenant_id = td.tenant_id AND a.domain = td.domain
LEFT JOIN tls x ON x.tenant_id = td.tenant_id AND x.domain = td.domain
LEFT JOIN tls_top y ON y.tenant_id = td.tenant_id AND y.domain = td.domain
ORDER BY t.tenant_id, td.domain COLLATE "C"
