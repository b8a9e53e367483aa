-- escalations_list: v_escalations for `dmarcsift escalations`, newest first.
-- $1 tenant name or NULL, $2 true to include closed escalations.
SELECT tenant, provider, class, code_family, count, attempts,
       round(rate::numeric, 4) AS rate,
       to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
       reason AS trigger, status, pattern, sample_text
FROM dmarcsift.v_escalations
WHERE ($1::text IS NULL OR tenant = $1) AND ($2::boolean OR status = 'open')
ORDER BY last_seen DESC, tenant, provider, count DESC;
