-- 0028_tenant_derived: the tables `tenant remove` deletes a tenant's rows
-- from even without --purge, as rows of a table instead of a list inside
-- remove_tenant. Every migration that added such a table (0017, 0019, 0020,
-- 0024, 0025) had to copy the whole function to extend the list; from here
-- on a new one is one INSERT into dmarcsift.tenant_derived_tables, and this
-- is the last definition of remove_tenant.
--
-- Such a table holds what is derived from, or only meaningful for, the
-- tenant's own data: moving it to 'unassigned' would be wrong (a flag or a
-- listing about a tenant that is gone) or is redone by triggers (the
-- bounce_days rows of bounces that move are rebuilt under 'unassigned').
-- The other tenant tables move to 'unassigned' without --purge, as before.

CREATE TABLE dmarcsift.tenant_derived_tables (
	relname text PRIMARY KEY,
	why     text NOT NULL
);

INSERT INTO dmarcsift.tenant_derived_tables (relname, why) VALUES
	('source_labels', 'the tenant''s own names for its sources'),
	('source_marks', 'which sources the tenant''s data used'),
	('flags', 'correlator verdicts about the tenant''s mail'),
	('correlate_dirty', 'the tenant''s correlation queue'),
	('listings', 'blocklist listings of the tenant''s assets'),
	('blocklist_runs', 'the tenant''s blocklist checks'),
	('dns_check_runs', 'the tenant''s DNS checks'),
	('dns_findings', 'findings about the tenant''s records'),
	('dns_records', 'the tenant''s DNS records as last seen'),
	('dns_changes', 'changes of the tenant''s DNS records'),
	('bounce_days', 'rebuilt by the bounces trigger for whatever moves');

-- As 0025_bounce_days left it (child tables after the tables they
-- reference; reports last but one, then the rest by name), reading the
-- list above.
CREATE OR REPLACE FUNCTION dmarcsift.remove_tenant(tid integer, purge boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	t record;
	n bigint;
	total bigint := 0;
BEGIN
	IF tid = 0 THEN
		RAISE EXCEPTION 'the built-in tenant ''unassigned'' cannot be removed' USING ERRCODE = '22023';
	END IF;
	FOR t IN SELECT c.oid::regclass AS rel, c.relname FROM pg_catalog.pg_class c
	         JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
	         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	         WHERE s.nspname = 'dmarcsift' AND c.relkind IN ('r', 'p')
	           AND a.attname = 'tenant_id' AND NOT a.attisdropped
	           AND c.relname NOT IN ('tenants', 'tenant_domains', 'tenant_roles', 'mailbox_state')
	         ORDER BY EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
	                          WHERE k.conrelid = c.oid AND k.contype = 'f'
	                            AND k.confrelid <> 'dmarcsift.tenants'::regclass),
	                  c.relname <> 'reports', c.relname LOOP
		BEGIN
			IF purge OR EXISTS (SELECT 1 FROM dmarcsift.tenant_derived_tables d
			                    WHERE d.relname = t.relname::text) THEN
				EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', t.rel) USING tid;
			ELSE
				EXECUTE format('UPDATE %s SET tenant_id = 0 WHERE tenant_id = $1', t.rel) USING tid;
			END IF;
			GET DIAGNOSTICS n = ROW_COUNT;
			total := total + n;
		EXCEPTION WHEN unique_violation THEN
			RAISE EXCEPTION 'rows of this tenant in % are also stored under ''unassigned''; remove it with --purge', t.relname
				USING ERRCODE = '22023';
		END;
	END LOOP;
	DELETE FROM dmarcsift.tenants WHERE tenant_id = tid;
	RETURN total;
END
$$;
