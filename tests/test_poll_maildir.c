/*
 * `dmarcsift poll` on a Maildir: every report exactly once, files renamed
 * into cur/ with the seen flag (or into the configured Maildir++ folders)
 * only after the commit, a killed poller and two pollers at once losing and
 * duplicating nothing. Needs DMARCSIFT_TEST_DB (fails when unset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/mailtest.h"
#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct env {
	char *db, *dir, *maildir, *config;
};

static void env_init(struct env *t, const char *name, const char *extra)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(testdb_create(&t->db), 0);
	t->dir = mt_tmpdir("poll-maildir");
	t->maildir = xasprintf("%s/Maildir", t->dir);
	static const char *const subs[] = {"", "/new", "/cur", "/tmp"};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("%s%s", t->maildir, subs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	char *conf =
	    xasprintf("[mailbox %s]\nurl = maildir:%s\n%s", name, t->maildir, extra ? extra : "");
	t->config = mt_write_file(t->dir, "dmarcsift.conf", conf);
	free(conf);
}

static void env_done(struct env *t)
{
	testdb_drop(t->db);
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(t->db);
	free(t->dir);
	free(t->maildir);
	free(t->config);
}

static void put(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Delivered as a delivery agent would: every fifth one already in cur/
 * (read by nobody: no S flag), the others in new/. */
static void deliver(const struct env *t, const struct mt_corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		char *p = i % 5 == 4 ? xasprintf("%s/cur/1700000000.M%zuP1.test:2,", t->maildir, i)
		                     : xasprintf("%s/new/1700000000.M%zuP1.test", t->maildir, i);
		put(p, c->msgs[i].data, c->msgs[i].len);
		free(p);
	}
}

/* Files in DIR; with `flag`, only those whose info has it. */
static int64_t files(const char *dir, const char *flag)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int64_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		const char *info = strstr(de->d_name, ":2,");
		if (!flag || (info && strstr(info + 3, flag)))
			n++;
	}
	closedir(d);
	return n;
}

static int64_t in(const struct env *t, const char *sub, const char *flag)
{
	char *p = xasprintf("%s/%s", t->maildir, sub);
	int64_t n = files(p, flag);
	free(p);
	return n;
}

static int poll(const struct env *t, char **out)
{
	const char *args[] = {"poll", "--config", t->config, "--db", t->db, NULL};
	return mt_run(args, out);
}

static int64_t q(const struct env *t, const char *sql)
{
	return mt_wait_count(t->db, sql, 0, 0);
}

static void assert_all_once(const struct env *t, const struct mt_corpus *c)
{
	assert_int_equal(q(t, "SELECT count(*) FROM dmarcsift.v_reports"), (int64_t)c->n_reports);
	assert_int_equal(q(t, "SELECT count(DISTINCT report_id) FROM dmarcsift.v_reports"),
	                 (int64_t)c->n_reports);
	assert_int_equal(q(t, "SELECT count(*) FROM dmarcsift.v_records"),
	                 (int64_t)c->n_reports * c->records_per_report);
	assert_int_equal(q(t, "SELECT coalesce(sum(messages), 0) FROM dmarcsift.v_reports"),
	                 (int64_t)c->n_reports * c->messages_per_report);
}

static void test_exactly_once(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c, seen;
	env_init(&t, "md", NULL);
	mt_corpus_build(&c, "md-once", 200, 4, 3, 4);
	deliver(&t, &c);
	/* A message someone already read (S flag) is taken as done. */
	mt_corpus_build(&seen, "md-seen", 1, 0, 0, 0);
	char *sp = xasprintf("%s/cur/1600000000.M1P1.test:2,S", t.maildir);
	put(sp, seen.msgs[0].data, seen.msgs[0].len);
	free(sp);

	char *out = NULL;
	assert_int_equal(poll(&t, &out), 1); /* broken and unrelated mail: quarantined */
	assert_int_equal(mt_sum_fetched(out), (int64_t)c.n);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(q(&t, "SELECT count(*) FROM dmarcsift.v_failures"),
	                 (int64_t)(c.n_broken + c.n_unrelated));
	assert_int_equal(in(&t, "new", NULL), 0);
	assert_int_equal(in(&t, "cur", NULL), (int64_t)c.n + 1);
	assert_int_equal(in(&t, "cur", "S"), (int64_t)c.n + 1);

	assert_int_equal(poll(&t, &out), 0);
	assert_int_equal(mt_sum_fetched(out), 0);
	assert_non_null(strstr(out, "0 fetched"));
	free(out);
	assert_all_once(&t, &c);
	mt_corpus_free(&seen);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_folders(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "mdf",
	         "processed_folder = dmarcsift/processed\nfailed_folder = dmarcsift/failed\n");
	mt_corpus_build(&c, "md-fold", 30, 2, 2, 2);
	deliver(&t, &c);
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 1);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(in(&t, "new", NULL), 0);
	assert_int_equal(in(&t, "cur", NULL), 0);
	assert_int_equal(in(&t, ".dmarcsift.processed/cur", "S"), (int64_t)(c.n_reports + c.n_dsn));
	assert_int_equal(in(&t, ".dmarcsift.failed/cur", "S"),
	                 (int64_t)(c.n_broken + c.n_unrelated));
	assert_int_equal(poll(&t, &out), 0);
	assert_int_equal(mt_sum_fetched(out), 0);
	free(out);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_killed_poller(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "mdk", NULL);
	mt_corpus_build(&c, "md-kill", 300, 0, 0, 0);
	deliver(&t, &c);
	char *log = xasprintf("%s/poll.out", t.dir);
	const char *args[] = {"poll", "--config", t.config, "--db", t.db, NULL};
	pid_t pid = mt_spawn(args, log);
	mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_reports", 10, 60);
	kill(pid, SIGKILL);
	assert_int_equal(mt_wait(pid), 128 + SIGKILL);
	int64_t stored = q(&t, "SELECT count(*) FROM dmarcsift.v_reports");
	int64_t done = in(&t, "cur", "S");
	assert_true(stored < (int64_t)c.n_reports);
	/* Nothing filed away that was not stored. */
	assert_true(done <= stored && done >= stored - 1);

	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(in(&t, "cur", "S"), (int64_t)c.n);
	assert_int_equal(in(&t, "new", NULL), 0);
	free(log);
	mt_corpus_free(&c);
	env_done(&t);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *s = xcalloc(1, 1 << 20);
	size_t n = fread(s, 1, (1 << 20) - 1, f);
	(void)n;
	fclose(f);
	printf("%s", s);
	return s;
}

static void test_two_pollers(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "md2", NULL);
	mt_corpus_build(&c, "md-two", 150, 0, 0, 0);
	deliver(&t, &c);
	char *l1 = xasprintf("%s/p1.out", t.dir), *l2 = xasprintf("%s/p2.out", t.dir);
	const char *args[] = {"poll", "--config", t.config, "--db", t.db, NULL};
	pid_t a = mt_spawn(args, l1), b = mt_spawn(args, l2);
	assert_int_equal(mt_wait(a), 0);
	assert_int_equal(mt_wait(b), 0);
	char *o1 = read_text(l1), *o2 = read_text(l2);
	assert_int_equal(mt_sum_fetched(o1) + mt_sum_fetched(o2), (int64_t)c.n);
	assert_all_once(&t, &c);
	assert_int_equal(in(&t, "cur", "S"), (int64_t)c.n);
	free(o1);
	free(o2);
	free(l1);
	free(l2);
	mt_corpus_free(&c);
	env_done(&t);
}

/* What a rua=/ruf= mailbox receives, each kind told from its content and
 * counted in the summary: an aggregate report, a TLS report, a failure
 * report in each layout, a DSN, a plain-text bounce notice, an ARF
 * complaint, an auto-reply and spam. A second round adds nothing. */
static void test_every_kind(void **state)
{
	(void)state;
	struct env t;
	env_init(&t, "kinds", NULL);
	static const char *const files[] = {
	    "mail/gzip-attachment.eml", "tlsrpt/mail-tlsrpt-gzip.eml", "ruf/rfc6591-dmarc-dkim.eml",
	    "ruf/afrf-text-spf.eml",    "mail/classify/dsn.eml",       "bounces/notices/exim.eml",
	    "route/arf-abuse.eml",      "route/auto-reply.eml",        "route/spam.eml",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *src = xasprintf("%s/%s", FIXTURES_DIR, files[i]);
		size_t len;
		char *data = slurp(src, &len);
		char *p = xasprintf("%s/new/1700000000.M%zuP2.test", t.maildir, i);
		put(p, data, len);
		free(p);
		free(data);
		free(src);
	}
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 1); /* the spam is quarantined */
	printf("%s", out);
	assert_non_null(strstr(out, "9 fetched, 1 reports ingested"));
	assert_non_null(strstr(out, "1 quarantined, 4 to the bounce store, 9 moved, 1 TLS reports,"
	                            " 2 failure reports, 1 ARF complaints, 1 auto-replies,"
	                            " 1 other messages"));
	free(out);
	assert_int_equal(q(&t, "SELECT count(*) FROM dmarcsift.v_failure_reports"), 2);
	assert_int_equal(q(&t, "SELECT count(*) FROM dmarcsift.v_tls"), 1);
	assert_int_equal(q(&t, "SELECT count(DISTINCT format) FROM dmarcsift.v_bounces WHERE"
	                       " format IN ('dsn', 'exim', 'arf', 'auto_reply')"),
	                 4);
	assert_int_equal(in(&t, "new", NULL) + in(&t, "cur", NULL), 9);
	assert_int_equal(poll(&t, &out), 0);
	assert_non_null(strstr(out, "0 fetched"));
	free(out);
	env_done(&t);
}

int main(void)
{
	if (!getenv("DMARCSIFT_TEST_DB")) {
		fprintf(stderr, "DMARCSIFT_TEST_DB is not set: run scripts/test.sh\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exactly_once),  cmocka_unit_test(test_folders),
	    cmocka_unit_test(test_killed_poller), cmocka_unit_test(test_two_pollers),
	    cmocka_unit_test(test_every_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
