-- correlate_agg: the sums of corr_match per group, into corr_agg (a table
-- of its own, analysed, so the joins of correlate_flags.sql are planned on
-- real sizes). A kept state's reports are counted by its nrep row: they
-- began before the cut, every report read began after it; has_items: the
-- state lists the group's first ten reports already.
CREATE TEMP TABLE corr_agg ON COMMIT DROP AS
SELECT gid, min(how) AS how, sum(messages) AS m,
       sum(dkim_pass) AS dk, sum(spf_pass) AS sp, sum(dmarc_pass) AS dm,
       count(DISTINCT report_pk) FILTER (WHERE st = 0) + coalesce(sum(nrep), 0) AS nreports,
       bool_or(items IS NOT NULL) AS has_items
FROM pg_temp.corr_match GROUP BY gid;
