-- flags_list: v_flags for `dmarcsift flags`, most severe first.
-- $1 tenant name or NULL, $2 kind or NULL, $3 day (flags seen on or after)
-- or NULL, $4 true to include resolved flags.
SELECT tenant, kind, confidence, cause, provider, domain, host(source_ip) AS source_ip,
       to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
       rejects, dmarc_messages, dkim_pass_rate, spf_pass_rate, dmarc_pass_rate, status,
       evidence
FROM dmarcsift.v_flags
WHERE ($1::text IS NULL OR tenant = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::date IS NULL OR v_flags.last_seen >= $3::date::timestamp AT TIME ZONE 'UTC')
  AND ($4::boolean OR status <> 'resolved')
ORDER BY CASE status WHEN 'resolved' THEN 1 ELSE 0 END,
         CASE kind WHEN 'auth_driven' THEN 0 WHEN 'not_auth_driven' THEN 1
                   WHEN 'mixed' THEN 2 ELSE 3 END,
         CASE confidence WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
         rejects DESC, tenant, provider, domain, v_flags.source_ip NULLS LAST;
