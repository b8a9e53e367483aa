-- bounce_staging: the temporary tables of one batch, dropped at commit: the
-- rows as parsed (filled by COPY), the tenant of each From domain, and the
-- events the batch added (what suppressions and escalations recompute).
-- Three statements, run together with PQexec.
CREATE TEMP TABLE bounce_staging (
	at bigint NOT NULL, status text NOT NULL, source text NOT NULL, sending_ip inet,
	remote_ip inet, mail_from text, mail_from_domain text, header_from_domain text,
	recipient text, recipient_domain text, provider text, remote_mta text, reply_code integer,
	enhanced_code text, text text, pattern text NOT NULL, queue_id text, message_id text,
	campaign text, class text NOT NULL, severity text NOT NULL, action text NOT NULL,
	is_block boolean NOT NULL, listed_on text, listed_asset text, rule text,
	tdomain text NOT NULL, format text, auto_reply boolean NOT NULL,
	feedback_type text, ip_source text NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE bounce_tmap (domain text PRIMARY KEY, tenant_id integer NOT NULL,
	org_domain text) ON COMMIT DROP;
CREATE TEMP TABLE bounce_new (tenant_id integer, address text, pkey text,
	at timestamptz) ON COMMIT DROP
