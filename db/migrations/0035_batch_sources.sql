-- 0035_batch_sources: a batch's small reports' record_sources rows summed
-- by the client too (db/source_sums.c), as 0034 did for one big report.
--
-- A batch's reports wait in pg_temp.ds_batch_records until its end moves
-- them into records in one statement, and the records' trigger then
-- derived the record_sources rows of all of them: for 2,000 five-record
-- reports about a quarter of the server's time in the moves, while the
-- client had summed the same rows already. Now each report's statement
-- (db/sql/report_add.sql) also puts its summed rows in
-- pg_temp.ds_batch_sources, and the batch's end is this procedure: the
-- move with the trigger told to leave record_sources alone, then the
-- summed rows with their reports' columns, then, for any moved report the
-- client did not sum (text that is not ASCII, more sources than it keeps:
-- source_sums.h), the server's own derivation, record_sources_of_report.
-- The rows equal the trigger's (test_source_sums).
--
-- Both temporary tables are the session's (db/store_report.c creates them
-- with each batch, ON COMMIT DELETE ROWS).

CREATE PROCEDURE dmarcsift.batch_flush()
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
	lt integer[];
	lr bigint[];
BEGIN
	PERFORM set_config('dmarcsift.record_sources', 'client', true);
	WITH moved AS (
		DELETE FROM pg_temp.ds_batch_records RETURNING *
	), ins AS (
		INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count,
			disposition, dkim, spf, header_from, envelope_from, envelope_to, reasons,
			dkim_auth, spf_auth, extra)
		SELECT tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf,
		       header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra
		FROM moved
	), counts AS (
		SELECT tenant_id, report_pk, count(*) AS n, sum(count) AS m
		FROM moved GROUP BY tenant_id, report_pk
	), upd AS (
		UPDATE dmarcsift.reports r SET records = c.n, messages = c.m
		FROM counts c
		WHERE r.tenant_id = c.tenant_id AND r.id = c.report_pk
		RETURNING c.tenant_id, c.report_pk
	)
	SELECT array_agg(u.tenant_id), array_agg(u.report_pk) INTO lt, lr
	FROM upd u
	LEFT JOIN (SELECT DISTINCT tenant_id, report_pk FROM pg_temp.ds_batch_sources) s
	       ON s.tenant_id = u.tenant_id AND s.report_pk = u.report_pk
	WHERE s.report_pk IS NULL;
	PERFORM set_config('dmarcsift.record_sources', '', true);

	INSERT INTO dmarcsift.record_sources (tenant_id, report_pk, source_ip, header_from,
		org_name, policy_domain, begin_at, end_at, messages, dkim_pass, spf_pass, dmarc_pass,
		fails)
	SELECT s.tenant_id, s.report_pk, s.source_ip, s.header_from, lower(r.org_name),
	       r.policy_domain, r.begin_at, r.end_at, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.fails
	FROM pg_temp.ds_batch_sources s
	JOIN dmarcsift.reports r ON r.tenant_id = s.tenant_id AND r.id = s.report_pk;
	DELETE FROM pg_temp.ds_batch_sources;

	FOR i IN 1 .. coalesce(array_length(lt, 1), 0) LOOP
		PERFORM dmarcsift.record_sources_of_report(lt[i], lr[i]);
	END LOOP;
END
$$;
