-- MSP overview: open flags per tenant by confidence (issue 8's v_flags):
-- not resolved, with rejects in the period (as the tenant report lists
-- them). $1 first day, $2 day after the last.
SELECT tenant,
       count(*) FILTER (WHERE confidence = 'high') AS flags_high,
       count(*) FILTER (WHERE confidence = 'medium') AS flags_medium,
       count(*) FILTER (WHERE confidence NOT IN ('high', 'medium') OR confidence IS NULL)
         AS flags_low
FROM dmarcsift.v_flags
WHERE coalesce(status, 'open') <> 'resolved' AND last_seen >= $1::date
  AND first_seen < $2::date
GROUP BY tenant
