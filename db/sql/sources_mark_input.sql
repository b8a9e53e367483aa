-- What source marking needs, one row per record, ordered by tenant and
-- source address so the caller aggregates each source as it streams by:
-- tenant_id, address, count, header From domain, whether an override reason
-- says forwarded / mailing_list / trusted_forwarder, the passing DKIM d= and
-- SPF domains (JSON arrays of strings; results are stored normalised to
-- lower case), and the source's cached PTR, whether it is confirmed, and its
-- ASN. One scan of the records; jsonpath and containment instead of
-- expanding the arrays row by row, which costs several times more.
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
)
SELECT x.tenant_id, host(x.source_ip), x.count, lower(x.header_from),
       (x.reasons @> '[{"type": "forwarded"}]' OR x.reasons @> '[{"type": "mailing_list"}]'
        OR x.reasons @> '[{"type": "trusted_forwarder"}]'),
       jsonb_path_query_array(x.dkim_auth, '$[*] ? (@.result == "pass").domain'),
       jsonb_path_query_array(x.spf_auth, '$[*] ? (@.result == "pass").domain'),
       f.ptr, f.ptr_confirmed, f.asn
FROM dmarcsift.records x
LEFT JOIN dmarcsift.source_facts f ON f.ip = x.source_ip
WHERE ($1::integer IS NULL OR x.tenant_id = $1)
  AND ($2::timestamptz IS NULL
       OR EXISTS (SELECT 1 FROM changed c
                  WHERE c.tenant_id = x.tenant_id AND c.source_ip = x.source_ip))
ORDER BY x.tenant_id, x.source_ip
