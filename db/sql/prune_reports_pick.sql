-- prune: the next batch of a tenant's aggregate reports whose period ended
-- before the cutoff, oldest first: at most $4 reports, and no more than
-- about $3 records (a report is taken while the records before it in the
-- batch are fewer; the first always is). Through reports_time_idx (begin_at
-- is never after end_at). $1 tenant_id, $2 cutoff. One row: the ids as a
-- bigint[] text, '{}' when none is left.
SELECT coalesce(array_agg(id ORDER BY id), '{}')
FROM (
	SELECT id, sum(records) OVER (ORDER BY begin_at, id) - records AS before
	FROM (
		SELECT id, records, begin_at FROM dmarcsift.reports
		WHERE tenant_id = $1::int AND begin_at < $2::timestamptz AND end_at < $2::timestamptz
		ORDER BY begin_at, id
		LIMIT $4::int
	) r
) s
WHERE before < $3::bigint OR before = 0
