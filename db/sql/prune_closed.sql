-- prune: the next at most $3 closed rows of tenant $1 last seen before the
-- cutoff $2: resolved flags, closed escalations, lifted suppressions (open
-- ones are never pruned, however old); and the correlator's queue of days
-- before the cutoff (nothing is left there to correlate). One row: the
-- flags, escalations and suppressions deleted.
WITH fk AS (
	SELECT id FROM dmarcsift.flags
	WHERE tenant_id = $1::int AND status = 'resolved' AND last_seen < $2::timestamptz
	LIMIT $3::int
), f AS (
	DELETE FROM dmarcsift.flags o USING fk
	WHERE o.tenant_id = $1::int AND o.id = fk.id
	RETURNING 1
), ek AS (
	SELECT id FROM dmarcsift.escalations
	WHERE tenant_id = $1::int AND status = 'closed' AND last_seen < $2::timestamptz
	LIMIT $3::int
), e AS (
	DELETE FROM dmarcsift.escalations o USING ek
	WHERE o.tenant_id = $1::int AND o.id = ek.id
	RETURNING 1
), sk AS (
	SELECT address FROM dmarcsift.suppressions
	WHERE tenant_id = $1::int AND lifted_at < $2::timestamptz
	LIMIT $3::int
), s AS (
	DELETE FROM dmarcsift.suppressions o USING sk
	WHERE o.tenant_id = $1::int AND o.address = sk.address
	RETURNING 1
), q AS (
	DELETE FROM dmarcsift.correlate_dirty
	WHERE tenant_id = $1::int AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date
)
SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM e), (SELECT count(*) FROM s)
