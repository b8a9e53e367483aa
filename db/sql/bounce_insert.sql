-- bounce_insert: the batch's events into dmarcsift.bounces, each once: the
-- event key (a hash of source, time, recipient, queue id, status, reply
-- code and text) is what identifies one outcome of one attempt. The new
-- ones go to bounce_new for bounce_suppress and bounce_escalate.
WITH ins AS (
	INSERT INTO dmarcsift.bounces (tenant_id, at, status, sending_ip, remote_ip, mail_from,
		mail_from_domain, header_from_domain, recipient, recipient_domain, provider, reply_code,
		enhanced_code, class, severity, action, is_block, listed_on, listed_asset, rule, text,
		pattern, remote_mta, queue_id, message_id, campaign, source, event_key, format,
		auto_reply, feedback_type, ip_source, from_org_domain)
	SELECT m.tenant_id, CASE WHEN s.at = 0 THEN NULL ELSE to_timestamp(s.at) END, s.status,
		s.sending_ip, s.remote_ip, s.mail_from, lower(s.mail_from_domain),
		lower(s.header_from_domain), s.recipient, lower(s.recipient_domain), s.provider,
		s.reply_code, s.enhanced_code, s.class, s.severity, s.action, s.is_block, s.listed_on,
		s.listed_asset, s.rule, s.text, s.pattern, lower(s.remote_mta), s.queue_id,
		s.message_id, s.campaign, s.source,
		encode(sha256(convert_to(concat_ws(chr(31), s.source, s.at::text,
			coalesce(lower(s.recipient), ''), coalesce(s.queue_id, ''), s.status,
			coalesce(s.reply_code::text, ''), coalesce(s.text, '')), 'UTF8')), 'hex'),
		s.format, s.auto_reply, s.feedback_type,
		CASE WHEN s.sending_ip IS NULL THEN 'none' ELSE s.ip_source END, m.org_domain
	FROM pg_temp.bounce_staging s JOIN pg_temp.bounce_tmap m ON m.domain = s.tdomain
	ON CONFLICT (tenant_id, event_key) DO NOTHING
	RETURNING tenant_id, lower(recipient), provider_key, at)
INSERT INTO pg_temp.bounce_new SELECT * FROM ins
