-- Tenant report: one row per day — every day of the period when it is at
-- most a year long (a silent day shows as zero), else the days with data.
-- From domain_rollup (0026). $1 tenant_id, $2 first day, $3 day after the
-- last.
WITH agg AS (
	SELECT day, sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass AND spf_pass), 0) AS pass_both,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass AND NOT spf_pass), 0) AS pass_dkim_only,
	       coalesce(sum(messages) FILTER (WHERE spf_pass AND NOT dkim_pass), 0) AS pass_spf_only,
	       coalesce(sum(messages) FILTER (WHERE NOT dkim_pass AND NOT spf_pass), 0) AS fail,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass), 0) AS dkim_pass,
	       coalesce(sum(messages) FILTER (WHERE spf_pass), 0) AS spf_pass
	FROM dmarcsift.domain_rollup
	WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date
	GROUP BY day
), days AS (
	SELECT g::date AS day
	FROM generate_series($2::date, $3::date - 1, interval '1 day') g
	WHERE $3::date - $2::date <= 366
	UNION
	SELECT day FROM agg
)
SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
       coalesce(a.messages, 0) AS messages,
       coalesce(a.pass_both, 0) AS pass_both,
       coalesce(a.pass_dkim_only, 0) AS pass_dkim_only,
       coalesce(a.pass_spf_only, 0) AS pass_spf_only,
       coalesce(a.fail, 0) AS fail,
       round((a.messages - a.fail)::numeric / nullif(a.messages, 0), 4) AS dmarc_pass_rate,
       round(a.dkim_pass::numeric / nullif(a.messages, 0), 4) AS dkim_pass_rate,
       round(a.spf_pass::numeric / nullif(a.messages, 0), 4) AS spf_pass_rate
FROM days d
LEFT JOIN agg a USING (day)
ORDER BY d.day
