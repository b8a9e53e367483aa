-- 0011_view_comments: every view and view column carries a COMMENT (BI tools
-- such as Grafana and Metabase show them); these are the views and columns
-- that migrations 0007 and 0009 added.

COMMENT ON COLUMN dmarcsift.v_reports.complaint IS
	'Why the report is marked recovered: each deviation from the schema named once (values are kept as the reporter wrote them).';

COMMENT ON VIEW dmarcsift.v_sources IS
	'One row per tenant and sending source IP seen in aggregate reports: who is behind it (reverse DNS, ASN, known service or the tenant''s own label) and its volume and DMARC pass rate.';
COMMENT ON COLUMN dmarcsift.v_sources.tenant IS 'Tenant name.';
COMMENT ON COLUMN dmarcsift.v_sources.source_ip IS 'Sending IP address as reported in the aggregate records.';
COMMENT ON COLUMN dmarcsift.v_sources.ptr IS 'Reverse DNS (PTR) name of the address, when it has one.';
COMMENT ON COLUMN dmarcsift.v_sources.ptr_confirmed IS 'True when the PTR name resolves back to the address (forward-confirmed).';
COMMENT ON COLUMN dmarcsift.v_sources.org_domain IS 'Organisational domain (public suffix list) of the PTR name.';
COMMENT ON COLUMN dmarcsift.v_sources.asn IS 'Autonomous system number announcing the address.';
COMMENT ON COLUMN dmarcsift.v_sources.as_name IS 'Name of that autonomous system.';
COMMENT ON COLUMN dmarcsift.v_sources.country IS 'Country code of the address (ISO 3166-1 alpha-2), when known.';
COMMENT ON COLUMN dmarcsift.v_sources.service IS 'Known sending service, or the tenant''s own label for the address.';
COMMENT ON COLUMN dmarcsift.v_sources.service_type IS 'Kind of service (esp, mailbox_provider, forwarder, mailing_list, ...; own for a labelled source).';
COMMENT ON COLUMN dmarcsift.v_sources.forwarded IS 'True when the traffic is forwarded or mailing-list mail, not the tenant''s own sending.';
COMMENT ON COLUMN dmarcsift.v_sources.first_seen IS 'Start of the earliest report window that names this source.';
COMMENT ON COLUMN dmarcsift.v_sources.last_seen IS 'End of the latest report window that names this source.';
COMMENT ON COLUMN dmarcsift.v_sources.messages IS 'Messages from this source across the tenant''s aggregate reports.';
COMMENT ON COLUMN dmarcsift.v_sources.dmarc_pass_rate IS 'Share of those messages that passed DMARC (DKIM or SPF aligned pass), 0 to 1, 4 decimals.';
