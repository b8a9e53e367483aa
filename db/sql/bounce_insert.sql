-- bounce_insert: the staging table's events into dmarcsift.bounces, each
-- once: the event key (a hash of source, time, recipient, queue id, status,
-- reply code and text) is what identifies one outcome of one attempt. The
-- rows are built in C (db/bounce_store.c); what C leaves to SQL is done
-- here: lower() of the domains, the remote MTA and (in the key) the
-- recipient where they are not ASCII, and the key of such rows. The new ones
-- go to bounce_new for bounce_suppress and bounce_escalate.
WITH ins AS (
	INSERT INTO dmarcsift.bounces (tenant_id, at, status, sending_ip, remote_ip, mail_from,
		mail_from_domain, header_from_domain, recipient, recipient_domain, provider, reply_code,
		enhanced_code, class, severity, action, is_block, listed_on, listed_asset, rule, text,
		pattern, remote_mta, queue_id, message_id, campaign, source, event_key, format,
		auto_reply, feedback_type, ip_source, from_org_domain)
	SELECT s.tenant_id, s.at, s.status, s.sending_ip, s.remote_ip, s.mail_from,
		lower(s.mail_from_domain), lower(s.header_from_domain), s.recipient,
		lower(s.recipient_domain), s.provider, s.reply_code, s.enhanced_code, s.class,
		s.severity, s.action, s.is_block, s.listed_on, s.listed_asset, s.rule, s.text,
		s.pattern, lower(s.remote_mta), s.queue_id, s.message_id, s.campaign, s.source,
		coalesce(s.event_key, encode(sha256(convert_to(concat_ws(chr(31), s.source,
			coalesce(extract(epoch FROM s.at)::bigint, 0)::text,
			coalesce(lower(s.recipient), ''), coalesce(s.queue_id, ''), s.status,
			coalesce(s.reply_code::text, ''), coalesce(s.text, '')), 'UTF8')), 'hex')),
		s.format, s.auto_reply, s.feedback_type, s.ip_source, s.from_org_domain
	FROM pg_temp.bounce_staging s
	ON CONFLICT (tenant_id, event_key) DO NOTHING
	RETURNING tenant_id, lower(recipient), provider_key, at)
INSERT INTO pg_temp.bounce_new SELECT * FROM ins
