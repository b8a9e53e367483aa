-- 0006_bounce_formats: what the bounce readers of issue 10 add to an event.
--   format: the layout the event was read from — the log format (postfix,
--   exim, csv), dsn / dsn-lenient (RFC 3464), a plain-text notice family
--   (exim, qmail, sendmail, dma, gmail, exchange, office365, domino,
--   courier, opensmtpd, imail, zoho, gateway, carrier-jp, text), ses, arf,
--   auto_reply. NULL for events stored before it was recorded.
--   auto_reply: an RFC 3834 auto-reply / out-of-office (class accepted).
--   feedback_type: the ARF Feedback-Type of a complaint (class complaint).
-- A complaint suppresses the complaining address with reason 'complaint'.

ALTER TABLE dmarcsift.bounces
	ADD COLUMN format        text,
	ADD COLUMN auto_reply    boolean NOT NULL DEFAULT false,
	ADD COLUMN feedback_type text;

ALTER TABLE dmarcsift.suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE dmarcsift.suppressions ADD CONSTRAINT suppressions_reason_check
	CHECK (reason IN ('invalid_recipient', 'mailbox_issue', 'complaint'));

-- v_bounces gains the three columns at its end (CREATE OR REPLACE keeps
-- the existing ones and their order).
CREATE OR REPLACE VIEW dmarcsift.v_bounces WITH (security_invoker = true) AS
SELECT t.name AS tenant, b.at, b.sending_ip, b.mail_from_domain, b.header_from_domain,
       b.recipient, b.recipient_domain, b.provider, b.reply_code, b.enhanced_code,
       b.class, b.severity, b.action, b.is_block, b.listed_on, b.listed_asset, b.text,
       b.source, b.status, b.rule, b.remote_mta, b.queue_id, b.message_id, b.campaign,
       b.format, b.auto_reply, b.feedback_type
FROM dmarcsift.bounces b
JOIN dmarcsift.tenants t ON t.tenant_id = b.tenant_id;
