-- Every tenant with its id, for --all-tenants (one report per tenant).
SELECT name, tenant_id, tenant_id = 0 AS builtin FROM dmarcsift.tenants ORDER BY name
