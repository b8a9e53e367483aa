-- 0018_escalation_notify: the [notify] webhook hears of each escalation
-- that opens (or reopens after it closed) once, at the end of `correlate`
-- (app/correlate.c). notified_at marks the ones already announced; those
-- open when this migration runs count as announced, so configuring a
-- webhook later does not replay history.
ALTER TABLE dmarcsift.escalations ADD COLUMN notified_at timestamptz;
UPDATE dmarcsift.escalations SET notified_at = now();
CREATE INDEX escalations_unnotified_idx ON dmarcsift.escalations (tenant_id)
	WHERE status = 'open' AND notified_at IS NULL;
