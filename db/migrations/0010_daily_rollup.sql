-- 0010_daily_rollup: the aggregate records summed per UTC day, so reports
-- over months of data (and MSP overviews over every tenant) read thousands
-- of rows instead of millions.
--
-- One row per (tenant, day, policy domain, source IP, DKIM aligned, SPF
-- aligned): what every report section sums. Reporters are not in the key —
-- an address seen by twenty reporters a day is one row, not twenty — so
-- "which reporters saw a source" is read from the records of the few
-- sources a report lists (records_source_ip_idx). The day is the UTC date of the
-- report's begin_at: reports are daily in practice, and a multi-day report
-- is counted on its first day rather than spread by guesswork.
-- dkim_pass / spf_pass are the policy_evaluated (aligned) results; any value
-- other than 'pass' (fail, none, temperror, an unknown word, NULL) counts as
-- not passing. DMARC passes when either passes.
--
-- Kept up to date by triggers, in the ingest transaction:
--   * records INSERT (COPY included): one statement-level trigger adds the
--     new rows through the transition table;
--   * a report moving to another tenant (store_tenant_add reassigns
--     'unassigned' reports, which cascades to records): the report's
--     contribution moves with it;
--   * a report deleted: its contribution is subtracted before the cascade
--     removes its records.
-- The columns that define a rollup row (begin_at, policy_domain)
-- are never updated by dmarcsift; a tool that does must rebuild with
-- dmarcsift.daily_rollup_rebuild().

CREATE TABLE dmarcsift.daily_rollup (
	tenant_id     integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	day           date NOT NULL,
	policy_domain text NOT NULL,
	source_ip     inet NOT NULL,
	dkim_pass     boolean NOT NULL,
	spf_pass      boolean NOT NULL,
	messages      bigint NOT NULL,
	records       bigint NOT NULL,
	PRIMARY KEY (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
);
-- A tenant's sources over a period (the source table of a report).
CREATE INDEX daily_rollup_source_idx ON dmarcsift.daily_rollup (tenant_id, source_ip, day);

-- Tenant isolation as for every tenant table (0008_1_tenant_roles); the
-- reading roles' grants are made by db/migrate.c (dmarcsift.setup_roles).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.daily_rollup'); END $$;

-- Adds (sign 1) or subtracts (sign -1) the records of the reports whose
-- primary keys are given, as they are stored now.
CREATE FUNCTION dmarcsift.daily_rollup_apply(p_tenant integer, p_reports bigint[], p_sign integer)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO dmarcsift.daily_rollup AS d
	       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
	SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
	       x.source_ip, coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
	       p_sign * sum(x.count), p_sign * count(*)
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	WHERE x.tenant_id = p_tenant AND x.report_pk = ANY (p_reports)
	GROUP BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
	DO UPDATE SET messages = d.messages + excluded.messages,
	              records = d.records + excluded.records;
	DELETE FROM dmarcsift.daily_rollup
	WHERE p_sign < 0 AND tenant_id = p_tenant AND records <= 0;
$$;

CREATE FUNCTION dmarcsift.daily_rollup_records_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO dmarcsift.daily_rollup AS d
	       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
	SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
	       x.source_ip, coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
	       sum(x.count), count(*)
	FROM new_records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	GROUP BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
	DO UPDATE SET messages = d.messages + excluded.messages,
	              records = d.records + excluded.records;
	RETURN NULL;
END
$$;

CREATE TRIGGER daily_rollup_ins AFTER INSERT ON dmarcsift.records
	REFERENCING NEW TABLE AS new_records
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.daily_rollup_records_ins();

-- BEFORE the report row changes: its records still carry the old tenant, so
-- the old contribution can be computed and removed; the new one is added
-- under the new tenant from the same records.
CREATE FUNCTION dmarcsift.daily_rollup_report_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcsift.daily_rollup_apply(OLD.tenant_id, ARRAY[OLD.id], -1);
	IF TG_OP = 'UPDATE' THEN
		INSERT INTO dmarcsift.daily_rollup AS d
		       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
		SELECT NEW.tenant_id, (NEW.begin_at AT TIME ZONE 'UTC')::date, NEW.policy_domain,
		       x.source_ip, coalesce(lower(x.dkim) = 'pass', false),
		       coalesce(lower(x.spf) = 'pass', false), sum(x.count), count(*)
		FROM dmarcsift.records x
		WHERE x.tenant_id = OLD.tenant_id AND x.report_pk = OLD.id
		GROUP BY 1, 2, 3, 4, 5, 6
		ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
		DO UPDATE SET messages = d.messages + excluded.messages,
		              records = d.records + excluded.records;
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER daily_rollup_move BEFORE UPDATE OF tenant_id ON dmarcsift.reports
	FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
	EXECUTE FUNCTION dmarcsift.daily_rollup_report_move();
CREATE TRIGGER daily_rollup_del BEFORE DELETE ON dmarcsift.reports
	FOR EACH ROW EXECUTE FUNCTION dmarcsift.daily_rollup_report_move();

-- Recomputes the whole rollup from the records (repairs, bulk edits).
CREATE FUNCTION dmarcsift.daily_rollup_rebuild() RETURNS void LANGUAGE sql AS $$
	DELETE FROM dmarcsift.daily_rollup;
	INSERT INTO dmarcsift.daily_rollup
	       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
	SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
	       x.source_ip, coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
	       sum(x.count), count(*)
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	GROUP BY 1, 2, 3, 4, 5, 6;
$$;

DO $$ BEGIN PERFORM dmarcsift.daily_rollup_rebuild(); END $$;
