-- 0038_flag_state: a flag's episode up to a cut day, kept between runs, so
-- an incremental correlation reads a group's newest days instead of its
-- whole episode (issue 8: one new day of 4,475 groups recomputed 60 days
-- of rows each).
--
-- A row holds what the correlator would have summed from the current
-- episode's bounce day rows before `cut` (as one bounce_days-like row) and
-- from the matched aggregate rows of reports beginning before `cut` (sums,
-- every failing identifier, the per-address sums, the first reports). The
-- correlator (db/sql/correlate_state_*.sql) uses it only while it is still
-- exact: with the run's resolve time and the provider's org names of the
-- time, and with no queued day of this run before the cut (late reports and
-- late logs are queued days: their group is summed again from its rows).
-- Rows that disappear before a cut (prune, a replaced report, a tenant's
-- data moved away) drop the tenant's states through the triggers below,
-- since nothing queues those days.
CREATE TABLE dmarcsift.flag_state (
	tenant_id    integer NOT NULL,
	provider     text NOT NULL,
	domain       text NOT NULL,
	ip_key       text NOT NULL,
	cut          date NOT NULL,      -- covers bounce days < cut, reports beginning < cut
	resolve      interval NOT NULL,  -- the quiet time that split episodes
	orgs         text[] NOT NULL,    -- the provider's org names, sorted
	breaks       integer NOT NULL,   -- episodes before this one
	-- the bounce side, as one bounce_days row
	first_at     timestamptz NOT NULL,
	last_at      timestamptz NOT NULL,
	rejects      bigint NOT NULL,
	sending_ip   inet,
	org          text,
	auth_texts   bigint NOT NULL,
	text_dkim    boolean,
	text_spf     boolean,
	text_dmarc   boolean,
	classes      jsonb NOT NULL,
	codes        jsonb NOT NULL,
	ip_sources   jsonb NOT NULL,
	listed_on    jsonb NOT NULL,
	listed_asset jsonb NOT NULL,
	samples      jsonb NOT NULL,
	-- the aggregate side (how NULL: nothing matched)
	how          text,
	nreports     bigint NOT NULL,
	fails        jsonb,             -- [{kind, domain, selector, result, messages}]
	report_pks   bigint[] NOT NULL, -- the reports that can be among the first ten
	report_begins timestamptz[] NOT NULL,
	report_items jsonb,             -- with ten or more: the first ten, as the evidence has them
	ips          inet[] NOT NULL,   -- per source address: messages and passes
	ip_messages  bigint[] NOT NULL,
	ip_dkim      bigint[] NOT NULL,
	ip_spf       bigint[] NOT NULL,
	ip_dmarc     bigint[] NOT NULL,
	PRIMARY KEY (tenant_id, provider, domain, ip_key)
);

DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.flag_state'); END $$;

INSERT INTO dmarcsift.tenant_derived_tables (relname, why) VALUES
	('flag_state', 'the correlator''s running sums of the tenant''s flags');

-- A report as the evidence of a flag lists it (correlate_flags.sql, and the
-- first ten of a state: correlate_state_write.sql).
CREATE FUNCTION dmarcsift.report_item(org_name text, report_id text, policy_domain text,
	begin_at timestamptz, end_at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
	    'org_name', org_name, 'report_id', report_id, 'policy_domain', policy_domain,
	    'begin', to_char(begin_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	    'end', to_char(end_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
$$;

-- Day rows deleted before a cut (bounces pruned or moved to another tenant:
-- bounce_days_refresh deletes and rebuilds their days).
CREATE FUNCTION dmarcsift.flag_state_days_gone() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
	DELETE FROM dmarcsift.flag_state s
	USING (SELECT tenant_id, provider, domain, ip_key, min(day) AS day
	       FROM old_rows GROUP BY 1, 2, 3, 4) o
	WHERE s.tenant_id = o.tenant_id AND s.provider = o.provider AND s.domain = o.domain
	  AND s.ip_key = o.ip_key AND o.day < s.cut;
	RETURN NULL;
END
$$;

CREATE TRIGGER flag_state_days_gone AFTER DELETE ON dmarcsift.bounce_days
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.flag_state_days_gone();

-- Aggregate rows deleted (prune, a replaced report, a deleted report) or
-- moved to another tenant: the old tenant's states with a cut after the
-- report's beginning. Per tenant, not per group: a report's rows can match
-- groups of any provider whose org names include its reporter.
CREATE FUNCTION dmarcsift.flag_state_sources_gone() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
	DELETE FROM dmarcsift.flag_state s
	USING (SELECT tenant_id, min(begin_at) AS begin_at FROM old_rows GROUP BY 1) o
	WHERE s.tenant_id = o.tenant_id
	  AND o.begin_at < (s.cut::timestamp AT TIME ZONE 'UTC');
	RETURN NULL;
END
$$;

CREATE TRIGGER flag_state_sources_gone AFTER DELETE ON dmarcsift.record_sources
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.flag_state_sources_gone();

-- As 0032 left it, and a report moving away (tenant add, tenant remove
-- without --purge) drops its old tenant's states it is part of.
CREATE OR REPLACE FUNCTION dmarcsift.report_children_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		UPDATE dmarcsift.records SET tenant_id = NEW.tenant_id
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
		UPDATE dmarcsift.record_sources SET tenant_id = NEW.tenant_id
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
		DELETE FROM dmarcsift.flag_state
		WHERE tenant_id = OLD.tenant_id
		  AND OLD.begin_at < (cut::timestamp AT TIME ZONE 'UTC');
	ELSE
		DELETE FROM dmarcsift.records WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
		DELETE FROM dmarcsift.record_sources
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
	END IF;
	RETURN NULL;
END
$$;
