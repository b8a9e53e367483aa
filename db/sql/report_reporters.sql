-- Tenant report: who sends aggregate reports, and who stopped. A reporter
-- seen in the 90 days before the period but not in it is listed with zero
-- reports; stale: its last report ended more than 3 days before the end of
-- the period (or before now, for a period that has not ended).
-- $1 tenant_id, $2 first day, $3 day after the last.
SELECT nullif(org_name, '') AS reporter,
       count(*) FILTER (WHERE begin_at >= $2::date) AS reports,
       coalesce(sum(messages) FILTER (WHERE begin_at >= $2::date), 0) AS messages,
       count(DISTINCT policy_domain) FILTER (WHERE begin_at >= $2::date) AS domains,
       to_char(max(end_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_report,
       max(end_at) < least(now(), $3::date::timestamptz) - interval '3 days' AS stale
FROM dmarcsift.reports
WHERE tenant_id = $1 AND begin_at >= $2::date - 90 AND begin_at < $3::date
GROUP BY org_name
ORDER BY 3 DESC, 1
