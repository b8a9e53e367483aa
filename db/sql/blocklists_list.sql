-- blocklists_list: the listings of one tenant ($1 name, NULL: all) as
-- `blocklists check` and `blocklists` print them: listed first, those with
-- delivery impact first, then unknown answers, then delistings.
SELECT tenant, asset, asset_kind, list, code, reason,
       to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen,
       status, impact, rejects
FROM dmarcsift.v_listings
WHERE $1::text IS NULL OR tenant = $1::text
ORDER BY tenant,
         CASE status WHEN 'listed' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END,
         CASE impact WHEN 'rejecting' THEN 0 WHEN 'suspected' THEN 1 ELSE 2 END,
         rejects DESC, asset, list
