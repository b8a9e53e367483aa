-- Tenant report: sending sources, the most failing messages first (at most
-- $4 rows; total_sources says how many there were). Who reported them:
-- report_source_reporters.sql. $1 tenant_id, $2 first day, $3 day after the
-- last, $4 row limit.
WITH s AS (
	SELECT source_ip, sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE NOT (dkim_pass OR spf_pass)), 0) AS failing,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass), 0) AS dkim_pass,
	       coalesce(sum(messages) FILTER (WHERE spf_pass), 0) AS spf_pass
	FROM dmarcsift.daily_rollup
	WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date
	GROUP BY source_ip
)
SELECT host(source_ip) AS source_ip, messages, coalesce(failing, 0) AS failing,
       round(dmarc_pass::numeric / nullif(messages, 0), 4) AS dmarc_pass_rate,
       round(dkim_pass::numeric / nullif(messages, 0), 4) AS dkim_pass_rate,
       round(spf_pass::numeric / nullif(messages, 0), 4) AS spf_pass_rate,
       count(*) OVER () AS total_sources
FROM s
ORDER BY coalesce(failing, 0) DESC, messages DESC, source_ip
LIMIT $4::int
