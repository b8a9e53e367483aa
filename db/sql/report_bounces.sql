-- Tenant report: bounce outcomes by provider and class, with each class's
-- share of that provider's delivery attempts in the period.
-- $1 tenant_id, $2 first day, $3 day after the last.
WITH b AS (
	SELECT coalesce(nullif(provider_key, ''), '(unknown)') AS provider, class, is_block
	FROM dmarcsift.bounces
	WHERE tenant_id = $1 AND at >= $2::date AND at < $3::date
), tot AS (
	SELECT provider, count(*) AS attempts FROM b GROUP BY provider
)
SELECT b.provider, b.class, count(*) AS events, tot.attempts,
       round(count(*)::numeric / tot.attempts, 4) AS rate, bool_or(b.is_block) AS block
FROM b JOIN tot USING (provider)
GROUP BY b.provider, b.class, tot.attempts
ORDER BY tot.attempts DESC, b.provider, count(*) DESC, b.class
