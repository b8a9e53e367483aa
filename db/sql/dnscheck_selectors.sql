-- dnscheck_selectors: the DKIM (d=, s=) pairs of each tenant's aggregate
-- records (auth_results) in the window of dnscheck_domains ($1 tenant name
-- or NULL, $2 days), with the messages each signed and how many of them
-- passed or failed DKIM; the $3 busiest per tenant. Pairs without a
-- selector (RFC 7489 made it optional) cannot be looked up and are left out.
-- Columns: tenant_id, domain, selector, messages, pass, fail.
WITH t AS (
	SELECT tenant_id FROM dmarcsift.tenants
	WHERE tenant_id <> 0 AND ($1::text IS NULL OR name = $1::text)
), clk AS (
	SELECT t.tenant_id,
	       (least(now(), coalesce((SELECT max(r.end_at) FROM dmarcsift.reports r
	                               WHERE r.tenant_id = t.tenant_id), now()))
	        AT TIME ZONE 'UTC')::date - $2::int AS since
	FROM t
), sig AS (
	SELECT x.tenant_id, lower(btrim(s->>'domain')) AS domain,
	       lower(btrim(s->>'selector')) AS selector, sum(x.count) AS messages,
	       coalesce(sum(x.count) FILTER (WHERE lower(s->>'result') = 'pass'), 0) AS pass,
	       coalesce(sum(x.count) FILTER (WHERE lower(coalesce(s->>'result', '')) <> 'pass'), 0)
	           AS fail
	FROM dmarcsift.reports r
	JOIN clk c ON c.tenant_id = r.tenant_id
	JOIN dmarcsift.records x ON x.tenant_id = r.tenant_id AND x.report_pk = r.id
	CROSS JOIN LATERAL jsonb_array_elements(
	    CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth ELSE '[]' END) s
	WHERE r.begin_at >= c.since
	  AND coalesce(btrim(s->>'domain'), '') <> '' AND coalesce(btrim(s->>'selector'), '') <> ''
	GROUP BY 1, 2, 3
), ranked AS (
	SELECT *, row_number() OVER (PARTITION BY tenant_id ORDER BY messages DESC, domain, selector)
	          AS rank
	FROM sig
)
SELECT tenant_id, domain, selector, messages, pass, fail
FROM ranked WHERE rank <= $3::int
ORDER BY tenant_id, domain, selector
