-- blocklists_due: whether the last blocklist check of any tenant is older
-- than $1 seconds (or there was none): the poll schedule.
SELECT coalesce(max(ran_at), '-infinity') < now() - make_interval(secs => $1::int)
FROM dmarcsift.blocklist_runs
