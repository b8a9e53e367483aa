/*
 * testdb: throwaway databases for the integration tests.
 */
#include "tests/support/testdb.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *server(void)
{
	const char *s = getenv("DMARCSIFT_TEST_DB");
	if (!s || !*s) {
		fprintf(stderr, "DMARCSIFT_TEST_DB is not set: run scripts/test.sh, which starts "
		                "PostgreSQL\n");
		return NULL;
	}
	return s;
}

static void quote(struct buf *b, const char *v)
{
	buf_putc(b, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
	buf_putc(b, '\'');
}

/* The server's connection string with dbname replaced; works for URIs too. */
static char *with_dbname(const char *conninfo, const char *dbname)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (!opts) {
		fprintf(stderr, "testdb: bad connection string '%s': %s", conninfo,
		        perr ? perr : "?\n");
		PQfreemem(perr);
		return NULL;
	}
	struct buf b;
	buf_init(&b, 0);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "dbname") == 0)
			continue;
		buf_printf(&b, "%s=", o->keyword);
		quote(&b, o->val);
		buf_putc(&b, ' ');
	}
	buf_puts(&b, "dbname=");
	quote(&b, dbname);
	PQconninfoFree(opts);
	return buf_steal(&b);
}

static int admin(const char *sql)
{
	const char *s = server();
	if (!s)
		return -1;
	PGconn *c = PQconnectdb(s);
	int rc = -1;
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "testdb: cannot connect to DMARCSIFT_TEST_DB (%s): %s", s,
		        PQerrorMessage(c));
		goto out;
	}
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		rc = 0;
	else
		fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(c));
	PQclear(res);
out:
	PQfinish(c);
	return rc;
}

int testdb_create(char **conninfo_out)
{
	static unsigned counter;
	char name[64], sql[128];

	*conninfo_out = NULL;
	const char *s = server();
	if (!s)
		return -1;
	/* Built from numbers only: safe to splice into the statement. */
	snprintf(name, sizeof name, "dmarcsift_test_%ld_%ld_%u", (long)getpid(), (long)time(NULL),
	         counter++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	if (admin(sql) < 0)
		return -1;
	*conninfo_out = with_dbname(s, name);
	return *conninfo_out ? 0 : -1;
}

void testdb_drop(const char *conninfo)
{
	char sql[160];
	if (!conninfo)
		return;
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	if (!opts)
		return;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		/* Only ever a name testdb_create made. */
		if (strcmp(o->keyword, "dbname") == 0 && o->val &&
		    strncmp(o->val, "dmarcsift_test_", 15) == 0 &&
		    o->val[strspn(o->val, "dmarcsift_test_0123456789")] == '\0') {
			snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
			         o->val);
			admin(sql);
		}
	}
	PQconninfoFree(opts);
}
