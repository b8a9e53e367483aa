-- Stores the marks of one batch of (tenant, source address).
INSERT INTO dmarcsift.source_marks AS m
	(tenant_id, source_ip, service, service_type, matched_by, forwarded, forwarded_messages,
	 marked_at)
SELECT u.tenant_id, u.ip, u.service, u.service_type, u.matched_by, u.forwarded, u.fwd, now()
FROM unnest($1::integer[], $2::inet[], $3::text[], $4::text[], $5::text[], $6::boolean[],
            $7::bigint[])
     AS u(tenant_id, ip, service, service_type, matched_by, forwarded, fwd)
ON CONFLICT (tenant_id, source_ip) DO UPDATE SET
	service = excluded.service, service_type = excluded.service_type,
	matched_by = excluded.matched_by, forwarded = excluded.forwarded,
	forwarded_messages = excluded.forwarded_messages, marked_at = excluded.marked_at
