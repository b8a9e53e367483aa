-- Tenant report: for the sources the report lists ($4, an inet[] of them),
-- the reporters that saw each and the header From domains, from
-- record_sources (0017: one row per report, source and header From) by an
-- index-only scan of record_sources_ip_idx: no read of the wide records,
-- nor of record_sources' own rows. It keeps org names lower-cased (for the
-- correlator), so each is shown as the period's reports spell it (the
-- first spelling, should one reporter use several); header From domains
-- are lower-cased there, as DNS names compare. $1 tenant_id, $2 first day,
-- $3 day after the last.
WITH s AS (
	SELECT source_ip, org_name, header_from
	FROM dmarcsift.record_sources
	WHERE tenant_id = $1 AND source_ip = ANY ($4::inet[])
	  AND begin_at >= $2::date AND begin_at < $3::date
	GROUP BY 1, 2, 3
), o AS (
	SELECT lower(org_name) AS lower_name, min(org_name) AS org_name
	FROM dmarcsift.reports
	WHERE tenant_id = $1 AND begin_at >= $2::date AND begin_at < $3::date
	GROUP BY 1
)
SELECT host(s.source_ip) AS source_ip,
       string_agg(DISTINCT nullif(o.org_name, ''), ', ' ORDER BY nullif(o.org_name, ''))
         AS reporters,
       string_agg(DISTINCT nullif(s.header_from, ''), ', ' ORDER BY nullif(s.header_from, ''))
         AS header_from
FROM s
LEFT JOIN o ON o.lower_name = s.org_name
GROUP BY s.source_ip
