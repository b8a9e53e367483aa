-- Before a more complete copy replaces a stored report (db/store_report.c):
-- what was derived from the old copy's records is taken back, since the
-- DELETE of those records that follows has no trigger of its own — the
-- daily and per-domain rollups (0010, 0026) and the correlator's per-source
-- sums with their failing identifiers (0017, 0030). The new copy's records add
-- themselves back through the insert triggers, which also queue their days
-- for the next correlation.
-- $1 tenant_id, $2 the report's id.
WITH src AS (
	DELETE FROM dmarcsift.record_sources WHERE tenant_id = $1::int AND report_pk = $2::bigint
)
SELECT dmarcsift.daily_rollup_apply($1::int, ARRAY[$2::bigint], -1)
