-- Stores lookup results, one array element per address; a part's lifetime
-- in seconds comes from senders/cache.c.
INSERT INTO dmarcsift.source_facts AS f
	(ip, ptr, ptr_confirmed, ptr_org_domain, ptr_status, asn, as_name, country, asn_status,
	 resolved_at, ptr_expires_at, asn_expires_at)
SELECT u.ip, u.ptr, u.confirmed, u.org, u.ptr_status, u.asn, u.as_name, u.country,
       u.asn_status, now(), now() + make_interval(secs => u.ptr_ttl),
       now() + make_interval(secs => u.asn_ttl)
FROM unnest($1::inet[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::text[], $9::text[], $10::integer[], $11::integer[])
     AS u(ip, ptr, confirmed, org, ptr_status, asn, as_name, country, asn_status, ptr_ttl, asn_ttl)
ON CONFLICT (ip) DO UPDATE SET
	ptr = excluded.ptr, ptr_confirmed = excluded.ptr_confirmed,
	ptr_org_domain = excluded.ptr_org_domain, ptr_status = excluded.ptr_status,
	asn = excluded.asn, as_name = excluded.as_name, country = excluded.country,
	asn_status = excluded.asn_status, resolved_at = excluded.resolved_at,
	ptr_expires_at = excluded.ptr_expires_at, asn_expires_at = excluded.asn_expires_at
