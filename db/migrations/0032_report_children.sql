-- 0032_report_children: a report's records and per-source sums follow the
-- report by triggers on reports, not by foreign keys checked on every row.
--
-- records and record_sources referenced reports (tenant_id, id) with ON
-- DELETE / ON UPDATE CASCADE. Their rows are only ever written with the
-- report's own key, inside the transaction that inserted or locked the
-- report (store_report.c), so the check of each inserted row against
-- reports bought nothing; it cost a lookup and a KEY SHARE lock per row:
-- 2.0-2.5 s of a 200,000-record report's 12-14 s (one insert of its rows,
-- both checks dropped), one check per row for the same report.
--
-- What the keys did besides checking is done here, per report row, at the
-- same moment as their cascades were (AFTER the row changed, so the rollup
-- triggers BEFORE it still find the records under the old tenant): a report
-- that moves to another tenant takes its records and sums with it (tenant
-- add adoption, tenant remove without --purge); a deleted report takes them
-- away (prune and a replaced copy delete them first themselves, and find
-- nothing left here).
ALTER TABLE dmarcsift.records DROP CONSTRAINT records_tenant_id_report_pk_fkey;
ALTER TABLE dmarcsift.record_sources DROP CONSTRAINT record_sources_tenant_id_report_pk_fkey;

CREATE FUNCTION dmarcsift.report_children_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		UPDATE dmarcsift.records SET tenant_id = NEW.tenant_id
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
		UPDATE dmarcsift.record_sources SET tenant_id = NEW.tenant_id
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
	ELSE
		DELETE FROM dmarcsift.records WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
		DELETE FROM dmarcsift.record_sources
		WHERE tenant_id = OLD.tenant_id AND report_pk = OLD.id;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER report_children_move AFTER UPDATE OF tenant_id ON dmarcsift.reports
	FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
	EXECUTE FUNCTION dmarcsift.report_children_follow();
CREATE TRIGGER report_children_del AFTER DELETE ON dmarcsift.reports
	FOR EACH ROW EXECUTE FUNCTION dmarcsift.report_children_follow();
