#include "db/mailbox_state.h"

#include "db/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_KEY "hashtextextended('dmarcsift.mailbox:' || $1, 0)"

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int mailbox_state_tenant(struct db *db, const char *tenant_name, int *tenant_id, struct err *e)
{
	*tenant_id = 0;
	if (!tenant_name)
		return 0;
	const char *params[] = {tenant_name};
	PGresult *res =
	    db_query(db, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = $1", 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up the mailbox's tenant", e) != 0)
		return -1;
	int rc = 0;
	if (PQntuples(res) != 1) {
		rc = err_set(e, ERR_CONFIG,
		             "tenant '%s' does not exist (add it with 'dmarcsift tenant add')",
		             tenant_name);
	} else {
		*tenant_id = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return rc;
}

int mailbox_state_get(struct db *db, int tenant_id, const char *mailbox, struct mailbox_state *st,
                      struct err *e)
{
	memset(st, 0, sizeof *st);
	char tid[16];
	snprintf(tid, sizeof tid, "%d", tenant_id);
	const char *params[] = {tid, mailbox};
	PGresult *res =
	    db_query(db,
	             "SELECT uidvalidity, last_uid, mbox_offset, mbox_first_sha256 "
	             "FROM dmarcsift.mailbox_state WHERE tenant_id = $1 AND mailbox = $2",
	             2, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the mailbox state", e) != 0)
		return -1;
	int rc = 0;
	if (PQntuples(res) == 1) {
		if (parse_u64(PQgetvalue(res, 0, 0), &st->uidvalidity) != 0 ||
		    parse_u64(PQgetvalue(res, 0, 1), &st->last_uid) != 0 ||
		    parse_u64(PQgetvalue(res, 0, 2), &st->mbox_offset) != 0)
			rc = err_set(e, ERR_INTERNAL, "mailbox state of '%s' is not numeric",
			             mailbox);
		snprintf(st->mbox_first_sha256, sizeof st->mbox_first_sha256, "%s",
		         PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return rc;
}

int mailbox_state_put(struct db *db, int tenant_id, const char *mailbox,
                      const struct mailbox_state *st, struct err *e)
{
	char tid[16], uv[24], lu[24], off[24];
	snprintf(tid, sizeof tid, "%d", tenant_id);
	snprintf(uv, sizeof uv, "%" PRIu64, st->uidvalidity);
	snprintf(lu, sizeof lu, "%" PRIu64, st->last_uid);
	snprintf(off, sizeof off, "%" PRIu64, st->mbox_offset);
	const char *params[] = {tid, mailbox, uv, lu, off, st->mbox_first_sha256};
	PGresult *res = db_query(
	    db,
	    "INSERT INTO dmarcsift.mailbox_state AS s (tenant_id, mailbox, uidvalidity, "
	    "last_uid, mbox_offset, mbox_first_sha256) VALUES ($1, $2, $3, $4, $5, $6) "
	    "ON CONFLICT (tenant_id, mailbox) DO UPDATE SET uidvalidity = EXCLUDED.uidvalidity, "
	    "last_uid = EXCLUDED.last_uid, mbox_offset = EXCLUDED.mbox_offset, "
	    "mbox_first_sha256 = EXCLUDED.mbox_first_sha256, updated_at = now()",
	    6, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, "saving the mailbox state", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int mailbox_lock_try(struct db *db, const char *mailbox, bool *got, struct err *e)
{
	const char *params[] = {mailbox};
	*got = false;
	PGresult *res = db_query(db, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "locking the mailbox", e) != 0)
		return -1;
	*got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int mailbox_lock_release(struct db *db, const char *mailbox, struct err *e)
{
	const char *params[] = {mailbox};
	PGresult *res = db_query(db, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "unlocking the mailbox", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}
