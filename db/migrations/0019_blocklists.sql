-- 0019_blocklists: blocklist (DNSBL / domain list) monitoring (issue 17).
--
-- listings: per tenant, asset (a sending IP or a domain of the tenant) and
-- list (its DNS zone), what the last look-ups said. A row exists once the
-- asset was seen listed, or once a list refused to answer about it:
--   answer  listed  the zone returned list codes (codes, reason);
--           clear   NXDOMAIN after a listing: the asset was delisted;
--           unknown the list refused the query (e.g. Spamhaus 127.255.255.x:
--                   "public/open resolver" or over the free limit) or
--                   answered outside 127/8: neither listed nor clear.
-- first_seen / last_seen: the first and last check that found it listed
-- (NULL while it never was); delisted_at: the check that found it gone.
-- family: the name bounce texts use for the list ("Spamhaus", "Barracuda"),
-- matched against bounces.listed_on for the impact; used_by: providers
-- known to reject with this list (the suspected impact).
-- Derived data: `blocklists check` rebuilds it, so `tenant remove` deletes
-- it rather than moving it to 'unassigned' (see remove_tenant below).
CREATE TABLE dmarcsift.listings (
	tenant_id    integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	asset        text NOT NULL CHECK (asset = lower(asset) AND asset <> ''),
	asset_kind   text NOT NULL CHECK (asset_kind IN ('ip', 'domain')),
	list         text NOT NULL CHECK (list = lower(list) AND list <> ''),
	family       text NOT NULL,
	used_by      text[] NOT NULL DEFAULT '{}',
	answer       text NOT NULL CHECK (answer IN ('listed', 'clear', 'unknown')),
	codes        text[] NOT NULL DEFAULT '{}',
	reason       text NOT NULL,
	first_seen   timestamptz,
	last_seen    timestamptz,
	delisted_at  timestamptz,
	checked_at   timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, asset, list)
);

-- One row per tenant: when its assets were last checked (the poll schedule,
-- [blocklists] every) and what that run counted.
CREATE TABLE dmarcsift.blocklist_runs (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	ran_at     timestamptz NOT NULL,
	assets     integer NOT NULL,
	queries    integer NOT NULL,
	listed     integer NOT NULL,
	unknown    integer NOT NULL,
	failed     integer NOT NULL,
	PRIMARY KEY (tenant_id)
);

DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.listings'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.blocklist_runs'); END $$;

-- The listings with their delivery impact, a public interface.
-- impact: rejecting  blocklisted bounces of the tenant name this list's
--                    family and this asset (the IP they were sent from, or
--                    the domain) in the 30 days up to the tenant's newest
--                    bounce (its clock, as the correlator's) and before a
--                    delisting, with the
--                    same kind of listed asset (an IP/network listing for
--                    an IP, a domain listing for a domain);
--         suspected  policy or reputation rejects from a provider known to
--                    use this list, for this asset, in that window;
--         none       otherwise (and for unknown answers).
CREATE VIEW dmarcsift.v_listings WITH (security_invoker = true) AS
SELECT t.name AS tenant, l.asset, l.asset_kind, l.list,
       array_to_string(l.codes, ',') AS code, l.reason, l.first_seen, l.last_seen,
       CASE l.answer WHEN 'listed' THEN 'listed'
                     WHEN 'clear' THEN 'delisted'
                     ELSE 'unknown' END AS status,
       CASE WHEN l.answer = 'unknown' OR l.last_seen IS NULL THEN 'none'
            WHEN i.rejecting > 0 THEN 'rejecting'
            WHEN i.suspected > 0 THEN 'suspected'
            ELSE 'none' END AS impact,
       coalesce(i.rejecting, 0) AS rejects, l.checked_at, l.delisted_at
FROM dmarcsift.listings l
JOIN dmarcsift.tenants t ON t.tenant_id = l.tenant_id
LEFT JOIN LATERAL (
	SELECT count(*) FILTER (WHERE b.class = 'blocklisted'
	                          AND strpos(lower(coalesce(b.listed_on, '')), lower(l.family)) > 0)
	           AS rejecting,
	       count(*) FILTER (WHERE b.class IN ('policy', 'reputation')
	                          AND b.provider = ANY (l.used_by)) AS suspected
	FROM dmarcsift.bounces b
	WHERE b.tenant_id = l.tenant_id
	  AND b.status <> 'delivered'
	  AND b.class IN ('blocklisted', 'policy', 'reputation')
	  AND b.at >= (SELECT max(x.at) FROM dmarcsift.bounces x
	               WHERE x.tenant_id = l.tenant_id) - interval '30 days'
	  AND b.at <= coalesce(l.delisted_at, now())
	  AND CASE WHEN l.asset_kind = 'ip' THEN b.sending_ip = l.asset::inet
	           ELSE lower(b.mail_from_domain) = l.asset OR lower(b.header_from_domain) = l.asset
	      END
) i ON true;

COMMENT ON VIEW dmarcsift.v_listings IS
	'Blocklist listings of each tenant''s sending IPs and domains (dmarcsift blocklists check), with their delivery impact.';
COMMENT ON COLUMN dmarcsift.v_listings.tenant IS 'Tenant name.';
COMMENT ON COLUMN dmarcsift.v_listings.checked_at IS 'When the asset was last looked up in this list.';
COMMENT ON COLUMN dmarcsift.v_listings.delisted_at IS 'The first check that found a listed asset gone (NULL while listed).';
COMMENT ON COLUMN dmarcsift.v_listings.asset IS 'The listed sending IP or domain.';
COMMENT ON COLUMN dmarcsift.v_listings.asset_kind IS 'ip or domain.';
COMMENT ON COLUMN dmarcsift.v_listings.list IS 'The list''s DNS zone (e.g. zen.spamhaus.org).';
COMMENT ON COLUMN dmarcsift.v_listings.code IS 'The answer codes of the last listing (comma-separated 127.x.y.z), or the refusal code for unknown.';
COMMENT ON COLUMN dmarcsift.v_listings.reason IS 'What the codes mean as the list documents them (e.g. Spamhaus XBL: exploited host), or why the answer is unknown.';
COMMENT ON COLUMN dmarcsift.v_listings.first_seen IS 'First check that found the asset listed (NULL: never listed, only unknown).';
COMMENT ON COLUMN dmarcsift.v_listings.last_seen IS 'Last check that found the asset listed.';
COMMENT ON COLUMN dmarcsift.v_listings.status IS 'listed, delisted (listed before, not any more) or unknown (the list refused to answer: neither listed nor clear).';
COMMENT ON COLUMN dmarcsift.v_listings.impact IS 'rejecting (blocklisted bounces name this list for this asset in the 30 days up to the tenant''s newest bounce), suspected (policy/reputation rejects at providers known to use it), none.';
COMMENT ON COLUMN dmarcsift.v_listings.rejects IS 'Blocklisted bounces naming this list for this asset in the 30 days up to the tenant''s newest bounce (and before a delisting).';

-- `tenant remove`: listings and blocklist runs are derived and deleted
-- either way, as flags and source marks are.
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
	         ORDER BY c.relname <> 'reports', c.relname LOOP
		BEGIN
			IF purge OR t.relname IN ('source_labels', 'source_marks', 'flags',
			                          'correlate_dirty', 'listings', 'blocklist_runs') THEN
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
