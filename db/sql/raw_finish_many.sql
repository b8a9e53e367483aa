-- store_raw_finish_many: the inputs of a batch dealt with, in one statement at
-- its end — store_raw_finish for each: their raw messages' status ($2: ok or
-- dsn) and their open failures resolved. $1 the sha256s (text[]).
WITH resolved AS (
	UPDATE dmarcsift.failures SET resolved_at = now()
	WHERE sha256 = ANY ($1::text[]) AND resolved_at IS NULL
)
UPDATE dmarcsift.raw_messages SET status = $2
WHERE tenant_id = 0 AND sha256 = ANY ($1::text[])
