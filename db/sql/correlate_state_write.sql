-- correlate_state_write: the kept states of the state pass's groups
-- (corr_keys.n_cut; see correlate_state_plan.sql), from what the pass's
-- correlate_groups.sql and correlate_match.sql found for the days before
-- the new cut: the episode's bounce side as one bounce_days-like row, and of
-- the matched aggregate rows what the verdict needs later — the sums per
-- source address, every failing identifier with its messages, the number of
-- reports, and the reports that can be among the first ten by time (those
-- with fewer than ten others beginning before them; with ten or more, the
-- first ten as the evidence lists them: no later report can be one). The rows of an old
-- state read by the pass are in these sums as rows of their own.
WITH fl AS (
	SELECT m.gid, f.kind, f.domain, f.selector, f.result, sum(f.messages) AS n
	FROM pg_temp.corr_match m
	CROSS JOIN LATERAL jsonb_to_recordset(m.fails)
	    AS f(kind text, domain text, selector text, result text, messages bigint)
	WHERE m.fails IS NOT NULL
	GROUP BY 1, 2, 3, 4, 5
), flj AS (
	SELECT gid,
	       jsonb_agg(jsonb_build_object('kind', kind, 'domain', domain, 'selector', selector,
	                                    'result', result, 'messages', n)
	                 ORDER BY kind, domain, selector, result) AS fails
	FROM fl GROUP BY gid
), by_ip AS (
	-- the rows without an address are the state's report count, its first
	-- ten and the report candidates
	SELECT gid, source_ip, sum(messages)::bigint AS m, sum(dkim_pass)::bigint AS dk,
	       sum(spf_pass)::bigint AS sp, sum(dmarc_pass)::bigint AS dm, min(how) AS how,
	       sum(nrep) AS nrep, (array_agg(items) FILTER (WHERE items IS NOT NULL))[1] AS items
	FROM pg_temp.corr_match
	GROUP BY gid, source_ip
), sums AS (
	SELECT gid, min(how) AS how, coalesce(sum(nrep), 0) AS nrep,
	       (array_agg(items) FILTER (WHERE items IS NOT NULL))[1] AS items,
	       coalesce(array_agg(source_ip ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL),
	                '{}') AS ips,
	       coalesce(array_agg(m ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL), '{}')
	           AS m,
	       coalesce(array_agg(dk ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL), '{}')
	           AS dk,
	       coalesce(array_agg(sp ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL), '{}')
	           AS sp,
	       coalesce(array_agg(dm ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL), '{}')
	           AS dm
	FROM by_ip GROUP BY gid
), reps AS (
	-- every report once: those read (st 0) are counted, and those with
	-- fewer than ten others beginning before them are the candidates
	SELECT gid, count(*) FILTER (WHERE st = 0) AS nread,
	       array_agg(report_pk ORDER BY begin_at, report_pk) FILTER (WHERE pre <= 10) AS pks,
	       array_agg(begin_at ORDER BY begin_at, report_pk) FILTER (WHERE pre <= 10) AS begins
	FROM (
		SELECT y.*, rank() OVER (PARTITION BY gid ORDER BY begin_at) AS pre
		FROM (SELECT DISTINCT gid, report_pk, begin_at, st FROM pg_temp.corr_match
		      WHERE report_pk IS NOT NULL) y
	) w
	GROUP BY gid
), st AS (
	-- with ten reports or more, the first ten as the evidence lists them:
	-- the old state's, or from the candidates
	SELECT a.gid, a.how, a.ips, a.m, a.dk, a.sp, a.dm, r.pks, r.begins,
	       a.nrep + coalesce(r.nread, 0) AS nreports,
	       CASE WHEN a.items IS NOT NULL THEN a.items
	            WHEN a.nrep + coalesce(r.nread, 0) >= 10 THEN (
	                SELECT jsonb_agg(dmarcsift.report_item(x.org_name, x.report_id,
	                                                       x.policy_domain, x.begin_at, x.end_at)
	                                 ORDER BY x.begin_at, x.org_name, x.report_id, x.id)
	                FROM (SELECT p.* FROM dmarcsift.reports p
	                      WHERE p.tenant_id = k.tenant_id AND p.id = ANY (r.pks)
	                      ORDER BY p.begin_at, p.org_name, p.report_id, p.id LIMIT 10) x)
	       END AS items
	FROM sums a
	JOIN pg_temp.corr_keys k ON k.gid = a.gid
	LEFT JOIN reps r ON r.gid = a.gid
)
INSERT INTO dmarcsift.flag_state AS fs (tenant_id, provider, domain, ip_key, cut, resolve,
	orgs, breaks, first_at, last_at, rejects, sending_ip, org, auth_texts, text_dkim, text_spf,
	text_dmarc, classes, codes, ip_sources, listed_on, listed_asset, samples, how, nreports,
	fails, report_pks, report_begins, report_items, ips, ip_messages, ip_dkim, ip_spf,
	ip_dmarc)
SELECT g.tenant_id, g.provider, g.domain, g.ip_key, k.n_cut, p.resolve,
       ARRAY(SELECT o FROM unnest(g.orgs) o ORDER BY o), g.episodes - 1, g.first_seen,
       g.last_seen, g.rejects, g.ip, g.org_raw, g.auth_texts, g.text_dkim, g.text_spf,
       g.text_dmarc, coalesce(g.classes, '{}'), coalesce(g.codes_all, '{}'),
       coalesce(g.ip_sources, '{}'), coalesce(g.listed_ons, '{}'),
       coalesce(g.listed_assets, '{}'), coalesce(g.samples_k, '[]'), a.how,
       coalesce(a.nreports, 0), f.fails, coalesce(a.pks, '{}'), coalesce(a.begins, '{}'), a.items,
       coalesce(a.ips, '{}'), coalesce(a.m, '{}'), coalesce(a.dk, '{}'), coalesce(a.sp, '{}'),
       coalesce(a.dm, '{}')
FROM pg_temp.corr_grp g
JOIN pg_temp.corr_keys k ON k.gid = g.gid
CROSS JOIN pg_temp.corr_params p
LEFT JOIN st a ON a.gid = g.gid
LEFT JOIN flj f ON f.gid = g.gid
WHERE k.n_cut IS NOT NULL
ON CONFLICT (tenant_id, provider, domain, ip_key) DO UPDATE
SET cut = EXCLUDED.cut, resolve = EXCLUDED.resolve, orgs = EXCLUDED.orgs,
    breaks = EXCLUDED.breaks, first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at,
    rejects = EXCLUDED.rejects, sending_ip = EXCLUDED.sending_ip, org = EXCLUDED.org,
    auth_texts = EXCLUDED.auth_texts, text_dkim = EXCLUDED.text_dkim,
    text_spf = EXCLUDED.text_spf, text_dmarc = EXCLUDED.text_dmarc,
    classes = EXCLUDED.classes, codes = EXCLUDED.codes, ip_sources = EXCLUDED.ip_sources,
    listed_on = EXCLUDED.listed_on, listed_asset = EXCLUDED.listed_asset,
    samples = EXCLUDED.samples, how = EXCLUDED.how, nreports = EXCLUDED.nreports,
    fails = EXCLUDED.fails, report_pks = EXCLUDED.report_pks,
    report_begins = EXCLUDED.report_begins, report_items = EXCLUDED.report_items,
    ips = EXCLUDED.ips,
    ip_messages = EXCLUDED.ip_messages, ip_dkim = EXCLUDED.ip_dkim, ip_spf = EXCLUDED.ip_spf,
    ip_dmarc = EXCLUDED.ip_dmarc
