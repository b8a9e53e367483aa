-- prune, inside a batch's transaction, first: the batch's records taken out
-- of daily_rollup and domain_rollup in one statement (0027_prune), so that
-- nothing derived goes on counting them. $1 tenant_id, $2 report ids.
SELECT dmarcsift.daily_rollup_apply($1::int, $2::bigint[], -1)
