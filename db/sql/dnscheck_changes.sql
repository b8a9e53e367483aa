-- dnscheck_changes: the record changes `dns check` saw ($1: a tenant name,
-- NULL for all), newest first: lay them beside a reject spike.
-- Columns: tenant, domain, kind, name, changed_at, old_record, new_record.
SELECT tenant, domain, kind, name,
       to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS changed_at,
       old_record, new_record
FROM dmarcsift.v_dns_changes
WHERE ($1::text IS NULL OR tenant = $1::text)
ORDER BY changed_at DESC, tenant, domain, kind, name
