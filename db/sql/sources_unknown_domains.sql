-- Domains of records (header_from, envelope_from, DKIM d=, SPF domain)
-- whose organisational domain is not stored yet. $1 tenant_id or NULL; $2
-- NULL, or only the records of reports ingested since then.
SELECT DISTINCT v.d
FROM dmarcsift.records x
JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
CROSS JOIN LATERAL (
	SELECT lower(x.header_from)
	UNION ALL SELECT lower(x.envelope_from)
	UNION ALL SELECT lower(a->>'domain') FROM jsonb_array_elements(x.dkim_auth) a
	UNION ALL SELECT lower(a->>'domain') FROM jsonb_array_elements(x.spf_auth) a
) v(d)
WHERE ($1::integer IS NULL OR x.tenant_id = $1)
  AND ($2::timestamptz IS NULL OR r.ingested_at >= $2)
  AND v.d IS NOT NULL AND v.d <> ''
  AND NOT EXISTS (SELECT 1 FROM dmarcsift.org_domains o WHERE o.domain = v.d)
