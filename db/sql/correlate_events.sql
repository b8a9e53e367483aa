-- correlate_events: the flags this run opened or reopened (corr_events),
-- one JSON object per row with exactly the v_flags columns, for the
-- [notify] webhook (app/notify.h: notify_flags).
SELECT row_to_json(v)::text
FROM (
	SELECT t.name AS tenant, f.kind, f.confidence, f.cause, f.provider, f.domain,
	       host(f.source_ip) AS source_ip, f.first_seen, f.last_seen, f.rejects,
	       f.dmarc_messages, f.dkim_pass_rate, f.spf_pass_rate, f.dmarc_pass_rate, f.status,
	       f.evidence
	FROM pg_temp.corr_events e
	JOIN dmarcsift.flags f ON f.tenant_id = e.tenant_id AND f.id = e.id
	JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id
	ORDER BY t.name, f.provider, f.domain, f.ip_key
) v
