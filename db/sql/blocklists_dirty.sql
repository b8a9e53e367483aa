-- blocklists_dirty: tenant $1's days with blocklisted rejects are queued
-- for the correlator (its flags cite the matching listing), after listings
-- were stored.
INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
SELECT DISTINCT tenant_id, (at AT TIME ZONE 'UTC')::date
FROM dmarcsift.bounces
WHERE tenant_id = $1::int AND class = 'blocklisted' AND at IS NOT NULL
ON CONFLICT DO NOTHING
