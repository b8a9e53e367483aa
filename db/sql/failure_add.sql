-- store_failure_add: a new failure is recorded, or the open one of these
-- bytes keeps its first received_at, source, stage and reason (the original
-- diagnosis must survive a reprocess) and notes the latest attempt; an entry
-- still in 'unassigned' moves to the tenant now known, and learns its
-- domain. The raw message (when stored) is marked quarantined. Bytes the
-- operator dismissed (`failures dismiss`) stay dismissed: nothing reopens.
-- $1 sha256, $2 source, $3 stage, $4 reason, $5 tenant_id, $6 domain (or NULL).
WITH dismissed AS (
	SELECT 1 FROM dmarcsift.failures WHERE sha256 = $1 AND dismissed_at IS NOT NULL LIMIT 1
), f AS (
	INSERT INTO dmarcsift.failures (tenant_id, sha256, source, stage, reason, domain)
	SELECT $5::int, $1, $2, $3, $4, $6 WHERE NOT EXISTS (SELECT 1 FROM dismissed)
	ON CONFLICT (sha256) WHERE resolved_at IS NULL DO UPDATE
	SET attempts = failures.attempts + 1, last_tried_at = now(),
	    last_stage = EXCLUDED.stage, last_reason = EXCLUDED.reason,
	    tenant_id = CASE WHEN failures.tenant_id = 0 THEN EXCLUDED.tenant_id
	                     ELSE failures.tenant_id END,
	    domain = coalesce(failures.domain, EXCLUDED.domain))
UPDATE dmarcsift.raw_messages SET status = 'quarantined'
WHERE tenant_id = 0 AND sha256 = $1 AND NOT EXISTS (SELECT 1 FROM dismissed)
