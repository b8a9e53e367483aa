-- store_raw_find: the stored inputs whose SHA-256 starts with $1 (at least
-- 8 lowercase hex digits, checked by the caller). A range on the primary
-- key, not LIKE, so the index answers it; at most 2 rows: one is the
-- answer, two say the prefix is ambiguous.
SELECT sha256 FROM dmarcsift.raw_messages
WHERE tenant_id = 0 AND sha256 >= $1 AND sha256 <= rpad($1, 64, 'f')
ORDER BY sha256 LIMIT 2
