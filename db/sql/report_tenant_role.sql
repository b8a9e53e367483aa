-- The role a tenant's report reads as (db/report_read.c): a role mapped to
-- that tenant alone (`dmarcsift tenant grant`), that the session may become,
-- that does not see every tenant. $1 tenant_id.
SELECT m.role::text
FROM dmarcsift.tenant_roles m
WHERE m.tenant_id = $1::int
  AND pg_catalog.pg_has_role(session_user, m.role, 'MEMBER')
  AND NOT dmarcsift.sees_all_tenants(m.role)
  AND dmarcsift.visible_tenants(m.role) = ARRAY[$1::int]
ORDER BY m.role
LIMIT 1
