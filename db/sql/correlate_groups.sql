-- correlate_groups: the bounce side of every group in corr_keys, one row
-- per group in corr_grp.
--
-- A group's rejects are its policy-class events that were not deliveries
-- (auth_failure, policy, blocklisted, reputation, content; deferrals
-- included: a 4.7.x "try later" is the provider saying no). Only the
-- current episode counts: a gap of `resolve` or more between two rejects
-- starts a new one (the flag was resolved in between and reopens).
-- The aggregate data window is the episode's UTC days widened by one day
-- on each side (reports lag, and report days are not bounce days):
-- [first day - 1, last day + 2).
CREATE TEMP TABLE corr_grp ON COMMIT DROP AS
WITH ev0 AS (
	SELECT k.tenant_id, k.provider, k.domain, k.ip_key, b.id, b.at, b.sending_ip, b.class,
	       b.rule, b.text, b.listed_on, b.listed_asset, b.from_org_domain,
	       concat_ws(' ', b.reply_code::text, b.enhanced_code) AS code,
	       coalesce(b.ip_source, CASE WHEN b.sending_ip IS NULL THEN 'none' ELSE 'log' END)
	           AS ip_source,
	       CASE WHEN b.at - lag(b.at) OVER w >= p.resolve THEN 1 ELSE 0 END AS brk
	FROM pg_temp.corr_keys k
	CROSS JOIN pg_temp.corr_params p
	JOIN dmarcsift.bounces b ON b.tenant_id = k.tenant_id AND b.provider = k.provider
	 AND b.from_domain = k.domain AND coalesce(host(b.sending_ip), '') = k.ip_key
	WHERE b.status <> 'delivered'
	  AND b.class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
	  AND b.at IS NOT NULL
	WINDOW w AS (PARTITION BY k.tenant_id, k.provider, k.domain, k.ip_key ORDER BY b.at, b.id)
), ev1 AS (
	SELECT ev0.*,
	       sum(brk) OVER (PARTITION BY tenant_id, provider, domain, ip_key ORDER BY at, id) AS ep
	FROM ev0
), ev AS (
	SELECT * FROM (
		SELECT ev1.*, max(ep) OVER (PARTITION BY tenant_id, provider, domain, ip_key) AS last_ep
		FROM ev1
	) z WHERE ep = last_ep
), base AS (
	SELECT tenant_id, provider, domain, ip_key,
	       max(sending_ip) AS ip,
	       coalesce(max(from_org_domain), domain) AS org,
	       min(at) AS first_seen, max(at) AS last_seen, count(*) AS rejects,
	       max(last_ep) + 1 AS episodes,
	       count(*) FILTER (WHERE class = 'auth_failure'
	                        OR text ~* '\m(spf|dkim|dmarc)\M') AS auth_texts,
	       bool_or(text ~* '\mdkim\M') AS text_dkim,
	       bool_or(text ~* '\mspf\M') AS text_spf,
	       bool_or(class = 'auth_failure' OR text ~* '\mdmarc\M') AS text_dmarc,
	       mode() WITHIN GROUP (ORDER BY class) FILTER (WHERE class <> 'auth_failure')
	           AS other_class,
	       mode() WITHIN GROUP (ORDER BY class) AS top_class,
	       mode() WITHIN GROUP (ORDER BY code) AS top_code,
	       mode() WITHIN GROUP (ORDER BY listed_on) AS listed_on,
	       mode() WITHIN GROUP (ORDER BY listed_asset) AS listed_asset,
	       mode() WITHIN GROUP (ORDER BY ip_source) AS ip_source
	FROM ev GROUP BY tenant_id, provider, domain, ip_key
), counts AS (
	SELECT tenant_id, provider, domain, ip_key,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'class') AS classes,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'code') AS codes,
	       jsonb_object_agg(k, n) FILTER (WHERE what = 'ip_source') AS ip_sources
	FROM (
		SELECT tenant_id, provider, domain, ip_key, 'class' AS what, class AS k, count(*) AS n
		FROM ev GROUP BY 1, 2, 3, 4, 6
		UNION ALL
		SELECT tenant_id, provider, domain, ip_key, 'code', code, count(*)
		FROM ev WHERE code <> '' GROUP BY 1, 2, 3, 4, 6
		UNION ALL
		SELECT tenant_id, provider, domain, ip_key, 'ip_source', ip_source, count(*)
		FROM ev GROUP BY 1, 2, 3, 4, 6
	) c
	GROUP BY tenant_id, provider, domain, ip_key
), samples AS (
	-- up to 5 distinct reply texts, newest first
	SELECT tenant_id, provider, domain, ip_key,
	       jsonb_agg(jsonb_build_object(
	           'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	           'rule', rule, 'class', class, 'code', nullif(code, ''), 'text', text)
	           ORDER BY at DESC, id DESC) AS samples
	FROM (
		SELECT s.*, row_number() OVER (PARTITION BY tenant_id, provider, domain, ip_key
		                               ORDER BY at DESC, id DESC) AS rk
		FROM (
			SELECT DISTINCT ON (tenant_id, provider, domain, ip_key, coalesce(text, ''))
			       tenant_id, provider, domain, ip_key, id, at, rule, class, code, text
			FROM ev
			ORDER BY tenant_id, provider, domain, ip_key, coalesce(text, ''), at DESC, id DESC
		) s
	) z
	WHERE rk <= 5
	GROUP BY tenant_id, provider, domain, ip_key
)
SELECT b.*,
       (b.first_seen AT TIME ZONE 'UTC')::date - 1 AS win_from_day,
       (b.last_seen AT TIME ZONE 'UTC')::date + 2 AS win_to_day,
       ((b.first_seen AT TIME ZONE 'UTC')::date - 1)::timestamp AT TIME ZONE 'UTC' AS win_from,
       ((b.last_seen AT TIME ZONE 'UTC')::date + 2)::timestamp AT TIME ZONE 'UTC' AS win_to,
       c.classes, c.codes, c.ip_sources, s.samples,
       ARRAY(SELECT o.org FROM pg_temp.corr_orgs o WHERE o.provider = b.provider) AS orgs
FROM base b
LEFT JOIN counts c USING (tenant_id, provider, domain, ip_key)
LEFT JOIN samples s USING (tenant_id, provider, domain, ip_key);
