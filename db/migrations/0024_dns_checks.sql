-- 0024_dns_checks: `dmarcsift dns check` (issue 17): the tenants' own DNS
-- records (DMARC, SPF, DKIM keys, MTA-STS, TLS-RPT) checked, per run, and
-- the changes of those records between runs; listings announced to the
-- [notify] webhook.
--
-- dns_check_runs: one row per tenant and run, with its counts.
-- dns_findings: what the run found, one sentence each, its severity (ok,
--   notice, warning, error), a stable code (README: "dns check"), the fix in
--   one sentence and the record text concerned.
-- dns_records: per (kind, name) the record text the last answered look-up
--   saw ('' when there was none), with when it was first seen, last
--   changed and last checked.
-- dns_changes: each time a record's text differed from the previous run's
--   (including appearing and disappearing), with both texts: a reject spike
--   can be laid beside "SPF record changed on 3 March".
-- All four are derived from DNS at check time: `tenant remove` deletes them
-- (see remove_tenant below) rather than moving them to 'unassigned'.
CREATE TABLE dmarcsift.dns_check_runs (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	run_id     bigint GENERATED ALWAYS AS IDENTITY,
	checked_at timestamptz NOT NULL,
	domains    integer NOT NULL,
	findings   integer NOT NULL,
	errors     integer NOT NULL,
	warnings   integer NOT NULL,
	PRIMARY KEY (tenant_id, run_id)
);

CREATE TABLE dmarcsift.dns_findings (
	tenant_id  integer NOT NULL,
	run_id     bigint NOT NULL,
	seq        integer NOT NULL,
	domain     text NOT NULL,
	check_name text NOT NULL CHECK (check_name IN ('dmarc', 'spf', 'dkim', 'mta-sts', 'tls-rpt')),
	severity   text NOT NULL CHECK (severity IN ('ok', 'notice', 'warning', 'error')),
	code       text NOT NULL,
	finding    text NOT NULL,
	fix        text,
	record     text,
	PRIMARY KEY (tenant_id, run_id, seq),
	FOREIGN KEY (tenant_id, run_id) REFERENCES dmarcsift.dns_check_runs (tenant_id, run_id)
		ON DELETE CASCADE
);

CREATE TABLE dmarcsift.dns_records (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	kind       text NOT NULL CHECK (kind IN ('dmarc', 'spf', 'dkim', 'mta-sts', 'mta-sts-policy',
	                                         'tls-rpt')),
	name       text NOT NULL,
	domain     text NOT NULL,
	record     text NOT NULL,
	first_seen timestamptz NOT NULL,
	changed_at timestamptz NOT NULL,
	checked_at timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, kind, name)
);

CREATE TABLE dmarcsift.dns_changes (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	id         bigint GENERATED ALWAYS AS IDENTITY,
	run_id     bigint NOT NULL,
	domain     text NOT NULL,
	kind       text NOT NULL,
	name       text NOT NULL,
	old_record text NOT NULL,
	new_record text NOT NULL,
	changed_at timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX dns_changes_time_idx ON dmarcsift.dns_changes (tenant_id, changed_at);

DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.dns_check_runs'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.dns_findings'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.dns_records'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.dns_changes'); END $$;

-- The findings of every run, a public interface. security_invoker: a
-- tenant's reading role sees its own rows only (0008_1_tenant_roles).
CREATE VIEW dmarcsift.v_dns_checks WITH (security_invoker = true) AS
SELECT t.name AS tenant, f.domain, f.check_name, f.severity, f.code, f.finding, f.fix, f.record,
       r.checked_at, f.run_id,
       f.run_id = (SELECT max(x.run_id) FROM dmarcsift.dns_check_runs x
                   WHERE x.tenant_id = f.tenant_id) AS latest
FROM dmarcsift.dns_findings f
JOIN dmarcsift.dns_check_runs r ON r.tenant_id = f.tenant_id AND r.run_id = f.run_id
JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id;

COMMENT ON VIEW dmarcsift.v_dns_checks IS
	'Findings of dmarcsift dns check about each tenant''s DMARC, SPF, DKIM, MTA-STS and TLS-RPT records, per run.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.tenant IS 'Tenant name.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.domain IS 'The domain the record belongs to (DKIM: the d= domain).';
COMMENT ON COLUMN dmarcsift.v_dns_checks.check_name IS 'dmarc, spf, dkim, mta-sts or tls-rpt.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.severity IS 'ok, notice, warning or error.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.code IS 'Stable finding code (README: dns check), e.g. spf_too_many_lookups.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.finding IS 'What was found, in one sentence.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.fix IS 'What to do about it, in one sentence (NULL for ok findings).';
COMMENT ON COLUMN dmarcsift.v_dns_checks.record IS 'The record text concerned, as DNS (or the MTA-STS policy server) gave it.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.checked_at IS 'When the run checked.';
COMMENT ON COLUMN dmarcsift.v_dns_checks.run_id IS 'The run (one per tenant and dns check).';
COMMENT ON COLUMN dmarcsift.v_dns_checks.latest IS 'Whether this is the tenant''s latest run.';

CREATE VIEW dmarcsift.v_dns_changes WITH (security_invoker = true) AS
SELECT t.name AS tenant, c.domain, c.kind, c.name, c.changed_at, c.old_record, c.new_record,
       c.run_id
FROM dmarcsift.dns_changes c
JOIN dmarcsift.tenants t ON t.tenant_id = c.tenant_id;

COMMENT ON VIEW dmarcsift.v_dns_changes IS
	'Changes of the tenants'' DNS records between two dns check runs (SPF record changed on 3 March).';
COMMENT ON COLUMN dmarcsift.v_dns_changes.tenant IS 'Tenant name.';
COMMENT ON COLUMN dmarcsift.v_dns_changes.domain IS 'The domain the record belongs to.';
COMMENT ON COLUMN dmarcsift.v_dns_changes.kind IS 'dmarc, spf, dkim, mta-sts, mta-sts-policy or tls-rpt.';
COMMENT ON COLUMN dmarcsift.v_dns_changes.name IS 'The DNS name (or policy URL) of the record.';
COMMENT ON COLUMN dmarcsift.v_dns_changes.changed_at IS 'The check that first saw the new text.';
COMMENT ON COLUMN dmarcsift.v_dns_changes.old_record IS 'The text before (empty: there was no record).';
COMMENT ON COLUMN dmarcsift.v_dns_changes.new_record IS 'The text after (empty: the record is gone).';
COMMENT ON COLUMN dmarcsift.v_dns_changes.run_id IS 'The dns check run that saw the change.';

-- New listings with delivery impact go to the [notify] webhook once
-- (listing.opened, impact rejecting first), at the end of the correlation
-- that `blocklists check` runs; listed again after a delisting, again.
-- Those listed when this migration runs count as announced.
ALTER TABLE dmarcsift.listings ADD COLUMN notified_at timestamptz;
UPDATE dmarcsift.listings SET notified_at = now() WHERE answer = 'listed';

-- `tenant remove`: as 0020_tls_reports left it (child tables after the
-- tables they reference; labels, source marks, flags, the correlation
-- queue, listings and blocklist runs deleted either way), with the DNS
-- check tables derived and deleted either way too.
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
			IF purge OR t.relname IN ('source_labels', 'source_marks', 'flags',
			                          'correlate_dirty', 'listings', 'blocklist_runs',
			                          'dns_check_runs', 'dns_findings', 'dns_records',
			                          'dns_changes') THEN
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
