-- 0008_3_failure_history: a failure keeps what happened first. When the same
-- bytes fail again (`reprocess`, or the input delivered again), the entry
-- keeps its first received_at, source, stage and reason — the original
-- diagnosis — and records the latest attempt beside them.
ALTER TABLE dmarcsift.failures
	ADD COLUMN attempts      integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
	ADD COLUMN last_tried_at timestamptz,
	ADD COLUMN last_stage    text,
	ADD COLUMN last_reason   text;

CREATE OR REPLACE VIEW dmarcsift.v_failures WITH (security_invoker = true) AS
SELECT f.received_at, f.source, f.stage, f.reason, f.sha256,
       f.attempts, f.last_tried_at, f.last_stage, f.last_reason
FROM dmarcsift.failures f
WHERE f.resolved_at IS NULL
ORDER BY f.received_at, f.id;
