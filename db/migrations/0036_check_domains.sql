-- 0036_check_domains: the one-column value checks of reports and
-- raw_messages as domains instead of table CHECK constraints; the same
-- values are allowed and refused.
--
-- PostgreSQL reads a table's CHECK constraints back from the catalog and
-- plans them again on every statement that writes to the table. A small
-- report is one INSERT into raw_messages and one into reports: nine checks
-- read, planned and compiled per report, about a tenth of the server's time
-- for 2,000 five-record reports (tests/bench/README.md). A domain's checks
-- are read and planned once per session (the type cache) and only compiled
-- per statement. The two-column check of reports (end_at >= begin_at) stays
-- a table constraint.
--
-- A column's type cannot change under a view, so the views over the two
-- tables (our four over reports, and any of an installation's own) are
-- saved (definition, options, owner, comments, privileges), dropped and
-- made again as they were.

-- The domains get their checks after the columns have their types: a
-- column moved to a domain that has checks is rewritten whole (raw_messages
-- with every raw byte), while adding a check to a domain in use only reads
-- the rows to validate them.
CREATE DOMAIN dmarcsift.nonneg_count AS bigint;
CREATE DOMAIN dmarcsift.percent AS integer;
CREATE DOMAIN dmarcsift.report_schema AS text;
CREATE DOMAIN dmarcsift.sha256_hex AS text;
CREATE DOMAIN dmarcsift.raw_status AS text;
CREATE DOMAIN dmarcsift.raw_encoding AS text;

-- Every view over the two tables, ours and any a user made (a BI schema),
-- and the views over those, with how deep each lies: dropped deepest first,
-- made again shallowest first. A materialized view over them is left in
-- place, and the ALTER TABLE below then fails naming it.
CREATE TEMP TABLE mig36_views ON COMMIT DROP AS
WITH RECURSIVE dep(oid, depth) AS (
	SELECT r.ev_class, 1
	FROM pg_catalog.pg_depend d
	JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
	WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
	  AND d.refclassid = 'pg_catalog.pg_class'::regclass
	  AND d.refobjid IN ('dmarcsift.reports'::regclass, 'dmarcsift.raw_messages'::regclass)
	  AND r.ev_class <> d.refobjid
	UNION ALL
	SELECT r.ev_class, dep.depth + 1
	FROM dep
	JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid
	 AND d.classid = 'pg_catalog.pg_rewrite'::regclass
	 AND d.refclassid = 'pg_catalog.pg_class'::regclass
	JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
	WHERE r.ev_class <> dep.oid AND dep.depth < 32
)
SELECT c.oid, n.nspname, c.relname, max(dep.depth) AS depth,
       pg_catalog.pg_get_viewdef(c.oid) AS def, c.reloptions,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       -- the view's privileges, and its columns' (col NULL: the view's)
       ARRAY(SELECT format('GRANT %s%s ON %I.%I TO %s%s', x.privilege_type,
                           coalesce(' (' || quote_ident(x.col) || ')', ''), n.nspname, c.relname,
                           CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                ELSE quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END,
                           CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM (SELECT NULL::name AS col, t.grantee, t.privilege_type, t.is_grantable
                   FROM pg_catalog.aclexplode(c.relacl) t
                   UNION ALL
                   SELECT a.attname, t.grantee, t.privilege_type, t.is_grantable
                   FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) t
                   WHERE a.attrelid = c.oid AND a.attnum > 0) x
             WHERE x.grantee <> c.relowner) AS grants
FROM dep
JOIN pg_catalog.pg_class c ON c.oid = dep.oid AND c.relkind = 'v'
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
GROUP BY c.oid, n.nspname;

-- the column comments, one row each
CREATE TEMP TABLE mig36_cols ON COMMIT DROP AS
SELECT v.nspname, v.relname, a.attname, pg_catalog.col_description(v.oid, a.attnum) AS comment
FROM mig36_views v
JOIN pg_catalog.pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0
WHERE pg_catalog.col_description(v.oid, a.attnum) IS NOT NULL;

DO $$
DECLARE
	v record;
BEGIN
	FOR v IN SELECT * FROM mig36_views ORDER BY depth DESC, nspname, relname LOOP
		EXECUTE format('DROP VIEW %I.%I', v.nspname, v.relname);
	END LOOP;
END
$$;

ALTER TABLE dmarcsift.reports
	DROP CONSTRAINT reports_records_check,
	DROP CONSTRAINT reports_messages_check,
	DROP CONSTRAINT reports_schema_check,
	DROP CONSTRAINT reports_pct_check,
	ALTER records TYPE dmarcsift.nonneg_count,
	ALTER messages TYPE dmarcsift.nonneg_count,
	ALTER pct TYPE dmarcsift.percent,
	ALTER schema TYPE dmarcsift.report_schema;

ALTER TABLE dmarcsift.raw_messages
	DROP CONSTRAINT raw_messages_status_check,
	DROP CONSTRAINT raw_messages_size_check,
	DROP CONSTRAINT raw_messages_sha256_check,
	DROP CONSTRAINT raw_messages_encoding_check,
	ALTER sha256 TYPE dmarcsift.sha256_hex,
	ALTER status TYPE dmarcsift.raw_status,
	ALTER size TYPE dmarcsift.nonneg_count,
	ALTER encoding TYPE dmarcsift.raw_encoding;

ALTER DOMAIN dmarcsift.nonneg_count ADD CONSTRAINT nonneg_count_check CHECK (VALUE >= 0);
ALTER DOMAIN dmarcsift.percent ADD CONSTRAINT percent_check CHECK (VALUE >= 0 AND VALUE <= 100);
ALTER DOMAIN dmarcsift.report_schema ADD CONSTRAINT report_schema_check
	CHECK (VALUE IN ('rfc7489', 'rfc9990'));
ALTER DOMAIN dmarcsift.sha256_hex ADD CONSTRAINT sha256_hex_check
	CHECK (VALUE ~ '^[0-9a-f]{64}$');
ALTER DOMAIN dmarcsift.raw_status ADD CONSTRAINT raw_status_check
	CHECK (VALUE IN ('new', 'ok', 'quarantined', 'dsn', 'dismissed'));
ALTER DOMAIN dmarcsift.raw_encoding ADD CONSTRAINT raw_encoding_check
	CHECK (VALUE IN ('zlib', 'identity'));

DO $$
DECLARE
	v record;
	c record;
	g text;
BEGIN
	FOR v IN SELECT * FROM mig36_views ORDER BY depth, nspname, relname LOOP
		EXECUTE format('CREATE VIEW %I.%I%s AS %s', v.nspname, v.relname,
		               CASE WHEN v.reloptions IS NULL THEN ''
		                    ELSE format(' WITH (%s)', array_to_string(v.reloptions, ', ')) END,
		               v.def);
		IF v.owner <> current_user THEN
			EXECUTE format('ALTER VIEW %I.%I OWNER TO %I', v.nspname, v.relname, v.owner);
		END IF;
		IF v.comment IS NOT NULL THEN
			EXECUTE format('COMMENT ON VIEW %I.%I IS %L', v.nspname, v.relname, v.comment);
		END IF;
		FOREACH g IN ARRAY v.grants LOOP
			EXECUTE g;
		END LOOP;
	END LOOP;
	FOR c IN SELECT * FROM mig36_cols LOOP
		EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', c.nspname, c.relname, c.attname,
		               c.comment);
	END LOOP;
END
$$;
