-- 0007_report_complaints: v_reports shows why a report is marked recovered.
--
-- Since issue 13 a report is stored marked `recovered` not only when libxml2's
-- recover mode salvaged it but also when values outside the schema were kept
-- as written (policy_evaluated spf 'none', sp 'nil', ...), records without a
-- usable source address were skipped, it held no records, or bytes had to be
-- read as Windows-1252. `complaint` names each deviation once; readers of the
-- view need it to judge the report. Columns are only appended, so the view
-- keeps its interface.
CREATE OR REPLACE VIEW dmarcsift.v_reports WITH (security_invoker = true) AS
SELECT t.name AS tenant, r.org_name, r.report_id, r.policy_domain, r.begin_at, r.end_at,
       r.schema, r.recovered, r.records, r.messages, r.complaint
FROM dmarcsift.reports r
JOIN dmarcsift.tenants t ON t.tenant_id = r.tenant_id;
