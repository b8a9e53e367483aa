-- One policy entry of a stored TLS report, with its session counts.
INSERT INTO dmarcsift.tls_policies (tenant_id, report_pk, seq, policy_type, policy_strings,
       mx_hosts, successful_sessions, failed_sessions)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)
