-- 0025_bounce_days: the bounce side of the correlator's groups summed per
-- UTC day, kept up to date at ingest, so a correlation reads one narrow row
-- per (group, day) instead of every reject's wide bounces row (finding the
-- groups and their bounce side were two thirds of a full run at 1M bounces,
-- nearly all of it heap reads of scattered rejects).
--
-- One row per (tenant, provider, From domain, sending IP or '', UTC day)
-- with policy-class rejects: exactly the rows correlate_groups.sql used to
-- read (status <> 'delivered', class auth_failure / policy / blocklisted /
-- reputation / content, provider, From domain and time known). A group's
-- flag is built from the day rows of its current episode: episodes break
-- on a gap of resolve_days (at least one day) between two rejects, which
-- never falls inside a day, so the break between two day rows is the gap
-- between the last reject of the one and the first of the next.
--
-- Counts are kept as {value: n} objects so the modes and counts of an
-- episode are sums of its days' (ties resolved as mode() does: the first
-- value in sort order). samples: the day's up to 5 newest distinct reply
-- texts as the evidence shows them, plus their time (k_at, epoch seconds)
-- and event id (k_id) to order them across days: the 5 newest distinct texts
-- of an episode are always among its days' 5 newest.
--
-- Kept by statement-level triggers on bounces (insert, a tenant move by
-- `tenant add` or `tenant remove`, delete): the touched (group, day)s are
-- recomputed from bounces through bounces_corr_idx.
CREATE TABLE dmarcsift.bounce_days (
	tenant_id    integer NOT NULL,
	provider     text NOT NULL,
	domain       text NOT NULL,
	ip_key       text NOT NULL,
	day          date NOT NULL,
	rejects      bigint NOT NULL,
	first_at     timestamptz NOT NULL,
	last_at      timestamptz NOT NULL,
	sending_ip   inet,
	org          text,             -- max(from_org_domain)
	auth_texts   bigint NOT NULL,  -- auth_failure or text naming SPF/DKIM/DMARC
	text_dkim    boolean,          -- bool_or over the day (NULL: no text at all)
	text_spf     boolean,
	text_dmarc   boolean,
	classes      jsonb NOT NULL,   -- {class: n}
	codes        jsonb NOT NULL,   -- {"550 5.7.26": n}, '' included
	ip_sources   jsonb NOT NULL,   -- {ip_source: n}
	listed_on    jsonb NOT NULL,   -- {list: n}, rejects naming one
	listed_asset jsonb NOT NULL,   -- {asset: n}
	samples      jsonb NOT NULL,   -- [{at, rule, class, code, text, k_at, k_id}]
	PRIMARY KEY (tenant_id, provider, domain, ip_key, day)
);
-- An incremental run's groups: those with rejects on the queued days.
CREATE INDEX bounce_days_day_idx ON dmarcsift.bounce_days (tenant_id, day);

DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.bounce_days'); END $$;

-- The day rows of the given (tenant, provider, domain, ip_key, day)s,
-- recomputed from bounces: deleted, then inserted where rejects remain.
CREATE FUNCTION dmarcsift.bounce_days_refresh(k_tenant integer[], k_provider text[],
	k_domain text[], k_ip text[], k_day date[]) RETURNS void
LANGUAGE sql AS $$
	DELETE FROM dmarcsift.bounce_days d
	USING unnest(k_tenant, k_provider, k_domain, k_ip, k_day)
		AS k(tenant_id, provider, domain, ip_key, day)
	WHERE d.tenant_id = k.tenant_id AND d.provider = k.provider AND d.domain = k.domain
	  AND d.ip_key = k.ip_key AND d.day = k.day;

	WITH k AS (
		SELECT DISTINCT * FROM unnest(k_tenant, k_provider, k_domain, k_ip, k_day)
			AS k(tenant_id, provider, domain, ip_key, day)
	), ev AS (
		-- tr: 1 on the newest reject of each reply text (the sample candidates)
		SELECT k.tenant_id, k.provider, k.domain, k.ip_key, k.day, b.id, b.at, b.sending_ip,
		       b.class, b.rule, b.text, b.listed_on, b.listed_asset, b.from_org_domain,
		       concat_ws(' ', b.reply_code::text, b.enhanced_code) AS code,
		       coalesce(b.ip_source, CASE WHEN b.sending_ip IS NULL THEN 'none' ELSE 'log' END)
		           AS ip_source,
		       row_number() OVER (PARTITION BY k.tenant_id, k.provider, k.domain, k.ip_key, k.day,
		                                       coalesce(b.text, '')
		                          ORDER BY b.at DESC, b.id DESC) AS tr
		FROM k
		JOIN dmarcsift.bounces b ON b.tenant_id = k.tenant_id AND b.provider = k.provider
		 AND b.from_domain = k.domain AND coalesce(host(b.sending_ip), '') = k.ip_key
		 AND b.at >= k.day::timestamp AT TIME ZONE 'UTC'
		 AND b.at < (k.day + 1)::timestamp AT TIME ZONE 'UTC'
		WHERE b.status <> 'delivered'
		  AND b.class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
	), agg AS (
		-- one pass, no joins: the counts are made from the arrays below, row
		-- by row (the sizes of k are unknown to the planner, and joining
		-- aggregates of it could become a nested loop over thousands of rows)
		SELECT tenant_id, provider, domain, ip_key, day, count(*) AS rejects, min(at) AS first_at,
		       max(at) AS last_at, max(sending_ip) AS sending_ip, max(from_org_domain) AS org,
		       count(*) FILTER (WHERE class = 'auth_failure'
		                        OR text ~* '\m(spf|dkim|dmarc)\M') AS auth_texts,
		       bool_or(text ~* '\mdkim\M') AS text_dkim,
		       bool_or(text ~* '\mspf\M') AS text_spf,
		       bool_or(class = 'auth_failure' OR text ~* '\mdmarc\M') AS text_dmarc,
		       array_agg(class) AS classes, array_agg(code) AS codes,
		       array_agg(ip_source) AS ip_sources, array_agg(listed_on) AS listed_on,
		       array_agg(listed_asset) AS listed_asset,
		       (array_agg(jsonb_build_object(
		            'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		            'rule', rule, 'class', class, 'code', nullif(code, ''), 'text', text,
		            'k_at', extract(epoch FROM at), 'k_id', id)
		            ORDER BY at DESC, id DESC) FILTER (WHERE tr = 1))[1:5] AS samples
		FROM ev GROUP BY 1, 2, 3, 4, 5
	)
	INSERT INTO dmarcsift.bounce_days (tenant_id, provider, domain, ip_key, day, rejects,
		first_at, last_at, sending_ip, org, auth_texts, text_dkim, text_spf, text_dmarc,
		classes, codes, ip_sources, listed_on, listed_asset, samples)
	SELECT a.tenant_id, a.provider, a.domain, a.ip_key, a.day, a.rejects, a.first_at,
	       a.last_at, a.sending_ip, a.org, a.auth_texts, a.text_dkim, a.text_spf,
	       a.text_dmarc,
	       (SELECT jsonb_object_agg(v, n) FROM (
	            SELECT v, count(*) AS n FROM unnest(a.classes) v GROUP BY v) c),
	       (SELECT jsonb_object_agg(v, n) FROM (
	            SELECT v, count(*) AS n FROM unnest(a.codes) v GROUP BY v) c),
	       (SELECT jsonb_object_agg(v, n) FROM (
	            SELECT v, count(*) AS n FROM unnest(a.ip_sources) v GROUP BY v) c),
	       (SELECT coalesce(jsonb_object_agg(v, n), '{}') FROM (
	            SELECT v, count(*) AS n FROM unnest(a.listed_on) v WHERE v IS NOT NULL
	            GROUP BY v) c),
	       (SELECT coalesce(jsonb_object_agg(v, n), '{}') FROM (
	            SELECT v, count(*) AS n FROM unnest(a.listed_asset) v WHERE v IS NOT NULL
	            GROUP BY v) c),
	       to_jsonb(a.samples)
	FROM agg a;
$$;

-- The (group, day)s of the policy-class rejects among the changed rows.
CREATE FUNCTION dmarcsift.bounce_days_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcsift.bounce_days_refresh(array_agg(tenant_id), array_agg(provider),
		array_agg(from_domain), array_agg(ip_key), array_agg(day))
	FROM (
		SELECT DISTINCT tenant_id, provider, from_domain,
		       coalesce(host(sending_ip), '') AS ip_key, (at AT TIME ZONE 'UTC')::date AS day
		FROM new_rows
		WHERE status <> 'delivered'
		  AND class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
		  AND provider IS NOT NULL AND from_domain IS NOT NULL AND at IS NOT NULL
	) k
	HAVING count(*) > 0;
	RETURN NULL;
END
$$;

CREATE FUNCTION dmarcsift.bounce_days_upd() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcsift.bounce_days_refresh(array_agg(tenant_id), array_agg(provider),
		array_agg(from_domain), array_agg(ip_key), array_agg(day))
	FROM (
		SELECT DISTINCT tenant_id, provider, from_domain,
		       coalesce(host(sending_ip), '') AS ip_key, (at AT TIME ZONE 'UTC')::date AS day
		FROM (SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows) r
		WHERE status <> 'delivered'
		  AND class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
		  AND provider IS NOT NULL AND from_domain IS NOT NULL AND at IS NOT NULL
	) k
	HAVING count(*) > 0;
	RETURN NULL;
END
$$;

CREATE FUNCTION dmarcsift.bounce_days_del() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcsift.bounce_days_refresh(array_agg(tenant_id), array_agg(provider),
		array_agg(from_domain), array_agg(ip_key), array_agg(day))
	FROM (
		SELECT DISTINCT tenant_id, provider, from_domain,
		       coalesce(host(sending_ip), '') AS ip_key, (at AT TIME ZONE 'UTC')::date AS day
		FROM old_rows
		WHERE status <> 'delivered'
		  AND class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
		  AND provider IS NOT NULL AND from_domain IS NOT NULL AND at IS NOT NULL
	) k
	HAVING count(*) > 0;
	RETURN NULL;
END
$$;

CREATE TRIGGER bounce_days_ins AFTER INSERT ON dmarcsift.bounces
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.bounce_days_ins();
CREATE TRIGGER bounce_days_upd AFTER UPDATE ON dmarcsift.bounces
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.bounce_days_upd();
CREATE TRIGGER bounce_days_del AFTER DELETE ON dmarcsift.bounces
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION dmarcsift.bounce_days_del();

-- The bounces stored before this migration.
SELECT dmarcsift.bounce_days_refresh(array_agg(tenant_id), array_agg(provider),
	array_agg(from_domain), array_agg(ip_key), array_agg(day))
FROM (
	SELECT DISTINCT tenant_id, provider, from_domain, coalesce(host(sending_ip), '') AS ip_key,
	       (at AT TIME ZONE 'UTC')::date AS day
	FROM dmarcsift.bounces
	WHERE status <> 'delivered'
	  AND class IN ('auth_failure', 'policy', 'blocklisted', 'reputation', 'content')
	  AND provider IS NOT NULL AND from_domain IS NOT NULL AND at IS NOT NULL
) k
HAVING count(*) > 0;

-- `tenant remove`: as 0024_dns_checks left it (child tables after the
-- tables they reference; labels, source marks, flags, the correlation
-- queue, listings, blocklist runs and the DNS check tables deleted either
-- way), with bounce_days deleted either way too: it is derived from the
-- tenant's bounces, and the bounces trigger rebuilds the rows of whatever
-- moves to 'unassigned'.
CREATE OR REPLACE FUNCTION dmarcsift.remove_tenant(tid integer, purge boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	t record;
	n bigint;
	total bigint := 0;
BEGIN
	IF tid = 0 THEN
		RAISE EXCEPTION 'the built-in tenant ''unassigned'' cannot be removed' USING ERRCODE = '22023';
	END IF;
	FOR t IN SELECT c.oid::regclass AS rel, c.relname FROM pg_catalog.pg_class c
	         JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
	         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	         WHERE s.nspname = 'dmarcsift' AND c.relkind IN ('r', 'p')
	           AND a.attname = 'tenant_id' AND NOT a.attisdropped
	           AND c.relname NOT IN ('tenants', 'tenant_domains', 'tenant_roles', 'mailbox_state')
	         ORDER BY EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
	                          WHERE k.conrelid = c.oid AND k.contype = 'f'
	                            AND k.confrelid <> 'dmarcsift.tenants'::regclass),
	                  c.relname <> 'reports', c.relname LOOP
		BEGIN
			IF purge OR t.relname IN ('source_labels', 'source_marks', 'flags',
			                          'correlate_dirty', 'listings', 'blocklist_runs',
			                          'dns_check_runs', 'dns_findings', 'dns_records',
			                          'dns_changes', 'bounce_days') THEN
				EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', t.rel) USING tid;
			ELSE
				EXECUTE format('UPDATE %s SET tenant_id = 0 WHERE tenant_id = $1', t.rel) USING tid;
			END IF;
			GET DIAGNOSTICS n = ROW_COUNT;
			total := total + n;
		EXCEPTION WHEN unique_violation THEN
			RAISE EXCEPTION 'rows of this tenant in % are also stored under ''unassigned''; remove it with --purge', t.relname
				USING ERRCODE = '22023';
		END;
	END LOOP;
	DELETE FROM dmarcsift.tenants WHERE tenant_id = tid;
	RETURN total;
END
$$;
