-- 0003_mailboxes: what `dmarcsift poll` remembers per configured mailbox, so
-- a run fetches only what is new (db/mailbox_state.c).
--
-- IMAP: the folder's UIDVALIDITY and the highest UID dealt with; when the
-- server reports another UIDVALIDITY the UIDs mean nothing any more and the
-- poller starts over from UID 1 (safe: the store recognises duplicates).
-- mbox: the byte offset where the next unread message starts, and the
-- SHA-256 of the file's first message, so a rewritten mbox is detected and
-- read again from the start. Maildir keeps its state in the file names.
--
-- Keyed by the mailbox's tenant (the configured `tenant`, else the built-in
-- `unassigned` tenant 0) first, as every key in the schema.
CREATE TABLE dmarcsift.mailbox_state (
	tenant_id         integer NOT NULL REFERENCES dmarcsift.tenants (tenant_id) ON DELETE CASCADE,
	mailbox           text NOT NULL CHECK (mailbox <> ''),
	uidvalidity       bigint NOT NULL DEFAULT 0 CHECK (uidvalidity >= 0),
	last_uid          bigint NOT NULL DEFAULT 0 CHECK (last_uid >= 0),
	mbox_offset       bigint NOT NULL DEFAULT 0 CHECK (mbox_offset >= 0),
	mbox_first_sha256 text NOT NULL DEFAULT '',
	updated_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, mailbox)
);

ALTER TABLE dmarcsift.mailbox_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dmarcsift.mailbox_state
	USING (tenant_id = current_setting('dmarcsift.tenant_id', true)::integer);
