-- Tenant report: for the sources the report lists ($4, an inet[] of them),
-- the reporters that saw each and the header From domains, from
-- record_sources (0017: one row per report, source and header From, in
-- record_sources_ip_idx: no read of the wide records). The reporter names
-- are the reports' own (record_sources keeps them lower-cased for the
-- correlator); header From domains are lower-cased there, as DNS names
-- compare. $1 tenant_id, $2 first day, $3 day after the last.
SELECT host(s.source_ip) AS source_ip,
       string_agg(DISTINCT nullif(r.org_name, ''), ', ' ORDER BY nullif(r.org_name, ''))
         AS reporters,
       string_agg(DISTINCT nullif(s.header_from, ''), ', ' ORDER BY nullif(s.header_from, ''))
         AS header_from
FROM dmarcsift.record_sources s
JOIN dmarcsift.reports r ON r.tenant_id = s.tenant_id AND r.id = s.report_pk
WHERE s.tenant_id = $1 AND s.source_ip = ANY ($4::inet[])
  AND s.begin_at >= $2::date AND s.begin_at < $3::date
GROUP BY s.source_ip
