-- bounce_suppress: suppressions of the recipients the batch touched, recomputed from their
-- whole history. $1 hard_after, $2 soft_after, $3 soft window (interval).
--  - hard: invalid_recipient bounces (status bounced) >= $1; never lifted.
--  - complaint: one ARF complaint (class complaint); never lifted — a
--    recipient who reported the mail as spam is not mailed again.
--  - soft: mailbox_issue outcomes that were not deliveries. A run is the
--    stretch between two deliveries (`run` counts the deliveries so far);
--    retries of one message count once per run; $2 of them within $3 in
--    one run suppress, and the delivery that ends the run lifts it.
--  - an address the rules no longer suppress is lifted (late data).
-- Returns (newly suppressed, lifted).
WITH aff AS (
	SELECT DISTINCT tenant_id, address FROM pg_temp.bounce_new WHERE address <> ''
), ev AS (
	-- only the events a rule reads, without their text (the evidence's last
	-- text is read by id at the end: a few rows instead of every one)
	SELECT b.tenant_id, lower(b.recipient) AS address, b.id, b.at,
		b.status = 'delivered' AS is_delivery,
		b.class = 'mailbox_issue' AND b.status <> 'delivered' AS is_soft,
		b.class = 'invalid_recipient' AND b.status = 'bounced' AS is_hard,
		b.class = 'complaint' AS is_complaint,
		coalesce(b.message_id, b.queue_id, b.id::text) AS msg
	FROM dmarcsift.bounces b
	-- a semi-join, which is hashed: as a join on lower(recipient) it became a
	-- merge join with two sorts on disk once ANALYZE no longer covers the
	-- index's expression (bounce_store.c)
	WHERE (b.tenant_id, lower(b.recipient)) IN (SELECT tenant_id, address FROM aff)
	AND (b.status = 'delivered' OR b.class IN ('mailbox_issue', 'invalid_recipient', 'complaint'))
), hard AS (
	SELECT tenant_id, address, min(at) AS first_at, max(at) AS last_at, count(*) AS n,
		(array_agg(id ORDER BY at DESC NULLS LAST, id DESC))[1] AS last_id
	FROM ev WHERE is_hard GROUP BY tenant_id, address HAVING count(*) >= $1::integer
), compl AS (
	SELECT tenant_id, address, min(at) AS first_at, max(at) AS last_at, count(*) AS n,
		(array_agg(id ORDER BY at DESC NULLS LAST, id DESC))[1] AS last_id
	FROM ev WHERE is_complaint GROUP BY tenant_id, address
), softa AS (
	-- deliveries matter only to addresses with soft bounces
	SELECT DISTINCT tenant_id, address FROM ev WHERE is_soft
), seq AS (
	SELECT ev.*, sum(is_delivery::integer)
		OVER (PARTITION BY tenant_id, address ORDER BY at, id) AS run
	FROM ev JOIN softa USING (tenant_id, address)
	WHERE at IS NOT NULL AND (is_delivery OR is_soft)
), soft1 AS (
	SELECT DISTINCT ON (tenant_id, address, run, msg) * FROM seq WHERE is_soft
	ORDER BY tenant_id, address, run, msg, at, id
), soft AS (
	SELECT soft1.*, count(*) OVER (PARTITION BY tenant_id, address, run ORDER BY at
		RANGE BETWEEN $3::interval PRECEDING AND CURRENT ROW) AS n_win
	FROM soft1
), trig AS (
	SELECT DISTINCT ON (tenant_id, address) tenant_id, address, run, at AS trig_at
	FROM soft WHERE n_win >= $2::integer ORDER BY tenant_id, address, at DESC
), lift AS (
	-- the delivery that ends a suppressing run (one join, not one scan of
	-- seq per suppressed address)
	SELECT d.tenant_id, d.address, min(d.at) AS at
	FROM seq d JOIN trig t ON t.tenant_id = d.tenant_id AND t.address = d.address
		AND d.run = t.run + 1
	WHERE d.is_delivery GROUP BY d.tenant_id, d.address
), softs AS (
	SELECT t.tenant_id, t.address, min(s.at) AS first_at, max(s.at) AS last_at,
		count(*) AS n, (array_agg(s.id ORDER BY s.at DESC, s.id DESC))[1] AS last_id,
		min(l.at) AS lifted
	FROM trig t JOIN soft s ON s.tenant_id = t.tenant_id AND s.address = t.address
		AND s.run = t.run AND s.at >= t.trig_at - $3::interval
	LEFT JOIN lift l ON l.tenant_id = t.tenant_id AND l.address = t.address
	GROUP BY t.tenant_id, t.address, t.run
), combined AS (
	SELECT tenant_id, address, 'invalid_recipient' AS reason, first_at, last_at, n,
		last_id, NULL::timestamptz AS lifted FROM hard
	UNION ALL
	SELECT tenant_id, address, 'complaint', first_at, last_at, n, last_id,
		NULL::timestamptz FROM compl c WHERE NOT EXISTS (SELECT 1 FROM hard h
		WHERE h.tenant_id = c.tenant_id AND h.address = c.address)
	UNION ALL
	SELECT tenant_id, address, 'mailbox_issue', first_at, last_at, n, last_id, lifted
	FROM softs s WHERE NOT EXISTS (SELECT 1 FROM hard h
		WHERE h.tenant_id = s.tenant_id AND h.address = s.address)
		AND NOT EXISTS (SELECT 1 FROM compl c
		WHERE c.tenant_id = s.tenant_id AND c.address = s.address)
), prev AS (
	SELECT s.tenant_id, s.address, s.lifted_at IS NULL AS was_active
	FROM dmarcsift.suppressions s JOIN aff USING (tenant_id, address)
), up AS (
	INSERT INTO dmarcsift.suppressions AS s (tenant_id, address, reason,
		first_evidence_at, last_evidence_at, evidence_count, last_text, added_at, lifted_at)
	SELECT c.tenant_id, c.address, c.reason, c.first_at, c.last_at, c.n, b.text, now(),
		c.lifted
	FROM combined c
	LEFT JOIN dmarcsift.bounces b ON b.tenant_id = c.tenant_id AND b.id = c.last_id
	ON CONFLICT (tenant_id, address) DO UPDATE SET reason = EXCLUDED.reason,
		first_evidence_at = EXCLUDED.first_evidence_at,
		last_evidence_at = EXCLUDED.last_evidence_at,
		evidence_count = EXCLUDED.evidence_count, last_text = EXCLUDED.last_text,
		added_at = CASE WHEN s.lifted_at IS NOT NULL AND EXCLUDED.lifted_at IS NULL
			THEN now() ELSE s.added_at END,
		lifted_at = EXCLUDED.lifted_at
	RETURNING tenant_id, address, lifted_at
), gone AS (
	UPDATE dmarcsift.suppressions s SET lifted_at = now() FROM aff
	WHERE s.tenant_id = aff.tenant_id AND s.address = aff.address AND s.lifted_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM combined c
			WHERE c.tenant_id = s.tenant_id AND c.address = s.address)
	RETURNING s.tenant_id
)
SELECT (SELECT count(*) FROM up LEFT JOIN prev USING (tenant_id, address)
		WHERE up.lifted_at IS NULL AND NOT coalesce(prev.was_active, false)),
	(SELECT count(*) FROM up JOIN prev USING (tenant_id, address)
		WHERE up.lifted_at IS NOT NULL AND prev.was_active) + (SELECT count(*) FROM gone)
