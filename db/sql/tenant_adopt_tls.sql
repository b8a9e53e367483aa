-- TLS reports of domain $2 waiting in 'unassigned' move to tenant $1 (their
-- policies and failure details follow by ON UPDATE CASCADE), unless the
-- tenant holds the same identity already.
UPDATE dmarcsift.tls_reports r SET tenant_id = $1::int
WHERE r.tenant_id = 0 AND r.policy_domain = $2
  AND NOT EXISTS (SELECT 1 FROM dmarcsift.tls_reports t
                  WHERE t.tenant_id = $1::int AND t.org_name = r.org_name
                    AND t.report_id = r.report_id AND t.policy_domain = r.policy_domain
                    AND t.begin_at = r.begin_at AND t.end_at = r.end_at)
