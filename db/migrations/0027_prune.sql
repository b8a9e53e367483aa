-- 0027_prune: what `dmarcsift prune` (app/prune.c, db/sql/prune_*.sql) needs
-- to delete old data in short batches.
--
-- daily_rollup_apply took a report's records out of the rollups and then
-- removed every rollup row of the *tenant* that had fallen to zero: for each
-- deleted report (the BEFORE DELETE trigger runs it per row), an index scan
-- over the tenant's whole daily_rollup (see tests/bench/README.md,
-- "Retention": at 10M records a DELETE of 50 reports took seconds). It now
-- looks only at the days and policy domains of the given reports, which are
-- the only rows it can have brought to zero.
--
-- prune takes a batch of reports out of the rollups in one statement
-- (daily_rollup_apply over the batch), then deletes their derived rows and
-- records, then the reports. A report deleted without records left has
-- nothing to take back, so the per-row trigger returns at once for it (one
-- index probe) instead of running the apply for nothing.
--
-- prune deletes a raw message when nothing kept refers to it any more; the
-- references without an index that starts with the SHA-256 (or with
-- tenant_id, SHA-256) get one. No new tenant table: remove_tenant stays as
-- 0025_bounce_days left it.

CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_apply(p_tenant integer, p_reports bigint[], p_sign integer)
RETURNS void LANGUAGE sql AS $$
	WITH delta AS (
		SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain,
		       x.source_ip, coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass,
		       coalesce(lower(x.spf) = 'pass', false) AS spf_pass,
		       p_sign * sum(x.count) AS messages, p_sign * count(*) AS records
		FROM dmarcsift.records x
		JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
		WHERE x.tenant_id = p_tenant AND x.report_pk = ANY (p_reports)
		GROUP BY 1, 2, 3, 4, 5, 6
	), ip AS (
		INSERT INTO dmarcsift.daily_rollup AS d
		       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
		SELECT * FROM delta
		ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
		DO UPDATE SET messages = d.messages + excluded.messages,
		              records = d.records + excluded.records
	)
	INSERT INTO dmarcsift.domain_rollup AS o
	       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
	SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
	FROM delta GROUP BY 1, 2, 3, 4, 5
	ON CONFLICT (tenant_id, day, policy_domain, dkim_pass, spf_pass)
	DO UPDATE SET messages = o.messages + excluded.messages,
	              records = o.records + excluded.records;
	DELETE FROM dmarcsift.daily_rollup d
	USING (SELECT DISTINCT (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain
	       FROM dmarcsift.reports r
	       WHERE r.tenant_id = p_tenant AND r.id = ANY (p_reports)) k
	WHERE p_sign < 0 AND d.tenant_id = p_tenant AND d.day = k.day
	  AND d.policy_domain = k.policy_domain AND d.records <= 0;
	DELETE FROM dmarcsift.domain_rollup d
	USING (SELECT DISTINCT (r.begin_at AT TIME ZONE 'UTC')::date AS day, r.policy_domain
	       FROM dmarcsift.reports r
	       WHERE r.tenant_id = p_tenant AND r.id = ANY (p_reports)) k
	WHERE p_sign < 0 AND d.tenant_id = p_tenant AND d.day = k.day
	  AND d.policy_domain = k.policy_domain AND d.records <= 0;
$$;

-- As 0026_domain_rollup left it, with the early return for a deleted report
-- whose records are gone already.
CREATE OR REPLACE FUNCTION dmarcsift.daily_rollup_report_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' AND NOT EXISTS (
		SELECT 1 FROM dmarcsift.records x
		WHERE x.tenant_id = OLD.tenant_id AND x.report_pk = OLD.id) THEN
		RETURN OLD;
	END IF;
	PERFORM dmarcsift.daily_rollup_apply(OLD.tenant_id, ARRAY[OLD.id], -1);
	IF TG_OP = 'UPDATE' THEN
		WITH delta AS (
			SELECT NEW.tenant_id AS tenant_id, (NEW.begin_at AT TIME ZONE 'UTC')::date AS day,
			       NEW.policy_domain AS policy_domain, x.source_ip,
			       coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass,
			       coalesce(lower(x.spf) = 'pass', false) AS spf_pass,
			       sum(x.count) AS messages, count(*) AS records
			FROM dmarcsift.records x
			WHERE x.tenant_id = OLD.tenant_id AND x.report_pk = OLD.id
			GROUP BY 1, 2, 3, 4, 5, 6
		), ip AS (
			INSERT INTO dmarcsift.daily_rollup AS d
			       (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass, messages, records)
			SELECT * FROM delta
			ON CONFLICT (tenant_id, day, policy_domain, source_ip, dkim_pass, spf_pass)
			DO UPDATE SET messages = d.messages + excluded.messages,
			              records = d.records + excluded.records
		)
		INSERT INTO dmarcsift.domain_rollup AS o
		       (tenant_id, day, policy_domain, dkim_pass, spf_pass, messages, records)
		SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages), sum(records)
		FROM delta GROUP BY 1, 2, 3, 4, 5
		ON CONFLICT (tenant_id, day, policy_domain, dkim_pass, spf_pass)
		DO UPDATE SET messages = o.messages + excluded.messages,
		              records = o.records + excluded.records;
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;

-- "Does anything kept still refer to this raw message?" (db/sql/prune_raw.sql).
-- reports.raw_sha256 and failure_reports.raw_sha256 are found through
-- (tenant_id, raw_sha256) indexes that exist; these do not.
CREATE INDEX reports_replaced_idx ON dmarcsift.reports (replaced_sha256)
	WHERE replaced_sha256 IS NOT NULL;
CREATE INDEX tls_reports_raw_idx ON dmarcsift.tls_reports (tenant_id, raw_sha256);
CREATE INDEX failures_sha_idx ON dmarcsift.failures (sha256);
