-- correlate_state_ready: after the state pass, every group reads its kept
-- state (if it has one now: kept, or just written) and the day rows from its
-- cut on; without one, all its day rows.
UPDATE pg_temp.corr_keys k
SET s_cut = s.cut, breaks = coalesce(s.breaks, 0), lo = coalesce(s.cut, '-infinity'),
    hi = 'infinity', pseudo = s.cut IS NOT NULL
FROM pg_temp.corr_keys k2
LEFT JOIN dmarcsift.flag_state s ON s.tenant_id = k2.tenant_id AND s.provider = k2.provider
 AND s.domain = k2.domain AND s.ip_key = k2.ip_key AND s.cut = coalesce(k2.n_cut, k2.s_cut)
WHERE k2.gid = k.gid
