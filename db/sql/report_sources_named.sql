-- Tenant report: what is known about each sending source the report lists
-- ($2, an inet[] of them), joined to the source table by address in C. The
-- columns of issue 11's v_sources, read for these addresses only: the view
-- sums every record of the tenant first. $1 tenant_id.
SELECT host(a.source_ip) AS source_ip, f.ptr, coalesce(f.ptr_confirmed, false) AS ptr_confirmed,
       f.ptr_org_domain AS org_domain, f.asn, f.as_name, f.country,
       coalesce(l.name, m.service) AS service,
       CASE WHEN l.name IS NOT NULL THEN 'own' ELSE m.service_type END AS service_type,
       coalesce(m.forwarded, false) AS forwarded
FROM (SELECT DISTINCT source_ip FROM unnest($2::inet[]) u(source_ip)) a
LEFT JOIN dmarcsift.source_facts f ON f.ip = a.source_ip
LEFT JOIN dmarcsift.source_marks m ON m.tenant_id = $1 AND m.source_ip = a.source_ip
LEFT JOIN LATERAL (
	SELECT sl.name FROM dmarcsift.source_labels sl
	WHERE sl.tenant_id = $1 AND sl.cidr >>= a.source_ip
	ORDER BY masklen(sl.cidr) DESC LIMIT 1
) l ON true
