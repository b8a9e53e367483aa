-- 0026_domain_rollup: the aggregate records summed per (tenant, UTC day,
-- policy domain, DKIM aligned, SPF aligned) — daily_rollup without the
-- source IP. daily_rollup keeps one row per sending address, so with many
-- sources it is barely smaller than the records (1.9M rows for 10M records
-- in tests/bench/bench_report.sh); the report's summary, daily and domain
-- sections and the MSP overview only need the sums per day and domain: at
-- most four rows per (tenant, day, domain).
--
-- Same day and pass semantics as 0010_daily_rollup (the UTC date of the
-- report's begin_at; any aligned result other than 'pass' does not pass),
-- kept by the same trigger functions, redefined here to maintain both
-- tables in one pass: records INSERT (COPY), a report moving to another
-- tenant (tenant add, `tenant remove` without --purge), a report deleted,
-- and dmarcsift.daily_rollup_rebuild(). `tenant remove` needs no change:
-- remove_tenant (as 0025_bounce_days left it) finds this table through the
-- catalog like daily_rollup (tenant_id, no foreign key but to tenants):
-- after the reports have moved (their triggers move this table's rows) it
-- moves or, with --purge, deletes what is left of the tenant.

CREATE TABLE dmarcsift.domain_rollup (
	tenant_id     integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	day           date NOT NULL,
	policy_domain text NOT NULL,
	dkim_pass     boolean NOT NULL,
	spf_pass      boolean NOT NULL,
	messages      bigint NOT NULL,
	records       bigint NOT NULL,
	PRIMARY KEY (tenant_id, day, policy_domain, dkim_pass, spf_pass)
);

-- Tenant isolation as for every tenant table (0008_1_tenant_roles); the
-- reading roles' grants are made by db/migrate.c (dmarcsift.setup_roles).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.domain_rollup'); END $$;

-- Adds (sign 1) or subtracts (sign -1) the records of the reports whose
-- primary keys are given, as they are stored now, to both rollups.
CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_apply(p_tenant integer, p_reports bigint[], p_sign integer)
RETURNS void LANGUAGE sql AS $$
	WITH delta AS (
		SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain,
		       x.source_ip, coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass,
		       coalesce(lower(x.spf) = 'pass', false) AS spf_pass,
		       p_sign * sum(x.count) AS messages, p_sign * count(*) AS records
		FROM dmarcsift.records x
		JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
		WHERE x.tenant_id = p_tenant AND x.report_pk = ANY (p_reports)
		GROUP BY 1, 2, 3, 4, 5, 6
	), ip AS (
		INSERT INTO dmarcsift.daily_rollup AS d
		       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
		SELECT * FROM delta
		ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
		DO UPDATE SET messages = d.messages + excluded.messages,
		              records = d.records + excluded.records
	)
	INSERT INTO dmarcsift.domain_rollup AS o
	       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
	SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
	FROM delta GROUP BY 1, 2, 3, 4, 5
	ON CONFLICT (tenant_id, day, policy_domain, dkim_pass, spf_pass)
	DO UPDATE SET messages = o.messages + excluded.messages,
	              records = o.records + excluded.records;
	DELETE FROM dmarcsift.daily_rollup
	WHERE p_sign < 0 AND tenant_id = p_tenant AND records <= 0;
	DELETE FROM dmarcsift.domain_rollup
	WHERE p_sign < 0 AND tenant_id = p_tenant AND records <= 0;
$$;

CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_records_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	WITH delta AS (
		SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain,
		       x.source_ip, coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass,
		       coalesce(lower(x.spf) = 'pass', false) AS spf_pass,
		       sum(x.count) AS messages, count(*) AS records
		FROM new_records x
		JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
		GROUP BY 1, 2, 3, 4, 5, 6
	), ip AS (
		INSERT INTO dmarcsift.daily_rollup AS d
		       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
		SELECT * FROM delta
		ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
		DO UPDATE SET messages = d.messages + excluded.messages,
		              records = d.records + excluded.records
	)
	INSERT INTO dmarcsift.domain_rollup AS o
	       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
	SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
	FROM delta GROUP BY 1, 2, 3, 4, 5
	ON CONFLICT (tenant_id, day, policy_domain, dkim_pass, spf_pass)
	DO UPDATE SET messages = o.messages + excluded.messages,
	              records = o.records + excluded.records;
	RETURN NULL;
END
$$;

-- BEFORE the report row changes: its records still carry the old tenant, so
-- the old contribution can be computed and removed; the new one is added
-- under the new tenant from the same records.
CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_report_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcsift.daily_rollup_apply(OLD.tenant_id, ARRAY[OLD.id], -1);
	IF TG_OP = 'UPDATE' THEN
		WITH delta AS (
			SELECT NEW.tenant_id AS tenant_id, (NEW.begin_at AT TIME ZONE 'UTC')::date AS day,
			       NEW.policy_domain AS policy_domain, x.source_ip,
			       coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass,
			       coalesce(lower(x.spf) = 'pass', false) AS spf_pass,
			       sum(x.count) AS messages, count(*) AS records
			FROM dmarcsift.records x
			WHERE x.tenant_id = OLD.tenant_id AND x.report_pk = OLD.id
			GROUP BY 1, 2, 3, 4, 5, 6
		), ip AS (
			INSERT INTO dmarcsift.daily_rollup AS d
			       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
			SELECT * FROM delta
			ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
			DO UPDATE SET messages = d.messages + excluded.messages,
			              records = d.records + excluded.records
		)
		INSERT INTO dmarcsift.domain_rollup AS o
		       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
		SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
		FROM delta GROUP BY 1, 2, 3, 4, 5
		ON CONFLICT (tenant_id, day, policy_domain, dkim_pass, spf_pass)
		DO UPDATE SET messages = o.messages + excluded.messages,
		              records = o.records + excluded.records;
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;

-- Recomputes both rollups from the records (repairs, bulk edits).
CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_rebuild() RETURNS void LANGUAGE sql AS $$
	DELETE FROM dmarcsift.daily_rollup;
	DELETE FROM dmarcsift.domain_rollup;
	INSERT INTO dmarcsift.daily_rollup
	       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
	SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain,
	       x.source_ip, coalesce(lower(x.dkim) = 'pass', false), coalesce(lower(x.spf) = 'pass', false),
	       sum(x.count), count(*)
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	GROUP BY 1, 2, 3, 4, 5, 6;
	INSERT INTO dmarcsift.domain_rollup
	       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
	SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
	FROM dmarcsift.daily_rollup
	GROUP BY 1, 2, 3, 4, 5;
$$;

-- Backfill from daily_rollup, which holds the same sums per source IP
-- (cheaper than the records, and what the reports read until now).
INSERT INTO dmarcsift.domain_rollup
       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
FROM dmarcsift.daily_rollup
GROUP BY 1, 2, 3, 4, 5;

-- For BI tools: the same sums by tenant name, like v_daily but without the
-- source address, read from the rollup (policies apply: security_invoker).
CREATE VIEW dmarcsift.v_domain_daily WITH (security_invoker = true) AS
SELECT t.name AS tenant, o.day, o.policy_domain,
       sum(o.messages) AS messages,
       coalesce(sum(o.messages) FILTER (WHERE o.dkim_pass), 0) AS dkim_pass,
       coalesce(sum(o.messages) FILTER (WHERE o.spf_pass), 0) AS spf_pass,
       coalesce(sum(o.messages) FILTER (WHERE o.dkim_pass OR o.spf_pass), 0) AS dmarc_pass
FROM dmarcsift.domain_rollup o
JOIN dmarcsift.tenants t ON t.tenant_id = o.tenant_id
GROUP BY t.name, o.day, o.policy_domain;

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_reader') THEN
		GRANT SELECT ON dmarcsift.v_domain_daily, dmarcsift.domain_rollup TO dmarcsift_reader;
	END IF;
EXCEPTION WHEN insufficient_privilege THEN
	NULL; -- db status / db migrate print it for the DBA
END
$$;

COMMENT ON VIEW dmarcsift.v_domain_daily IS 'DMARC results per tenant, policy domain and day (UTC day the reported period begins), from the per-domain rollup: the cheap view for dashboards that need no sending source.';
COMMENT ON COLUMN dmarcsift.v_domain_daily.tenant IS 'Tenant the reports belong to';
COMMENT ON COLUMN dmarcsift.v_domain_daily.day IS 'Day (UTC) the reported period begins';
COMMENT ON COLUMN dmarcsift.v_domain_daily.policy_domain IS 'The domain whose DMARC policy the reports cover';
COMMENT ON COLUMN dmarcsift.v_domain_daily.messages IS 'Messages reported';
COMMENT ON COLUMN dmarcsift.v_domain_daily.dkim_pass IS 'Messages with a DMARC-aligned DKIM pass';
COMMENT ON COLUMN dmarcsift.v_domain_daily.spf_pass IS 'Messages with a DMARC-aligned SPF pass';
COMMENT ON COLUMN dmarcsift.v_domain_daily.dmarc_pass IS 'Messages passing DMARC (aligned DKIM or SPF pass)';
