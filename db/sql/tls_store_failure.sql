-- One failure detail of a TLS report policy.
INSERT INTO dmarcsift.tls_failures (tenant_id, report_pk, policy_seq, seq, result_type,
       sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, receiving_ip,
       failed_sessions, failure_reason_code, additional_information)
VALUES ($1, $2, $3, $4, $5, $6::inet, $7, $8, $9::inet, $10, $11, $12)
