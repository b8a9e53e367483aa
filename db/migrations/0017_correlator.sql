-- 0017_correlator: what the correlator (app/correlate.c, db/flags.c,
-- db/sql/correlate_*.sql) needs: where a bounce's sending IP came from,
-- a narrow per-report rollup of the aggregate records kept up to date at
-- ingest by triggers, a queue of the (tenant, day)s that changed since the
-- last run, and the flags with their public view.
--
-- As everywhere: every table carries tenant_id and every key starts with it.

-- How the sending IP of a bounce was learnt: log (the log line or CSV
-- column), text (the provider's reply names it), host_map (our MTA's host
-- name through [mta-hosts] / --mta-hosts), none. Events stored before this
-- migration only ever had an IP from the log.
ALTER TABLE dmarcsift.bounces
	ADD COLUMN ip_source text CHECK (ip_source IN ('log', 'text', 'host_map', 'none')),
	-- The organisational domain (libpsl) of the From domain that decided the
	-- tenant; the correlator falls back to reports for it.
	ADD COLUMN from_org_domain text,
	-- The domain a bounce is correlated by: header From, else envelope From.
	ADD COLUMN from_domain text GENERATED ALWAYS AS (
		coalesce(nullif(header_from_domain, ''), nullif(mail_from_domain, ''))) STORED;
UPDATE dmarcsift.bounces SET ip_source = CASE WHEN sending_ip IS NULL THEN 'none' ELSE 'log' END;

-- The policy-class rejects of one (tenant, provider, domain, sending IP) in
-- time order: the correlator's groups. '' stands for "no IP".
CREATE INDEX bounces_corr_idx ON dmarcsift.bounces
	(tenant_id, provider, from_domain, (coalesce(host(sending_ip), '')), at)
	WHERE status <> 'delivered'
	  AND class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content');

-- v_bounces gains ip_source at its end (CREATE OR REPLACE keeps the
-- existing columns and their order).
CREATE OR REPLACE VIEW dmarcsift.v_bounces WITH (security_invoker = true) AS
SELECT t.name AS tenant, b.at, b.sending_ip, b.mail_from_domain, b.header_from_domain,
       b.recipient, b.recipient_domain, b.provider, b.reply_code, b.enhanced_code,
       b.class, b.severity, b.action, b.is_block, b.listed_on, b.listed_asset, b.text,
       b.source, b.status, b.rule, b.remote_mta, b.queue_id, b.message_id, b.campaign,
       b.format, b.auto_reply, b.feedback_type, b.ip_source
FROM dmarcsift.bounces b
JOIN dmarcsift.tenants t ON t.tenant_id = b.tenant_id;
COMMENT ON COLUMN dmarcsift.v_bounces.ip_source IS
	'How sending_ip was learnt: log (the log line or CSV), text (the provider''s reply names it), host_map ([mta-hosts] / --mta-hosts applied to our MTA''s host name), none';

-- One row per (report, source IP, header From): the sums the correlator
-- needs, with the report's identity copied in (org_name lower-cased: it is
-- matched against the provider map's), so it never touches the wide
-- records table. Filled by the trigger below at the end of each report's
-- COPY; follows its report on tenant moves and deletes (foreign key).
-- header_from is lower-cased, '' when the record had none. dmarc_pass: the
-- policy-evaluated DKIM or SPF result is 'pass' (any other value, including
-- ones some receivers invent such as 'none', is not a pass).
CREATE TABLE dmarcsift.record_sources (
	tenant_id     integer NOT NULL,
	report_pk     bigint NOT NULL,
	source_ip     inet NOT NULL,
	header_from   text NOT NULL,
	org_name      text NOT NULL,
	policy_domain text NOT NULL,
	begin_at      timestamptz NOT NULL,
	end_at        timestamptz NOT NULL,
	messages      bigint NOT NULL,
	dkim_pass     bigint NOT NULL,
	spf_pass      bigint NOT NULL,
	dmarc_pass    bigint NOT NULL,
	PRIMARY KEY (tenant_id, report_pk, source_ip, header_from),
	FOREIGN KEY (tenant_id, report_pk) REFERENCES dmarcsift.reports (tenant_id, id)
		ON DELETE CASCADE ON UPDATE CASCADE
);
-- The correlator's lookups: a source and domain (or a whole domain) as one
-- provider's org names reported it, in a time range.
CREATE INDEX record_sources_ip_idx ON dmarcsift.record_sources
	(tenant_id, source_ip, header_from, org_name, begin_at);
CREATE INDEX record_sources_from_idx ON dmarcsift.record_sources
	(tenant_id, header_from, org_name, begin_at);
CREATE INDEX record_sources_policy_idx ON dmarcsift.record_sources
	(tenant_id, policy_domain, org_name, begin_at);

-- The identifiers behind failed alignment, per report, source and header
-- From: for records whose policy-evaluated DKIM (SPF) is not 'pass', each
-- DKIM signature (domain, selector, result) and each SPF check (domain,
-- result); a record without any is ('', '', 'none'): not signed / not
-- checked.
CREATE TABLE dmarcsift.record_auth_fails (
	tenant_id   integer NOT NULL,
	report_pk   bigint NOT NULL,
	source_ip   inet NOT NULL,
	header_from text NOT NULL,
	kind        text NOT NULL CHECK (kind IN ('dkim', 'spf')),
	domain      text NOT NULL,
	selector    text NOT NULL,
	result      text NOT NULL,
	messages    bigint NOT NULL,
	PRIMARY KEY (tenant_id, report_pk, source_ip, header_from, kind, domain, selector, result),
	FOREIGN KEY (tenant_id, report_pk) REFERENCES dmarcsift.reports (tenant_id, id)
		ON DELETE CASCADE ON UPDATE CASCADE
);

-- The (tenant, UTC day)s whose bounces or overlapping reports changed since
-- the correlator last ran. Filled by triggers, consumed (deleted) by an
-- incremental run in its transaction.
CREATE TABLE dmarcsift.correlate_dirty (
	tenant_id integer NOT NULL,
	day       date NOT NULL,
	PRIMARY KEY (tenant_id, day)
);

CREATE FUNCTION dmarcsift.record_sources_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO dmarcsift.record_sources AS s (tenant_id, report_pk, source_ip, header_from,
		org_name, policy_domain, begin_at, end_at, messages, dkim_pass, spf_pass, dmarc_pass)
	SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
	       lower(r.org_name), r.policy_domain, r.begin_at, r.end_at, sum(x.count),
	       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass'), 0),
	       coalesce(sum(x.count) FILTER (WHERE lower(x.spf) = 'pass'), 0),
	       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass' OR lower(x.spf) = 'pass'), 0)
	FROM new_rows x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
	ON CONFLICT (tenant_id, report_pk, source_ip, header_from) DO UPDATE
	SET messages = s.messages + EXCLUDED.messages, dkim_pass = s.dkim_pass + EXCLUDED.dkim_pass,
	    spf_pass = s.spf_pass + EXCLUDED.spf_pass, dmarc_pass = s.dmarc_pass + EXCLUDED.dmarc_pass;

	INSERT INTO dmarcsift.record_auth_fails AS f (tenant_id, report_pk, source_ip,
		header_from, kind, domain, selector, result, messages)
	SELECT tenant_id, report_pk, source_ip, hf, kind, domain, selector, result, sum(count)
	FROM (
		SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')) AS hf,
		       'dkim' AS kind, lower(coalesce(a ->> 'domain', '')) AS domain,
		       coalesce(a ->> 'selector', '') AS selector,
		       lower(coalesce(a ->> 'result', 'none')) AS result, x.count
		FROM new_rows x
		LEFT JOIN LATERAL jsonb_array_elements(
			CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth END) a ON true
		WHERE lower(coalesce(x.dkim, '')) <> 'pass'
		UNION ALL
		SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
		       'spf', lower(coalesce(a ->> 'domain', '')), '',
		       lower(coalesce(a ->> 'result', 'none')), x.count
		FROM new_rows x
		LEFT JOIN LATERAL jsonb_array_elements(
			CASE WHEN jsonb_typeof(x.spf_auth) = 'array' THEN x.spf_auth END) a ON true
		WHERE lower(coalesce(x.spf, '')) <> 'pass'
	) z
	GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
	ON CONFLICT (tenant_id, report_pk, source_ip, header_from, kind, domain, selector, result)
	DO UPDATE SET messages = f.messages + EXCLUDED.messages;

	INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
	SELECT DISTINCT r.tenant_id, d::date
	FROM (SELECT DISTINCT tenant_id, report_pk FROM new_rows) n
	JOIN dmarcsift.reports r ON r.tenant_id = n.tenant_id AND r.id = n.report_pk
	CROSS JOIN LATERAL generate_series(
		(r.begin_at AT TIME ZONE 'UTC')::date - 1,
		((r.end_at - interval '1 second') AT TIME ZONE 'UTC')::date + 1,
		interval '1 day') d
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;

CREATE TRIGGER records_rollup AFTER INSERT ON dmarcsift.records
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.record_sources_add();

-- A report moved to its tenant (tenant add): that tenant's days changed.
CREATE FUNCTION dmarcsift.record_sources_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
	SELECT DISTINCT n.tenant_id, d::date
	FROM (SELECT DISTINCT tenant_id, begin_at, end_at FROM new_rows) n
	CROSS JOIN LATERAL generate_series(
		(n.begin_at AT TIME ZONE 'UTC')::date - 1,
		((n.end_at - interval '1 second') AT TIME ZONE 'UTC')::date + 1,
		interval '1 day') d
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;

CREATE TRIGGER record_sources_moved AFTER UPDATE ON dmarcsift.record_sources
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.record_sources_moved();

-- New bounce events: their days changed (any status: a later delivery
-- moves the tenant's clock, which resolves quiet flags).
CREATE FUNCTION dmarcsift.bounces_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
	SELECT DISTINCT tenant_id, (at AT TIME ZONE 'UTC')::date
	FROM new_rows WHERE at IS NOT NULL
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;

CREATE TRIGGER bounces_dirty AFTER INSERT ON dmarcsift.bounces
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.bounces_dirty();

-- Reports and bounces stored before this migration: rolled up and queued
-- once, so the first correlation sees them.
INSERT INTO dmarcsift.record_sources (tenant_id, report_pk, source_ip, header_from,
	org_name, policy_domain, begin_at, end_at, messages, dkim_pass, spf_pass, dmarc_pass)
SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
       lower(r.org_name), r.policy_domain, r.begin_at, r.end_at, sum(x.count),
       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass'), 0),
       coalesce(sum(x.count) FILTER (WHERE lower(x.spf) = 'pass'), 0),
       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass' OR lower(x.spf) = 'pass'), 0)
FROM dmarcsift.records x
JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO dmarcsift.record_auth_fails (tenant_id, report_pk, source_ip, header_from, kind,
	domain, selector, result, messages)
SELECT tenant_id, report_pk, source_ip, hf, kind, domain, selector, result, sum(count)
FROM (
	SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')) AS hf,
	       'dkim' AS kind, lower(coalesce(a ->> 'domain', '')) AS domain,
	       coalesce(a ->> 'selector', '') AS selector,
	       lower(coalesce(a ->> 'result', 'none')) AS result, x.count
	FROM dmarcsift.records x
	LEFT JOIN LATERAL jsonb_array_elements(
		CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth END) a ON true
	WHERE lower(coalesce(x.dkim, '')) <> 'pass'
	UNION ALL
	SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
	       'spf', lower(coalesce(a ->> 'domain', '')), '',
	       lower(coalesce(a ->> 'result', 'none')), x.count
	FROM dmarcsift.records x
	LEFT JOIN LATERAL jsonb_array_elements(
		CASE WHEN jsonb_typeof(x.spf_auth) = 'array' THEN x.spf_auth END) a ON true
	WHERE lower(coalesce(x.spf, '')) <> 'pass'
) z
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
SELECT DISTINCT tenant_id, (at AT TIME ZONE 'UTC')::date FROM dmarcsift.bounces
WHERE at IS NOT NULL
ON CONFLICT DO NOTHING;

-- Flags: one per (tenant, provider, domain, sending IP or '' for none),
-- recomputed from the current episode of its rejects (a quiet stretch of
-- resolve_days ends an episode). kind: auth_driven | not_auth_driven |
-- no_evidence | mixed. cause: dkim | spf | both for auth_driven; the bounce
-- class (reputation, content, blocklisted, policy, auth_failure) otherwise.
-- Rates are NULL without aggregate data. status: open | resolved (no reject
-- for resolve_days by the tenant's newest bounce) | reopened (rejects came
-- back after a resolution). evidence: see db/sql/correlate_flags.sql.
CREATE TABLE dmarcsift.flags (
	tenant_id       integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	id              bigint GENERATED ALWAYS AS IDENTITY,
	provider        text NOT NULL,
	domain          text NOT NULL,
	ip_key          text NOT NULL,
	source_ip       inet,
	kind            text NOT NULL
	                CHECK (kind IN ('auth_driven', 'not_auth_driven', 'no_evidence', 'mixed')),
	confidence      text NOT NULL CHECK (confidence IN ('high', 'medium', 'low')),
	cause           text,
	first_seen      timestamptz NOT NULL,
	last_seen       timestamptz NOT NULL,
	rejects         bigint NOT NULL,
	dmarc_messages  bigint NOT NULL,
	dkim_pass_rate  double precision,
	spf_pass_rate   double precision,
	dmarc_pass_rate double precision,
	status          text NOT NULL CHECK (status IN ('open', 'resolved', 'reopened')),
	evidence        jsonb NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, provider, domain, ip_key)
);
CREATE INDEX flags_seen_idx ON dmarcsift.flags (tenant_id, last_seen);

-- Tenant isolation as for every tenant table (0008_1_tenant_roles); the
-- reading roles' grants are made by db/migrate.c (dmarcsift.setup_roles).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.record_sources'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.record_auth_fails'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.correlate_dirty'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.flags'); END $$;

-- The flags, a public interface (reports read it): exactly these columns.
CREATE VIEW dmarcsift.v_flags WITH (security_invoker = true) AS
SELECT t.name AS tenant, f.kind, f.confidence, f.cause, f.provider, f.domain, f.source_ip,
       f.first_seen, f.last_seen, f.rejects, f.dmarc_messages, f.dkim_pass_rate,
       f.spf_pass_rate, f.dmarc_pass_rate, f.status, f.evidence
FROM dmarcsift.flags f
JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id;

COMMENT ON VIEW dmarcsift.v_flags IS
	'The correlator''s flags: one per tenant, provider, From domain and sending IP whose policy-class rejects were tied to that provider''s own DMARC aggregate data.';
COMMENT ON COLUMN dmarcsift.v_flags.tenant IS 'Tenant name.';
COMMENT ON COLUMN dmarcsift.v_flags.kind IS 'auth_driven (authentication fails: fix DKIM/SPF), not_auth_driven (authentication passes: reputation, content or a listing), no_evidence (no aggregate data from that provider), mixed (between the thresholds).';
COMMENT ON COLUMN dmarcsift.v_flags.confidence IS 'high (data and reject text agree), medium (data alone), low (text alone, domain-level data, or between the thresholds).';
COMMENT ON COLUMN dmarcsift.v_flags.cause IS 'For auth_driven: dkim, spf or both (which alignment failed); otherwise the rejects'' class (reputation, content, blocklisted, policy).';
COMMENT ON COLUMN dmarcsift.v_flags.provider IS 'Mailbox provider or gateway that rejected (data/providers.tsv).';
COMMENT ON COLUMN dmarcsift.v_flags.domain IS 'From domain of the rejected mail (header From, else envelope From).';
COMMENT ON COLUMN dmarcsift.v_flags.source_ip IS 'Our sending IP; NULL for a domain-level flag (the IP was not known).';
COMMENT ON COLUMN dmarcsift.v_flags.first_seen IS 'First reject of the current episode.';
COMMENT ON COLUMN dmarcsift.v_flags.last_seen IS 'Last reject of the current episode.';
COMMENT ON COLUMN dmarcsift.v_flags.rejects IS 'Policy-class rejects in the current episode.';
COMMENT ON COLUMN dmarcsift.v_flags.dmarc_messages IS 'Messages the provider''s aggregate reports counted for that source and domain in the window (the episode''s days +-1).';
COMMENT ON COLUMN dmarcsift.v_flags.dkim_pass_rate IS 'Share of those messages with aligned DKIM pass, 0 to 1 (NULL without data).';
COMMENT ON COLUMN dmarcsift.v_flags.spf_pass_rate IS 'Share of those messages with aligned SPF pass, 0 to 1 (NULL without data).';
COMMENT ON COLUMN dmarcsift.v_flags.dmarc_pass_rate IS 'Share of those messages that passed DMARC, 0 to 1 (NULL without data).';
COMMENT ON COLUMN dmarcsift.v_flags.status IS 'open, resolved (no reject for resolve_days) or reopened (rejects returned after a resolution).';
COMMENT ON COLUMN dmarcsift.v_flags.evidence IS 'The evidence as JSON: counts and rates, failing DKIM domains/selectors and SPF domains with their shares, sample reject texts with rule ids, the reports used, ip_source, the window, a note.';

-- `tenant remove`: flags and the correlation queue are derived from the
-- tenant's data and describe only it, so they are deleted either way (the
-- next correlation of 'unassigned' recomputes whatever moved there), as
-- labels and source marks are.
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
	         ORDER BY c.relname <> 'reports', c.relname LOOP
		BEGIN
			IF purge OR t.relname IN ('source_labels', 'source_marks', 'flags',
			                          'correlate_dirty') THEN
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
