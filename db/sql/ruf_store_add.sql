-- One DMARC failure report; the same raw message again inserts nothing.
INSERT INTO dmarcsift.failure_reports (tenant_id, raw_sha256, domain, layout, arrival_at,
       reporter, user_agent, feedback_type, source_ip, auth_failure, reported_domain,
       dkim_domain, dkim_selector, dkim_identity, spf_dns, delivery_result,
       identity_alignment, original_mail_from, original_rcpt_to, header_from, header_to,
       subject, header_date, message_id, received, body, redacted, recovered, complaint)
VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), $6, $7, $8, $9::inet, $10, $11, $12, $13,
        $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25::jsonb, $26, $27, $28,
        $29)
ON CONFLICT DO NOTHING
RETURNING id
