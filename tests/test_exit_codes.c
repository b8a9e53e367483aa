/*
 * Errors a scheduler can act on: a database that refuses us (wrong password,
 * unknown role or database) is exit 4, "configuration", and a server that
 * cannot be reached is exit 3, "retry" — told apart on a real, throwaway
 * second server (scripts/pg-test-server.sh) that asks for passwords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/mailtest.h"
#include "tests/support/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static int sh(const char *cmd)
{
	int st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

static int expect(const char *conninfo, int want, const char *words)
{
	const char *args[] = {"tenant", "list", "--db", conninfo, NULL};
	char *out = NULL;
	int rc = mt_run(args, &out);
	if (rc != want || !strstr(out, words))
		fail_msg("%s: exit %d (want %d), want '%s' in:\n%s", conninfo, rc, want, words,
		         out);
	if (strstr(out, "s3cret-right") || strstr(out, "wr0ng"))
		fail_msg("a password was printed:\n%s", out);
	free(out);
	return rc;
}

static void test_refused_vs_unreachable(void **state)
{
	(void)state;
	dir = mt_tmpdir("exitcodes");
	char *start =
	    xasprintf("'%s/../scripts/pg-test-server.sh' start '%s/pg' >/dev/null", TESTS_DIR, dir);
	assert_int_equal(sh(start), 0);
	free(start);
	char *su = xasprintf("host=%s/pg port=5432 user=postgres dbname=postgres", dir);
	/* Passwords for every role but the superuser the test uses. */
	char *hba = xasprintf("printf 'local all postgres trust\\nlocal all all scram-sha-256\\n' "
	                      "> '%s/pg/data/pg_hba.conf'",
	                      dir);
	assert_int_equal(sh(hba), 0);
	free(hba);
	free(q_str(su, "SELECT pg_reload_conf()::text", 0, NULL));
	char *role = xasprintf("psql -qX '%s' -c \"CREATE ROLE ds_pw LOGIN PASSWORD "
	                       "'s3cret-right'\" >/dev/null",
	                       su);
	assert_int_equal(sh(role), 0);
	free(role);

	char *right = xasprintf("host=%s/pg port=5432 user=ds_pw password=s3cret-right "
	                        "dbname=postgres",
	                        dir);
	char *wrong =
	    xasprintf("host=%s/pg port=5432 user=ds_pw password=wr0ng dbname=postgres", dir);
	char *norole =
	    xasprintf("host=%s/pg port=5432 user=ds_nobody password=wr0ng dbname=postgres", dir);
	char *nodb = xasprintf("host=%s/pg port=5432 user=postgres dbname=ds_no_such_db", dir);
	char *nopw = xasprintf("host=%s/pg port=5432 user=ds_pw dbname=postgres", dir);

	/* The right password gets through the server (then the role may not
	 * create the schema in postgres: not a connection problem). */
	const char *ok[] = {"version", "--db", right, NULL};
	char *out = NULL;
	assert_int_equal(mt_run(ok, &out), 0);
	assert_non_null(strstr(out, "PostgreSQL server 1"));
	free(out);

	expect(wrong, 4, "password authentication failed");
	expect(norole, 4, "refused the connection");
	expect(nodb, 4, "does not exist");
	setenv("PGPASSFILE", "/nonexistent", 1);
	expect(nopw, 4, "refused the connection");

	/* The same strings with the server stopped: unreachable, retry. */
	char *stop = xasprintf("'%s/../scripts/pg-test-server.sh' stop '%s/pg'", TESTS_DIR, dir);
	assert_int_equal(sh(stop), 0);
	expect(wrong, 3, "database unreachable");
	expect(nodb, 3, "database unreachable");
	free(stop);

	char *rm = xasprintf("rm -rf '%s'", dir);
	sh(rm);
	free(rm);
	free(right);
	free(wrong);
	free(norole);
	free(nodb);
	free(nopw);
	free(su);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused_vs_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
