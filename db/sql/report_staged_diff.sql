-- How the records of a stored report ($1 tenant, $2 report id) and the
-- records of a new copy of it, staged in pg_temp.ds_staged_records, differ:
-- the stored records the copy lacks, and the copy's records the stored one
-- lacks (as multisets: a record sent twice counts twice; order ignored).
SELECT
	(SELECT count(*) FROM (
		SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from,
		       envelope_to, reasons, dkim_auth, spf_auth, extra
		FROM dmarcsift.records WHERE tenant_id = $1 AND report_pk = $2
		EXCEPT ALL
		SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from,
		       envelope_to, reasons, dkim_auth, spf_auth, extra
		FROM pg_temp.ds_staged_records) AS lacking),
	(SELECT count(*) FROM (
		SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from,
		       envelope_to, reasons, dkim_auth, spf_auth, extra
		FROM pg_temp.ds_staged_records
		EXCEPT ALL
		SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from,
		       envelope_to, reasons, dkim_auth, spf_auth, extra
		FROM dmarcsift.records WHERE tenant_id = $1 AND report_pk = $2) AS extra)
