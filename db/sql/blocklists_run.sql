-- blocklists_run: records that tenant $1's assets were checked now, with
-- the run's counts ($2 assets, $3 queries, $4 listed, $5 unknown, $6
-- failed look-ups), for the poll schedule ([blocklists] every).
INSERT INTO dmarcsift.blocklist_runs AS r (tenant_id, ran_at, assets, queries, listed, unknown, failed)
VALUES ($1::int, now(), $2::int, $3::int, $4::int, $5::int, $6::int)
ON CONFLICT (tenant_id) DO UPDATE
SET ran_at = EXCLUDED.ran_at, assets = EXCLUDED.assets, queries = EXCLUDED.queries,
    listed = EXCLUDED.listed, unknown = EXCLUDED.unknown, failed = EXCLUDED.failed
