-- 0029_raw_identity: raw bytes stored as received (issue 14).
--
-- Until now the client deflated every raw input (zlib, level 1) before the
-- first record of it was stored: about a tenth of the client's work on a big
-- plain .xml report, and a second compression of every .xml.gz or .zip. From
-- here on the bytes go as they came (encoding 'identity') and the column
-- compresses them on the server, with lz4 where this PostgreSQL has it
-- (pglz otherwise); a compressed input that does not shrink is kept as it is.
-- Inputs larger than one bytea may safely be are still deflated by the
-- client (encoding 'zlib'), which is what every row from before holds:
-- `dmarcsift reprocess` reads both.

ALTER TABLE dmarcsift.raw_messages
	ADD COLUMN encoding text NOT NULL DEFAULT 'zlib'
	CHECK (encoding IN ('zlib', 'identity'));
COMMENT ON COLUMN dmarcsift.raw_messages.encoding IS
	'How data holds the bytes: identity (as received; the column compresses) or zlib (deflated by the client; rows from before 0029, and inputs over 512 MiB).';

ALTER TABLE dmarcsift.raw_messages ALTER COLUMN data SET STORAGE EXTENDED;
DO $$
BEGIN
	ALTER TABLE dmarcsift.raw_messages ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'this PostgreSQL has no lz4: raw bytes are compressed with pglz';
END
$$;
