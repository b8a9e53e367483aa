-- 0008_1_tenant_roles: tenant isolation bound to database roles.
--
-- Until now the policies compared tenant_id with the session setting
-- dmarcsift.tenant_id, which any role may SET: a reader could read every
-- tenant in turn. Now a mapping table says which roles see which tenants,
-- and every policy asks whether current_user is a member of such a role.
-- Nothing a reader can SET widens what it sees.
--
--   dmarcsift_reader  holds the privileges (USAGE on the schema, SELECT on the
--                     views and the tables behind them); every reading role is
--                     a member of it and sees the tenants mapped to it.
--   dmarcsift_msp     a member of dmarcsift_reader that sees every tenant.
--   the owner         the role that migrates and ingests owns the tables and
--                     is the only one that bypasses row-level security (it is
--                     not FORCEd), so it must never be a reading role.
--
-- Roles are cluster-wide and need CREATEROLE: db/migrate.c creates them and
-- grants through dmarcsift.setup_roles() after the migrations, and prints
-- the SQL a DBA must run where it lacks the privilege.

CREATE TABLE dmarcsift.tenant_roles (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	role       name NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, role)
);
CREATE INDEX tenant_roles_role_idx ON dmarcsift.tenant_roles (role);

-- Does role r see every tenant? Only members of dmarcsift_msp do.
-- SECURITY DEFINER so that it may read the catalog and the mapping whatever
-- the caller's privileges; STABLE, and called as (SELECT ...(current_user))
-- in the policies, so the planner runs it once per query (an InitPlan), not
-- once per row, and the tenant_id comparison stays an index condition.
-- The answer is only given for a role the session's login role may become,
-- so a reader cannot ask about somebody else's role.
CREATE FUNCTION dmarcsift.sees_all_tenants(r name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	SELECT EXISTS (
		SELECT 1 FROM pg_catalog.pg_roles m
		WHERE m.rolname = 'dmarcsift_msp'
		  AND pg_catalog.pg_has_role(r, m.oid, 'MEMBER')
		  AND pg_catalog.pg_has_role(session_user, r, 'MEMBER'))
$$;

-- The tenants role r sees through the mapping (membership, direct or not,
-- in a mapped role). Same reasoning as above.
CREATE FUNCTION dmarcsift.visible_tenants(r name) RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(array_agg(DISTINCT m.tenant_id), '{}')
	FROM dmarcsift.tenant_roles m
	JOIN pg_catalog.pg_roles g ON g.rolname = m.role
	WHERE pg_catalog.pg_has_role(r, g.oid, 'MEMBER')
	  AND pg_catalog.pg_has_role(session_user, r, 'MEMBER')
$$;

-- The pattern every tenant table follows (the 3 lines, for a new table T):
--   DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.T'); END $$;
-- It enables row-level security, replaces the table's permissive policies
-- (e.g. the old setting-based tenant_isolation) by the role-bound one, and
-- db/migrate.c runs dmarcsift.secure_tenant_tables() after every migration
-- run, so a table created by a migration that forgot it is covered too.
CREATE FUNCTION dmarcsift.secure_tenant_table(t regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	p record;
BEGIN
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
	FOR p IN SELECT polname FROM pg_catalog.pg_policy
	         WHERE polrelid = t AND polpermissive AND polname <> 'tenant_by_role' LOOP
		EXECUTE format('DROP POLICY %I ON %s', p.polname, t);
	END LOOP;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
	               WHERE polrelid = t AND polname = 'tenant_by_role') THEN
		EXECUTE format('CREATE POLICY tenant_by_role ON %s USING ('
		               '(SELECT dmarcsift.sees_all_tenants(current_user))'
		               ' OR tenant_id = ANY ((SELECT dmarcsift.visible_tenants(current_user))::integer[]))',
		               t);
	END IF;
END
$$;

-- Every table of the schema with a tenant_id column.
CREATE FUNCTION dmarcsift.secure_tenant_tables() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	t regclass;
	n integer := 0;
BEGIN
	FOR t IN SELECT c.oid::regclass FROM pg_catalog.pg_class c
	         JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
	         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	         WHERE s.nspname = 'dmarcsift' AND c.relkind IN ('r', 'p')
	           AND a.attname = 'tenant_id' AND NOT a.attisdropped
	         ORDER BY c.relname LOOP
		PERFORM dmarcsift.secure_tenant_table(t);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- Relations a reader never gets: raw mail bytes of every tenant, mailbox
-- bookkeeping, the role mapping itself.
CREATE FUNCTION dmarcsift.reader_relations() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
	WHERE s.nspname = 'dmarcsift'
	  AND (c.relkind IN ('v', 'm')
	       OR (c.relkind IN ('r', 'p') AND EXISTS (
	             SELECT 1 FROM pg_catalog.pg_attribute a
	             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)))
	  AND c.relname NOT IN ('raw_messages', 'mailbox_state', 'tenant_roles')
	ORDER BY c.relkind DESC, c.relname
$$;

-- What is missing for the reading roles, as the SQL that would fix it, in
-- order. With apply, each statement is tried first (as the current role)
-- and only those it may not run are returned: the DBA's part.
-- The tables behind the views are granted as well as the views: the views
-- are security_invoker (so the reader's policies apply), which checks the
-- reader's privileges on the tables too. Their rows are filtered by the
-- policies all the same; raw_messages is never granted.
CREATE FUNCTION dmarcsift.setup_roles(apply boolean) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	stmts text[] := '{}';
	s text;
	rel regclass;
	have_reader boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_reader');
	have_msp boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_msp');
	owner name := (SELECT r.rolname FROM pg_catalog.pg_namespace n
	               JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'dmarcsift');
BEGIN
	IF NOT have_reader THEN
		stmts := stmts || 'CREATE ROLE dmarcsift_reader NOLOGIN;'::text;
	END IF;
	IF NOT have_msp THEN
		stmts := stmts || 'CREATE ROLE dmarcsift_msp NOLOGIN;'::text;
	END IF;
	-- Nested IFs: pg_has_role fails on a role that does not exist.
	IF NOT (have_reader AND have_msp) THEN
		stmts := stmts || 'GRANT dmarcsift_reader TO dmarcsift_msp;'::text;
	ELSIF NOT pg_catalog.pg_has_role('dmarcsift_msp', 'dmarcsift_reader', 'MEMBER') THEN
		stmts := stmts || 'GRANT dmarcsift_reader TO dmarcsift_msp;'::text;
	END IF;
	-- The owner grants dmarcsift_reader to the roles of `tenant grant`.
	IF NOT have_reader THEN
		stmts := stmts || format('GRANT dmarcsift_reader TO %I WITH ADMIN OPTION;', owner);
	ELSIF NOT (pg_catalog.pg_has_role(owner, 'dmarcsift_reader', 'MEMBER WITH ADMIN OPTION')
	           OR (SELECT rolcreaterole OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = owner)) THEN
		stmts := stmts || format('GRANT dmarcsift_reader TO %I WITH ADMIN OPTION;', owner);
	END IF;
	IF NOT have_reader THEN
		stmts := stmts || 'GRANT USAGE ON SCHEMA dmarcsift TO dmarcsift_reader;'::text;
	ELSIF NOT pg_catalog.has_schema_privilege('dmarcsift_reader', 'dmarcsift', 'USAGE') THEN
		stmts := stmts || 'GRANT USAGE ON SCHEMA dmarcsift TO dmarcsift_reader;'::text;
	END IF;
	FOR rel IN SELECT * FROM dmarcsift.reader_relations() LOOP
		IF NOT have_reader THEN
			stmts := stmts || format('GRANT SELECT ON dmarcsift.%I TO dmarcsift_reader;',
			                          (SELECT relname FROM pg_catalog.pg_class WHERE oid = rel));
		ELSIF NOT pg_catalog.has_table_privilege('dmarcsift_reader', rel, 'SELECT') THEN
			stmts := stmts || format('GRANT SELECT ON dmarcsift.%I TO dmarcsift_reader;',
			                          (SELECT relname FROM pg_catalog.pg_class WHERE oid = rel));
		END IF;
	END LOOP;
	FOREACH s IN ARRAY stmts LOOP
		IF apply THEN
			BEGIN
				EXECUTE s;
				CONTINUE;
			EXCEPTION
				WHEN insufficient_privilege OR duplicate_object OR unique_violation
				     OR undefined_object OR invalid_grant_operation THEN
					-- duplicate_object: another database created the role
					-- meanwhile; undefined_object: a role we could not create.
					IF SQLSTATE IN ('42710', '23505') THEN
						CONTINUE;
					END IF;
			END;
		END IF;
		RETURN NEXT s;
	END LOOP;
END
$$;

-- The reader no longer needs these directly (and 0001 granted them).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_reader') THEN
		REVOKE ALL ON dmarcsift.raw_messages FROM dmarcsift_reader;
	END IF;
END
$$;

DO $$ BEGIN PERFORM dmarcsift.secure_tenant_tables(); END $$;

-- `dmarcsift tenant grant T ROLE [--login]`: maps ROLE to tenant T, creating
-- ROLE and making it a member of dmarcsift_reader when the current role may.
-- Returns the statements it could not run (the DBA's part). The owner,
-- superusers and roles that bypass row-level security are refused: they
-- would see every tenant whatever the mapping says.
CREATE FUNCTION dmarcsift.grant_tenant_role(tname text, r name, login boolean)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	tid integer := (SELECT tenant_id FROM dmarcsift.tenants WHERE lower(name) = lower(btrim(tname)));
	owner name := (SELECT g.rolname FROM pg_catalog.pg_namespace n
	               JOIN pg_catalog.pg_roles g ON g.oid = n.nspowner WHERE n.nspname = 'dmarcsift');
	g pg_catalog.pg_roles%ROWTYPE;
	stmts text[] := '{}';
	s text;
BEGIN
	IF tid IS NULL THEN
		RAISE EXCEPTION 'unknown tenant "%"', tname USING ERRCODE = '22023';
	END IF;
	IF r IN ('dmarcsift_reader', 'dmarcsift_msp') OR r = owner OR r LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'role "%" cannot be a tenant''s reader (the owner, the built-in roles and pg_* are not)', r
			USING ERRCODE = '22023';
	END IF;
	SELECT * INTO g FROM pg_catalog.pg_roles WHERE rolname = r;
	IF FOUND AND (g.rolsuper OR g.rolbypassrls) THEN
		RAISE EXCEPTION 'role "%" is a superuser or bypasses row-level security: it would see every tenant', r
			USING ERRCODE = '22023';
	END IF;
	IF FOUND AND pg_catalog.pg_has_role(r, owner, 'MEMBER') THEN
		RAISE EXCEPTION 'role "%" is a member of the owner "%": it would see every tenant', r, owner
			USING ERRCODE = '22023';
	END IF;
	IF NOT FOUND THEN
		stmts := stmts || format('CREATE ROLE %I %s;', r, CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END);
	ELSIF login AND NOT g.rolcanlogin THEN
		stmts := stmts || format('ALTER ROLE %I LOGIN;', r);
	END IF;
	IF NOT FOUND THEN
		stmts := stmts || format('GRANT dmarcsift_reader TO %I;', r);
	ELSIF NOT pg_catalog.pg_has_role(r, 'dmarcsift_reader', 'MEMBER') THEN
		stmts := stmts || format('GRANT dmarcsift_reader TO %I;', r);
	END IF;
	INSERT INTO dmarcsift.tenant_roles (tenant_id, role) VALUES (tid, r) ON CONFLICT DO NOTHING;
	FOREACH s IN ARRAY stmts LOOP
		BEGIN
			EXECUTE s;
			CONTINUE;
		EXCEPTION
			WHEN insufficient_privilege OR undefined_object OR invalid_grant_operation THEN NULL;
			WHEN duplicate_object OR unique_violation THEN CONTINUE;
		END;
		RETURN NEXT s;
	END LOOP;
END
$$;

-- `dmarcsift tenant revoke T ROLE`: the role no longer sees tenant T. A role
-- that sees no tenant any more also loses dmarcsift_reader (the role itself
-- is left alone: it may serve other purposes). Returns the statements it
-- could not run; raises no_data_found when ROLE was not mapped to T.
CREATE FUNCTION dmarcsift.revoke_tenant_role(tname text, r name)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	tid integer := (SELECT tenant_id FROM dmarcsift.tenants WHERE lower(name) = lower(btrim(tname)));
	s text;
BEGIN
	IF tid IS NULL THEN
		RAISE EXCEPTION 'unknown tenant "%"', tname USING ERRCODE = '22023';
	END IF;
	DELETE FROM dmarcsift.tenant_roles WHERE tenant_id = tid AND role = r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" does not read tenant "%"', r, tname USING ERRCODE = '22023';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM dmarcsift.tenant_roles WHERE role = r)
	   AND EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members a
	               JOIN pg_catalog.pg_roles m ON m.oid = a.member AND m.rolname = r
	               JOIN pg_catalog.pg_roles g ON g.oid = a.roleid AND g.rolname = 'dmarcsift_reader') THEN
		s := format('REVOKE dmarcsift_reader FROM %I;', r);
		BEGIN
			EXECUTE s;
			RETURN;
		EXCEPTION
			WHEN insufficient_privilege OR invalid_grant_operation THEN NULL;
		END;
		RETURN NEXT s;
	END IF;
END
$$;
