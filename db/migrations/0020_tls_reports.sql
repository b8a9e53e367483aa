-- 0020_tls_reports: SMTP TLS reports (RFC 8460, TLS-RPT).
--
-- A TLS report covers one or more policy domains; it is stored once per
-- policy domain, in the tenant owning that domain (like an aggregate report),
-- so its identity is (tenant, organisation, report id, policy domain, begin,
-- end) and every key starts with tenant_id (see 0001). tls_policies holds each
-- policy entry with its session counts, tls_failures the failure details.
-- Absent organisation names and report ids are stored as '' so that the
-- identity stays comparable.

CREATE TABLE dmarcsift.tls_reports (
	tenant_id     integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	id            bigint GENERATED ALWAYS AS IDENTITY,
	org_name      text NOT NULL,
	report_id     text NOT NULL,
	policy_domain text NOT NULL CHECK (policy_domain <> ''),
	begin_at      timestamptz NOT NULL,
	end_at        timestamptz NOT NULL CHECK (end_at >= begin_at),
	contact_info  text,
	recovered     boolean NOT NULL DEFAULT false,
	complaint     text,
	raw_sha256    text,
	ingested_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, org_name, report_id, policy_domain, begin_at, end_at)
);
CREATE INDEX tls_reports_domain_time_idx
	ON dmarcsift.tls_reports (tenant_id, policy_domain, begin_at);

CREATE TABLE dmarcsift.tls_policies (
	tenant_id           integer NOT NULL,
	report_pk           bigint NOT NULL,
	seq                 integer NOT NULL CHECK (seq >= 0),
	policy_type         text NOT NULL,
	policy_strings      jsonb NOT NULL DEFAULT '[]',
	mx_hosts            jsonb NOT NULL DEFAULT '[]',
	successful_sessions bigint NOT NULL CHECK (successful_sessions >= 0),
	failed_sessions     bigint NOT NULL CHECK (failed_sessions >= 0),
	PRIMARY KEY (tenant_id, report_pk, seq),
	FOREIGN KEY (tenant_id, report_pk) REFERENCES dmarcsift.tls_reports (tenant_id, id)
		ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE dmarcsift.tls_failures (
	tenant_id              integer NOT NULL,
	report_pk              bigint NOT NULL,
	policy_seq             integer NOT NULL,
	seq                    integer NOT NULL CHECK (seq >= 0),
	result_type            text NOT NULL,
	sending_mta_ip         inet,
	receiving_mx_hostname  text,
	receiving_mx_helo      text,
	receiving_ip           inet,
	failed_sessions        bigint NOT NULL CHECK (failed_sessions >= 0),
	failure_reason_code    text,
	additional_information text,
	PRIMARY KEY (tenant_id, report_pk, policy_seq, seq),
	FOREIGN KEY (tenant_id, report_pk, policy_seq)
		REFERENCES dmarcsift.tls_policies (tenant_id, report_pk, seq)
		ON DELETE CASCADE ON UPDATE CASCADE
);
-- A tenant's failed TLS sessions from one sending address.
CREATE INDEX tls_failures_ip_idx ON dmarcsift.tls_failures (tenant_id, sending_mta_ip);

-- Tenant tables follow 0008_1's pattern (policy bound to the reader's role;
-- the reading roles' grants are made by db/migrate.c, dmarcsift.setup_roles).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.tls_reports'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.tls_policies'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.tls_failures'); END $$;

-- One row per policy of a TLS report, with its failure details as a JSON
-- array of {result_type, sending_mta_ip, receiving_mx_hostname,
-- receiving_mx_helo, receiving_ip, failed_sessions, failure_reason_code,
-- additional_information} ([] when none).
CREATE VIEW dmarcsift.v_tls WITH (security_invoker = true) AS
SELECT t.name AS tenant, r.org_name, r.report_id, r.policy_domain, r.begin_at, r.end_at,
       p.policy_type, p.policy_strings, p.mx_hosts, p.successful_sessions, p.failed_sessions,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'result_type', f.result_type, 'sending_mta_ip', host(f.sending_mta_ip),
                    'receiving_mx_hostname', f.receiving_mx_hostname,
                    'receiving_mx_helo', f.receiving_mx_helo,
                    'receiving_ip', host(f.receiving_ip), 'failed_sessions', f.failed_sessions,
                    'failure_reason_code', f.failure_reason_code,
                    'additional_information', f.additional_information) ORDER BY f.seq)
                 FROM dmarcsift.tls_failures f
                 WHERE f.tenant_id = p.tenant_id AND f.report_pk = p.report_pk
                   AND f.policy_seq = p.seq), '[]'::jsonb) AS failures,
       r.contact_info, r.recovered, r.complaint
FROM dmarcsift.tls_policies p
JOIN dmarcsift.tls_reports r ON r.tenant_id = p.tenant_id AND r.id = p.report_pk
JOIN dmarcsift.tenants t ON t.tenant_id = p.tenant_id;


-- Every view column carries a comment (BI tools show them; see 0011).
COMMENT ON VIEW dmarcsift.v_tls IS 'One row per policy of a stored SMTP TLS report (RFC 8460), per tenant, with its failure details.';
COMMENT ON COLUMN dmarcsift.v_tls.tenant IS 'Tenant owning the policy domain; ''unassigned'' when no tenant owns it.';
COMMENT ON COLUMN dmarcsift.v_tls.org_name IS 'Reporting organisation (organization-name; empty when absent).';
COMMENT ON COLUMN dmarcsift.v_tls.report_id IS 'The reporter''s report-id (empty when absent).';
COMMENT ON COLUMN dmarcsift.v_tls.policy_domain IS 'The policy domain this part of the report covers.';
COMMENT ON COLUMN dmarcsift.v_tls.begin_at IS 'Start of the reporting period (date-range start-datetime).';
COMMENT ON COLUMN dmarcsift.v_tls.end_at IS 'End of the reporting period (date-range end-datetime).';
COMMENT ON COLUMN dmarcsift.v_tls.policy_type IS 'Policy the sender applied: sts, tlsa, no-policy-found (or what the reporter wrote).';
COMMENT ON COLUMN dmarcsift.v_tls.policy_strings IS 'The policy as the sender saw it (JSON array of strings: MTA-STS lines or TLSA records).';
COMMENT ON COLUMN dmarcsift.v_tls.mx_hosts IS 'MX host patterns of the policy (JSON array).';
COMMENT ON COLUMN dmarcsift.v_tls.successful_sessions IS 'TLS sessions established successfully under this policy.';
COMMENT ON COLUMN dmarcsift.v_tls.failed_sessions IS 'TLS sessions that failed under this policy.';
COMMENT ON COLUMN dmarcsift.v_tls.failures IS 'Failure details: JSON array of {result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, receiving_ip, failed_sessions, failure_reason_code, additional_information}.';
COMMENT ON COLUMN dmarcsift.v_tls.contact_info IS 'The reporter''s contact-info, when given.';
COMMENT ON COLUMN dmarcsift.v_tls.recovered IS 'True when the report was kept although a value deviated from RFC 8460 (complaint says which).';
COMMENT ON COLUMN dmarcsift.v_tls.complaint IS 'Why the report is marked recovered: each deviation named once.';

-- `tenant remove` (0008_2) walks every tenant table. tls_failures and
-- tls_policies follow tls_reports by ON UPDATE/DELETE CASCADE, so, like
-- records after reports, they must come after it: moving a child row first
-- would point it at a parent 'unassigned' does not have. Tables that
-- reference another table of the schema (other than tenants) now come after
-- those that do not; otherwise as 0019_blocklists left it (labels, source
-- marks, flags, the correlation queue, listings and blocklist runs are
-- deleted either way).
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
			                          'correlate_dirty', 'listings', 'blocklist_runs') THEN
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
