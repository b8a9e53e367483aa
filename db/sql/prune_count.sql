-- prune --dry-run: what a run would delete, counted in one read-only
-- statement with the same conditions as the prune_*.sql deletes. $1 tenant
-- id (NULL: every tenant), $2 cutoff. Raw messages: those the rows going
-- were read from (and, for every tenant, the old unreferenced ones
-- prune_raw_candidates.sql finds) that nothing kept refers to. One row:
-- reports, records, tls_reports, failure_reports, bounces, failures, flags,
-- escalations, suppressions, raw_messages.
WITH rep AS (
	SELECT tenant_id, id, raw_sha256, replaced_sha256 FROM dmarcsift.reports
	WHERE ($1::int IS NULL OR tenant_id = $1::int)
	  AND begin_at < $2::timestamptz AND end_at < $2::timestamptz
), tls AS (
	SELECT tenant_id, id, raw_sha256 FROM dmarcsift.tls_reports
	WHERE ($1::int IS NULL OR tenant_id = $1::int) AND end_at < $2::timestamptz
), ruf AS (
	SELECT tenant_id, id, raw_sha256 FROM dmarcsift.failure_reports
	WHERE ($1::int IS NULL OR tenant_id = $1::int)
	  AND coalesce(arrival_at, ingested_at) < $2::timestamptz
), fail AS (
	SELECT tenant_id, id, sha256 FROM dmarcsift.failures
	WHERE ($1::int IS NULL OR tenant_id = $1::int) AND resolved_at < $2::timestamptz
), cand AS (
	SELECT raw_sha256 AS sha FROM rep
	UNION SELECT replaced_sha256 FROM rep
	UNION SELECT raw_sha256 FROM tls
	UNION SELECT raw_sha256 FROM ruf
	UNION SELECT sha256 FROM fail
	UNION SELECT sha256 FROM dmarcsift.raw_messages
	      WHERE $1::int IS NULL AND tenant_id = 0 AND received_at < $2::timestamptz
	        AND status <> 'new'
), raw AS (
	SELECT m.sha256 FROM dmarcsift.raw_messages m JOIN cand c ON c.sha = m.sha256
	WHERE m.tenant_id = 0
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.reports o
	                  WHERE (o.raw_sha256 = m.sha256 OR o.replaced_sha256 = m.sha256)
	                    AND NOT EXISTS (SELECT 1 FROM rep WHERE rep.tenant_id = o.tenant_id
	                                                        AND rep.id = o.id))
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.tls_reports o WHERE o.raw_sha256 = m.sha256
	                    AND NOT EXISTS (SELECT 1 FROM tls WHERE tls.tenant_id = o.tenant_id
	                                                        AND tls.id = o.id))
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.failure_reports o WHERE o.raw_sha256 = m.sha256
	                    AND NOT EXISTS (SELECT 1 FROM ruf WHERE ruf.tenant_id = o.tenant_id
	                                                        AND ruf.id = o.id))
	  AND NOT EXISTS (SELECT 1 FROM dmarcsift.failures o WHERE o.sha256 = m.sha256
	                    AND NOT EXISTS (SELECT 1 FROM fail WHERE fail.tenant_id = o.tenant_id
	                                                         AND fail.id = o.id))
)
SELECT (SELECT count(*) FROM rep),
       (SELECT count(*) FROM dmarcsift.records x JOIN rep
          ON rep.tenant_id = x.tenant_id AND rep.id = x.report_pk),
       (SELECT count(*) FROM tls),
       (SELECT count(*) FROM ruf),
       (SELECT count(*) FROM dmarcsift.bounces
        WHERE ($1::int IS NULL OR tenant_id = $1::int)
          AND (at < $2::timestamptz OR (at IS NULL AND ingested_at < $2::timestamptz))),
       (SELECT count(*) FROM fail),
       (SELECT count(*) FROM dmarcsift.flags
        WHERE ($1::int IS NULL OR tenant_id = $1::int) AND status = 'resolved'
          AND last_seen < $2::timestamptz),
       (SELECT count(*) FROM dmarcsift.escalations
        WHERE ($1::int IS NULL OR tenant_id = $1::int) AND status = 'closed'
          AND last_seen < $2::timestamptz),
       (SELECT count(*) FROM dmarcsift.suppressions
        WHERE ($1::int IS NULL OR tenant_id = $1::int) AND lifted_at < $2::timestamptz),
       (SELECT count(*) FROM raw)
