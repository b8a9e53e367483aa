-- 0034_sources_from_client: a big report's record_sources rows computed by
-- the client instead of the records' trigger (db/source_sums.c).
--
-- For a report whose rows outgrow one COPY buffer and stream into records,
-- the client sums them per (source address, header From) as it parses and
-- COPYs the sums into record_sources after the records: the trigger's own
-- statement (sorts, a hash of the failing identifiers, a merge join) cost
-- about 3 s of server time for 200,000 records, on the one core the server
-- has for that transaction while the client waits. Measured: a bare COPY of
-- such a report as migrated 11.1 s, with these rows coming by COPY 7.5 s
-- (medians of three pairs).
--
-- The client says so before its COPY starts, with a setting local to the
-- transaction (dmarcsift.record_sources = 'client'), and clears it after.
-- Every other insert into records (small reports' batches, replaced copies,
-- any other writer) is derived here as before.
--
-- When the client cannot compute rows equal to these (a header From or a
-- failing identifier that is not ASCII, whose lower() follows the
-- database's ctype; more distinct sources than it keeps in memory) it asks
-- the server to derive them from the stored records instead:
-- record_sources_of_report. Both run the one statement
-- record_sources_sql builds, over the transition table or the report's
-- records.

CREATE FUNCTION dmarcsift.record_sources_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
	SELECT format($q$
	INSERT INTO dmarcsift.record_sources AS s (tenant_id, report_pk, source_ip, header_from,
		org_name, policy_domain, begin_at, end_at, messages, dkim_pass, spf_pass, dmarc_pass,
		fails)
	WITH sums AS (
		SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')) AS hf,
		       sum(x.count) AS messages,
		       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass'), 0) AS dkim_pass,
		       coalesce(sum(x.count) FILTER (WHERE lower(x.spf) = 'pass'), 0) AS spf_pass,
		       coalesce(sum(x.count) FILTER (WHERE lower(x.dkim) = 'pass'
		                                       OR lower(x.spf) = 'pass'), 0) AS dmarc_pass
		FROM %1$s x
		GROUP BY 1, 2, 3, 4
	), ids AS (
		SELECT tenant_id, report_pk, source_ip, hf, kind, domain, selector, result,
		       sum(count) AS n
		FROM (
			SELECT x.tenant_id, x.report_pk, x.source_ip,
			       lower(coalesce(x.header_from, '')) AS hf, 'dkim' AS kind,
			       lower(coalesce(a ->> 'domain', '')) AS domain,
			       coalesce(a ->> 'selector', '') AS selector,
			       lower(coalesce(a ->> 'result', 'none')) AS result, x.count
			FROM %1$s x
			LEFT JOIN LATERAL jsonb_array_elements(
				CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth END) a ON true
			WHERE lower(coalesce(x.dkim, '')) <> 'pass'
			UNION ALL
			SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
			       'spf', lower(coalesce(a ->> 'domain', '')), '',
			       lower(coalesce(a ->> 'result', 'none')), x.count
			FROM %1$s x
			LEFT JOIN LATERAL jsonb_array_elements(
				CASE WHEN jsonb_typeof(x.spf_auth) = 'array' THEN x.spf_auth END) a ON true
			WHERE lower(coalesce(x.spf, '')) <> 'pass'
		) z
		GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
	), f AS (
		SELECT tenant_id, report_pk, source_ip, hf,
		       jsonb_agg(jsonb_build_object('kind', kind, 'domain', domain,
		                                    'selector', selector, 'result', result,
		                                    'messages', n)
		                 ORDER BY kind, domain, selector, result) AS fails
		FROM ids GROUP BY 1, 2, 3, 4
	)
	SELECT g.tenant_id, g.report_pk, g.source_ip, g.hf, lower(r.org_name), r.policy_domain,
	       r.begin_at, r.end_at, g.messages, g.dkim_pass, g.spf_pass, g.dmarc_pass, f.fails
	FROM sums g
	LEFT JOIN f USING (tenant_id, report_pk, source_ip, hf)
	JOIN dmarcsift.reports r ON r.tenant_id = g.tenant_id AND r.id = g.report_pk
	ON CONFLICT (tenant_id, report_pk, source_ip, header_from) DO UPDATE
	SET messages = s.messages + EXCLUDED.messages, dkim_pass = s.dkim_pass + EXCLUDED.dkim_pass,
	    spf_pass = s.spf_pass + EXCLUDED.spf_pass, dmarc_pass = s.dmarc_pass + EXCLUDED.dmarc_pass,
	    fails = dmarcsift.source_fails_merge(s.fails, EXCLUDED.fails)
$q$, src)
$f$;

CREATE OR REPLACE FUNCTION dmarcsift.record_sources_add() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
	IF coalesce(current_setting('dmarcsift.record_sources', true), '') <> 'client' THEN
		EXECUTE dmarcsift.record_sources_sql('new_rows');
	END IF;

	INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)
	SELECT DISTINCT r.tenant_id, d::date
	FROM (SELECT DISTINCT tenant_id, report_pk FROM new_rows) n
	JOIN dmarcsift.reports r ON r.tenant_id = n.tenant_id AND r.id = n.report_pk
	CROSS JOIN LATERAL generate_series(
		(r.begin_at AT TIME ZONE 'UTC')::date - 1,
		((r.end_at - interval '1 second') AT TIME ZONE 'UTC')::date + 1,
		interval '1 day') d
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;

-- The rows of one stored report, derived on the server (the client's way
-- out, above). Nothing of the report may be in record_sources yet. Without
-- statistics for the rows just stored, the planner takes the parts of the
-- statement for a row each and joins them by nested loops: for 200,000
-- records that ran for over ten minutes; hash and merge joins take seconds.
CREATE FUNCTION dmarcsift.record_sources_of_report(tenant integer, report bigint) RETURNS void
LANGUAGE plpgsql SET jit = off SET enable_nestloop = off AS $$
BEGIN
	EXECUTE dmarcsift.record_sources_sql(format(
		'(SELECT * FROM dmarcsift.records WHERE tenant_id = %L AND report_pk = %L)',
		tenant, report));
END
$$;
