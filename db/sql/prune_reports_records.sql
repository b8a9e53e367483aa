-- prune, inside a batch's transaction, second: the batch's per-source sums
-- with their failing identifiers (0017, 0030) and its records, by primary key. The
-- reports go in the next statement (prune_reports_delete.sql), whose
-- per-row rollup trigger then finds no records and does nothing; a separate
-- statement, because a trigger fired by this one would not yet see these
-- deletions. $1 tenant_id, $2 report ids. One row: the records deleted.
WITH s AS (
	DELETE FROM dmarcsift.record_sources
	WHERE tenant_id = $1::int AND report_pk = ANY ($2::bigint[])
), x AS (
	DELETE FROM dmarcsift.records
	WHERE tenant_id = $1::int AND report_pk = ANY ($2::bigint[])
	RETURNING 1
)
SELECT count(*) FROM x
