-- 0008_2_tenant_lifecycle: tenant names are unique case-insensitively and
-- carry no surrounding blanks ('Acme', 'acme ' and 'ACME' are one tenant;
-- 'UNASSIGNED' is the built-in one), and `tenant remove` in one function.

ALTER TABLE dmarcsift.tenants ADD CONSTRAINT tenants_name_trimmed CHECK (name = btrim(name));
-- Unique on lower(name) alone: tenants is a small lookup table (a Citus
-- reference table), not distributed, so its keys need not start with
-- tenant_id.
CREATE UNIQUE INDEX tenants_lower_name_idx ON dmarcsift.tenants (lower(name));

-- `dmarcsift tenant remove T [--purge]`: without purge every row of T in
-- every tenant table returns to 'unassigned' (tenant 0), where it waits for
-- the next owner of its domain; with purge it is deleted. Then the tenant
-- goes, and with it its domains, its reader mapping and its mailbox state.
-- Labels and source marks are deleted either way (see below).
-- Returns the number of rows moved or deleted. Tables are found through the
-- catalog, so later tenant tables are covered; reports go first because
-- records follow them (ON UPDATE/DELETE CASCADE).
CREATE FUNCTION dmarcsift.remove_tenant(tid integer, purge boolean) RETURNS bigint
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
	         ORDER BY c.relname <> 'reports', c.relname LOOP
		BEGIN
			-- What only describes this tenant goes with it either way: its
			-- own labels, and source marks (derived; the next `sources
			-- resolve` marks whatever moved to 'unassigned' again).
			IF purge OR t.relname IN ('source_labels', 'source_marks') THEN
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
