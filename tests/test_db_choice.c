/*
 * One database for every command: each subcommand that connects takes the
 * database from --db, else DMARCSIFT_DB, else the configuration file's
 * [database] url, else the embedded cluster — the same order everywhere.
 *
 * Each source names a database that does not exist on the test server, so
 * the server's refusal (exit 4, naming the database) says which one a command
 * chose; the embedded cluster is one whose data directory is recorded as
 * created but missing, so choosing it is a quick, recognisable refusal
 * (exit 3) that starts nothing. A real database then shows the config file's
 * url carrying a command through, and `db url` / `db status` saying where
 * the database came from without ever printing its password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/mailtest.h"
#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "sekrit-Pw-9"

struct ctx {
	char *dir, *xdg_config, *xdg_data, *conf, *pgdata;
	char *base; /* DMARCSIFT_TEST_DB */
	char *real; /* a fresh database */
};

static void write_config(struct ctx *c, const char *url)
{
	char *maildir = xasprintf("%s/Maildir", c->dir);
	char *db = url ? xasprintf("[database]\nurl = %s\n\n", url) : xstrdup("");
	char *text = xasprintf("%s[mailbox local]\nurl = maildir:%s\n", db, maildir);
	free(db);
	free(mt_write_file(c->xdg_config, "dmarcsift/dmarcsift.conf", text));
	chmod(c->conf, 0600);
	free(text);
	free(maildir);
}

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	c->base = xstrdup(getenv("DMARCSIFT_TEST_DB") ? getenv("DMARCSIFT_TEST_DB") : "");
	if (!*c->base || testdb_create(&c->real) != 0) {
		fprintf(stderr, "test_db_choice: DMARCSIFT_TEST_DB must name a test server\n");
		return -1;
	}
	c->dir = mt_tmpdir("dbchoice");
	c->xdg_config = xasprintf("%s/config", c->dir);
	c->xdg_data = xasprintf("%s/data", c->dir);
	c->conf = xasprintf("%s/dmarcsift/dmarcsift.conf", c->xdg_config);
	c->pgdata = xasprintf("%s/dmarcsift/pg", c->xdg_data);
	char *mk = xasprintf("mkdir -p '%s/dmarcsift' '%s/dmarcsift' '%s/Maildir/cur' "
	                     "'%s/Maildir/new' '%s/Maildir/tmp'",
	                     c->xdg_config, c->xdg_data, c->dir, c->dir, c->dir);
	if (system(mk) != 0)
		return -1;
	free(mk);
	/* The embedded cluster: created once, its data directory now gone. */
	free(mt_write_file(c->xdg_data, "dmarcsift/pg.created", "test\n"));
	setenv("XDG_CONFIG_HOME", c->xdg_config, 1);
	setenv("XDG_DATA_HOME", c->xdg_data, 1);
	unsetenv("DMARCSIFT_DB");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	testdb_drop(c->real);
	char *rm = xasprintf("rm -rf '%s'", c->dir);
	if (system(rm) != 0)
		fprintf(stderr, "cannot remove %s\n", c->dir);
	free(rm);
	free(c->dir);
	free(c->xdg_config);
	free(c->xdg_data);
	free(c->conf);
	free(c->pgdata);
	free(c->base);
	free(c->real);
	free(c);
	return 0;
}

/* Runs `cmd` (+ --db FLAG when flag is set) and returns its output. */
static int run_cmd(const char *const *cmd, const char *flag, char **out)
{
	const char *args[16];
	size_t n = 0;
	for (; cmd[n]; n++)
		args[n] = cmd[n];
	if (flag) {
		args[n++] = "--db";
		args[n++] = flag;
	}
	args[n] = NULL;
	return mt_run(args, out);
}

static void test_every_command_same_order(void **state)
{
	struct ctx *c = *state;
	char *flag = xasprintf("%s dbname=ds_choice_flag", c->base);
	char *env = xasprintf("%s dbname=ds_choice_env", c->base);
	char *conf = xasprintf("%s dbname=ds_choice_conf password=%s", c->base, SECRET);
	write_config(c, conf);

	const char *ingest[] = {"ingest", FIXTURES_DIR "/archives/report-plain.xml", NULL};
	const char *const *cmds[] = {
	    (const char *[]){"tenant", "list", NULL},
	    (const char *[]){"failures", NULL},
	    (const char *[]){"reprocess", "--all", NULL},
	    (const char *[]){"suppressions", NULL},
	    (const char *[]){"escalations", NULL},
	    (const char *[]){"report", "--all-tenants", NULL},
	    ingest,
	    (const char *[]){"bounces", "ingest", FIXTURES_DIR "/mail/classify/dsn.eml", NULL},
	    (const char *[]){"sources", "resolve", "--no-lookup", NULL},
	    (const char *[]){"poll", NULL},
	    (const char *[]){"db", "migrate", NULL},
	    (const char *[]){"db", "status", NULL},
	    (const char *[]){"db", "start", NULL},
	    (const char *[]){"db", "url", NULL},
	};
	/* Case by case, from all sources given down to none. */
	enum { FLAG, ENV, CONF, EMBEDDED };
	for (int src = FLAG; src <= EMBEDDED; src++) {
		if (src <= ENV)
			setenv("DMARCSIFT_DB", env, 1);
		else
			unsetenv("DMARCSIFT_DB");
		if (src == EMBEDDED)
			write_config(c, NULL); /* a file, without [database] */
		const char *want = src == FLAG   ? "ds_choice_flag"
		                   : src == ENV  ? "ds_choice_env"
		                   : src == CONF ? "ds_choice_conf"
		                                 : c->pgdata;
		for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
			char *out = NULL;
			int rc = run_cmd(cmds[i], src == FLAG ? flag : NULL, &out);
			bool url = strcmp(cmds[i][0], "db") == 0 && strcmp(cmds[i][1], "url") == 0;
			int want_rc = src == EMBEDDED ? 3 : url ? 0 : 4;
			if (!strstr(out, want) || rc != want_rc || strstr(out, SECRET))
				fail_msg(
				    "source %d, %s %s: exit %d (want %d), output lacks '%s' or "
				    "shows the password:\n%s",
				    src, cmds[i][0], cmds[i][1] ? cmds[i][1] : "", rc, want_rc,
				    want, out);
			/* An external database never starts the embedded cluster. */
			if (src != EMBEDDED && strstr(out, c->pgdata))
				fail_msg("source %d, %s: the embedded cluster was touched:\n%s",
				         src, cmds[i][0], out);
			free(out);
		}
		assert_int_equal(access(c->pgdata, F_OK), -1);
	}
	unsetenv("DMARCSIFT_DB");
	free(flag);
	free(env);
	free(conf);
}

static void test_config_url_carries_commands(void **state)
{
	struct ctx *c = *state;
	char *conf = xasprintf("%s password=%s", c->real, SECRET);
	write_config(c, conf);
	unsetenv("DMARCSIFT_DB");

	const char *add[] = {"tenant", "add", "acme", "acme.example", NULL};
	char *out = NULL;
	assert_int_equal(mt_run(add, &out), 0);
	free(out);
	assert_int_equal(
	    q_int(c->real, "SELECT count(*) FROM dmarcsift.tenants WHERE name = 'acme'", 0, NULL),
	    1);
	const char *ingest[] = {"ingest", "--tenant", "acme",
	                        FIXTURES_DIR "/archives/report-plain.xml", NULL};
	assert_int_equal(mt_run(ingest, &out), 0);
	free(out);
	assert_int_equal(q_int(c->real, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 1);

	/* db url: pastable, no password, and where it came from. */
	const char *url[] = {"db", "url", NULL};
	assert_int_equal(mt_run(url, &out), 0);
	assert_null(strstr(out, SECRET));
	assert_non_null(strstr(out, "[database] url in "));
	assert_non_null(strstr(out, c->conf));
	free(out);
	const char *url_only[] = {"db", "url", NULL};
	char *stdout_only = NULL;
	assert_int_equal(run_bin(url_only, NULL, &stdout_only), 0);
	stdout_only[strcspn(stdout_only, "\n")] = '\0';
	assert_int_equal(q_int(stdout_only, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 1);
	free(stdout_only);

	const char *st[] = {"db", "status", NULL};
	assert_int_equal(mt_run(st, &out), 0);
	assert_null(strstr(out, SECRET));
	assert_non_null(strstr(out, "[database] url in "));
	assert_non_null(strstr(out, "up to date"));
	free(out);

	/* DMARCSIFT_DB comes before the file. */
	char *bad = xasprintf("%s dbname=ds_choice_env", c->base);
	setenv("DMARCSIFT_DB", bad, 1);
	assert_int_equal(mt_run(st, &out), 4);
	assert_non_null(strstr(out, "from DMARCSIFT_DB"));
	free(out);
	unsetenv("DMARCSIFT_DB");
	free(bad);

	/* A file with problems and no url is not passed over in silence. */
	free(mt_write_file(c->xdg_config, "dmarcsift/dmarcsift.conf", "[database]\nurl =\n"));
	const char *list[] = {"tenant", "list", NULL};
	assert_int_equal(mt_run(list, &out), 2);
	assert_non_null(strstr(out, c->conf));
	assert_null(strstr(out, c->pgdata));
	free(out);
	unlink(c->conf);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_command_same_order),
	    cmocka_unit_test(test_config_url_carries_commands),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
