-- Stores organisational domains (NULL: the name has none).
INSERT INTO dmarcsift.org_domains (domain, org_domain)
SELECT u.d, u.o FROM unnest($1::text[], $2::text[]) AS u(d, o)
ON CONFLICT (domain) DO NOTHING
