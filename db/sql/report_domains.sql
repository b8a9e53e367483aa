-- Tenant report: per policy domain, the traffic and the policy the latest
-- report of the period says is published; domains the tenant owns that
-- sent no report are listed too. The sums come from domain_rollup (0026).
-- $1 tenant_id, $2 first day, $3 day after the last.
WITH agg AS (
	SELECT policy_domain AS domain, sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass), 0) AS dkim_pass,
	       coalesce(sum(messages) FILTER (WHERE spf_pass), 0) AS spf_pass,
	       count(DISTINCT day) AS days
	FROM dmarcsift.domain_rollup
	WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date
	GROUP BY policy_domain
), pol AS (
	SELECT DISTINCT ON (policy_domain) policy_domain AS domain, p, sp, pct, np, testing
	FROM dmarcsift.reports
	WHERE tenant_id = $1 AND begin_at >= $2::date AND begin_at < $3::date
	ORDER BY policy_domain, begin_at DESC, id DESC
), owned AS (
	SELECT domain FROM dmarcsift.tenant_domains WHERE tenant_id = $1
)
SELECT d.domain, coalesce(a.messages, 0) AS messages,
       round(a.dmarc_pass::numeric / nullif(a.messages, 0), 4) AS dmarc_pass_rate,
       round(a.dkim_pass::numeric / nullif(a.messages, 0), 4) AS dkim_pass_rate,
       round(a.spf_pass::numeric / nullif(a.messages, 0), 4) AS spf_pass_rate,
       coalesce(a.days, 0) AS days, p.p, p.sp, p.pct, p.np, p.testing
FROM (SELECT domain FROM agg UNION SELECT domain FROM owned) d
LEFT JOIN agg a USING (domain)
LEFT JOIN pol p USING (domain)
ORDER BY coalesce(a.messages, 0) DESC, d.domain
