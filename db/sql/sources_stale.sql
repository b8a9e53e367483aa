-- The distinct source addresses (aggregate records and bounces) that have
-- no fresh facts, busiest first, so a time-bounded run names what matters
-- most. $1 tenant_id or NULL (all), $2 since (timestamptz) or NULL.
WITH ips AS (
	SELECT x.source_ip AS ip, sum(x.count) AS n
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	WHERE ($1::integer IS NULL OR x.tenant_id = $1)
	  AND ($2::timestamptz IS NULL OR r.end_at >= $2)
	GROUP BY x.source_ip
	UNION ALL
	SELECT b.sending_ip, count(*)
	FROM dmarcsift.bounces b
	WHERE b.sending_ip IS NOT NULL
	  AND ($1::integer IS NULL OR b.tenant_id = $1)
	  AND ($2::timestamptz IS NULL OR b.at >= $2)
	GROUP BY b.sending_ip
)
SELECT host(i.ip)
FROM (SELECT ip, sum(n) AS n FROM ips GROUP BY ip) i
LEFT JOIN dmarcsift.source_facts f ON f.ip = i.ip
WHERE f.ip IS NULL OR least(f.ptr_expires_at, f.asn_expires_at) <= now()
ORDER BY i.n DESC, i.ip
