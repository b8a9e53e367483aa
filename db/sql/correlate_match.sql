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
CREATE TEMP TABLE corr_match ON COMMIT DROP AS
WITH g_org AS MATERIALIZED (
	-- each group once per org name of its provider: the exact lookups
	-- below then probe the index on (tenant, source IP, From, org name,
	-- begin) with an equality on the org name, reading one reporter's rows
	-- instead of every reporter's (org_name = ANY (g.orgs) was applied
	-- only as a filter after the heap fetch). OFFSET 0 keeps each lookup a
	-- probe per group: planned as a join, the misestimated sizes led to a
	-- merge join over all of record_sources.
	SELECT g.gid, g.tenant_id, g.domain, g.org, g.ip, g.win_from, g.win_to, o.org AS rorg
	FROM pg_temp.corr_grp g
	JOIN pg_temp.corr_orgs o ON o.provider = g.provider
), m_all AS (
	SELECT g.gid, g.org, 'exact'::text AS how, s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails
	FROM g_org g
	CROSS JOIN LATERAL (
		SELECT * FROM dmarcsift.record_sources s
		WHERE s.tenant_id = g.tenant_id AND s.source_ip = g.ip AND s.header_from = g.domain
		  AND s.org_name = g.rorg AND s.begin_at < g.win_to AND s.end_at > g.win_from
		OFFSET 0) s
	WHERE g.ip IS NOT NULL
	UNION ALL
	SELECT g.gid, g.org, 'exact', s.report_pk, s.source_ip, s.messages, s.dkim_pass,
	       s.spf_pass, s.dmarc_pass, s.begin_at, s.fails
	FROM g_org g
	CROSS JOIN LATERAL (
		SELECT * FROM dmarcsift.record_sources s
		WHERE s.tenant_id = g.tenant_id AND s.header_from = g.domain AND s.org_name = g.rorg
		  AND s.begin_at < g.win_to AND s.end_at > g.win_from
		OFFSET 0) s
	WHERE g.ip IS NULL
	UNION ALL
	SELECT g.gid, g.org, 'organisational', s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails
	FROM pg_temp.corr_grp g
	JOIN dmarcsift.record_sources s ON s.tenant_id = g.tenant_id AND s.source_ip = g.ip
	 AND (s.header_from = g.org OR s.policy_domain = g.org) AND s.org_name = ANY (g.orgs)
	 AND s.begin_at < g.win_to AND s.end_at > g.win_from
	WHERE g.ip IS NOT NULL AND g.org <> g.domain
	UNION ALL
	SELECT g.gid, g.org, 'organisational', s.report_pk,
	       s.source_ip, s.messages, s.dkim_pass, s.spf_pass,
	       s.dmarc_pass, s.begin_at, s.fails
	FROM pg_temp.corr_grp g
	JOIN dmarcsift.record_sources s ON s.tenant_id = g.tenant_id
	 AND (s.header_from = g.org OR s.policy_domain = g.org) AND s.org_name = ANY (g.orgs)
	 AND s.begin_at < g.win_to AND s.end_at > g.win_from
	WHERE g.ip IS NULL AND g.org <> g.domain
), m_prov AS (
	SELECT * FROM m_all
)
SELECT p.* FROM m_prov p
WHERE p.how = 'exact' OR NOT EXISTS (
	SELECT 1 FROM m_prov q
	WHERE q.gid = p.gid AND q.how = 'exact');
