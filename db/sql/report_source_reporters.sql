-- Tenant report: for the sources the report lists ($4, an inet[] of them),
-- the reporters that saw each and the header From domains, from the
-- records (records_source_ip_idx): a handful of addresses, never the whole
-- period. $1 tenant_id, $2 first day, $3 day after the last.
SELECT host(x.source_ip) AS source_ip,
       string_agg(DISTINCT nullif(r.org_name, ''), ', ' ORDER BY nullif(r.org_name, ''))
         AS reporters,
       string_agg(DISTINCT nullif(x.header_from, ''), ', ' ORDER BY nullif(x.header_from, ''))
         AS header_from
FROM dmarcsift.records x
JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
WHERE x.tenant_id = $1 AND x.source_ip = ANY ($4::inet[])
  AND r.begin_at >= $2::date AND r.begin_at < $3::date
GROUP BY x.source_ip
