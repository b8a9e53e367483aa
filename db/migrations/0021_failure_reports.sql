-- 0021_failure_reports: DMARC failure reports (RUF; RFC 6591, RFC 7489 7.3).
--
-- One row per report message, in the tenant owning the reported domain (else
-- the original From's domain), unique per raw message so that a re-read adds
-- nothing. The original message's headers are kept; its body only under
-- `[ruf] keep_body = true` (privacy), and with `[ruf] redact = true` the local
-- part of every address has been replaced by its SHA-256 before it got here.

CREATE TABLE dmarcsift.failure_reports (
	tenant_id          integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	id                 bigint GENERATED ALWAYS AS IDENTITY,
	raw_sha256         text NOT NULL,
	domain             text NOT NULL CHECK (domain <> ''),
	layout             text NOT NULL CHECK (layout IN ('rfc6591', 'afrf-text')),
	arrival_at         timestamptz,
	reporter           text,
	user_agent         text,
	feedback_type      text NOT NULL,
	source_ip          inet,
	auth_failure       text,
	reported_domain    text,
	dkim_domain        text,
	dkim_selector      text,
	dkim_identity      text,
	spf_dns            text,
	delivery_result    text,
	identity_alignment text,
	original_mail_from text,
	original_rcpt_to   text,
	header_from        text,
	header_to          text,
	subject            text,
	header_date        text,
	message_id         text,
	received           jsonb NOT NULL DEFAULT '[]',
	body               text,
	redacted           boolean NOT NULL DEFAULT false,
	recovered          boolean NOT NULL DEFAULT false,
	complaint          text,
	ingested_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, raw_sha256)
);
-- A tenant's samples by domain and day, and by sending address (evidence
-- for a source seen failing in the aggregate reports).
CREATE INDEX failure_reports_domain_time_idx
	ON dmarcsift.failure_reports (tenant_id, domain, arrival_at);
CREATE INDEX failure_reports_ip_idx ON dmarcsift.failure_reports (tenant_id, source_ip);

-- Tenant tables follow 0008_1's pattern (policy bound to the reader's role;
-- the reading roles' grants are made by db/migrate.c, dmarcsift.setup_roles).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.failure_reports'); END $$;

CREATE VIEW dmarcsift.v_failure_reports WITH (security_invoker = true) AS
SELECT t.name AS tenant, f.arrival_at, f.reporter, f.source_ip, f.auth_failure,
       f.reported_domain, f.dkim_domain, f.dkim_selector, f.dkim_identity, f.spf_dns,
       f.delivery_result, f.identity_alignment, f.original_mail_from, f.original_rcpt_to,
       f.header_from, f.header_to, f.subject, f.header_date, f.message_id, f.received,
       f.body, f.layout, f.user_agent, f.redacted, f.recovered, f.complaint, f.domain,
       f.raw_sha256
FROM dmarcsift.failure_reports f
JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id;


-- Every view column carries a comment (BI tools show them; see 0011).
COMMENT ON VIEW dmarcsift.v_failure_reports IS 'One row per stored DMARC failure report (RUF, RFC 6591), per tenant: the failure and the original message''s headers.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.tenant IS 'Tenant owning the domain (Reported-Domain, else the original From domain); ''unassigned'' when no tenant owns it.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.arrival_at IS 'When the failing message arrived at the reporter (Arrival-Date; NULL when absent or unreadable).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.reporter IS 'Who sent the failure report (the report message''s From).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.source_ip IS 'Source-IP: the address that sent the failing message.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.auth_failure IS 'Auth-Failure: which check failed (dmarc, spf, dkim, adsp, ...).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.reported_domain IS 'Reported-Domain: the domain whose DMARC policy the message failed.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.dkim_domain IS 'DKIM-Domain of the failing signature, when given.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.dkim_selector IS 'DKIM-Selector of the failing signature, when given.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.dkim_identity IS 'DKIM-Identity of the failing signature, when given.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.spf_dns IS 'SPF-DNS: the SPF record the reporter evaluated, when given.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.delivery_result IS 'Delivery-Result: what the reporter did with the message (delivered, spam, policy, reject, other).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.identity_alignment IS 'Identity-Alignment: which identifiers aligned (dkim, spf, none).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.original_mail_from IS 'Original-Mail-From (envelope sender); local part hashed when redacted.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.original_rcpt_to IS 'Original-Rcpt-To (envelope recipient); local part hashed when redacted.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.header_from IS 'From header of the original message; local part hashed when redacted.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.header_to IS 'To header of the original message; local parts hashed when redacted.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.subject IS 'Subject of the original message.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.header_date IS 'Date header of the original message, as written.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.message_id IS 'Message-ID of the original message.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.received IS 'The original message''s Received chain (JSON array, top first).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.body IS 'The original message''s body: only with [ruf] keep_body = true (cut at 1 MiB), else NULL.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.layout IS 'How the report was laid out: rfc6591 (message/feedback-report part) or afrf-text (fields in text/plain).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.user_agent IS 'User-Agent of the reporting software, when given.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.redacted IS 'True when local parts were hashed ([ruf] redact = true).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.recovered IS 'True when the report was kept although a field was unreadable (complaint says which).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.complaint IS 'Why the report is marked recovered: each unreadable field named once.';
COMMENT ON COLUMN dmarcsift.v_failure_reports.domain IS 'The domain that chose the tenant (Reported-Domain, else the original From domain).';
COMMENT ON COLUMN dmarcsift.v_failure_reports.raw_sha256 IS 'SHA-256 of the raw message as kept in raw_messages (reprocess, dedup).';
