/*
 * db: the connection and the mapping of libpq failures to struct err.
 */
#include "db/db.h"
#include "db/db_int.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/migrate.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq messages end with a newline (sometimes several lines); we want one. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	if (!src)
		src = "";
	while (*src && i + 1 < n) {
		char c = *src++;
		if (c == '\n' || c == '\r') {
			while (*src == '\n' || *src == '\r')
				src++;
			if (!*src)
				break;
			c = ' ';
		}
		dst[i++] = c;
	}
	dst[i] = '\0';
}

/* Transient failures: serialization, deadlock, connection, server going
 * down or out of resources. Everything else is permanent. */
static bool sqlstate_retryable(const char *s)
{
	return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 || strncmp(s, "08", 2) == 0 ||
	       strncmp(s, "57P", 3) == 0 || strncmp(s, "53", 2) == 0;
}

/* The server went away or refuses connections (shutdown, crash, admin
 * command): said the same way as a failed connect. */
static bool sqlstate_gone(const char *s)
{
	return strncmp(s, "08", 2) == 0 || strncmp(s, "57P", 3) == 0;
}

/* Bad data rather than a bad program: data exceptions (22) and integrity
 * violations (23) come from the values we were handed. */
static bool sqlstate_input(const char *s)
{
	return strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0;
}

/* Server notices ("already exists, skipping" during migrations) are chatter:
 * shown with -v only. */
static void notice(void *arg, const char *msg)
{
	char line[400];
	(void)arg;
	one_line(line, sizeof line, msg);
	log_debug("database: %s", line);
}

/* Which part of a connection string libpq's complaint is about, from its
 * wording (libpq says what it expected, then quotes the string). */
static const char *faulty_part(const char *msg)
{
	static const struct {
		const char *words, *part;
	} parts[] = {
	    {"IPv6 host", "the host (an IPv6 address in [brackets])"},
	    {"host", "the host"},
	    {"port", "the port"},
	    {"percent-encoded", "a %-encoded character"},
	    {"query parameter", "a ?parameter"},
	    {"invalid connection option", "an option name"},
	    {"missing \"=\"", "a key=value pair (no '=')"},
	    {"quoted string", "a quoted value (no closing quote)"},
	    {"position", "a character in the URI"},
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (strstr(msg, parts[i].words))
			return parts[i].part;
	return "its syntax";
}

int db_conninfo_check(const char *conninfo, char *why, size_t n)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	/* libpq's message quotes the string, password and all: never shown.
	 * Only its first words (before any quote) and the part they name. */
	const char *m = perr ? perr : "out of memory";
	size_t k = strcspn(m, "\":\n");
	while (k > 0 && m[k - 1] == ' ')
		k--;
	bool uri = strncmp(conninfo, "postgresql://", 13) == 0 ||
	           strncmp(conninfo, "postgres://", 11) == 0;
	snprintf(why, n,
	         "invalid database connection %s: %s is wrong (%.*s); the string is not shown, it "
	         "may hold a password",
	         uri ? "URI" : "string", faulty_part(m), (int)k, m);
	PQfreemem(perr);
	return -1;
}

/* key=value pairs of the set options, values quoted where needed;
 * without the password unless `password`. */
static char *conninfo_string(PQconninfoOption *opts, bool password)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val || (!password && strcmp(o->keyword, "password") == 0))
			continue;
		if (b.len)
			buf_putc(&b, ' ');
		buf_printf(&b, "%s=", o->keyword);
		bool plain = *o->val && strcspn(o->val, " \t\n'\\") == strlen(o->val);
		if (plain) {
			buf_puts(&b, o->val);
			continue;
		}
		buf_putc(&b, '\'');
		for (const char *c = o->val; *c; c++) {
			if (*c == '\'' || *c == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *c);
		}
		buf_putc(&b, '\'');
	}
	return buf_steal(&b);
}

char *db_conninfo_display(const char *conninfo)
{
	char *perr = NULL;
	PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, &perr) : NULL;
	PQfreemem(perr);
	if (!opts)
		return xstrdup("(a connection string libpq cannot parse; not shown)");
	char *s = conninfo_string(opts, false);
	PQconninfoFree(opts);
	return s;
}

/* A connection the server refused for who we are or what we asked for:
 * wrong password, unknown role or database, no pg_hba.conf entry. Retrying
 * will not help; the configuration must change. libpq gives no SQLSTATE for
 * a failed connection, so the server's (English) wording decides; returns
 * the SQLSTATE it stands for, or NULL when the server was not reached or the
 * failure may pass (starting up, too many connections). */
static const char *connect_refusal(PGconn *conn, const char *msg)
{
	static const struct {
		const char *words, *also, *state;
	} refusals[] = {
	    {"password authentication failed", "", "28P01"},
	    {"no password supplied", "", "28P01"},
	    {"authentication failed", "", "28000"},
	    {"no pg_hba.conf entry", "", "28000"},
	    {"pg_hba.conf rejects", "", "28000"},
	    {"role \"", "does not exist", "28000"},
	    {"database \"", "does not exist", "3D000"},
	    {"permission denied for database", "", "42501"},
	};
	if (conn && PQconnectionNeedsPassword(conn))
		return "28P01";
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
		if (strstr(msg, refusals[i].words) && strstr(msg, refusals[i].also))
			return refusals[i].state;
	return NULL;
}

int db_connect(struct db **out, const char *conninfo, bool migrate, struct err *e)
{
	struct db *db = NULL;
	PGresult *res = NULL;
	char *perr = NULL;
	char line[400];
	int rc = -1;

	*out = NULL;
	if (!conninfo || !*conninfo) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "no database connection string");
		goto out;
	}
	/* A string libpq cannot even parse is the user's setup, not an outage. */
	if (db_conninfo_check(conninfo, line, sizeof line) != 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "%s", line);
		goto out;
	}

	/* Our defaults come first so that the caller's string overrides them. */
	const char *const keys[] = {"fallback_application_name", "client_encoding", "dbname", NULL};
	const char *const vals[] = {"dmarcsift", "UTF8", conninfo, NULL};
	db = xcalloc(1, sizeof *db);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		one_line(line, sizeof line,
		         db->conn ? PQerrorMessage(db->conn) : "out of memory in libpq");
		const char *refused = connect_refusal(db->conn, line);
		if (refused) {
			err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
			          "the database server refused the connection (fix the "
			          "connection string, the role or its password): %s",
			          line);
			snprintf(e->sqlstate, sizeof e->sqlstate, "%s", refused);
		} else {
			err_stage(e, ERR_STAGE_STORE, ERR_RETRY, "database unreachable: %s", line);
		}
		goto out;
	}
	PQsetNoticeProcessor(db->conn, notice, NULL);
	/* Pin search_path: nothing of ours may resolve through a schema someone
	 * else can create objects in. */
	res = PQexec(db->conn,
	             "SELECT pg_catalog.set_config('search_path', 'dmarcsift, pg_catalog', false)");
	if (db_check(db, &res, PGRES_TUPLES_OK, "setting search_path", e) < 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (migrate && migrate_apply(db, NULL, e) < 0)
		goto out;
	*out = db;
	db = NULL;
	rc = 0;
out:
	PQfreemem(perr);
	PQclear(res);
	db_close(db);
	return rc;
}

int db_connect_again(struct db **out, struct db *like, struct err *e)
{
	*out = NULL;
	PQconninfoOption *opts = PQconninfo(like->conn);
	if (!opts)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "out of memory in libpq");
	char *s = conninfo_string(opts, true);
	PQconninfoFree(opts);
	int rc = db_connect(out, s, false, e);
	explicit_bzero(s, strlen(s)); /* it may hold a password */
	free(s);
	return rc;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db);
}

/* Before the connection is used otherwise: the lazy statements' answers
 * (db.h), read so that what follows finds the connection idle. */
static void settle(struct db *db)
{
	if (db_lazy_unread(db) > 0)
		db_lazy_settle(db, UINT64_MAX);
}

PGconn *db_pg(struct db *db)
{
	settle(db);
	return db->conn;
}

bool db_lost(struct db *db)
{
	PGconn *c = db->conn;
	if (db->lazy.gone || PQstatus(c) == CONNECTION_BAD || PQsocket(c) < 0)
		return true;
	/* libpq notices a closed socket only when it next reads: a failed
	 * call can leave the status OK (a send that hit EPIPE, a result
	 * made up by libpq). Reading now settles it; 0 means the connection
	 * is broken. */
	if (PQconsumeInput(c) == 0)
		return true;
	return PQstatus(c) == CONNECTION_BAD || PQsocket(c) < 0;
}

int db_check(struct db *db, PGresult **resp, ExecStatusType want, const char *what, struct err *e)
{
	PGresult *res = resp ? *resp : NULL;
	char line[400];
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (res && st == want)
		return 0;
	/* An error the server sent carries a SQLSTATE and is classified by it
	 * below; one without comes from libpq itself, usually because the
	 * connection went away: asked of the connection, as is a bad status. */
	if (PQstatus(db->conn) == CONNECTION_BAD || db->lazy.gone ||
	    ((!res || (st == PGRES_FATAL_ERROR && !sqlstate)) && db_lost(db))) {
		one_line(line, sizeof line, PQerrorMessage(db->conn));
		err_stage(e, ERR_STAGE_STORE, ERR_RETRY, "database unreachable: %s: %s", what,
		          line);
		goto out;
	}
	if (!res) {
		one_line(line, sizeof line, PQerrorMessage(db->conn));
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "%s: %s", what, line);
		goto out;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	if (!primary) {
		/* Not an error result: the statement succeeded in a way we did not
		 * ask for (e.g. rows where none were expected). */
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "%s: unexpected result %s (wanted %s)",
		          what, PQresStatus(st), PQresStatus(want));
		goto out;
	}
	bool fresh = !err_is_set(e);
	enum err_kind kind = ERR_INTERNAL;
	if (state && sqlstate_retryable(state))
		kind = ERR_RETRY;
	else if (state && sqlstate_input(state))
		kind = ERR_INPUT;
	const char *gone = state && sqlstate_gone(state) ? "database unreachable: " : "";
	one_line(line, sizeof line, primary);
	if (detail) {
		char d[200];
		one_line(d, sizeof d, detail);
		err_stage(e, ERR_STAGE_STORE, kind, "%s%s: %s (%s)", gone, what, line, d);
	} else {
		err_stage(e, ERR_STAGE_STORE, kind, "%s%s: %s", gone, what, line);
	}
	if (fresh && e && state)
		memcpy(e->sqlstate, state, strnlen(state, sizeof e->sqlstate - 1));
out:
	PQclear(res);
	if (resp)
		*resp = NULL;
	return -1;
}

int db_exec(struct db *db, const char *sql, struct err *e)
{
	settle(db);
	PGresult *res = PQexec(db->conn, sql);
	if (db_check(db, &res, PGRES_COMMAND_OK, sql, e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	settle(db);
	return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* The prepared statement of `sql` on this connection, prepared now if it
 * is new; NULL with *failed set (the caller's to check) when the server
 * refused it, and NULL with *failed NULL when the table is full (the
 * statement is then planned each time). */
const struct prepared *db_prepared_for(struct db *db, const char *sql, int nparams,
                                       PGresult **failed)
{
	*failed = NULL;
	for (size_t i = 0; i < db->n_prep; i++)
		if (db->prep[i].sql == sql || strcmp(db->prep[i].sql, sql) == 0)
			return &db->prep[i];
	if (db->n_prep == DB_PREPARED_MAX)
		return NULL;
	struct prepared *n = &db->prep[db->n_prep];
	snprintf(n->name, sizeof n->name, "ds_%zu", db->n_prep);
	PGresult *res = PQprepare(db->conn, n->name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*failed = res;
		return NULL;
	}
	PQclear(res);
	n->sql = sql;
	db->n_prep++;
	return n;
}

bool db_has_prepared(const struct db *db, const char *sql)
{
	for (size_t i = 0; i < db->n_prep; i++)
		if (db->prep[i].sql == sql || strcmp(db->prep[i].sql, sql) == 0)
			return true;
	return false;
}

PGresult *db_query_prepared(struct db *db, const char *sql, int nparams, const char *const *params,
                            const int *lengths, const int *formats)
{
	PGresult *failed = NULL;
	settle(db);
	const struct prepared *p = db_prepared_for(db, sql, nparams, &failed);
	if (failed)
		return failed; /* the caller's db_check reports it */
	if (!p)                /* the table is full: planned each time, as db_query does */
		return PQexecParams(db->conn, sql, nparams, NULL, params, lengths, formats, 0);
	return PQexecPrepared(db->conn, p->name, nparams, params, lengths, formats, 0);
}

/* One pipelined statement's result: the first, the rest read and dropped
 * up to the NULL that ends it. */
PGresult *db_take_result(PGconn *c)
{
	PGresult *first = PQgetResult(c);
	if (!first)
		return NULL;
	PGresult *more;
	while (PQstatus(c) == CONNECTION_OK && (more = PQgetResult(c)) != NULL)
		PQclear(more);
	return first;
}

void db_set_commit_gate(struct db *db, db_gate_fn gate, void *arg)
{
	db->gate = gate;
	db->gate_arg = arg;
}

void db_set_copy_end_hook(struct db *db, void (*hook)(void *arg), void *arg)
{
	db->copy_end_hook = hook;
	db->copy_end_arg = arg;
}

void db_run_copy_end_hook(struct db *db)
{
	void (*hook)(void *arg) = db->copy_end_hook;
	db->copy_end_hook = NULL;
	if (hook)
		hook(db->copy_end_arg);
}

/* Runs the commit gate, if any, once. */
static int pass_gate(struct db *db, struct err *e)
{
	db_gate_fn gate = db->gate;
	if (!gate)
		return 0;
	db->gate = NULL;
	return gate(db->gate_arg, e) == 0 ? 0 : -1;
}

int db_run_in_tx(struct db *db, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, bool commit, ExecStatusType want,
                 const char *what, PGresult **out, struct err *e)
{
	PGconn *c = db->conn;
	const char *sqls[3] = {db->batch ? "SAVEPOINT ds_tx" : "BEGIN", sql,
	                       db->batch ? "RELEASE SAVEPOINT ds_tx" : "COMMIT"};
	const char *whats[3] = {sqls[0], what, sqls[2]};
	ExecStatusType wants[3] = {PGRES_COMMAND_OK, want, PGRES_COMMAND_OK};
	PGresult *res[3] = {NULL, NULL, NULL};
	PGresult *failed = NULL;
	int n = commit ? 3 : 2;
	int bad = -1;

	*out = NULL;
	settle(db);
	if (commit && !db->batch && pass_gate(db, e) < 0)
		return -1;
	const struct prepared *p = db_prepared_for(db, sql, nparams, &failed);
	if (failed)
		return db_check(db, &failed, PGRES_COMMAND_OK, what, e);
	if (PQenterPipelineMode(c) != 1)
		return db_check(db, NULL, PGRES_COMMAND_OK, what, e);
	bool sent =
	    PQsendQueryParams(c, sqls[0], 0, NULL, NULL, NULL, NULL, 0) == 1 &&
	    (p ? PQsendQueryPrepared(c, p->name, nparams, params, lengths, formats, 0)
	       : PQsendQueryParams(c, sql, nparams, NULL, params, lengths, formats, 0)) == 1 &&
	    (!commit || PQsendQueryParams(c, sqls[2], 0, NULL, NULL, NULL, NULL, 0) == 1) &&
	    PQpipelineSync(c) == 1;
	bool synced = false;
	if (sent) {
		for (int i = 0; i < n; i++)
			res[i] = db_take_result(c);
		PGresult *s = PQgetResult(c);
		synced = s && PQresultStatus(s) == PGRES_PIPELINE_SYNC;
		PQclear(s);
	}
	/* Fails when something is still unread: the connection is then of no
	 * further use, which the check below says. */
	bool left = PQexitPipelineMode(c) == 1;
	for (int i = 0; i < n && bad < 0; i++)
		if (db_check(db, &res[i], wants[i], whats[i], e) < 0)
			bad = i;
	if (bad < 0 && (!sent || !synced || !left)) {
		db_check(db, NULL, PGRES_COMMAND_OK, what, e);
		bad = n;
	}
	for (int i = 0; i < n; i++)
		if (i != 1 || bad >= 0) {
			PQclear(res[i]);
			res[i] = NULL;
		}
	if (bad < 0) {
		*out = res[1];
		return 0;
	}
	/* The transaction (savepoint) was opened: it goes. */
	if (bad > 0)
		db_rollback(db);
	return -1;
}

int db_batch_begin(struct db *db, struct err *e)
{
	if (db->batch)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "a batch is open already");
	if (db_exec(db, "BEGIN", e) < 0)
		return -1;
	db->batch = true;
	db->chain[0] = '\0';
	return 0;
}

void db_batch_chain_note(struct db *db, const char *savepoint)
{
	if (db->batch && !db->chain[0])
		snprintf(db->chain, sizeof db->chain, "%s", savepoint);
}

void db_batch_chain_cut(struct db *db, const char *savepoint)
{
	if (strcmp(db->chain, savepoint) == 0)
		db->chain[0] = '\0';
}

int db_batch_chain_release(struct db *db, struct err *e)
{
	if (!db->batch || !db->chain[0])
		return 0;
	char sql[64];
	snprintf(sql, sizeof sql, "RELEASE SAVEPOINT %s", db->chain);
	db->chain[0] = '\0';
	return db->sending ? db_batch_send(db, sql, 0, NULL, e) : db_exec(db, sql, e);
}

int db_batch_commit(struct db *db, struct err *e)
{
	settle(db);
	if (!db->batch)
		return 0;
	if (pass_gate(db, e) < 0)
		return -1;
	db->batch = false;
	PGresult *res = PQexec(db->conn, "COMMIT");
	if (db_check(db, &res, PGRES_COMMAND_OK, "committing a batch", e) < 0)
		return -1;
	/* A transaction that failed ends with ROLLBACK, not with an error:
	 * everything in it would be lost without a word. */
	bool rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
	PQclear(res);
	if (rolled_back)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "committing a batch: the server rolled it back");
	return 0;
}

void db_batch_rollback(struct db *db)
{
	db_lazy_reset(db);
	if (!db->batch)
		return;
	db->batch = false;
	if (db->sending) {
		/* Sending failed part way: what went is read and dropped. */
		PGconn *c = db->conn;
		db->sending = false;
		if (PQstatus(c) == CONNECTION_OK && PQpipelineSync(c) == 1) {
			for (int i = 0; i < db->nsent && PQstatus(c) == CONNECTION_OK; i++)
				PQclear(db_take_result(c));
			PQclear(PQgetResult(c));
		}
		PQexitPipelineMode(c);
	}
	if (PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

bool db_in_batch(const struct db *db)
{
	return db->batch;
}

int db_begin(struct db *db, struct err *e)
{
	return db_exec(db, db->batch ? "SAVEPOINT ds_tx" : "BEGIN", e);
}

int db_commit(struct db *db, struct err *e)
{
	if (!db->batch && pass_gate(db, e) < 0)
		return -1;
	return db_exec(db, db->batch ? "RELEASE SAVEPOINT ds_tx" : "COMMIT", e);
}

void db_rollback(struct db *db)
{
	settle(db);
	if (PQstatus(db->conn) != CONNECTION_OK)
		return;
	PQclear(PQexec(db->conn, db->batch ? "ROLLBACK TO SAVEPOINT ds_tx; RELEASE SAVEPOINT ds_tx"
	                                   : "ROLLBACK"));
}

int db_batch_send_open(struct db *db, struct err *e)
{
	settle(db);
	if (!db->batch || db->sending || db->sent)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "db_batch_send_open: no batch open, or one being sent");
	if (PQenterPipelineMode(db->conn) != 1)
		return db_check(db, NULL, PGRES_COMMAND_OK, "ending a batch", e);
	db->sending = true;
	db->nsent = db->nread = 0;
	db->failed = db->sent_bad = false;
	return 0;
}

int db_batch_send(struct db *db, const char *sql, int nparams, const char *const *params,
                  struct err *e)
{
	if (!db->sending)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "db_batch_send: not sending");
	if (PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1)
		return db_check(db, NULL, PGRES_COMMAND_OK, "ending a batch", e);
	db->nsent++;
	return 0;
}

int db_batch_send_commit(struct db *db, struct err *e)
{
	if (pass_gate(db, e) < 0)
		return -1;
	if (db_batch_send(db, "COMMIT", 0, NULL, e) < 0)
		return -1;
	if (PQpipelineSync(db->conn) != 1)
		return db_check(db, NULL, PGRES_COMMAND_OK, "committing a batch", e);
	db->sending = false;
	db->sent = true;
	db->batch = false;
	return 0;
}

bool db_batch_sent(const struct db *db)
{
	return db->sent;
}

bool db_batch_failed(const struct db *db)
{
	return db->failed;
}

/* Whether `sent`'s backend waits, directly or through other backends, on
 * `open`'s (asked on `open`'s connection, which is idle). */
static int waits_on(struct db *open, struct db *sent, bool *waits, struct err *e)
{
	char a[16], b[16];
	snprintf(a, sizeof a, "%d", PQbackendPID(sent->conn));
	snprintf(b, sizeof b, "%d", PQbackendPID(open->conn));
	const char *params[2] = {a, b};
	PGresult *res = db_query(open,
	                         "WITH RECURSIVE w(pid) AS ("
	                         " SELECT unnest(pg_blocking_pids($1::integer))"
	                         " UNION SELECT unnest(pg_blocking_pids(w.pid)) FROM w)"
	                         " SELECT EXISTS (SELECT 1 FROM w WHERE pid = $2::integer)",
	                         2, params);
	if (db_check(open, &res, PGRES_TUPLES_OK, "looking for a wait between two batches", e) < 0)
		return -1;
	*waits = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

/* Until a result can be read without blocking: 0; -2 when the sent batch
 * waits on `open` (see db.h); -1 when the connection failed. */
static int wait_result(struct db *db, struct db *open, struct err *e)
{
	for (;;) {
		if (PQconsumeInput(db->conn) != 1)
			return db_check(db, NULL, PGRES_COMMAND_OK, "committing a batch", e);
		if (!PQisBusy(db->conn))
			return 0;
		struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
		int n = poll(&pfd, 1, 500);
		if (n < 0 && errno != EINTR)
			return err_stage(e, ERR_STAGE_STORE, ERR_RETRY,
			                 "committing a batch: poll: %s", strerror(errno));
		if (n == 0 && open) {
			bool waits = false;
			if (waits_on(open, db, &waits, e) < 0)
				return -1;
			if (waits)
				return -2;
		}
	}
}

int db_batch_settle(struct db *db, struct db *open, struct err *e)
{
	if (!db->sent)
		return 0;
	PGconn *c = db->conn;
	int rc = 0;
	/* The statements, COMMIT last, then the pipeline's sync; resumed where
	 * a -2 left off. */
	while (db->nread <= db->nsent) {
		rc = wait_result(db, open, e);
		if (rc == -2)
			return -2;
		if (rc != 0)
			break;
		int i = db->nread++;
		if (i == db->nsent) {
			PGresult *s = PQgetResult(c);
			if (!s || PQresultStatus(s) != PGRES_PIPELINE_SYNC)
				rc = -1;
			PQclear(s);
			break;
		}
		PGresult *res = db_take_result(c);
		if (db->sent_bad) {
			PQclear(res); /* aborted with the pipeline */
			continue;
		}
		bool last = i == db->nsent - 1;
		if (db_check(db, &res, PGRES_COMMAND_OK,
		             last ? "committing a batch" : "ending a batch", &db->sent_err) < 0) {
			db->sent_bad = true;
			continue;
		}
		if (last && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
			err_stage(&db->sent_err, ERR_STAGE_STORE, ERR_INTERNAL,
			          "committing a batch: the server rolled it back");
			db->sent_bad = true;
		}
		PQclear(res);
	}
	db->sent = false;
	bool left = PQexitPipelineMode(c) == 1;
	if (rc == 0 && !db->sent_bad && left)
		return 0;
	db->failed = true;
	if (db->sent_bad)
		*e = db->sent_err;
	else if (rc == 0)
		db_check(db, NULL, PGRES_COMMAND_OK, "committing a batch", e);
	/* A statement that failed left the transaction aborted: it ends. */
	if (PQstatus(c) == CONNECTION_OK && left)
		PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

void db_set_peer(struct db *db, struct db *peer)
{
	db->peer = peer;
}

int db_settle_peer(struct db *db, struct err *e)
{
	struct db *peer = db->peer;
	if (!peer || !peer->sent)
		return 0;
	int rc = db_batch_settle(peer, db, e);
	if (rc == -2)
		return err_stage(
		    e, ERR_STAGE_STORE, ERR_RETRY,
		    "the previous batch waits, through another transaction, on this one");
	if (rc < 0 && e->kind != ERR_RETRY) {
		/* Whatever it was, it says nothing about the input at hand. */
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "the previous batch did not commit: %.450s", e->msg);
		memcpy(e->msg, msg, sizeof msg);
		e->kind = ERR_RETRY;
	}
	return rc < 0 ? -1 : 0;
}
