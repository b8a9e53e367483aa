-- store_raw_finish: an input dealt with — its raw message's status ($2: ok
-- or dsn) and its open failure, if any, resolved — in one statement.
-- $1 sha256.
WITH resolved AS (
	UPDATE dmarcsift.failures SET resolved_at = now()
	WHERE sha256 = $1 AND resolved_at IS NULL
)
UPDATE dmarcsift.raw_messages SET status = $2
WHERE tenant_id = 0 AND sha256 = $1
