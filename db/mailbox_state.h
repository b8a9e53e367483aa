/*
 * mailbox_state: what `dmarcsift poll` remembers per mailbox between runs
 * (table dmarcsift.mailbox_state, migration 0003), and the per-mailbox
 * advisory lock that keeps two pollers off the same mailbox.
 *
 * State is keyed by (tenant_id, mailbox name); mailbox_state_tenant maps the
 * mailbox's configured tenant name (NULL: the built-in `unassigned`, id 0) to
 * its id — an unknown name is ERR_CONFIG. get fills a zeroed struct when
 * nothing was stored yet; put upserts. The lock is a session-level
 * pg_try_advisory_lock on a hash of "dmarcsift.mailbox:" || name: it is held
 * until mailbox_lock_release or until the connection ends, so a killed
 * poller never leaves a stale lock. Errors come back in `e` (ERR_RETRY when
 * the server went away).
 */
#ifndef DS_DB_MAILBOX_STATE_H
#define DS_DB_MAILBOX_STATE_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

struct db;

struct mailbox_state {
	uint64_t uidvalidity;       /* IMAP: 0 = never seen */
	uint64_t last_uid;          /* IMAP: highest UID dealt with */
	uint64_t mbox_offset;       /* mbox: where the next unread message starts */
	char mbox_first_sha256[65]; /* mbox: hash of the first message, "" = none */
};

int mailbox_state_tenant(struct db *db, const char *tenant_name, int *tenant_id, struct err *e);
int mailbox_state_get(struct db *db, int tenant_id, const char *mailbox, struct mailbox_state *st,
                      struct err *e);
int mailbox_state_put(struct db *db, int tenant_id, const char *mailbox,
                      const struct mailbox_state *st, struct err *e);
/* *got is false when another session holds the lock. */
int mailbox_lock_try(struct db *db, const char *mailbox, bool *got, struct err *e);
int mailbox_lock_release(struct db *db, const char *mailbox, struct err *e);

#endif
