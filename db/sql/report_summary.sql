-- Tenant report: the period in one row, and the previous period of the same
-- length for comparison. $1 tenant_id, $2 first day, $3 day after the last.
-- The sums come from domain_rollup (per day and policy domain, 0026); only
-- the number of distinct sources needs daily_rollup (per source IP), read
-- as an index-only scan of its primary key.
WITH cur AS (
	SELECT sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass), 0) AS dkim_pass,
	       coalesce(sum(messages) FILTER (WHERE spf_pass), 0) AS spf_pass,
	       count(DISTINCT policy_domain) AS domains,
	       count(DISTINCT day) AS days_with_data
	FROM dmarcsift.domain_rollup
	WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date
), src AS (
	SELECT count(DISTINCT source_ip) AS sources
	FROM dmarcsift.daily_rollup
	WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date
), prev AS (
	SELECT sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass
	FROM dmarcsift.domain_rollup
	WHERE tenant_id = $1 AND day >= $2::date - ($3::date - $2::date) AND day < $2::date
), rep AS (
	SELECT count(*) AS reports, count(DISTINCT nullif(org_name, '')) AS reporters
	FROM dmarcsift.reports
	WHERE tenant_id = $1 AND begin_at >= $2::date AND begin_at < $3::date
)
SELECT coalesce(cur.messages, 0) AS messages,
       round(cur.dmarc_pass::numeric / nullif(cur.messages, 0), 4) AS dmarc_pass_rate,
       round(cur.dkim_pass::numeric / nullif(cur.messages, 0), 4) AS dkim_pass_rate,
       round(cur.spf_pass::numeric / nullif(cur.messages, 0), 4) AS spf_pass_rate,
       coalesce(cur.messages - cur.dmarc_pass, 0) AS dmarc_fail,
       round(prev.dmarc_pass::numeric / nullif(prev.messages, 0), 4) AS previous_dmarc_pass_rate,
       round(cur.dmarc_pass::numeric / nullif(cur.messages, 0), 4)
         - round(prev.dmarc_pass::numeric / nullif(prev.messages, 0), 4) AS dmarc_pass_rate_change,
       cur.domains, src.sources, rep.reporters, rep.reports, cur.days_with_data,
       $3::date - $2::date AS days
FROM cur, src, prev, rep
