-- bounce_staging: the temporary tables of one batch, dropped at commit: the
-- rows that go the staging way (filled by COPY, columns as
-- BOUNCE_STORE_COLUMNS; event_key NULL where SQL computes it), and the
-- events the batch added (what suppressions and escalations recompute).
-- Two statements, run together with PQexec.
CREATE TEMP TABLE bounce_staging (
	tenant_id integer NOT NULL, at timestamptz, status text NOT NULL, sending_ip inet,
	remote_ip inet, mail_from text, mail_from_domain text, header_from_domain text,
	recipient text, recipient_domain text, provider text, reply_code integer,
	enhanced_code text, class text NOT NULL, severity text NOT NULL, action text NOT NULL,
	is_block boolean NOT NULL, listed_on text, listed_asset text, rule text, text text,
	pattern text NOT NULL, remote_mta text, queue_id text, message_id text, campaign text,
	source text NOT NULL, event_key text, format text, auto_reply boolean NOT NULL,
	feedback_type text, ip_source text NOT NULL, from_org_domain text) ON COMMIT DROP;
CREATE TEMP TABLE bounce_new (tenant_id integer, address text, pkey text,
	at timestamptz) ON COMMIT DROP
