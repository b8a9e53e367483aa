-- dnscheck_list: the findings of each tenant's latest `dns check` run
-- ($1: a tenant name, NULL for all), worst first within each domain, as
-- dns check prints them.
-- Columns: tenant, domain, check_name, severity, code, finding, fix, record,
-- checked_at.
SELECT tenant, domain, check_name, severity, code, finding, fix, record,
       to_char(checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS checked_at
FROM dmarcsift.v_dns_checks
WHERE latest AND ($1::text IS NULL OR tenant = $1::text)
ORDER BY tenant, domain,
         CASE check_name WHEN 'dmarc' THEN 1 WHEN 'spf' THEN 2 WHEN 'dkim' THEN 3
                         WHEN 'mta-sts' THEN 4 ELSE 5 END,
         CASE severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 WHEN 'notice' THEN 3 ELSE 4 END,
         code
