-- 0012_report_replaced: a stored report can be replaced by a more complete
-- copy of itself (a truncated copy first, the whole report later; see
-- db/store_report.c). The raw bytes of both copies stay in raw_messages;
-- replaced_sha256 names the raw message of the copy that was replaced, so
-- the report row leads to both.
ALTER TABLE dmarcsift.reports ADD COLUMN IF NOT EXISTS replaced_sha256 text;
