-- Tenant report: open escalations seen in the period.
-- $1 tenant_id, $2 first day, $3 day after the last.
SELECT provider, class, code_family, count, attempts, round(rate::numeric, 4) AS rate,
       to_char(first_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
       reason AS trigger, pattern, sample_text
FROM dmarcsift.escalations
WHERE tenant_id = $1 AND status = 'open' AND last_seen >= $2::date AND first_seen < $3::date
ORDER BY count DESC, last_seen DESC, provider
