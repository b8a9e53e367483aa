-- Tenant report: the correlator's flags (issue 8's v_flags) active in the
-- period, most severe first. $1 tenant name, $2 first day, $3 day after the
-- last.
SELECT kind, confidence, cause, provider, domain, host(source_ip::inet) AS source_ip,
       to_char(first_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
       rejects, dmarc_messages,
       round(dkim_pass_rate::numeric, 4) AS dkim_pass_rate,
       round(spf_pass_rate::numeric, 4) AS spf_pass_rate,
       round(dmarc_pass_rate::numeric, 4) AS dmarc_pass_rate,
       status, evidence::text AS evidence
FROM dmarcsift.v_flags
WHERE tenant = $1 AND last_seen >= $2::date AND first_seen < $3::date
ORDER BY CASE status WHEN 'resolved' THEN 1 ELSE 0 END,
         CASE kind WHEN 'auth_driven' THEN 0 WHEN 'not_auth_driven' THEN 1
                   WHEN 'mixed' THEN 2 ELSE 3 END,
         CASE confidence WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
         rejects DESC, provider, domain
