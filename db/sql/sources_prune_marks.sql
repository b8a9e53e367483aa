-- Marks whose tenant no longer has records from the address (reports moved
-- to another tenant, or were deleted). $1 tenant_id or NULL (all).
DELETE FROM dmarcsift.source_marks m
WHERE ($1::integer IS NULL OR m.tenant_id = $1)
  AND NOT EXISTS (SELECT 1 FROM dmarcsift.records x
                  WHERE x.tenant_id = m.tenant_id AND x.source_ip = m.source_ip)
