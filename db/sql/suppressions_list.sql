-- suppressions_list: v_suppressions for `dmarcsift suppressions`.
-- $1 tenant name or NULL, $2 an interval (added since now minus it) or NULL,
-- $3 a timestamp (added since then) or NULL.
SELECT tenant, address, reason,
       to_char(first_evidence_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
         AS first_evidence,
       to_char(last_evidence_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
         AS last_evidence,
       evidence_count AS bounces,
       to_char(added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS added,
       last_text
FROM dmarcsift.v_suppressions
WHERE ($1::text IS NULL OR tenant = $1)
  AND ($2::interval IS NULL OR added_at >= now() - $2::interval)
  AND ($3::timestamptz IS NULL OR added_at >= $3::timestamptz)
ORDER BY tenant, added_at DESC, address;
