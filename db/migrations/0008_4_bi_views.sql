-- 0008_4_bi_views: what BI tools (Grafana, Metabase) need: a daily rollup
-- view and a comment on every view and column, which they show as
-- descriptions. tests/test_bi.c fails on a view or view column without one,
-- so later views must add theirs.

-- Daily rollup per tenant, policy domain and source IP. A view over the
-- records: the policies apply (security_invoker), and reports_time_idx /
-- the records primary key serve a tenant's date range.
CREATE VIEW dmarcsift.v_daily WITH (security_invoker = true) AS
SELECT t.name AS tenant, (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain,
       x.source_ip,
       sum(x.count) AS messages,
       coalesce(sum(x.count) FILTER (WHERE x.dkim = 'pass'), 0) AS dkim_pass,
       coalesce(sum(x.count) FILTER (WHERE x.spf = 'pass'), 0) AS spf_pass,
       coalesce(sum(x.count) FILTER (WHERE x.dkim = 'pass' OR x.spf = 'pass'), 0) AS dmarc_pass,
       coalesce(sum(x.count) FILTER (WHERE x.disposition = 'quarantine'), 0) AS quarantined,
       coalesce(sum(x.count) FILTER (WHERE x.disposition = 'reject'), 0) AS rejected,
       count(DISTINCT r.id) AS reports
FROM dmarcsift.records x
JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
JOIN dmarcsift.tenants t ON t.tenant_id = r.tenant_id
GROUP BY t.name, (r.begin_at AT TIME ZONE 'UTC')::date, r.policy_domain, x.source_ip;

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_reader') THEN
		GRANT SELECT ON dmarcsift.v_daily TO dmarcsift_reader;
	END IF;
EXCEPTION WHEN insufficient_privilege THEN
	NULL; -- db status / db migrate print it for the DBA
END
$$;


COMMENT ON VIEW dmarcsift.v_reports IS 'One row per stored DMARC aggregate report, per tenant.';
COMMENT ON COLUMN dmarcsift.v_reports.tenant IS 'Tenant (client organisation) the report belongs to; ''unassigned'' when no tenant owns its domain';
COMMENT ON COLUMN dmarcsift.v_reports.org_name IS 'Reporting organisation (the mailbox provider that sent the report)';
COMMENT ON COLUMN dmarcsift.v_reports.report_id IS 'The reporter''s id of the report (reused across days by some reporters)';
COMMENT ON COLUMN dmarcsift.v_reports.policy_domain IS 'The domain whose DMARC policy the report covers';
COMMENT ON COLUMN dmarcsift.v_reports.begin_at IS 'Start of the reported period';
COMMENT ON COLUMN dmarcsift.v_reports.end_at IS 'End of the reported period';
COMMENT ON COLUMN dmarcsift.v_reports.schema IS 'Report schema: rfc7489 or rfc9990 (DMARCbis)';
COMMENT ON COLUMN dmarcsift.v_reports.recovered IS 'True when the XML was malformed and read in recover mode';
COMMENT ON COLUMN dmarcsift.v_reports.records IS 'Number of record rows in the report';
COMMENT ON COLUMN dmarcsift.v_reports.messages IS 'Messages covered: the sum of the records'' counts';

COMMENT ON VIEW dmarcsift.v_records IS 'One row per record (source IP and result) of a report, with the report''s identity.';
COMMENT ON COLUMN dmarcsift.v_records.tenant IS 'Tenant the report belongs to';
COMMENT ON COLUMN dmarcsift.v_records.org_name IS 'Reporting organisation';
COMMENT ON COLUMN dmarcsift.v_records.report_id IS 'The reporter''s id of the report';
COMMENT ON COLUMN dmarcsift.v_records.policy_domain IS 'The domain whose DMARC policy the report covers';
COMMENT ON COLUMN dmarcsift.v_records.begin_at IS 'Start of the reported period';
COMMENT ON COLUMN dmarcsift.v_records.end_at IS 'End of the reported period';
COMMENT ON COLUMN dmarcsift.v_records.source_ip IS 'Sending IP address the row is about';
COMMENT ON COLUMN dmarcsift.v_records.count IS 'Messages from that source with these results';
COMMENT ON COLUMN dmarcsift.v_records.disposition IS 'Policy applied by the receiver: none, quarantine or reject';
COMMENT ON COLUMN dmarcsift.v_records.dkim IS 'DMARC-aligned DKIM result (policy_evaluated): pass or fail';
COMMENT ON COLUMN dmarcsift.v_records.spf IS 'DMARC-aligned SPF result (policy_evaluated): pass or fail';
COMMENT ON COLUMN dmarcsift.v_records.header_from IS 'RFC5322.From domain of the messages';
COMMENT ON COLUMN dmarcsift.v_records.envelope_from IS 'RFC5321.MailFrom domain, when reported';
COMMENT ON COLUMN dmarcsift.v_records.envelope_to IS 'RFC5321.RcptTo domain, when reported';
COMMENT ON COLUMN dmarcsift.v_records.dkim_auth IS 'Raw DKIM results: JSON array of {domain, selector, result, human_result}';
COMMENT ON COLUMN dmarcsift.v_records.spf_auth IS 'Raw SPF results: JSON array of {domain, scope, result, human_result}';
COMMENT ON COLUMN dmarcsift.v_records.reasons IS 'Policy override reasons: JSON array of {type, comment}';

COMMENT ON VIEW dmarcsift.v_failures IS 'Open quarantine entries: inputs that could not be ingested, oldest first (kept raw; dmarcsift reprocess retries them).';
COMMENT ON COLUMN dmarcsift.v_failures.received_at IS 'When these bytes first failed';
COMMENT ON COLUMN dmarcsift.v_failures.source IS 'Where the input came from (file path, mailbox and message)';
COMMENT ON COLUMN dmarcsift.v_failures.stage IS 'Stage that first failed: mime, unpack, xml, validate, store ...';
COMMENT ON COLUMN dmarcsift.v_failures.reason IS 'Why it first failed, one line';
COMMENT ON COLUMN dmarcsift.v_failures.sha256 IS 'SHA-256 of the raw bytes (argument of dmarcsift reprocess)';
COMMENT ON COLUMN dmarcsift.v_failures.attempts IS 'How often these bytes failed';
COMMENT ON COLUMN dmarcsift.v_failures.last_tried_at IS 'When they failed last (NULL: only once)';
COMMENT ON COLUMN dmarcsift.v_failures.last_stage IS 'Stage of the latest failure';
COMMENT ON COLUMN dmarcsift.v_failures.last_reason IS 'Reason of the latest failure';

COMMENT ON VIEW dmarcsift.v_bounces IS 'One row per stored bounce event (one recipient''s delivery outcome) with its classification.';
COMMENT ON COLUMN dmarcsift.v_bounces.tenant IS 'Tenant owning the sender''s From domain';
COMMENT ON COLUMN dmarcsift.v_bounces.at IS 'When the delivery attempt happened';
COMMENT ON COLUMN dmarcsift.v_bounces.sending_ip IS 'Our sending IP, when known';
COMMENT ON COLUMN dmarcsift.v_bounces.mail_from_domain IS 'Envelope sender domain';
COMMENT ON COLUMN dmarcsift.v_bounces.header_from_domain IS 'Header From domain';
COMMENT ON COLUMN dmarcsift.v_bounces.recipient IS 'Recipient address';
COMMENT ON COLUMN dmarcsift.v_bounces.recipient_domain IS 'Recipient domain';
COMMENT ON COLUMN dmarcsift.v_bounces.provider IS 'Mailbox provider of the recipient (provider map), when known';
COMMENT ON COLUMN dmarcsift.v_bounces.reply_code IS 'SMTP reply code (e.g. 550)';
COMMENT ON COLUMN dmarcsift.v_bounces.enhanced_code IS 'Enhanced status code (e.g. 5.7.26)';
COMMENT ON COLUMN dmarcsift.v_bounces.class IS 'Bounce class: accepted, deferred, invalid_recipient, mailbox_issue, auth_failure, blocklisted, reputation, policy ...';
COMMENT ON COLUMN dmarcsift.v_bounces.severity IS 'accepted, watch, clean or escalate';
COMMENT ON COLUMN dmarcsift.v_bounces.action IS 'What to do about it';
COMMENT ON COLUMN dmarcsift.v_bounces.is_block IS 'True when the receiver blocked the sender (not the recipient''s fault)';
COMMENT ON COLUMN dmarcsift.v_bounces.listed_on IS 'Blocklist named in the reply, when any';
COMMENT ON COLUMN dmarcsift.v_bounces.listed_asset IS 'What is listed: ip, domain or url';
COMMENT ON COLUMN dmarcsift.v_bounces.text IS 'The receiver''s reply text';
COMMENT ON COLUMN dmarcsift.v_bounces.source IS 'Where the event was read (log file, DSN, CSV)';
COMMENT ON COLUMN dmarcsift.v_bounces.status IS 'delivered, deferred or bounced';
COMMENT ON COLUMN dmarcsift.v_bounces.rule IS 'The classifier rule that decided the class';
COMMENT ON COLUMN dmarcsift.v_bounces.remote_mta IS 'Receiving MTA host';
COMMENT ON COLUMN dmarcsift.v_bounces.queue_id IS 'Our MTA''s queue id';
COMMENT ON COLUMN dmarcsift.v_bounces.message_id IS 'Message-ID, when known';
COMMENT ON COLUMN dmarcsift.v_bounces.campaign IS 'Campaign, when known (CSV exports)';

COMMENT ON VIEW dmarcsift.v_suppressions IS 'The active suppression list: addresses not to mail any more, per tenant.';
COMMENT ON COLUMN dmarcsift.v_suppressions.tenant IS 'Tenant the suppression belongs to';
COMMENT ON COLUMN dmarcsift.v_suppressions.address IS 'Suppressed recipient address, lower case';
COMMENT ON COLUMN dmarcsift.v_suppressions.reason IS 'invalid_recipient (hard bounce) or mailbox_issue (repeated soft bounces)';
COMMENT ON COLUMN dmarcsift.v_suppressions.first_evidence_at IS 'First bounce of the evidence';
COMMENT ON COLUMN dmarcsift.v_suppressions.last_evidence_at IS 'Last bounce of the evidence';
COMMENT ON COLUMN dmarcsift.v_suppressions.evidence_count IS 'Bounces that caused it';
COMMENT ON COLUMN dmarcsift.v_suppressions.last_text IS 'Reply text of the last bounce';
COMMENT ON COLUMN dmarcsift.v_suppressions.added_at IS 'When the address was suppressed';

COMMENT ON VIEW dmarcsift.v_escalations IS 'Escalations: rejects repeating at one provider (same class, code family and text pattern) in a time window.';
COMMENT ON COLUMN dmarcsift.v_escalations.tenant IS 'Tenant the escalation belongs to';
COMMENT ON COLUMN dmarcsift.v_escalations.provider IS 'Mailbox provider (or recipient domain when unknown)';
COMMENT ON COLUMN dmarcsift.v_escalations.class IS 'Bounce class of the rejects';
COMMENT ON COLUMN dmarcsift.v_escalations.code_family IS 'Enhanced code class.subject (5.7) or reply code';
COMMENT ON COLUMN dmarcsift.v_escalations.pattern IS 'Normalised reply text shared by the rejects';
COMMENT ON COLUMN dmarcsift.v_escalations.count IS 'Rejects of the group in the window';
COMMENT ON COLUMN dmarcsift.v_escalations.attempts IS 'All delivery attempts to the provider in the window';
COMMENT ON COLUMN dmarcsift.v_escalations.rate IS 'count / attempts';
COMMENT ON COLUMN dmarcsift.v_escalations.first_seen IS 'First reject of the group in the window';
COMMENT ON COLUMN dmarcsift.v_escalations.last_seen IS 'Last reject of the group in the window';
COMMENT ON COLUMN dmarcsift.v_escalations.sample_text IS 'One reply text of the group';
COMMENT ON COLUMN dmarcsift.v_escalations.status IS 'open, or closed when it no longer passes the thresholds';
COMMENT ON COLUMN dmarcsift.v_escalations.window_start IS 'Start of the window';
COMMENT ON COLUMN dmarcsift.v_escalations.window_end IS 'End of the window';
COMMENT ON COLUMN dmarcsift.v_escalations.prev_count IS 'Rejects of the group in the previous window';
COMMENT ON COLUMN dmarcsift.v_escalations.gateways IS 'Distinct receiving MTA hosts';
COMMENT ON COLUMN dmarcsift.v_escalations.recipients IS 'Distinct recipients';
COMMENT ON COLUMN dmarcsift.v_escalations.reason IS 'volume (count and rate) or jump (against the previous window)';

COMMENT ON VIEW dmarcsift.v_daily IS 'Daily rollup of DMARC results per tenant, policy domain and sending source (day of the report''s begin, UTC): the view for dashboards.';
COMMENT ON COLUMN dmarcsift.v_daily.tenant IS 'Tenant the reports belong to';
COMMENT ON COLUMN dmarcsift.v_daily.day IS 'Day (UTC) the reported period begins';
COMMENT ON COLUMN dmarcsift.v_daily.policy_domain IS 'The domain whose DMARC policy the reports cover';
COMMENT ON COLUMN dmarcsift.v_daily.source_ip IS 'Sending IP address';
COMMENT ON COLUMN dmarcsift.v_daily.messages IS 'Messages reported';
COMMENT ON COLUMN dmarcsift.v_daily.dkim_pass IS 'Messages with a DMARC-aligned DKIM pass';
COMMENT ON COLUMN dmarcsift.v_daily.spf_pass IS 'Messages with a DMARC-aligned SPF pass';
COMMENT ON COLUMN dmarcsift.v_daily.dmarc_pass IS 'Messages passing DMARC (aligned DKIM or SPF pass)';
COMMENT ON COLUMN dmarcsift.v_daily.quarantined IS 'Messages the receiver quarantined';
COMMENT ON COLUMN dmarcsift.v_daily.rejected IS 'Messages the receiver rejected';
COMMENT ON COLUMN dmarcsift.v_daily.reports IS 'Reports contributing';
-- The columns 0006_bounce_formats added to v_bounces.
COMMENT ON COLUMN dmarcsift.v_bounces.format IS 'Layout the event was read from: postfix, exim, csv, dsn, a notice family, ses, arf, auto_reply (NULL: stored before it was recorded)';
COMMENT ON COLUMN dmarcsift.v_bounces.auto_reply IS 'True for an RFC 3834 auto-reply / out-of-office (class accepted)';
COMMENT ON COLUMN dmarcsift.v_bounces.feedback_type IS 'ARF Feedback-Type of a complaint';
