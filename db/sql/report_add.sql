-- store_report_commit, a report of a batch whose rows waited client-side:
-- its row and its records in one statement (one round trip with its
-- savepoint and release, db_run_in_tx). The tenant is $1 when the report
-- was pinned (chosen by store_tenant_choose), else the owner of the most
-- specific of the domain candidates $27 (text[]), else 'unassigned' (0), as
-- store_tenant_owner has it; the batch holds the tenant_domains SHARE lock.
-- $2-$26 as in the INSERT of db/store_report.c, $24/$25 the final
-- recovered state and complaint, $28/$29 the record and message counts.
-- $30-$42 the records, one array per column (seq, source_ip, count,
-- disposition, dkim, spf, header_from, envelope_from, envelope_to, reasons,
-- dkim_auth, spf_auth, extra), taken apart by one unnest, into
-- the batch's table (store_report_batch_flush moves them); $43-$49 its
-- record_sources rows as the client summed them (source_ip, header_from,
-- messages, dkim_pass, spf_pass, dmarc_pass, fails; empty: the batch's end
-- derives them on the server, migration 0035). An identity
-- stored already inserts nothing: the id comes back NULL, and the caller
-- compares the copies (the rule at the top of db/store_report.c).
WITH t AS (
	SELECT coalesce($1::integer,
	                (SELECT tenant_id FROM dmarcsift.tenant_domains
	                 WHERE domain = ANY ($27::text[])
	                 ORDER BY length(domain) DESC LIMIT 1),
	                0) AS tenant_id
), r AS (
	INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at,
		end_at, schema, namespace, version, email, extra_contact_info, generator, errors,
		adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, extra, recovered,
		complaint, raw_sha256, records, messages)
	SELECT t.tenant_id, coalesce($2, ''), coalesce($3, ''), $4, to_timestamp($5::bigint),
	       to_timestamp($6::bigint), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
	       $19::integer, $20, $21, $22, $23::jsonb, $24::boolean, $25, $26, $28::bigint,
	       $29::bigint
	FROM t
	ON CONFLICT DO NOTHING
	RETURNING tenant_id, id
), x AS (
	INSERT INTO pg_temp.ds_batch_records (tenant_id, report_pk, seq, source_ip, count,
		disposition, dkim, spf, header_from, envelope_from, envelope_to, reasons, dkim_auth,
		spf_auth, extra)
	SELECT r.tenant_id, r.id, u.*
	FROM r, unnest($30::integer[], $31::inet[], $32::bigint[], $33::text[], $34::text[],
	               $35::text[], $36::text[], $37::text[], $38::text[], $39::jsonb[],
	               $40::jsonb[], $41::jsonb[], $42::jsonb[]) AS u
), s AS (
	INSERT INTO pg_temp.ds_batch_sources (tenant_id, report_pk, source_ip, header_from,
		messages, dkim_pass, spf_pass, dmarc_pass, fails)
	SELECT r.tenant_id, r.id, u.*
	FROM r, unnest($43::inet[], $44::text[], $45::bigint[], $46::bigint[], $47::bigint[],
	               $48::bigint[], $49::jsonb[]) AS u
)
SELECT t.tenant_id, (SELECT id FROM r) FROM t
