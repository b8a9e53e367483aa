-- Tenant report: its blocklist listings (dmarcsift.v_listings) that were
-- current in the period, or are unknown (the list refused to answer),
-- those with delivery impact first. $1 tenant name, $2 first day, $3 day
-- after the last.
SELECT asset, asset_kind, list, code, reason, status, impact, rejects,
       to_char(first_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_seen,
       to_char(last_seen, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_seen
FROM dmarcsift.v_listings
WHERE tenant = $1
  AND (status = 'unknown'
       OR (first_seen < $3::date AND coalesce(delisted_at, now()) >= $2::date))
ORDER BY CASE status WHEN 'listed' THEN 0 WHEN 'unknown' THEN 2 ELSE 1 END,
         CASE impact WHEN 'rejecting' THEN 0 WHEN 'suspected' THEN 1 ELSE 2 END,
         rejects DESC, asset, list
