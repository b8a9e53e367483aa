-- correlate_groups: the bounce side of every group in corr_keys, one row
-- per group in corr_grp, from the groups' day rows (dmarcsift.bounce_days,
-- 0025_bounce_days.sql: one per group and UTC day with rejects).
--
-- A group's rejects are its policy-class events that were not deliveries
-- (auth_failure, policy, blocklisted, reputation, content; deferrals
-- included: a 4.7.x "try later" is the provider saying no). Only the
-- current episode counts: a gap of `resolve` or more between two rejects
-- starts a new one (the flag was resolved in between and reopens). resolve
-- is at least a day, so a gap that long lies between two day rows: from the
-- last reject of the one to the first of the next.
-- The aggregate data window is the episode's UTC days widened by one day
-- on each side (reports lag, and report days are not bounce days):
-- [first day - 1, last day + 2).
--
-- Modes (class, code, listing, ip_source) are taken from the summed counts
-- as mode() takes them: the most frequent value, the first in sort order
-- on a tie. Samples: up to 5 distinct reply texts, newest first, from the
-- days' own newest five.
--
-- Everything is keyed by the group's number (corr_keys.gid), the group's
-- key columns are joined back at the end.
--
-- A pass reads each group's day rows in [corr_keys.lo, hi) and, where
-- corr_keys.pseudo, its kept state (dmarcsift.flag_state, 0038) as one day
-- row before them that sums the episode up to lo (its breaks before that
-- episode added to the count). When the episode still includes that row,
-- st_used: the aggregate side then reads only reports beginning from lo
-- (cut_at) besides the state's sums. A state pass (hi finite: the new cut)
-- takes the reports beginning before hi, since the episode goes on after it.
CREATE TEMP TABLE corr_grp ON COMMIT DROP AS
WITH d0 AS (
	SELECT k.gid, d.*,
	       -- the day an episode begins on (not the first one)
	       CASE WHEN d.first_at - lag(d.last_at) OVER w >= p.resolve THEN d.day END AS brk
	FROM pg_temp.corr_keys k
	CROSS JOIN pg_temp.corr_params p
	CROSS JOIN LATERAL (
		-- the kept state first (one row for the days before lo), then the
		-- day rows in [lo, hi)
		SELECT true AS st, s.cut - 1 AS day, s.rejects, s.first_at, s.last_at, s.sending_ip,
		       s.org, s.auth_texts, s.text_dkim, s.text_spf, s.text_dmarc, s.classes, s.codes,
		       s.ip_sources, s.listed_on, s.listed_asset, s.samples
		FROM dmarcsift.flag_state s
		WHERE k.pseudo AND s.tenant_id = k.tenant_id AND s.provider = k.provider
		  AND s.domain = k.domain AND s.ip_key = k.ip_key
		UNION ALL
		SELECT false, d.day, d.rejects, d.first_at, d.last_at, d.sending_ip, d.org, d.auth_texts,
		       d.text_dkim, d.text_spf, d.text_dmarc, d.classes, d.codes, d.ip_sources,
		       d.listed_on, d.listed_asset, d.samples
		FROM dmarcsift.bounce_days d
		WHERE d.tenant_id = k.tenant_id AND d.provider = k.provider AND d.domain = k.domain
		  AND d.ip_key = k.ip_key AND d.day >= k.lo AND d.day < k.hi
	) d
	WINDOW w AS (PARTITION BY k.gid ORDER BY d.day)
), ev AS (
	-- the days of the last episode, with the number of breaks before it
	SELECT * FROM (
		SELECT d0.*, max(brk) OVER g AS last_brk, count(brk) OVER g AS last_ep
		FROM d0
		WINDOW g AS (PARTITION BY gid)
	) z WHERE last_brk IS NULL OR day >= last_brk
), base AS (
	SELECT gid,
	       max(sending_ip) AS ip,
	       max(org) AS org,
	       min(first_at) AS first_seen, max(last_at) AS last_seen,
	       sum(rejects)::bigint AS rejects,
	       max(last_ep) + 1 AS episodes, -- the state's own breaks added below
	       bool_or(st) AS st_used,
	       sum(auth_texts)::bigint AS auth_texts,
	       bool_or(text_dkim) AS text_dkim,
	       bool_or(text_spf) AS text_spf,
	       bool_or(text_dmarc) AS text_dmarc
	FROM ev GROUP BY gid
), cnt AS (
	-- the five count maps of every day, in one pass over the days
	SELECT ev.gid, m.what, c.key AS k, sum(c.value::bigint)::bigint AS n
	FROM ev
	CROSS JOIN LATERAL (VALUES ('class', ev.classes), ('code', ev.codes),
	                           ('ip_source', ev.ip_sources), ('listed_on', ev.listed_on),
	                           ('listed_asset', ev.listed_asset)) AS m(what, j)
	CROSS JOIN LATERAL jsonb_each_text(m.j) AS c
	GROUP BY ev.gid, m.what, c.key
), counts AS (
	SELECT gid,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'class'
	                                               AND k <> 'auth_failure'))[1] AS other_class,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'class'))[1] AS top_class,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'code'))[1] AS top_code,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'listed_on'))[1] AS listed_on,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'listed_asset'))[1]
	           AS listed_asset,
	       (array_agg(k ORDER BY n DESC, k) FILTER (WHERE what = 'ip_source'))[1] AS ip_source,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'class') AS classes,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'code' AND k <> '') AS codes,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'ip_source') AS ip_sources,
	       -- the whole maps, for a state to keep (correlate_state_write.sql)
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'code') AS codes_all,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'listed_on') AS listed_ons,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'listed_asset') AS listed_assets
	FROM cnt
	GROUP BY gid
), samples AS (
	SELECT gid,
	       jsonb_agg(s - 'k_at' - 'k_id' ORDER BY (s ->> 'k_at')::numeric DESC,
	                 (s ->> 'k_id')::bigint DESC) AS samples,
	       jsonb_agg(s ORDER BY (s ->> 'k_at')::numeric DESC, (s ->> 'k_id')::bigint DESC)
	           AS samples_k
	FROM (
		SELECT s.*, row_number() OVER (PARTITION BY gid
		                               ORDER BY (s ->> 'k_at')::numeric DESC,
		                                        (s ->> 'k_id')::bigint DESC) AS rk
		FROM (
			-- texts compared byte by byte: only equal ones matter here
			SELECT DISTINCT ON (ev.gid, coalesce(x.s ->> 'text', '') COLLATE "C") ev.gid, x.s
			FROM ev, jsonb_array_elements(ev.samples) x(s)
			ORDER BY ev.gid, coalesce(x.s ->> 'text', '') COLLATE "C", (x.s ->> 'k_at')::numeric DESC,
			         (x.s ->> 'k_id')::bigint DESC
		) s
	) z
	WHERE rk <= 5
	GROUP BY gid
)
SELECT k.tenant_id, k.provider, k.domain, k.ip_key, b.gid, b.ip, coalesce(b.org, k.domain) AS org,
       b.org AS org_raw, b.first_seen, b.last_seen, b.rejects, b.episodes + k.breaks AS episodes,
       b.auth_texts, b.text_dkim, b.text_spf, b.text_dmarc, c.other_class, c.top_class, c.top_code,
       c.listed_on, c.listed_asset, c.ip_source,
       (b.first_seen AT TIME ZONE 'UTC')::date - 1 AS win_from_day,
       w.to_day AS win_to_day,
       ((b.first_seen AT TIME ZONE 'UTC')::date - 1)::timestamp AT TIME ZONE 'UTC' AS win_from,
       w.to_day::timestamp AT TIME ZONE 'UTC' AS win_to,
       -- the kept state is part of the episode: the aggregate rows of
       -- reports beginning before lo are in it, and only later ones are read
       b.st_used, CASE WHEN b.st_used THEN k.lo::timestamp AT TIME ZONE 'UTC' END AS cut_at,
       c.classes, c.codes, c.ip_sources, c.codes_all, c.listed_ons, c.listed_assets, s.samples,
       s.samples_k,
       ARRAY(SELECT o.org FROM pg_temp.corr_orgs o WHERE o.provider = k.provider) AS orgs
FROM base b
JOIN pg_temp.corr_keys k USING (gid)
-- a state pass (hi finite) reads the reports beginning before its cut: the
-- episode goes on after it (the cut lies two days before its newest day)
CROSS JOIN LATERAL (
	SELECT CASE WHEN k.hi = 'infinity' THEN (b.last_seen AT TIME ZONE 'UTC')::date + 2
	            ELSE k.hi END AS to_day) w
LEFT JOIN counts c USING (gid)
LEFT JOIN samples s USING (gid);
