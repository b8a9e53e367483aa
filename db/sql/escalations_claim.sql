-- escalations_claim: the open escalations not announced yet (of tenant $1,
-- or of every tenant when $1 is NULL), marked announced in the same
-- statement so two runs never post one twice; one JSON object per row with
-- the v_escalations columns, times as RFC 3339 UTC (app/notify.h:
-- notify_escalations).
WITH c AS (
	UPDATE dmarcsift.escalations e SET notified_at = now()
	WHERE e.status = 'open' AND e.notified_at IS NULL
	  AND ($1::text IS NULL OR e.tenant_id = (SELECT t.tenant_id FROM dmarcsift.tenants t
	                                          WHERE lower(t.name) = lower(btrim($1))))
	RETURNING e.*
)
SELECT row_to_json(v)::text
FROM (
	SELECT t.name AS tenant, c.provider, c.class, c.code_family, c.pattern, c.count,
	       c.attempts, round(c.rate::numeric, 4) AS rate,
	       to_char(c.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
	       to_char(c.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
	       c.sample_text, c.status,
	       to_char(c.window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS window_start,
	       to_char(c.window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS window_end,
	       c.prev_count, c.gateways, c.recipients, c.reason
	FROM c JOIN dmarcsift.tenants t ON t.tenant_id = c.tenant_id
	ORDER BY t.name, c.first_seen, c.provider
) v
