-- Tenant report: addresses suppressed by evidence from the period (still
-- suppressed). $1 tenant_id, $2 first day, $3 day after the last.
SELECT address, reason, evidence_count,
       to_char(coalesce(last_evidence_at, added_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS suppressed_at,
       last_text
FROM dmarcsift.suppressions
WHERE tenant_id = $1 AND lifted_at IS NULL
  AND coalesce(last_evidence_at, added_at) >= $2::date
  AND coalesce(last_evidence_at, added_at) < $3::date
ORDER BY coalesce(last_evidence_at, added_at), address
