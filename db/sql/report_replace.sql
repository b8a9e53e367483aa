-- A more complete copy of a stored report takes its place (db/store_report.c):
-- the header columns from the new copy ($3..$24, as in the INSERT), its raw
-- message in raw_sha256 and the replaced copy's in replaced_sha256. The
-- identity columns, the id (records point at it) and the tenant stay.
UPDATE dmarcsift.reports SET
	schema = $3, namespace = $4, version = $5, email = $6, extra_contact_info = $7,
	generator = $8, errors = $9, adkim = $10, aspf = $11, p = $12, sp = $13, np = $14,
	pct = $15, fo = $16, testing = $17, discovery_method = $18, extra = $19::jsonb,
	recovered = $20, complaint = $21, replaced_sha256 = raw_sha256, raw_sha256 = $22,
	records = $23, messages = $24, ingested_at = now()
WHERE tenant_id = $1 AND id = $2
