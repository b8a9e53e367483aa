-- correlate_flags: the verdict of every group of corr_grp from its data in
-- corr_match, upserted into dmarcsift.flags. A flag whose values did not
-- change is not written (a re-run over the same data is a no-op). Flags
-- that open (new and not already resolved) or come back after a resolution
-- go to pg_temp.corr_events. Returns one row: (flags created, flags
-- changed, groups examined).
--
-- Verdict (rates over the aggregate messages m that matched, thresholds
-- from corr_params; "text" = at least half of the rejects are
-- authentication failures or name SPF/DKIM/DMARC):
--   m >= min_messages and DMARC pass rate < fail_below -> auth_driven;
--     confidence high with text, medium without; for a group without a
--     sending IP (domain-level data) medium with text, low without;
--     cause from the failing messages' identifiers: spf when at least half
--     of the SPF-failing messages were checked against an aligned domain
--     (the domain's own SPF does not list the source), both when the same
--     holds for aligned DKIM signatures, else dkim (no aligned signature:
--     the usual ESP case);
--   m >= min_messages and pass rate >= pass_at -> not_auth_driven, cause
--     the rejects' class, confidence high (medium domain-level); with text
--     it stays auth_driven but low, and the note says the data disagrees
--     (a forwarder, another path);
--   in between -> mixed, no cause;
--   too little data: auth_driven low on text alone, else no_evidence.
WITH p AS (
	SELECT * FROM pg_temp.corr_params
), agg AS (
	SELECT * FROM pg_temp.corr_agg
), fl0 AS (
	SELECT m.gid, m.org, f.kind, f.domain AS fdomain, f.selector, f.result,
	       sum(f.messages) AS n
	FROM pg_temp.corr_match m
	CROSS JOIN LATERAL jsonb_to_recordset(m.fails)
	    AS f(kind text, domain text, selector text, result text, messages bigint)
	WHERE m.fails IS NOT NULL
	GROUP BY 1, 2, 3, 4, 5, 6
), fl AS (
	-- m: the group's messages, the same on every row of a group. Joined
	-- after the grouping, on corr_agg's unique index: the row estimate of
	-- the join above is poor, and a nested loop over a scan of corr_agg
	-- per row was most of a full run's time.
	SELECT fl0.*, a.m
	FROM fl0
	JOIN pg_temp.corr_agg a ON a.gid = fl0.gid
), fl_r AS (
	SELECT fl.*,
	       (fl.fdomain = fl.org OR right(fl.fdomain, length(fl.org) + 1) = '.' || fl.org)
	           AS aligned,
	       row_number() OVER (PARTITION BY fl.gid, fl.kind
	                          ORDER BY fl.n DESC, fl.fdomain, fl.selector, fl.result)
	           AS rk
	FROM fl
), fl_j AS (
	SELECT gid,
	       jsonb_agg(jsonb_build_object('domain', nullif(fdomain, ''),
	                                    'selector', nullif(selector, ''), 'result', result,
	                                    'messages', n,
	                                    'share', round(n::numeric / nullif(m, 0), 4))
	                 ORDER BY rk) FILTER (WHERE kind = 'dkim' AND rk <= 5) AS failing_dkim,
	       jsonb_agg(jsonb_build_object('domain', nullif(fdomain, ''), 'result', result,
	                                    'messages', n,
	                                    'share', round(n::numeric / nullif(m, 0), 4))
	                 ORDER BY rk) FILTER (WHERE kind = 'spf' AND rk <= 5) AS failing_spf,
	       coalesce(sum(n) FILTER (WHERE kind = 'dkim' AND aligned), 0) AS dkim_aligned_n,
	       coalesce(sum(n) FILTER (WHERE kind = 'spf' AND aligned), 0) AS spf_aligned_n
	FROM fl_r GROUP BY gid
), tip AS (
	-- groups without a sending IP: the sources that fail most
	SELECT gid,
	       jsonb_agg(jsonb_build_object('ip', host(source_ip), 'messages', msgs,
	                                    'dmarc_pass_rate', round(dm::numeric / msgs, 4))
	                 ORDER BY rk) AS top_failing_ips
	FROM (
		SELECT m.gid, m.source_ip, sum(m.messages) AS msgs,
		       sum(m.dmarc_pass) AS dm, sum(m.messages - m.dmarc_pass) AS fails,
		       row_number() OVER (PARTITION BY m.gid
		                          ORDER BY sum(m.messages - m.dmarc_pass) DESC, m.source_ip)
		           AS rk
		FROM pg_temp.corr_match m
		JOIN pg_temp.corr_grp g ON g.gid = m.gid AND g.ip_key = ''
		WHERE m.source_ip IS NOT NULL
		GROUP BY m.gid, m.source_ip
	) z
	WHERE rk <= 5 AND fails > 0 AND msgs > 0
	GROUP BY gid
), rep AS (
	-- the report identities used (the first ten by time), unless a kept
	-- state has them already (corr_match.items)
	SELECT gid, items FROM pg_temp.corr_match WHERE items IS NOT NULL
	UNION ALL
	SELECT gid,
	       jsonb_agg(dmarcsift.report_item(org_name, report_id, policy_domain, begin_at, end_at)
	           ORDER BY rk) FILTER (WHERE rk <= 10) AS items
	FROM (
		SELECT x.*, r.org_name, r.report_id, r.policy_domain, r.begin_at, r.end_at,
		       row_number() OVER (PARTITION BY x.gid
		                          ORDER BY r.begin_at, r.org_name, r.report_id, r.id) AS rk
		FROM (
			-- only reports with fewer than ten others before them can be
			-- among the first ten: the rest are never read
			SELECT * FROM (
				SELECT gid, tenant_id, report_pk,
				       rank() OVER (PARTITION BY gid ORDER BY begin_at) AS pre
				FROM (SELECT DISTINCT m.gid, g.tenant_id, m.report_pk, m.begin_at
				      FROM pg_temp.corr_match m
				      JOIN pg_temp.corr_grp g ON g.gid = m.gid
				      JOIN pg_temp.corr_agg a ON a.gid = m.gid AND NOT a.has_items
				      WHERE m.report_pk IS NOT NULL) y
			) w WHERE pre <= 10
		) x
		JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	) z
	GROUP BY gid
), ruf AS (
	-- DMARC failure reports (RUF) as samples: sent by the same provider (the
	-- reporter's address domain is one of its org names), about the group's
	-- sending IP and From domain (or its organisational domain), arrived on
	-- a UTC day of the episode's rejects. Groups without a sending IP get none.
	SELECT gid, count(*) AS n,
	       jsonb_agg(jsonb_build_object(
	           'arrival', to_char(arrival_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	           'source_ip', host(source_ip), 'auth_failure', auth_failure,
	           'reported_domain', reported_domain, 'dkim_domain', dkim_domain,
	           'dkim_selector', dkim_selector, 'spf_dns', spf_dns,
	           'delivery_result', delivery_result, 'identity_alignment', identity_alignment,
	           'subject', subject, 'message_id', message_id, 'raw_sha256', raw_sha256)
	           ORDER BY rk) FILTER (WHERE rk <= 5) AS items
	FROM (
		SELECT g.gid, r.arrival_at, r.source_ip,
		       r.auth_failure, r.reported_domain, r.dkim_domain, r.dkim_selector, r.spf_dns,
		       r.delivery_result, r.identity_alignment, r.subject, r.message_id,
		       r.raw_sha256,
		       row_number() OVER (PARTITION BY g.gid ORDER BY r.arrival_at, r.id) AS rk
		FROM pg_temp.corr_grp g
		JOIN dmarcsift.failure_reports r ON r.tenant_id = g.tenant_id
		 AND r.source_ip = g.ip AND r.domain IN (g.domain, g.org)
		 AND r.arrival_at >= ((g.first_seen AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC'
		 AND r.arrival_at < ((g.last_seen AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
		 AND lower(substring(r.reporter FROM '@([^>[:space:]]+)')) = ANY (g.orgs)
		WHERE g.ip IS NOT NULL
	) z
	GROUP BY gid
), clock AS (
	-- a tenant's newest bounce of any kind: "now" for resolving quiet flags
	SELECT t.tenant_id,
	       (SELECT max(b.at) FROM dmarcsift.bounces b WHERE b.tenant_id = t.tenant_id) AS clock
	FROM (SELECT DISTINCT tenant_id FROM pg_temp.corr_grp) t
), d AS (
	SELECT g.*, coalesce(a.m, 0) AS m, coalesce(a.dk, 0) AS dk, coalesce(a.sp, 0) AS sp,
	       coalesce(a.dm, 0) AS dm, a.how, coalesce(a.nreports, 0) AS nreports,
	       a.dk::float8 / nullif(a.m, 0) AS dkim_rate, a.sp::float8 / nullif(a.m, 0) AS spf_rate,
	       a.dm::float8 / nullif(a.m, 0) AS dmarc_rate,
	       coalesce(a.m, 0) > 0 AND coalesce(a.m, 0) >= p.min_messages AS has_data,
	       g.auth_texts * 2 >= g.rejects AS text_auth,
	       f.failing_dkim, f.failing_spf,
	       coalesce(f.dkim_aligned_n, 0)::float8 / nullif(a.m - a.dk, 0) AS dkim_aligned_share,
	       coalesce(f.spf_aligned_n, 0)::float8 / nullif(a.m - a.sp, 0) AS spf_aligned_share,
	       t.top_failing_ips, r.items AS report_items, c.clock,
	       coalesce(u.n, 0) AS ruf_n, u.items AS ruf_items,
	       p.fail_below, p.pass_at, p.min_messages, p.resolve, initcap(g.provider) AS pname
	FROM pg_temp.corr_grp g
	CROSS JOIN p
	LEFT JOIN agg a USING (gid)
	LEFT JOIN fl_j f USING (gid)
	LEFT JOIN tip t USING (gid)
	LEFT JOIN rep r USING (gid)
	LEFT JOIN ruf u USING (gid)
	LEFT JOIN clock c USING (tenant_id)
), k AS (
	SELECT d.*,
	       CASE WHEN has_data AND dmarc_rate < fail_below THEN 'auth_driven'
	            WHEN has_data AND dmarc_rate >= pass_at AND text_auth THEN 'auth_driven'
	            WHEN has_data AND dmarc_rate >= pass_at THEN 'not_auth_driven'
	            WHEN has_data THEN 'mixed'
	            WHEN text_auth THEN 'auth_driven'
	            ELSE 'no_evidence' END AS kind,
	       has_data AND dmarc_rate < fail_below AS data_fails
	FROM d
), v AS (
	SELECT k.*,
	       CASE WHEN kind = 'auth_driven' AND data_fails THEN
	                 CASE WHEN ip_key <> '' AND text_auth THEN 'high'
	                      WHEN ip_key <> '' OR text_auth THEN 'medium'
	                      ELSE 'low' END
	            WHEN kind = 'not_auth_driven' THEN
	                 CASE WHEN ip_key <> '' THEN 'high' ELSE 'medium' END
	            ELSE 'low' END AS confidence,
	       CASE WHEN kind = 'auth_driven' AND data_fails THEN
	                 CASE WHEN spf_aligned_share >= 0.5 AND dkim_aligned_share >= 0.5 THEN 'both'
	                      WHEN spf_aligned_share >= 0.5 THEN 'spf'
	                      ELSE 'dkim' END
	            WHEN kind = 'auth_driven' THEN
	                 CASE WHEN text_dkim AND text_spf THEN 'both'
	                      WHEN text_dkim THEN 'dkim'
	                      WHEN text_spf THEN 'spf' END
	            WHEN kind = 'mixed' THEN NULL
	            ELSE coalesce(other_class, top_class) END AS cause,
	       concat_ws(' ',
	           CASE WHEN kind = 'auth_driven' AND has_data AND NOT data_fails THEN
	                    format('The reject text names %s, but %s''s reports show DMARC passing for this source in %s %% of %s messages: likely a forwarder or another path, not this source''s setup.',
	                           CASE WHEN text_spf AND text_dkim THEN 'SPF and DKIM'
	                                WHEN text_spf THEN 'SPF' WHEN text_dkim THEN 'DKIM'
	                                ELSE 'authentication' END,
	                           pname, round((dmarc_rate * 100)::numeric, 1), m)
	                WHEN kind = 'auth_driven' AND NOT has_data THEN
	                    format('Verdict from the reject text alone: %s.',
	                           CASE WHEN m = 0 THEN format('no aggregate data from %s for this source in the window', pname)
	                                ELSE format('only %s aggregate messages from %s (fewer than %s)', m, pname, min_messages) END)
	                WHEN kind = 'no_evidence' AND m = 0 THEN
	                    format('No aggregate data from %s for this %s between %s and %s: reports are not arriving, or the domain''s rua= is missing.',
	                           pname, CASE WHEN ip_key = '' THEN 'domain' ELSE 'source and domain' END,
	                           win_from_day, win_to_day - 1)
	                WHEN kind = 'no_evidence' THEN
	                    format('Only %s aggregate messages from %s (fewer than %s): too few for a verdict.',
	                           m, pname, min_messages)
	                WHEN kind = 'mixed' THEN
	                    format('DMARC passes in %s %% of %s messages, between the thresholds (%s %% / %s %%): no verdict.',
	                           round((dmarc_rate * 100)::numeric, 1), m,
	                           round((fail_below * 100)::numeric, 1), round((pass_at * 100)::numeric, 1))
	           END,
	           CASE WHEN ip_key = '' THEN
	                    'No sending IP is known for these rejects (ip_source none): the data is for the whole domain, every source.'
	           END,
	           CASE WHEN how = 'organisational' THEN
	                    format('No reports name %s itself; the data is %s''s (its organisational domain).', domain, org)
	           END) AS note
	FROM k
), f AS (
	SELECT v.*,
	       CASE WHEN clock - last_seen >= resolve THEN 'resolved'
	            WHEN episodes > 1 THEN 'reopened' ELSE 'open' END AS status,
	       jsonb_strip_nulls(jsonb_build_object(
	           'org_domain', org,
	           'domain_match', how,
	           'ip_source', ip_source,
	           'ip_sources', ip_sources,
	           'classes', classes,
	           'codes', codes,
	           'top_code', nullif(top_code, ''),
	           'listed_on', listed_on,
	           'listed_asset', listed_asset,
	           'listed_value', CASE WHEN listed_asset = 'ip' THEN host(ip)
	                                WHEN listed_asset IN ('from_domain', 'domain') THEN domain END,
	           -- the listing `blocklists check` found for that asset on a
	           -- list of the family the rejects name (listed first)
	           'listing', CASE WHEN cause = 'blocklisted' THEN (
	               SELECT jsonb_build_object('list', l.list, 'asset', l.asset,
	                          'code', array_to_string(l.codes, ','), 'reason', l.reason,
	                          'first_seen', l.first_seen, 'last_seen', l.last_seen,
	                          'status', CASE l.answer WHEN 'clear' THEN 'delisted'
	                                                  ELSE l.answer END)
	               FROM dmarcsift.listings l
	               WHERE l.tenant_id = v.tenant_id AND l.last_seen IS NOT NULL
	                 AND strpos(lower(coalesce(listed_on, '')), lower(l.family)) > 0
	                 AND CASE WHEN l.asset_kind = 'ip'
	                          THEN coalesce(listed_asset, 'ip') IN ('ip', 'network')
	                               AND l.asset = host(ip)
	                          ELSE coalesce(listed_asset, 'ip') NOT IN ('ip', 'network')
	                               AND l.asset = domain END
	               ORDER BY l.answer = 'listed' DESC, l.last_seen DESC, l.list
	               LIMIT 1) END,
	           'text_names', to_jsonb(array_remove(ARRAY[
	               CASE WHEN text_dkim THEN 'dkim' END, CASE WHEN text_spf THEN 'spf' END,
	               CASE WHEN text_dmarc THEN 'dmarc' END], NULL)),
	           'auth_texts', auth_texts,
	           'messages', jsonb_build_object('total', m, 'dkim_pass', dk, 'spf_pass', sp,
	                                          'dmarc_pass', dm),
	           'failing_dkim', failing_dkim,
	           'failing_spf', failing_spf,
	           'top_failing_ips', top_failing_ips,
	           'reports', jsonb_build_object('count', nreports, 'items', report_items),
	           'samples', samples,
	           'failure_reports', CASE WHEN ruf_n > 0 THEN
	               jsonb_build_object('count', ruf_n, 'items', ruf_items) END,
	           'window', jsonb_build_object('from', win_from_day, 'to', win_to_day - 1),
	           'episodes', episodes,
	           'thresholds', jsonb_build_object('fail_below', fail_below, 'pass_at', pass_at,
	                                            'min_messages', min_messages),
	           'note', nullif(note, ''))) AS evidence
	FROM v
), old AS (
	-- the touched flags as they were before this statement
	SELECT o.tenant_id, o.provider, o.domain, o.ip_key, o.status
	FROM dmarcsift.flags o
	JOIN pg_temp.corr_grp g USING (tenant_id, provider, domain, ip_key)
), up AS (
	INSERT INTO dmarcsift.flags AS fl (tenant_id, provider, domain, ip_key, source_ip, kind,
		confidence, cause, first_seen, last_seen, rejects, dmarc_messages, dkim_pass_rate,
		spf_pass_rate, dmarc_pass_rate, status, evidence)
	SELECT tenant_id, provider, domain, ip_key, ip, kind, confidence, cause, first_seen,
	       last_seen, rejects, m, dkim_rate, spf_rate, dmarc_rate, status, evidence
	FROM f
	ON CONFLICT (tenant_id, provider, domain, ip_key) DO UPDATE
	SET source_ip = EXCLUDED.source_ip, kind = EXCLUDED.kind,
	    confidence = EXCLUDED.confidence, cause = EXCLUDED.cause,
	    first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
	    rejects = EXCLUDED.rejects, dmarc_messages = EXCLUDED.dmarc_messages,
	    dkim_pass_rate = EXCLUDED.dkim_pass_rate, spf_pass_rate = EXCLUDED.spf_pass_rate,
	    dmarc_pass_rate = EXCLUDED.dmarc_pass_rate, status = EXCLUDED.status,
	    evidence = EXCLUDED.evidence, updated_at = now()
	WHERE (fl.source_ip, fl.kind, fl.confidence, fl.cause, fl.first_seen, fl.last_seen,
	       fl.rejects, fl.dmarc_messages, fl.dkim_pass_rate, fl.spf_pass_rate,
	       fl.dmarc_pass_rate, fl.status, fl.evidence)
	      IS DISTINCT FROM
	      (EXCLUDED.source_ip, EXCLUDED.kind, EXCLUDED.confidence, EXCLUDED.cause,
	       EXCLUDED.first_seen, EXCLUDED.last_seen, EXCLUDED.rejects, EXCLUDED.dmarc_messages,
	       EXCLUDED.dkim_pass_rate, EXCLUDED.spf_pass_rate, EXCLUDED.dmarc_pass_rate,
	       EXCLUDED.status, EXCLUDED.evidence)
	RETURNING fl.tenant_id, fl.id, fl.provider, fl.domain, fl.ip_key, fl.status,
	          (xmax = 0) AS created
), ev AS (
	INSERT INTO pg_temp.corr_events (tenant_id, id)
	SELECT u.tenant_id, u.id
	FROM up u
	LEFT JOIN old o USING (tenant_id, provider, domain, ip_key)
	WHERE u.status <> 'resolved' AND (u.created OR o.status = 'resolved')
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),
       (SELECT count(*) FROM pg_temp.corr_grp)
FROM up;
