-- 0037_flush_counts: a batch's end writes a report's record and message
-- counts only where they are not already right.
--
-- A report of a batch has its counts written with its row: by its own
-- statement (db/sql/report_add.sql, since 32fe619), or after its rows by
-- store_report_commit when they streamed. The UPDATE of every moved
-- report in batch_flush (0035) wrote each row a second time with the same
-- values: a new row version and its WAL for 200 reports per batch, about
-- 4 % of a small-report ingest in paired runs. It stays as the guard it
-- was for a row stored before its counts were known, and writes only such
-- rows. The reports left for the server to derive record_sources rows for
-- are found from the moved rows themselves, not from what the UPDATE
-- returned.

CREATE OR REPLACE PROCEDURE dmarcsift.batch_flush()
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
		  AND (r.records <> c.n OR r.messages <> c.m)
	)
	SELECT array_agg(u.tenant_id), array_agg(u.report_pk) INTO lt, lr
	FROM counts u
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
