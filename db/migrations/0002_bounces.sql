-- 0002_bounces: normalised bounce events, the suppression list derived from
-- them, escalations, and their public views.
--
-- Written by db/bounce_store.c: one batch of events is COPYed into a staging
-- table, moved into bounces (idempotent through event_key), and then the
-- suppressions and escalations of the tenants/recipients/providers the batch
-- touched are recomputed from the stored events. The rules (thresholds and
-- windows) are bounce_store's struct bounce_rules, passed to those
-- statements as parameters.
--
-- As in 0001: every table carries tenant_id and every key starts with it.

-- One row per recipient per delivery attempt outcome, as a parser saw it,
-- with the classifier's verdict. event_key is the lowercase hex SHA-256 of
-- source|at|recipient|queue id|status|reply code|text (see bounce_store.c),
-- so re-ingesting the same log adds nothing.
--   status: delivered | deferred | bounced
--   provider: from the provider map (core/provider.h: recipient domain, else
--   remote MTA host), else the provider the deciding classifier rule was
--   written for, else NULL; provider_key is that, else the recipient
--   domain: the "provider" escalations group by (an unknown corporate
--   gateway is its own provider).
--   code_family: class.subject of the enhanced code ("5.7"), else the reply
--   code ("554"), else ''.
--   pattern: the reply text normalised by core/bnorm.c.
CREATE TABLE dmarcsift.bounces (
	tenant_id          integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	id                 bigint GENERATED ALWAYS AS IDENTITY,
	at                 timestamptz,
	status             text NOT NULL CHECK (status IN ('delivered', 'deferred', 'bounced')),
	sending_ip         inet,
	remote_ip          inet,
	mail_from          text,
	mail_from_domain   text,
	header_from_domain text,
	recipient          text,
	recipient_domain   text,
	provider           text,
	reply_code         integer,
	enhanced_code      text,
	class              text NOT NULL,
	severity           text NOT NULL,
	action             text NOT NULL,
	is_block           boolean NOT NULL DEFAULT false,
	listed_on          text,
	listed_asset       text,
	rule               text,
	text               text,
	pattern            text NOT NULL DEFAULT '',
	remote_mta         text,
	queue_id           text,
	message_id         text,
	campaign           text,
	source             text NOT NULL,
	event_key          text NOT NULL CHECK (event_key ~ '^[0-9a-f]{64}$'),
	ingested_at        timestamptz NOT NULL DEFAULT now(),
	provider_key       text GENERATED ALWAYS AS (coalesce(provider, recipient_domain, '')) STORED,
	code_family        text GENERATED ALWAYS AS (
		coalesce(substring(enhanced_code FROM '^[245]\.[0-9]{1,3}'), reply_code::text, '')) STORED,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, event_key)
);
-- A recipient's history (suppressions).
CREATE INDEX bounces_recipient_idx ON dmarcsift.bounces (tenant_id, lower(recipient), at);
-- A provider's traffic in a window (escalations, reports by provider).
CREATE INDEX bounces_provider_idx ON dmarcsift.bounces (tenant_id, provider_key, at);
CREATE INDEX bounces_rdomain_idx ON dmarcsift.bounces (tenant_id, recipient_domain, at);
CREATE INDEX bounces_at_idx ON dmarcsift.bounces (tenant_id, at);

-- The suppression list: one row per (tenant, address), the address
-- lower-cased. reason is the class that caused it: invalid_recipient (hard,
-- permanent) or mailbox_issue (soft; a later delivery lifts it). History:
-- a lift sets lifted_at and keeps the row; a new suppression of the same
-- address clears lifted_at, sets added_at anew and replaces the evidence.
-- Active suppressions are the rows with lifted_at IS NULL.
CREATE TABLE dmarcsift.suppressions (
	tenant_id         integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	address           text NOT NULL CHECK (address <> '' AND address = lower(address)),
	reason            text NOT NULL CHECK (reason IN ('invalid_recipient', 'mailbox_issue')),
	first_evidence_at timestamptz,
	last_evidence_at  timestamptz,
	evidence_count    integer NOT NULL CHECK (evidence_count > 0),
	last_text         text,
	added_at          timestamptz NOT NULL DEFAULT now(),
	lifted_at         timestamptz,
	PRIMARY KEY (tenant_id, address)
);
CREATE INDEX suppressions_added_idx ON dmarcsift.suppressions (tenant_id, added_at);

-- Escalations: one row per (tenant, provider, class, code family, pattern,
-- window) that passed the thresholds at some point. Windows are fixed
-- buckets of the configured length aligned to the Unix epoch (date_bin).
-- count: events of the group in the window; attempts: all events (any
-- status) to that provider in the window; rate = count / attempts;
-- prev_count: the group's count in the previous window; gateways: distinct
-- remote MTA hosts; reason: 'volume' (count and rate thresholds) or 'jump'
-- (against the previous window). status: open, or closed when a
-- recomputation (more attempts arrived) no longer passes the thresholds.
CREATE TABLE dmarcsift.escalations (
	tenant_id    integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id),
	id           bigint GENERATED ALWAYS AS IDENTITY,
	provider     text NOT NULL,
	class        text NOT NULL,
	code_family  text NOT NULL,
	pattern      text NOT NULL,
	window_start timestamptz NOT NULL,
	window_end   timestamptz NOT NULL,
	count        integer NOT NULL CHECK (count >= 0),
	attempts     integer NOT NULL CHECK (attempts >= 0),
	rate         double precision NOT NULL,
	prev_count   integer NOT NULL DEFAULT 0,
	gateways     integer NOT NULL DEFAULT 0,
	recipients   integer NOT NULL DEFAULT 0,
	first_seen   timestamptz NOT NULL,
	last_seen    timestamptz NOT NULL,
	sample_text  text,
	reason       text NOT NULL CHECK (reason IN ('volume', 'jump')),
	status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
	opened_at    timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, provider, class, code_family, pattern, window_start)
);
CREATE INDEX escalations_status_idx ON dmarcsift.escalations (tenant_id, status, last_seen);

ALTER TABLE dmarcsift.bounces ENABLE ROW LEVEL SECURITY;
ALTER TABLE dmarcsift.suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE dmarcsift.escalations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dmarcsift.bounces
	USING (tenant_id = current_setting('dmarcsift.tenant_id', true)::integer);
CREATE POLICY tenant_isolation ON dmarcsift.suppressions
	USING (tenant_id = current_setting('dmarcsift.tenant_id', true)::integer);
CREATE POLICY tenant_isolation ON dmarcsift.escalations
	USING (tenant_id = current_setting('dmarcsift.tenant_id', true)::integer);

-- Public views.

-- One row per stored bounce event.
CREATE VIEW dmarcsift.v_bounces WITH (security_invoker = true) AS
SELECT t.name AS tenant, b.at, b.sending_ip, b.mail_from_domain, b.header_from_domain,
       b.recipient, b.recipient_domain, b.provider, b.reply_code, b.enhanced_code,
       b.class, b.severity, b.action, b.is_block, b.listed_on, b.listed_asset, b.text,
       b.source, b.status, b.rule, b.remote_mta, b.queue_id, b.message_id, b.campaign
FROM dmarcsift.bounces b
JOIN dmarcsift.tenants t ON t.tenant_id = b.tenant_id;

-- The active suppression list (lifted entries stay in the table only).
CREATE VIEW dmarcsift.v_suppressions WITH (security_invoker = true) AS
SELECT t.name AS tenant, s.address, s.reason, s.first_evidence_at, s.last_evidence_at,
       s.evidence_count, s.last_text, s.added_at
FROM dmarcsift.suppressions s
JOIN dmarcsift.tenants t ON t.tenant_id = s.tenant_id
WHERE s.lifted_at IS NULL;

-- Every escalation, open and closed.
CREATE VIEW dmarcsift.v_escalations WITH (security_invoker = true) AS
SELECT t.name AS tenant, e.provider, e.class, e.code_family, e.pattern, e.count, e.attempts,
       e.rate, e.first_seen, e.last_seen, e.sample_text, e.status, e.window_start,
       e.window_end, e.prev_count, e.gateways, e.recipients, e.reason
FROM dmarcsift.escalations e
JOIN dmarcsift.tenants t ON t.tenant_id = e.tenant_id;

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dmarcsift_reader') THEN
		GRANT SELECT ON dmarcsift.bounces, dmarcsift.suppressions, dmarcsift.escalations,
		      dmarcsift.v_bounces, dmarcsift.v_suppressions, dmarcsift.v_escalations
		      TO dmarcsift_reader;
	END IF;
END
$$;
