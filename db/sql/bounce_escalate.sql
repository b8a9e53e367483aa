-- bounce_escalate: escalations of the (tenant, provider, window) the batch touched, and of
-- the window after each (its jump is measured against this one).
-- $1 window (interval), $2 volume floor, $3 rate, $4 jump factor.
-- Candidates are rejects and deferrals that call for escalation (severity
-- escalate, or a block). A group opens when it reaches the volume floor
-- with at least two recipients AND either its share of all attempts to the
-- provider in the window reaches $3 ('volume'), or it is $4 times its count
-- in the previous window ('jump'). The provider is provider_key: a
-- corporate gateway is its own provider, so the same count spread over ten
-- gateways is ten small groups. Attempts count every outcome to the
-- provider, matched by provider_key or by one of the group's recipient
-- domains (a provider-specific rule names the provider, the deliveries to
-- the same domains may not). Returns (opened, closed).
WITH win AS (
	SELECT DISTINCT tenant_id, pkey,
		date_bin($1::interval, at, timestamptz '1970-01-01 00:00:00+00') AS ws
	FROM pg_temp.bounce_new WHERE at IS NOT NULL
), aff AS (
	SELECT tenant_id, pkey, ws FROM win
	UNION SELECT tenant_id, pkey, ws + $1::interval FROM win
), cand AS (
	SELECT b.tenant_id, aff.pkey, aff.ws, b.class, b.code_family, b.pattern, b.at, b.id,
		b.remote_mta, lower(b.recipient) AS rcpt, b.recipient_domain
	FROM aff JOIN dmarcsift.bounces b ON b.tenant_id = aff.tenant_id
		AND b.provider_key = aff.pkey
		AND b.at >= aff.ws - $1::interval AND b.at < aff.ws + $1::interval
	WHERE b.status <> 'delivered' AND (b.severity = 'escalate' OR b.is_block)
), grp AS (
	SELECT tenant_id, pkey, ws, class, code_family, pattern,
		count(*) FILTER (WHERE at >= ws) AS n,
		count(*) FILTER (WHERE at < ws) AS prev_n,
		count(DISTINCT remote_mta) FILTER (WHERE at >= ws) AS gateways,
		count(DISTINCT rcpt) FILTER (WHERE at >= ws) AS recipients,
		min(at) FILTER (WHERE at >= ws) AS first_seen,
		max(at) FILTER (WHERE at >= ws) AS last_seen,
		-- the sample's text is read by id for the escalations written only
		(array_agg(id ORDER BY at DESC, id DESC) FILTER (WHERE at >= ws))[1] AS sample_id,
		array_agg(DISTINCT recipient_domain)
			FILTER (WHERE at >= ws AND recipient_domain IS NOT NULL) AS rdoms
	FROM cand GROUP BY tenant_id, pkey, ws, class, code_family, pattern
	HAVING count(*) FILTER (WHERE at >= ws) > 0
), grp2 AS (
	-- attempts are counted only where they can matter: a group over the
	-- volume floor, or one whose open escalation may close (the rest: 0,
	-- unused); and once per (window, provider, recipient domains), which the
	-- groups of one provider's window mostly share
	SELECT g.*, g.n >= greatest($2::integer, 2) AND g.recipients >= 2
		OR EXISTS (SELECT 1 FROM dmarcsift.escalations o WHERE o.tenant_id = g.tenant_id
			AND o.provider = g.pkey AND o.class = g.class AND o.code_family = g.code_family
			AND o.pattern = g.pattern AND o.window_start = g.ws AND o.status = 'open')
		AS counted
	FROM grp g
), att AS (
	SELECT k.tenant_id, k.pkey, k.ws, k.rdoms, a.attempts
	FROM (SELECT DISTINCT tenant_id, pkey, ws, rdoms FROM grp2 WHERE counted) k
	CROSS JOIN LATERAL (
		SELECT count(*) AS attempts FROM dmarcsift.bounces b2
		WHERE b2.tenant_id = k.tenant_id AND b2.at >= k.ws AND b2.at < k.ws + $1::interval
			AND (b2.provider_key = k.pkey OR b2.recipient_domain = ANY (k.rdoms))) a
), dec AS (
	SELECT g.tenant_id, g.pkey, g.ws, g.class, g.code_family, g.pattern, g.n, g.prev_n,
		g.gateways, g.recipients, g.first_seen, g.last_seen, g.sample_id, g.rdoms,
		coalesce(a.attempts, 0) AS attempts,
		g.n::float8 / greatest(coalesce(a.attempts, 0), 1) AS rate,
		CASE WHEN g.n < greatest($2::integer, 2) OR g.recipients < 2 THEN NULL
			WHEN g.n::float8 / greatest(a.attempts, 1) >= $3::float8 THEN 'volume'
			WHEN g.prev_n > 0 AND g.n >= $4::float8 * g.prev_n THEN 'jump' END AS reason
	FROM grp2 g LEFT JOIN att a ON a.tenant_id = g.tenant_id AND a.pkey = g.pkey
		AND a.ws = g.ws AND a.rdoms IS NOT DISTINCT FROM g.rdoms
), prev AS (
	SELECT e.tenant_id, e.provider, e.class, e.code_family, e.pattern, e.window_start,
		e.status FROM dmarcsift.escalations e JOIN aff ON e.tenant_id = aff.tenant_id
		AND e.provider = aff.pkey AND e.window_start = aff.ws
), up AS (
	INSERT INTO dmarcsift.escalations AS e (tenant_id, provider, class, code_family,
		pattern, window_start, window_end, count, attempts, rate, prev_count, gateways,
		recipients, first_seen, last_seen, sample_text, reason, status)
	SELECT d.tenant_id, d.pkey, d.class, d.code_family, d.pattern, d.ws, d.ws + $1::interval,
		d.n, d.attempts, d.rate, d.prev_n, d.gateways, d.recipients, d.first_seen,
		d.last_seen, b.text, d.reason, 'open'
	FROM dec d LEFT JOIN dmarcsift.bounces b ON b.tenant_id = d.tenant_id AND b.id = d.sample_id
	WHERE d.reason IS NOT NULL
	ON CONFLICT (tenant_id, provider, class, code_family, pattern, window_start)
	DO UPDATE SET window_end = EXCLUDED.window_end, count = EXCLUDED.count,
		attempts = EXCLUDED.attempts, rate = EXCLUDED.rate, prev_count = EXCLUDED.prev_count,
		gateways = EXCLUDED.gateways, recipients = EXCLUDED.recipients,
		first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
		sample_text = EXCLUDED.sample_text, reason = EXCLUDED.reason, status = 'open',
		notified_at = CASE WHEN e.status = 'closed' THEN NULL ELSE e.notified_at END,
		updated_at = now()
	RETURNING tenant_id, provider, class, code_family, pattern, window_start
), closed AS (
	UPDATE dmarcsift.escalations e SET count = d.n, attempts = d.attempts, rate = d.rate,
		prev_count = d.prev_n, gateways = d.gateways, recipients = d.recipients,
		last_seen = d.last_seen, status = 'closed', updated_at = now()
	FROM dec d WHERE d.reason IS NULL AND e.tenant_id = d.tenant_id
		AND e.provider = d.pkey AND e.class = d.class AND e.code_family = d.code_family
		AND e.pattern = d.pattern AND e.window_start = d.ws AND e.status = 'open'
	RETURNING e.id
)
SELECT (SELECT count(*) FROM up u LEFT JOIN prev p
		ON (p.tenant_id, p.provider, p.class, p.code_family, p.pattern, p.window_start)
			= (u.tenant_id, u.provider, u.class, u.code_family, u.pattern, u.window_start)
		WHERE p.status IS DISTINCT FROM 'open'),
	(SELECT count(*) FROM closed)
