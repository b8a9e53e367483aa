-- prune of every tenant, after the rest: the next raw messages received
-- before the cutoff, in SHA-256 order after $2 (keyset), at most $3; whether
-- anything still refers to them is prune_raw.sql's question. 'new' ones (an
-- ingest that never finished) are left for reprocess. $1 cutoff. One row:
-- the SHA-256s as a text[] text, and the last one ('' when none).
SELECT coalesce(array_agg(sha256 ORDER BY sha256), '{}'), coalesce(max(sha256), '')
FROM (
	SELECT sha256 FROM dmarcsift.raw_messages
	WHERE tenant_id = 0 AND sha256 > $2::text AND received_at < $1::timestamptz
	  AND status <> 'new'
	ORDER BY sha256
	LIMIT $3::int
) c
