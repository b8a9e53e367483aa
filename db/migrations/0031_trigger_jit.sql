-- 0031_trigger_jit: no JIT compilation inside the statement triggers that
-- derive rows at ingest (records -> record_sources, daily_rollup and
-- domain_rollup; bounces -> bounce_days and the correlation queue).
--
-- A transition table's row count is known to the planner, so a large
-- report or log (200,000 records) gives these statements costs in the
-- millions, far over jit_above_cost, and every such statement compiled its
-- expressions first: 0.8 s of LLVM inlining, optimisation and emission for
-- record_sources_add alone on a 200,000-record report, before its first row,
-- for a plan that runs once. Small batches stay under the threshold and are
-- not affected. The correlator turns JIT off for its own statements too
-- (db/flags.c). The setting applies while the function runs, nowhere else.
-- A later CREATE OR REPLACE of one of these functions must say SET jit = off
-- again (test_migrate checks every statement trigger on these tables).
ALTER FUNCTION dmarcsift.record_sources_add() SET jit = off;
ALTER FUNCTION dmarcsift.record_sources_moved() SET jit = off;
ALTER FUNCTION dmarcsift.daily_rollup_records_ins() SET jit = off;
ALTER FUNCTION dmarcsift.bounce_days_ins() SET jit = off;
ALTER FUNCTION dmarcsift.bounce_days_upd() SET jit = off;
ALTER FUNCTION dmarcsift.bounce_days_del() SET jit = off;
ALTER FUNCTION dmarcsift.bounces_dirty() SET jit = off;
