-- prune: the moment the window ends, computed once by the database so that
-- every batch of a run uses the same one, and the tenants the run covers.
-- $1 the window in seconds, $2 a tenant name (NULL: every tenant, the
-- built-in 'unassigned' included). Row 1 carries the cutoff (timestamptz
-- text, and RFC 3339 UTC for people); one row per tenant id.
SELECT t.tenant_id, c.cutoff::text,
       to_char(c.cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM (SELECT now() - make_interval(secs => $1::bigint) AS cutoff) c
JOIN dmarcsift.tenants t ON $2::text IS NULL OR lower(t.name) = lower(btrim($2::text))
ORDER BY t.tenant_id
