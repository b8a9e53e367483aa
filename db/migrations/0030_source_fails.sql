-- 0030_source_fails: the identifiers behind failed alignment move from a
-- table of their own (record_auth_fails, 0017) onto the record_sources row
-- they belong to, as one jsonb array. Every record with a failing policy
-- result wrote a second derived row (about two thirds as many rows again as
-- record_sources for a large report, with an eight-column key and a foreign
-- key of their own), and the correlator probed that table once per matched
-- row to read them back; now both come with the row the correlator matched.
--
-- fails: NULL when no record of the row failed DKIM or SPF; otherwise one
-- object per (kind, domain, selector, result), ordered by those four, with
-- the messages of the failing records that carried it:
--   {"kind": "dkim"|"spf", "domain": ..., "selector": ..., "result": ..., "messages": n}
-- built exactly as record_auth_fails was: for records whose policy-evaluated
-- DKIM (SPF) is not 'pass', each DKIM signature (domain lower-cased,
-- selector as sent, result lower-cased) and each SPF check (selector ''); a
-- record without any gives ('', '', 'none'): not signed / not checked.

ALTER TABLE dmarcsift.record_sources ADD COLUMN fails jsonb;

-- Two fails arrays as one: the messages of equal identifiers added. For a
-- report whose records arrive in more than one statement.
CREATE FUNCTION dmarcsift.source_fails_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (
		SELECT jsonb_agg(jsonb_build_object('kind', kind, 'domain', domain,
		                                    'selector', selector, 'result', result,
		                                    'messages', n)
		                 ORDER BY kind, domain, selector, result)
		FROM (
			SELECT kind, domain, selector, result, sum(messages) AS n
			FROM (SELECT * FROM jsonb_to_recordset(a) AS f(kind text, domain text,
			          selector text, result text, messages bigint)
			      UNION ALL
			      SELECT * FROM jsonb_to_recordset(b) AS f(kind text, domain text,
			          selector text, result text, messages bigint)) u
			GROUP BY kind, domain, selector, result
		) z) END
$$;

CREATE OR REPLACE FUNCTION dmarcsift.record_sources_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
		FROM new_rows x
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
			FROM new_rows x
			LEFT JOIN LATERAL jsonb_array_elements(
				CASE WHEN jsonb_typeof(x.dkim_auth) = 'array' THEN x.dkim_auth END) a ON true
			WHERE lower(coalesce(x.dkim, '')) <> 'pass'
			UNION ALL
			SELECT x.tenant_id, x.report_pk, x.source_ip, lower(coalesce(x.header_from, '')),
			       'spf', lower(coalesce(a ->> 'domain', '')), '',
			       lower(coalesce(a ->> 'result', 'none')), x.count
			FROM new_rows x
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
	    fails = dmarcsift.source_fails_merge(s.fails, EXCLUDED.fails);

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

-- What is stored already.
UPDATE dmarcsift.record_sources s
SET fails = f.fails
FROM (
	SELECT tenant_id, report_pk, source_ip, header_from,
	       jsonb_agg(jsonb_build_object('kind', kind, 'domain', domain, 'selector', selector,
	                                    'result', result, 'messages', messages)
	                 ORDER BY kind, domain, selector, result) AS fails
	FROM dmarcsift.record_auth_fails
	GROUP BY 1, 2, 3, 4
) f
WHERE s.tenant_id = f.tenant_id AND s.report_pk = f.report_pk AND s.source_ip = f.source_ip
  AND s.header_from = f.header_from;

DROP TABLE dmarcsift.record_auth_fails;
