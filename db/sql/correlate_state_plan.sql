-- correlate_state_plan: which groups of corr_keys read a kept state
-- (dmarcsift.flag_state, 0038) and which get a new one this run. Returns
-- the number of states to write.
--
-- A state is used when it was summed with this run's resolve time and the
-- provider's present org names, when no day this run took off the queue for
-- its tenant lies before its cut (a late report or log there changed what
-- it sums), and not in a full run (which sums everything from the rows).
-- Unusable states are deleted. A new state is written for every group
-- without a usable one, and for those whose state lies more than five days
-- behind the group's newest day (so a run reads a few days, not the whole
-- episode since the state was written): cut two days before the newest day,
-- where late logs and reports a day or two behind are still queued after
-- it. With the setting dmarcsift.correlate_states = off (PGOPTIONS) no
-- state is used or written: every group is summed from its rows, as a check
-- of the states (test_correlate). The state pass (correlate_state_write.sql) then reads, per group, the
-- days [lo, hi): from the old cut (with the old state, pseudo) or from the
-- beginning, up to the new cut; groups not written read nothing.
WITH p AS (
	SELECT *, coalesce(current_setting('dmarcsift.correlate_states', true), '') <> 'off' AS kept
	FROM pg_temp.corr_params
), po AS (
	SELECT provider, array_agg(org ORDER BY org) AS orgs FROM pg_temp.corr_orgs GROUP BY provider
), td AS (
	SELECT tenant_id, min(day) AS first_day FROM pg_temp.corr_days GROUP BY tenant_id
), cur AS (
	SELECT k.gid, s.cut, s.breaks,
	       p.kept AND NOT p.full_run AND s.resolve = p.resolve
	       AND s.orgs = coalesce(po.orgs, '{}') AND coalesce(td.first_day >= s.cut, true) AS usable
	FROM pg_temp.corr_keys k
	CROSS JOIN p
	JOIN dmarcsift.flag_state s ON s.tenant_id = k.tenant_id AND s.provider = k.provider
	 AND s.domain = k.domain AND s.ip_key = k.ip_key
	LEFT JOIN po ON po.provider = k.provider
	LEFT JOIN td ON td.tenant_id = k.tenant_id
), gone AS (
	DELETE FROM dmarcsift.flag_state s
	USING pg_temp.corr_keys k, cur
	WHERE cur.gid = k.gid AND NOT cur.usable AND s.tenant_id = k.tenant_id
	  AND s.provider = k.provider AND s.domain = k.domain AND s.ip_key = k.ip_key
), plan AS (
	SELECT k.gid, c.cut AS s_cut, coalesce(c.breaks, 0) AS breaks,
	       CASE WHEN p.kept AND (c.cut IS NULL OR l.last_day - c.cut > 5)
	            THEN l.last_day - 2 END AS n_cut
	FROM pg_temp.corr_keys k
	CROSS JOIN p
	LEFT JOIN cur c ON c.gid = k.gid AND c.usable
	CROSS JOIN LATERAL (
		SELECT max(b.day) AS last_day FROM dmarcsift.bounce_days b
		WHERE b.tenant_id = k.tenant_id AND b.provider = k.provider
		  AND b.domain = k.domain AND b.ip_key = k.ip_key) l
), u AS (
	UPDATE pg_temp.corr_keys k
	SET s_cut = plan.s_cut, n_cut = plan.n_cut, breaks = plan.breaks,
	    lo = CASE WHEN plan.n_cut IS NULL THEN 'infinity'
	              ELSE coalesce(plan.s_cut, '-infinity') END,
	    hi = coalesce(plan.n_cut, 'infinity'),
	    pseudo = plan.n_cut IS NOT NULL AND plan.s_cut IS NOT NULL
	FROM plan WHERE plan.gid = k.gid
	RETURNING k.n_cut
)
SELECT count(*) FILTER (WHERE n_cut IS NOT NULL) FROM u;
