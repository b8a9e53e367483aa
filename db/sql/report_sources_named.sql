-- Tenant report: what is known about each sending source (issue 11's
-- v_sources), joined to the source table by address in C. $1 tenant name.
SELECT host(source_ip::inet) AS source_ip, ptr, ptr_confirmed, org_domain, asn, as_name,
       country, service, service_type, forwarded
FROM dmarcsift.v_sources
WHERE tenant = $1
