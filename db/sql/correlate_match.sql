-- correlate_match: the aggregate data behind every group of corr_grp, one
-- row per matching record_sources row, into corr_match (with the report's
-- begin_at, so the evidence's first reports are found without reading
-- every report of a group, and the row's failing identifiers, 0030).
--
-- A row matches when the same provider reported it (its org_name is one
-- the provider map gives that provider: corr_grp.orgs), its report window overlaps the
-- group's window, and it is about the group's sending IP (any IP for a
-- group without one) and From domain. Only when no row is about the exact
-- domain, rows about its organisational domain are taken: header From
-- equal to it, or reports published for it (sp= covers subdomains).
-- With a kept state in the episode (corr_grp.st_used), only reports
-- beginning from its cut are read, and the state's sums join them as rows
-- of their own (st > 0, below), subject to the same exact-or-organisational
-- rule. The window's end is a filter, not an index bound: with two bounds
-- on begin_at the planner takes every probe for a row and prefers the
-- smaller index without the source address, filtering ten times the rows.
CREATE TEMP TABLE corr_match ON COMMIT DROP AS
WITH g_org AS MATERIALIZED (
	-- each group once per org name of its provider: the exact lookups
	-- below then probe the index on (tenant, source IP, From, org name,
	-- begin) with an equality on the org name, reading one reporter's rows
	-- instead of every reporter's (org_name = ANY (g.orgs) was applied
	-- only as a filter after the heap fetch). OFFSET 0 keeps each lookup a
	-- probe per group: planned as a join, the misestimated sizes led to a
	-- merge join over all of record_sources.
	SELECT g.gid, g.tenant_id, g.domain, g.org, g.ip, g.win_from, g.win_to, g.cut_at,
	       o.org AS rorg
	FROM pg_temp.corr_grp g
	JOIN pg_temp.corr_orgs o ON o.provider = g.provider
), m_all AS (
	SELECT g.gid, g.org, 'exact'::text AS how, s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails, 0::smallint AS st, NULL::bigint AS nrep,
	       NULL::jsonb AS items
	FROM g_org g
	CROSS JOIN LATERAL (
		SELECT * FROM dmarcsift.record_sources s
		WHERE s.tenant_id = g.tenant_id AND s.source_ip = g.ip AND s.header_from = g.domain
		  AND s.org_name = g.rorg AND s.begin_at + interval '0 s' < g.win_to AND s.end_at > g.win_from
		  AND s.begin_at >= coalesce(g.cut_at, '-infinity')
		OFFSET 0) s
	WHERE g.ip IS NOT NULL
	UNION ALL
	SELECT g.gid, g.org, 'exact', s.report_pk, s.source_ip, s.messages, s.dkim_pass,
	       s.spf_pass, s.dmarc_pass, s.begin_at, s.fails, 0, NULL, NULL
	FROM g_org g
	CROSS JOIN LATERAL (
		SELECT * FROM dmarcsift.record_sources s
		WHERE s.tenant_id = g.tenant_id AND s.header_from = g.domain AND s.org_name = g.rorg
		  AND s.begin_at + interval '0 s' < g.win_to AND s.end_at > g.win_from
		  AND s.begin_at >= coalesce(g.cut_at, '-infinity')
		OFFSET 0) s
	WHERE g.ip IS NULL
	UNION ALL
	SELECT g.gid, g.org, 'organisational', s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails, 0, NULL, NULL
	FROM pg_temp.corr_grp g
	JOIN dmarcsift.record_sources s ON s.tenant_id = g.tenant_id AND s.source_ip = g.ip
	 AND (s.header_from = g.org OR s.policy_domain = g.org) AND s.org_name = ANY (g.orgs)
	 AND s.begin_at + interval '0 s' < g.win_to AND s.end_at > g.win_from
		  AND s.begin_at >= coalesce(g.cut_at, '-infinity')
	WHERE g.ip IS NOT NULL AND g.org <> g.domain
	UNION ALL
	SELECT g.gid, g.org, 'organisational', s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails, 0, NULL, NULL
	FROM pg_temp.corr_grp g
	JOIN dmarcsift.record_sources s ON s.tenant_id = g.tenant_id
	 AND (s.header_from = g.org OR s.policy_domain = g.org) AND s.org_name = ANY (g.orgs)
	 AND s.begin_at + interval '0 s' < g.win_to AND s.end_at > g.win_from
		  AND s.begin_at >= coalesce(g.cut_at, '-infinity')
	WHERE g.ip IS NULL AND g.org <> g.domain
	UNION ALL
	-- the kept state's part (reports beginning before the cut) as rows of
	-- the same shape: the sums per source address (st 1); one row with the
	-- failing identifiers, the number of reports (nrep) and, when the state
	-- has ten reports or more, the first ten as the evidence lists them
	-- (items: no later report can be among them); else the reports that can
	-- be among the first ten (st 2), without sums
	SELECT g.gid, g.org, s.how, x.report_pk, x.source_ip, x.messages, x.dkim_pass,
	       x.spf_pass, x.dmarc_pass, x.begin_at, x.fails, x.st, x.nrep, x.items
	FROM pg_temp.corr_grp g
	JOIN dmarcsift.flag_state s ON s.tenant_id = g.tenant_id AND s.provider = g.provider
	 AND s.domain = g.domain AND s.ip_key = g.ip_key
	CROSS JOIN LATERAL (
		SELECT NULL::bigint AS report_pk, i.ip AS source_ip, i.m AS messages,
		       i.dk AS dkim_pass, i.sp AS spf_pass, i.dm AS dmarc_pass,
		       NULL::timestamptz AS begin_at, NULL::jsonb AS fails, 1::smallint AS st,
		       NULL::bigint AS nrep, NULL::jsonb AS items
		FROM unnest(s.ips, s.ip_messages, s.ip_dkim, s.ip_spf, s.ip_dmarc) i(ip, m, dk, sp, dm)
		UNION ALL
		SELECT NULL, NULL, 0, 0, 0, 0, NULL, s.fails, 1, s.nreports, s.report_items
		UNION ALL
		SELECT r.pk, NULL, 0, 0, 0, 0, r.b, NULL, 2, NULL, NULL
		FROM unnest(s.report_pks, s.report_begins) r(pk, b)
		WHERE s.report_items IS NULL
	) x
	WHERE g.st_used AND s.how IS NOT NULL
), m_prov AS (
	SELECT * FROM m_all
)
SELECT p.* FROM m_prov p
WHERE p.how = 'exact' OR NOT EXISTS (
	SELECT 1 FROM m_prov q
	WHERE q.gid = p.gid AND q.how = 'exact');
