-- dnscheck_save: one `dns check` run of tenant $1 over $4 domains: the run,
-- its findings ($2: a JSON array of {seq, domain, check_name, severity,
-- code, finding, fix, record}) and the record texts seen ($3: a JSON array
-- of {domain, kind, name, text}; only names whose look-up was answered).
-- A text that differs from the one stored for (kind, name) by an earlier
-- run is a change event (dns_changes, v_dns_changes); the first sight of a
-- name is not. All in one statement: the CTEs see the records as they were
-- before this run.
-- Returns: run_id, changes, findings.
WITH run AS (
	INSERT INTO dmarcsift.dns_check_runs (tenant_id, checked_at, domains, findings, errors,
	                                      warnings)
	SELECT $1::int, now(), $4::int, jsonb_array_length($2::jsonb),
	       (SELECT count(*) FROM jsonb_array_elements($2::jsonb) f
	        WHERE f->>'severity' = 'error'),
	       (SELECT count(*) FROM jsonb_array_elements($2::jsonb) f
	        WHERE f->>'severity' = 'warning')
	RETURNING run_id, checked_at
), fnd AS (
	INSERT INTO dmarcsift.dns_findings (tenant_id, run_id, seq, domain, check_name, severity,
	                                    code, finding, fix, record)
	SELECT $1::int, run.run_id, f.seq, f.domain, f.check_name, f.severity, f.code, f.finding,
	       f.fix, f.record
	FROM run, jsonb_to_recordset($2::jsonb)
	     AS f(seq int, domain text, check_name text, severity text, code text, finding text,
	          fix text, record text)
	RETURNING 1
), seen AS (
	SELECT DISTINCT ON (r.kind, r.name) lower(r.domain) AS domain, r.kind, lower(r.name) AS name,
	       r.text
	FROM jsonb_to_recordset($3::jsonb) AS r(domain text, kind text, name text, text text)
	ORDER BY r.kind, r.name
), old AS (
	SELECT kind, name, record FROM dmarcsift.dns_records WHERE tenant_id = $1::int
), chg AS (
	INSERT INTO dmarcsift.dns_changes (tenant_id, run_id, domain, kind, name, old_record,
	                                   new_record, changed_at)
	SELECT $1::int, run.run_id, s.domain, s.kind, s.name, o.record, s.text, run.checked_at
	FROM seen s JOIN old o USING (kind, name) CROSS JOIN run
	WHERE o.record IS DISTINCT FROM s.text
	RETURNING 1
), up AS (
	INSERT INTO dmarcsift.dns_records AS d (tenant_id, domain, kind, name, record, first_seen,
	                                        changed_at, checked_at)
	SELECT $1::int, s.domain, s.kind, s.name, s.text, run.checked_at, run.checked_at,
	       run.checked_at
	FROM seen s CROSS JOIN run
	ON CONFLICT (tenant_id, kind, name) DO UPDATE
	SET domain = EXCLUDED.domain, record = EXCLUDED.record, checked_at = EXCLUDED.checked_at,
	    changed_at = CASE WHEN d.record IS DISTINCT FROM EXCLUDED.record
	                      THEN EXCLUDED.checked_at ELSE d.changed_at END
	RETURNING 1
)
SELECT (SELECT run_id FROM run), (SELECT count(*) FROM chg), (SELECT count(*) FROM fnd),
       (SELECT count(*) FROM up)
