-- listings_claim: the blocklist listings the [notify] webhook has not heard
-- of (of tenant $1, or of every tenant when $1 is NULL): listed now and not
-- announced since they were (last) first seen listed — a listing that ends
-- and comes back is announced again. Marked announced in the same
-- statement; one JSON object per row with the v_listings columns, times as
-- RFC 3339 UTC, impact rejecting first (blocklisted bounces name it), then
-- suspected, then none (app/notify.h: notify_listings).
WITH c AS (
	UPDATE dmarcsift.listings l SET notified_at = now()
	WHERE l.answer = 'listed' AND (l.notified_at IS NULL OR l.notified_at < l.first_seen)
	  AND ($1::text IS NULL OR l.tenant_id = (SELECT t.tenant_id FROM dmarcsift.tenants t
	                                          WHERE lower(t.name) = lower(btrim($1))))
	RETURNING l.tenant_id, l.asset, l.list
)
SELECT row_to_json(v)::text
FROM (
	SELECT x.tenant, x.asset, x.asset_kind, x.list, x.code, x.reason, x.status, x.impact,
	       x.rejects,
	       to_char(x.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
	       to_char(x.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen
	FROM c
	JOIN dmarcsift.tenants t ON t.tenant_id = c.tenant_id
	JOIN dmarcsift.v_listings x ON x.tenant = t.name AND x.asset = c.asset AND x.list = c.list
	ORDER BY CASE x.impact WHEN 'rejecting' THEN 1 WHEN 'suspected' THEN 2 ELSE 3 END,
	         x.rejects DESC, x.tenant, x.asset, x.list
) v
