-- correlate_agg_index: corr_agg's key, so the statements that look a group's
-- sums up (correlate_flags.sql) probe it instead of scanning it per row.
CREATE UNIQUE INDEX ON pg_temp.corr_agg (gid)
