-- 0023_failure_dismiss: `failures dismiss` closes quarantine entries that
-- will never parse. The raw bytes stay (status 'dismissed'), so `reprocess`
-- can still try them after an upgrade; a dismissed input that arrives again
-- is not quarantined again (it would only reopen what the operator closed).
ALTER TABLE dmarcsift.failures ADD COLUMN dismissed_at timestamptz;
COMMENT ON COLUMN dmarcsift.failures.dismissed_at IS 'When `failures dismiss` closed this entry (resolved_at is set too); NULL for entries closed by a successful reprocess.';

ALTER TABLE dmarcsift.raw_messages DROP CONSTRAINT raw_messages_status_check;
ALTER TABLE dmarcsift.raw_messages ADD CONSTRAINT raw_messages_status_check
	CHECK (status IN ('new', 'ok', 'quarantined', 'dsn', 'dismissed'));

-- Dismissed entries, for the record (the open ones are v_failures).
CREATE VIEW dmarcsift.v_failures_dismissed WITH (security_invoker = true) AS
SELECT f.received_at, f.dismissed_at, f.source, f.stage, f.reason, f.sha256,
       t.name AS tenant, f.domain
FROM dmarcsift.failures f
JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id
WHERE f.dismissed_at IS NOT NULL
ORDER BY f.dismissed_at, f.id;
COMMENT ON VIEW dmarcsift.v_failures_dismissed IS 'Quarantine entries closed by `dmarcsift failures dismiss` (the raw bytes are kept; dmarcsift reprocess can still retry them).';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.received_at IS 'When these bytes first failed';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.dismissed_at IS 'When `dmarcsift failures dismiss` closed the entry';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.source IS 'Where the input came from (file path, mailbox and message)';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.stage IS 'Stage that first failed: mime, unpack, xml, validate, store ...';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.reason IS 'Why it first failed, one line';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.sha256 IS 'SHA-256 of the raw bytes, still stored (argument of dmarcsift reprocess)';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.tenant IS 'Tenant the input belongs to: owner of its policy domain, else the mailbox''s pinned tenant, else unassigned';
COMMENT ON COLUMN dmarcsift.v_failures_dismissed.domain IS 'Policy domain of the report, when the input was read that far';
