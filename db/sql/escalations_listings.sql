-- escalations_listings: blocklist listings that bounce mail (or may), listed
-- beside the escalations, rejecting ones first. $1 tenant name or NULL.
SELECT tenant, impact, rejects, asset, list, code, reason,
       to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen
FROM dmarcsift.v_listings
WHERE ($1::text IS NULL OR tenant = $1) AND status = 'listed' AND impact <> 'none'
ORDER BY CASE impact WHEN 'rejecting' THEN 1 ELSE 2 END, rejects DESC, tenant, asset,
         list;
