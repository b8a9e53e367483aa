-- 0009_sources: who is behind each sending source (issue 11).
--
-- source_facts: what DNS (or a MaxMind database) said about an address —
--   PTR name (forward-confirmed or not), its organisational domain, origin
--   ASN, AS name, country — with the status of each lookup and when each
--   part expires (bounded TTLs; failures kept briefly, never forever). An
--   address's reverse DNS is the same for every tenant, so this cache is
--   global (a Citus reference table, like tenants): it is not tenant data.
--   Readers see only the facts of addresses in their own tenant's records
--   (the policy below asks records, which applies the reader's own policy).
-- org_domains: the organisational domain (libpsl) of every domain seen in
--   records (header_from, envelope_from, DKIM d=, SPF domain); global too.
-- user_services: rows a user added with 'dmarcsift sources load FILE', in
--   the data/services.tsv format (validated by the loader); global.
-- source_labels: a tenant's own names for its address ranges
--   ('dmarcsift sources label'); they win over every other naming.
-- source_marks: per tenant and source address, the known service matched
--   (by IP range, confirmed PTR, DKIM d=, SPF domain or AS number) and
--   whether its traffic is forwarded / mailing-list traffic, recomputed by
--   'dmarcsift sources resolve'.

CREATE TABLE dmarcsift.source_facts (
	ip             inet PRIMARY KEY,
	ptr            text,
	ptr_confirmed  boolean NOT NULL DEFAULT false,
	ptr_org_domain text,
	ptr_status     text NOT NULL,
	asn            bigint CHECK (asn > 0),
	as_name        text,
	country        text CHECK (country ~ '^[A-Z]{2}$'),
	asn_status     text NOT NULL,
	resolved_at    timestamptz NOT NULL DEFAULT now(),
	ptr_expires_at timestamptz NOT NULL,
	asn_expires_at timestamptz NOT NULL
);

CREATE TABLE dmarcsift.org_domains (
	domain     text PRIMARY KEY CHECK (domain = lower(domain)),
	org_domain text
);

CREATE TABLE dmarcsift.user_services (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source    text NOT NULL,
	line      text NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dmarcsift.source_labels (
	tenant_id  integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	cidr       cidr NOT NULL,
	name       text NOT NULL CHECK (name <> ''),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, cidr)
);

CREATE TABLE dmarcsift.source_marks (
	tenant_id          integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	source_ip          inet NOT NULL,
	service            text,
	service_type       text,
	matched_by         text CHECK (matched_by IN ('ip', 'ptr', 'dkim', 'spf', 'asn')),
	forwarded          boolean NOT NULL DEFAULT false,
	forwarded_messages bigint NOT NULL DEFAULT 0 CHECK (forwarded_messages >= 0),
	marked_at          timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, source_ip)
);

-- Tenant tables follow 0008_1's pattern (policy bound to the reader's role).
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.source_labels'); END $$;
DO $$ BEGIN PERFORM dmarcsift.secure_tenant_table('dmarcsift.source_marks'); END $$;
-- The facts are global, but a reader sees only those of addresses in the
-- records it may read (the records policy decides which).
ALTER TABLE dmarcsift.source_facts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_sources ON dmarcsift.source_facts
	USING (EXISTS (SELECT 1 FROM dmarcsift.records x WHERE x.source_ip = ip));

-- One row per tenant and source address of its aggregate records.
-- service/service_type: the tenant's own label (type 'own') first, else the
-- known service; dmarc_pass_rate: the share of messages whose
-- policy-evaluated DKIM or SPF passed (aligned), 0..1.
CREATE VIEW dmarcsift.v_sources WITH (security_invoker = true) AS
WITH agg AS (
	SELECT x.tenant_id, x.source_ip, min(r.begin_at) AS first_seen, max(r.end_at) AS last_seen,
	       sum(x.count) AS messages,
	       coalesce(sum(x.count) FILTER (WHERE x.dkim = 'pass' OR x.spf = 'pass'), 0) AS passed
	FROM dmarcsift.records x
	JOIN dmarcsift.reports r ON r.tenant_id = x.tenant_id AND r.id = x.report_pk
	GROUP BY x.tenant_id, x.source_ip
)
SELECT t.name AS tenant, a.source_ip, f.ptr, coalesce(f.ptr_confirmed, false) AS ptr_confirmed,
       f.ptr_org_domain AS org_domain, f.asn, f.as_name, f.country,
       coalesce(l.name, m.service) AS service,
       CASE WHEN l.name IS NOT NULL THEN 'own' ELSE m.service_type END AS service_type,
       coalesce(m.forwarded, false) AS forwarded,
       a.first_seen, a.last_seen, a.messages,
       round(a.passed::numeric / nullif(a.messages, 0), 4) AS dmarc_pass_rate
FROM agg a
JOIN dmarcsift.tenants t ON t.tenant_id = a.tenant_id
LEFT JOIN dmarcsift.source_facts f ON f.ip = a.source_ip
LEFT JOIN dmarcsift.source_marks m ON m.tenant_id = a.tenant_id AND m.source_ip = a.source_ip
LEFT JOIN LATERAL (
	SELECT sl.name FROM dmarcsift.source_labels sl
	WHERE sl.tenant_id = a.tenant_id AND sl.cidr >>= a.source_ip
	ORDER BY masklen(sl.cidr) DESC LIMIT 1
) l ON true;

-- v_sources is security_invoker: readers need the global tables behind it
-- too. They carry no tenant_id, so 0008_1's reader_relations() would not
-- list them: it does now, and setup_roles() grants (or prints) as for the rest.
CREATE OR REPLACE FUNCTION dmarcsift.reader_relations() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
	SELECT c.oid::regclass FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
	WHERE s.nspname = 'dmarcsift'
	  AND (c.relkind IN ('v', 'm')
	       OR (c.relkind IN ('r', 'p') AND EXISTS (
	             SELECT 1 FROM pg_catalog.pg_attribute a
	             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
	       OR (c.relkind = 'r' AND c.relname IN ('source_facts', 'org_domains')))
	  AND c.relname NOT IN ('raw_messages', 'mailbox_state', 'tenant_roles')
	ORDER BY c.relkind DESC, c.relname
$$;
