-- blocklists_save: one look-up's answer for (tenant $1, asset $2 of kind
-- $3, list $4). $5 family, $6 used_by (text[]), $7 answer (listed |
-- unknown | clear), $8 codes (text[]), $9 reason. A listing keeps its
-- first_seen while it stays listed (a refusal in between does not end
-- it); listed again after a delisting starts a new first_seen. clear:
-- a row that was ever listed becomes delisted (once: delisted_at is the
-- first clear answer); a row that only ever had refusals is deleted.
-- Returns one row (was_listed_before, is_new_listing) for listed/unknown.
WITH old AS (
	SELECT answer, last_seen FROM dmarcsift.listings
	WHERE tenant_id = $1::int AND asset = $2::text AND list = $4::text
), gone AS (
	DELETE FROM dmarcsift.listings
	WHERE $7::text = 'clear' AND tenant_id = $1::int AND asset = $2::text AND list = $4::text
	  AND last_seen IS NULL
	RETURNING 1
), cleared AS (
	UPDATE dmarcsift.listings
	SET answer = 'clear', checked_at = now(),
	    delisted_at = CASE WHEN answer = 'clear' THEN delisted_at ELSE now() END
	WHERE $7::text = 'clear' AND tenant_id = $1::int AND asset = $2::text AND list = $4::text
	  AND last_seen IS NOT NULL
	RETURNING 1
), up AS (
	INSERT INTO dmarcsift.listings AS l (tenant_id, asset, asset_kind, list, family, used_by,
		answer, codes, reason, first_seen, last_seen, checked_at)
	SELECT $1::int, $2::text, $3::text, $4::text, $5::text, $6::text[], $7::text, $8::text[],
	       $9::text, CASE WHEN $7::text = 'listed' THEN now() END,
	       CASE WHEN $7::text = 'listed' THEN now() END, now()
	WHERE $7::text <> 'clear'
	ON CONFLICT (tenant_id, asset, list) DO UPDATE
	SET family = EXCLUDED.family, used_by = EXCLUDED.used_by, answer = EXCLUDED.answer,
	    codes = EXCLUDED.codes, reason = EXCLUDED.reason, checked_at = EXCLUDED.checked_at,
	    first_seen = CASE WHEN EXCLUDED.answer <> 'listed' THEN l.first_seen
	                      WHEN l.answer = 'clear' OR l.first_seen IS NULL THEN EXCLUDED.first_seen
	                      ELSE l.first_seen END,
	    last_seen = CASE WHEN EXCLUDED.answer = 'listed' THEN EXCLUDED.last_seen
	                     ELSE l.last_seen END,
	    delisted_at = CASE WHEN EXCLUDED.answer = 'listed' THEN NULL ELSE l.delisted_at END
	RETURNING 1
)
SELECT coalesce((SELECT answer = 'listed' FROM old), false) AS was_listed,
       $7::text = 'listed' AND coalesce((SELECT answer <> 'listed' FROM old), true) AS is_new,
       (SELECT count(*) FROM gone) + (SELECT count(*) FROM cleared) + (SELECT count(*) FROM up)
