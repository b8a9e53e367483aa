-- What source marking needs, one row per fact, ordered by tenant and
-- address: kind 'all' (every source once: its messages and the cached PTR,
-- whether it is confirmed, and its ASN), 'fwd' (messages whose override
-- reason says forwarded, mailing_list or trusted_forwarder), 'dkim' and
-- 'spf' (messages per passing auth domain and header From domain).
-- $1 tenant_id or NULL (all); $2 NULL (every source), or a time: only the
-- sources with reports ingested or facts looked up since then (after an
-- ingest), each with all of its records.
WITH changed AS (
	SELECT DISTINCT x.tenant_id, x.source_ip
	FROM dmarcsift.reports r
	JOIN dmarcsift.records x ON x.tenant_id = r.tenant_id AND x.report_pk = r.id
	WHERE $2::timestamptz IS NOT NULL AND r.ingested_at >= $2
	UNION
	SELECT x.tenant_id, x.source_ip
	FROM dmarcsift.source_facts f
	JOIN dmarcsift.records x ON x.source_ip = f.ip
	WHERE $2::timestamptz IS NOT NULL AND f.resolved_at >= $2
),
scope AS MATERIALIZED (
	SELECT x.tenant_id, x.source_ip, x.count, x.header_from, x.reasons, x.dkim_auth, x.spf_auth
	FROM dmarcsift.records x
	WHERE ($1::integer IS NULL OR x.tenant_id = $1)
	  AND ($2::timestamptz IS NULL
	       OR EXISTS (SELECT 1 FROM changed c
	                  WHERE c.tenant_id = x.tenant_id AND c.source_ip = x.source_ip))
)
SELECT s.tenant_id, host(s.source_ip) AS ip, 'all' AS kind, f.ptr AS domain,
       CASE WHEN f.ptr_confirmed THEN 'confirmed' END AS header_from,
       sum(s.count)::bigint AS messages, max(f.asn) AS asn
FROM scope s LEFT JOIN dmarcsift.source_facts f ON f.ip = s.source_ip
GROUP BY s.tenant_id, s.source_ip, f.ptr, f.ptr_confirmed
UNION ALL
SELECT s.tenant_id, host(s.source_ip), 'fwd', NULL, NULL, sum(s.count)::bigint, NULL
FROM scope s
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(s.reasons) r
              WHERE lower(r->>'type') IN ('forwarded', 'mailing_list', 'trusted_forwarder'))
GROUP BY s.tenant_id, s.source_ip
UNION ALL
SELECT s.tenant_id, host(s.source_ip), 'dkim', lower(a->>'domain'), lower(s.header_from),
       sum(s.count)::bigint, NULL
FROM scope s CROSS JOIN LATERAL jsonb_array_elements(s.dkim_auth) a
WHERE lower(a->>'result') = 'pass' AND a->>'domain' IS NOT NULL
GROUP BY 1, 2, 4, 5
UNION ALL
SELECT s.tenant_id, host(s.source_ip), 'spf', lower(a->>'domain'), lower(s.header_from),
       sum(s.count)::bigint, NULL
FROM scope s CROSS JOIN LATERAL jsonb_array_elements(s.spf_auth) a
WHERE lower(a->>'result') = 'pass' AND a->>'domain' IS NOT NULL
GROUP BY 1, 2, 4, 5
ORDER BY 1, 2, 3
