-- One SMTP TLS report row per policy domain; a known identity (tenant,
-- organisation, report id, policy domain, begin, end) inserts nothing.
INSERT INTO dmarcsift.tls_reports (tenant_id, org_name, report_id, policy_domain, begin_at,
       end_at, contact_info, recovered, complaint, raw_sha256)
VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), to_timestamp($6::bigint), $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING id
