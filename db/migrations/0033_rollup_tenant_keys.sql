-- 0033_rollup_tenant_keys: the two rollups lose their foreign keys to
-- tenants, which were checked once per written row.
--
-- daily_rollup and domain_rollup are written only by the trigger functions
-- of records and reports (0010, 0026), from rows joined to their report,
-- and reports keep their own key to tenants (without a cascade): a rollup
-- row's tenant always exists while the row does. Yet every row inserted by
-- daily_rollup_records_ins fired a referential check (a query on tenants
-- taking a KEY SHARE lock) at the end of the statement: 195,757 of them for
-- one 200,000-record report, 1.5 s of its 10-11 s COPY into records
-- (tests/bench/README.md, "2026-12-03 (later)"). The cascades they carried
-- never ran: a tenant is only deleted by dmarcsift.remove_tenant, which
-- deletes or moves these tables' rows itself (it finds them by their
-- tenant_id column, 0028) before the tenant, and cannot get there while a
-- report of the tenant is left (reports -> tenants has no cascade).
-- record_sources (0032), bounce_days and correlate_dirty never had one.
ALTER TABLE dmarcsift.daily_rollup DROP CONSTRAINT daily_rollup_tenant_id_fkey;
ALTER TABLE dmarcsift.domain_rollup DROP CONSTRAINT domain_rollup_tenant_id_fkey;
