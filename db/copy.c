/* copy: see copy.h. */
#include "db/copy.h"

#include "core/utf8.h"
#include "db/db.h"

#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The letter after the backslash for each byte the text format escapes,
 * 0 for every other byte. */
static const char escape[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

/* Appends the n bytes at s escaped, invalid UTF-8 as U+FFFD. Runs of
 * bytes that stay as they are go in one append. */
static int put_text(struct buf *b, const unsigned char *s, size_t n)
{
	static const char fffd[] = "\xef\xbf\xbd";
	size_t run = 0, i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (!escape[c]) {
				i++;
				continue;
			}
			const char pair[2] = {'\\', escape[c]};
			if (buf_append(b, s + run, i - run) < 0 || buf_append(b, pair, 2) < 0)
				return -1;
		} else {
			int k = utf8_len(s + i, n - i);
			if (k > 0) {
				i += (size_t)k;
				continue;
			}
			if (buf_append(b, s + run, i - run) < 0 || buf_append(b, fffd, 3) < 0)
				return -1;
		}
		run = ++i;
	}
	return buf_append(b, s + run, n - run);
}

int copy_field(struct buf *b, const char *s)
{
	if (!s)
		return buf_append(b, "\\N", 2);
	/* Most fields have nothing to escape: one scan, one append. */
	for (;;) {
		size_t run = strcspn(s, "\\\t\n\r");
		if (buf_append(b, s, run) < 0)
			return -1;
		if (!s[run])
			return 0;
		const char pair[2] = {'\\', escape[(unsigned char)s[run]]};
		if (buf_append(b, pair, 2) < 0)
			return -1;
		s += run + 1;
	}
}

int copy_text(struct buf *b, const char *s, size_t max)
{
	if (!s)
		return buf_append(b, "\\N", 2);
	return put_text(b, (const unsigned char *)s, strnlen(s, max));
}

/* Maps a failure of libpq's COPY calls (which carry no SQLSTATE). */
static int failed(struct copy *c, const char *verb, struct err *e)
{
	/* Asked first: db_lost reads, which may rewrite the error message. */
	bool lost = db_lost(c->db);
	const char *msg = PQerrorMessage(db_pg(c->db));
	int n = (int)strcspn(msg, "\n");
	return err_stage(e, ERR_STAGE_STORE, lost ? ERR_RETRY : ERR_INTERNAL, "%s%s %s: %.*s",
	                 lost ? "database unreachable: " : "", verb, c->what, n, msg);
}

int copy_begin(struct copy *c, struct db *db, const char *sql, const char *what,
               size_t max_buffered, size_t flush_at, struct err *e)
{
	char msg[160];
	memset(c, 0, sizeof *c);
	c->db = db;
	c->what = what;
	c->flush_at = flush_at;
	buf_init(&c->buf, max_buffered);
	PGresult *res = PQexec(db_pg(db), sql);
	snprintf(msg, sizeof msg, "starting COPY of %s", what);
	if (db_check(db, &res, PGRES_COPY_IN, msg, e) < 0)
		return -1;
	PQclear(res);
	c->open = true;
	return 0;
}

static int send_buffered(struct copy *c, struct err *e)
{
	if (c->buf.len == 0)
		return 0;
	if (c->buf.len > INT_MAX || PQputCopyData(db_pg(c->db), c->buf.data, (int)c->buf.len) != 1)
		return failed(c, "sending", e);
	buf_reset(&c->buf);
	return 0;
}

int copy_flush(struct copy *c, struct err *e)
{
	return c->buf.len >= c->flush_at ? send_buffered(c, e) : 0;
}

int copy_end(struct copy *c, struct err *e)
{
	PGconn *conn = db_pg(c->db);
	PGresult *res = NULL;
	char msg[160];
	int rc = -1;
	if (send_buffered(c, e) < 0) {
		copy_abort(c, "could not send every row");
		return -1;
	}
	c->open = false;
	if (PQputCopyEnd(conn, NULL) != 1) {
		failed(c, "ending COPY of", e);
		goto out;
	}
	db_run_copy_end_hook(c->db);
	/* The COPY's own result, then NULL; anything else is drained. */
	res = PQgetResult(conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Which line and column the server choked on, copied before
		 * db_check releases the result. */
		const char *where = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
		char ctx[200] = "";
		if (where)
			snprintf(ctx, sizeof ctx, " [%.*s]", (int)strcspn(where, "\n"), where);
		bool fresh = !err_is_set(e);
		snprintf(msg, sizeof msg, "loading %s", c->what);
		db_check(c->db, &res, PGRES_COMMAND_OK, msg, e);
		if (fresh && e) {
			size_t n = strlen(e->msg);
			snprintf(e->msg + n, sizeof e->msg - n, "%s", ctx);
		}
		goto out;
	}
	rc = 0;
out:
	do
		PQclear(res);
	while ((res = PQgetResult(conn)) != NULL);
	buf_free(&c->buf);
	return rc;
}

void copy_abort(struct copy *c, const char *reason)
{
	PGconn *conn = c->open ? db_pg(c->db) : NULL;
	if (conn && PQstatus(conn) == CONNECTION_OK) {
		PQputCopyEnd(conn, reason);
		PGresult *res;
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
	}
	c->open = false;
	buf_free(&c->buf);
}
