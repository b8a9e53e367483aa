-- store_failures_dismiss: closes open quarantine entries — those of one
-- input ($1 a SHA-256), or those first seen more than $2 seconds ago — and
-- marks their raw bytes dismissed (kept for `reprocess`). $3: 'apply' to
-- write, anything else only counts (--dry-run). Returns the entries' SHA-256.
-- $1 sha256 or NULL, $2 seconds (text) or NULL, $3 mode.
WITH victims AS (
	SELECT f.tenant_id, f.id, f.sha256 FROM dmarcsift.failures f
	WHERE f.resolved_at IS NULL
	  AND ($1::text IS NULL OR f.sha256 = $1)
	  AND ($2::text IS NULL OR f.received_at < now() - make_interval(secs => $2::double precision))
), closed AS (
	UPDATE dmarcsift.failures f SET resolved_at = now(), dismissed_at = now()
	FROM victims v
	WHERE $3 = 'apply' AND f.tenant_id = v.tenant_id AND f.id = v.id
	RETURNING f.sha256
), raw AS (
	UPDATE dmarcsift.raw_messages r SET status = 'dismissed'
	FROM closed c WHERE r.tenant_id = 0 AND r.sha256 = c.sha256
)
SELECT sha256 FROM victims ORDER BY sha256
