-- The first day with aggregate data ($1 tenant_id, or NULL for every
-- tenant): where '--since all' starts.
SELECT to_char(min(day), 'YYYY-MM-DD') FROM dmarcsift.daily_rollup
WHERE $1::int IS NULL OR tenant_id = $1::int
