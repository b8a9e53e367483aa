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
CREATE TEMP TABLE corr_grp ON COMMIT DROP AS
WITH d0 AS (
	SELECT d.*,
	       CASE WHEN d.first_at - lag(d.last_at) OVER w >= p.resolve THEN 1 ELSE 0 END AS brk
	FROM pg_temp.corr_keys k
	CROSS JOIN pg_temp.corr_params p
	JOIN dmarcsift.bounce_days d ON d.tenant_id = k.tenant_id AND d.provider = k.provider
	 AND d.domain = k.domain AND d.ip_key = k.ip_key
	WINDOW w AS (PARTITION BY d.tenant_id, d.provider, d.domain, d.ip_key ORDER BY d.day)
), d1 AS (
	SELECT d0.*,
	       sum(brk) OVER (PARTITION BY tenant_id, provider, domain, ip_key ORDER BY day) AS ep
	FROM d0
), ev AS (
	SELECT * FROM (
		SELECT d1.*, max(ep) OVER (PARTITION BY tenant_id, provider, domain, ip_key) AS last_ep
		FROM d1
	) z WHERE ep = last_ep
), base AS (
	SELECT tenant_id, provider, domain, ip_key,
	       max(sending_ip) AS ip,
	       coalesce(max(org), domain) AS org,
	       min(first_at) AS first_seen, max(last_at) AS last_seen,
	       sum(rejects)::bigint AS rejects,
	       max(last_ep) + 1 AS episodes,
	       sum(auth_texts)::bigint AS auth_texts,
	       bool_or(text_dkim) AS text_dkim,
	       bool_or(text_spf) AS text_spf,
	       bool_or(text_dmarc) AS text_dmarc
	FROM ev GROUP BY tenant_id, provider, domain, ip_key
), cnt AS (
	SELECT tenant_id, provider, domain, ip_key, what, k, sum(n)::bigint AS n
	FROM (
		SELECT ev.tenant_id, ev.provider, ev.domain, ev.ip_key, 'class' AS what, c.key AS k,
		       c.value::bigint AS n
		FROM ev, jsonb_each_text(ev.classes) c
		UNION ALL
		SELECT ev.tenant_id, ev.provider, ev.domain, ev.ip_key, 'code', c.key, c.value::bigint
		FROM ev, jsonb_each_text(ev.codes) c
		UNION ALL
		SELECT ev.tenant_id, ev.provider, ev.domain, ev.ip_key, 'ip_source', c.key,
		       c.value::bigint
		FROM ev, jsonb_each_text(ev.ip_sources) c
		UNION ALL
		SELECT ev.tenant_id, ev.provider, ev.domain, ev.ip_key, 'listed_on', c.key,
		       c.value::bigint
		FROM ev, jsonb_each_text(ev.listed_on) c
		UNION ALL
		SELECT ev.tenant_id, ev.provider, ev.domain, ev.ip_key, 'listed_asset', c.key,
		       c.value::bigint
		FROM ev, jsonb_each_text(ev.listed_asset) c
	) x
	GROUP BY tenant_id, provider, domain, ip_key, what, k
), counts AS (
	SELECT tenant_id, provider, domain, ip_key,
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
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'ip_source') AS ip_sources
	FROM cnt
	GROUP BY tenant_id, provider, domain, ip_key
), samples AS (
	SELECT tenant_id, provider, domain, ip_key,
	       jsonb_agg(s - 'k_at' - 'k_id' ORDER BY (s ->> 'k_at')::numeric DESC,
	                 (s ->> 'k_id')::bigint DESC) AS samples
	FROM (
		SELECT s.*, row_number() OVER (PARTITION BY tenant_id, provider, domain, ip_key
		                               ORDER BY (s ->> 'k_at')::numeric DESC,
		                                        (s ->> 'k_id')::bigint DESC) AS rk
		FROM (
			SELECT DISTINCT ON (ev.tenant_id, ev.provider, ev.domain, ev.ip_key,
			                    coalesce(x.s ->> 'text', ''))
			       ev.tenant_id, ev.provider, ev.domain, ev.ip_key, x.s
			FROM ev, jsonb_array_elements(ev.samples) x(s)
			ORDER BY ev.tenant_id, ev.provider, ev.domain, ev.ip_key,
			         coalesce(x.s ->> 'text', ''), (x.s ->> 'k_at')::numeric DESC,
			         (x.s ->> 'k_id')::bigint DESC
		) s
	) z
	WHERE rk <= 5
	GROUP BY tenant_id, provider, domain, ip_key
)
SELECT b.*, c.other_class, c.top_class, c.top_code, c.listed_on, c.listed_asset, c.ip_source,
       (b.first_seen AT TIME ZONE 'UTC')::date - 1 AS win_from_day,
       (b.last_seen AT TIME ZONE 'UTC')::date + 2 AS win_to_day,
       ((b.first_seen AT TIME ZONE 'UTC')::date - 1)::timestamp AT TIME ZONE 'UTC' AS win_from,
       ((b.last_seen AT TIME ZONE 'UTC')::date + 2)::timestamp AT TIME ZONE 'UTC' AS win_to,
       c.classes, c.codes, c.ip_sources, s.samples,
       ARRAY(SELECT o.org FROM pg_temp.corr_orgs o WHERE o.provider = b.provider) AS orgs
FROM base b
LEFT JOIN counts c USING (tenant_id, provider, domain, ip_key)
LEFT JOIN samples s USING (tenant_id, provider, domain, ip_key);
