-- MSP overview: one row per tenant ('unassigned' only when it holds
-- something). $1 first day, $2 day after the last. last_report: the end of
-- the latest report ever received; silent: more than 3 days before the end
-- of the period (or now, for a period that has not ended). The sums come
-- from domain_rollup (per tenant, day and policy domain: 0026).
WITH cur AS (
	SELECT tenant_id, sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass,
	       count(DISTINCT policy_domain) AS domains_seen
	FROM dmarcsift.domain_rollup
	WHERE day >= $1::date AND day < $2::date
	GROUP BY tenant_id
), prev AS (
	SELECT tenant_id, sum(messages) AS messages,
	       coalesce(sum(messages) FILTER (WHERE dkim_pass OR spf_pass), 0) AS dmarc_pass
	FROM dmarcsift.domain_rollup
	WHERE day >= $1::date - ($2::date - $1::date) AND day < $1::date
	GROUP BY tenant_id
), pol AS (
	SELECT DISTINCT ON (tenant_id, policy_domain) tenant_id, policy_domain, p, pct, testing
	FROM dmarcsift.reports
	WHERE begin_at >= $1::date AND begin_at < $2::date
	ORDER BY tenant_id, policy_domain, begin_at DESC, id DESC
), enf AS (
	SELECT tenant_id, count(*) AS policy_domains,
	       count(*) FILTER (WHERE lower(p) IN ('quarantine', 'reject')
	                          AND coalesce(pct, 100) = 100
	                          AND coalesce(lower(testing), 'n') <> 'y') AS enforced
	FROM pol GROUP BY tenant_id
), dom AS (
	SELECT tenant_id, count(*) AS domains FROM dmarcsift.tenant_domains GROUP BY tenant_id
), esc AS (
	SELECT tenant_id, count(*) AS escalations
	FROM dmarcsift.escalations WHERE status = 'open' AND first_seen < $2::date
	GROUP BY tenant_id
), q AS (
	SELECT tenant_id, count(*) AS quarantined
	FROM dmarcsift.failures WHERE resolved_at IS NULL GROUP BY tenant_id
), last AS (
	SELECT tenant_id, max(end_at) AS last_report
	FROM dmarcsift.reports WHERE begin_at < $2::date GROUP BY tenant_id
)
SELECT t.name AS tenant, t.tenant_id,
       greatest(coalesce(dom.domains, 0), coalesce(cur.domains_seen, 0)) AS domains,
       coalesce(cur.messages, 0) AS messages,
       round(cur.dmarc_pass::numeric / nullif(cur.messages, 0), 4) AS dmarc_pass_rate,
       round(prev.dmarc_pass::numeric / nullif(prev.messages, 0), 4) AS previous_dmarc_pass_rate,
       round(cur.dmarc_pass::numeric / nullif(cur.messages, 0), 4)
         - round(prev.dmarc_pass::numeric / nullif(prev.messages, 0), 4) AS dmarc_pass_rate_change,
       coalesce(enf.enforced, 0) AS enforced_domains, coalesce(enf.policy_domains, 0) AS policy_domains,
       coalesce(esc.escalations, 0) AS escalations,
       coalesce(q.quarantined, 0) AS quarantined,
       to_char(last.last_report, 'YYYY-MM-DD') AS last_report,
       t.tenant_id <> 0
         AND coalesce(last.last_report < least(now(), $2::date::timestamptz) - interval '3 days', true)
         AS silent
FROM dmarcsift.tenants t
LEFT JOIN cur USING (tenant_id)
LEFT JOIN prev USING (tenant_id)
LEFT JOIN enf USING (tenant_id)
LEFT JOIN dom USING (tenant_id)
LEFT JOIN esc USING (tenant_id)
LEFT JOIN q USING (tenant_id)
LEFT JOIN last USING (tenant_id)
WHERE t.tenant_id <> 0 OR cur.messages IS NOT NULL OR q.quarantined IS NOT NULL
   OR last.last_report IS NOT NULL
ORDER BY t.name
