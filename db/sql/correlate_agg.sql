-- correlate_agg: the sums of corr_match per group, into corr_agg (a table
-- of its own, analysed, so the joins of correlate_flags.sql are planned on
-- real sizes).
CREATE TEMP TABLE corr_agg ON COMMIT DROP AS
SELECT gid, min(how) AS how, sum(messages) AS m,
       sum(dkim_pass) AS dk, sum(spf_pass) AS sp, sum(dmarc_pass) AS dm,
       count(DISTINCT report_pk) AS nreports
FROM pg_temp.corr_match GROUP BY gid;
