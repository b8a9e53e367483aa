/*
 * `dmarcsift poll` against a real Dovecot (IMAPS on loopback, TLS with a
 * throwaway certificate): exactly-once ingest of a mixed mailbox, killing
 * the poller, two pollers at once, Dovecot stopped mid-run, the database
 * connection killed mid-run, a UIDVALIDITY change, a wrong password, and
 * XOAUTH2 bearer tokens (Dovecot's oauth2 passdb with locally checked JWTs).
 *
 * Needs DMARCSIFT_TEST_DB and DMARCSIFT_TEST_IMAP (the line printed by
 * scripts/dovecot-test-server.sh start DIR: "port=N ca=... user=...
 * password=... dir=DIR"); scripts/test.sh starts both servers and sets them.
 * The test fails when either is unset. Every test uses its own folders
 * (named after the process id) and its own database, so runs never mix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "sources/imap.h"
#include "sources/source.h"
#include "tests/support/mailtest.h"
#include "tests/support/testdb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRIPT FIXTURES_DIR "/../scripts/dovecot-test-server.sh"

static char *imap_port, *imap_ca, *imap_user, *imap_password, *imap_dir;

static char *field(const char *line, const char *key)
{
	char *k = xasprintf("%s=", key);
	const char *p = strstr(line, k);
	char *v = NULL;
	if (p) {
		p += strlen(k);
		v = xstrndup(p, strcspn(p, " \n"));
	}
	free(k);
	return v;
}

static int group_setup(void **state)
{
	(void)state;
	const char *env = getenv("DMARCSIFT_TEST_IMAP");
	if (!env || !*env) {
		fprintf(stderr, "DMARCSIFT_TEST_IMAP is not set: run scripts/test.sh, which starts "
		                "Dovecot (scripts/dovecot-test-server.sh start DIR)\n");
		return -1;
	}
	imap_port = field(env, "port");
	imap_ca = field(env, "ca");
	imap_user = field(env, "user");
	imap_password = field(env, "password");
	imap_dir = field(env, "dir");
	if (!imap_port || !imap_ca || !imap_user || !imap_password || !imap_dir) {
		fprintf(stderr, "DMARCSIFT_TEST_IMAP='%s' lacks port/ca/user/password/dir\n", env);
		return -1;
	}
	if (!getenv("DMARCSIFT_TEST_DB")) {
		fprintf(stderr, "DMARCSIFT_TEST_DB is not set: run scripts/test.sh\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(imap_port);
	free(imap_ca);
	free(imap_user);
	free(imap_password);
	free(imap_dir);
	return 0;
}

static char *folder_name(const char *what)
{
	return xasprintf("t%ld-%s", (long)getpid(), what);
}

static struct imap *open_folder(const char *folder)
{
	char *url = xasprintf("imaps://127.0.0.1:%s/%s", imap_port, folder);
	struct imap_opts o = {.url = url,
	                      .user = imap_user,
	                      .password = imap_password,
	                      .ca_file = imap_ca,
	                      .backoff_ms = 100};
	struct imap *im = NULL;
	struct err e = {0};
	if (imap_open(&im, &o, &e) != 0 || imap_connect(im, &e) != 0)
		fail_msg("cannot open %s: %s", url, e.msg);
	free(url);
	return im;
}

/* Messages in a folder; -1 when it does not exist. */
static int64_t folder_count(const char *folder)
{
	struct imap *im = open_folder(folder);
	struct err e = {0};
	uint64_t uv = 0, *uids = NULL;
	size_t n = 0;
	int64_t r = -1;
	if (imap_uidvalidity(im, &uv, &e) == 0) {
		if (imap_search(im, uv, 1, &uids, &n, &e) != 0)
			fail_msg("search in %s: %s", folder, e.msg);
		r = (int64_t)n;
	}
	free(uids);
	imap_close(im);
	return r;
}

static void append_corpus(const char *folder, const struct mt_corpus *c)
{
	struct imap *im = open_folder(folder);
	struct err e = {0};
	for (size_t i = 0; i < c->n; i++)
		if (imap_append(im, folder, c->msgs[i].data, c->msgs[i].len, &e) != 0)
			fail_msg("APPEND to %s: %s", folder, e.msg);
	imap_close(im);
}

struct env {
	char *db;
	char *dir;
	char *config;
	char *folder, *processed, *failed;
};

/* `auth`: the credential lines of the mailbox (NULL: password_file). */
static void env_init_auth(struct env *t, const char *what, const char *password, const char *auth);

static void env_init(struct env *t, const char *what, const char *password)
{
	env_init_auth(t, what, password, NULL);
}

static void env_init_auth(struct env *t, const char *what, const char *password, const char *auth)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(testdb_create(&t->db), 0);
	t->dir = mt_tmpdir("poll-imap");
	char *pw = xasprintf("%s\n", password ? password : imap_password);
	char *pwfile = mt_write_file(t->dir, "password", pw);
	t->folder = folder_name(what);
	t->processed = xasprintf("%s/processed", t->folder);
	t->failed = xasprintf("%s/failed", t->folder);
	char *conf = xasprintf("# written by test_poll_imap\n"
	                       "[mailbox %s]\n"
	                       "url = imaps://127.0.0.1:%s/%s\n"
	                       "user = %s\n"
	                       "%s%s\n"
	                       "tls_ca_file = %s\n"
	                       "processed_folder = %s\n"
	                       "failed_folder = %s\n"
	                       "retry_backoff = 100ms\n",
	                       what, imap_port, t->folder, imap_user,
	                       auth ? "" : "password_file = ", auth ? auth : pwfile, imap_ca,
	                       t->processed, t->failed);
	t->config = mt_write_file(t->dir, "dmarcsift.conf", conf);
	free(conf);
	free(pw);
	free(pwfile);
}

static void env_done(struct env *t)
{
	testdb_drop(t->db);
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	free(cmd);
	free(t->db);
	free(t->dir);
	free(t->config);
	free(t->folder);
	free(t->processed);
	free(t->failed);
}

static int poll(struct env *t, char **out)
{
	const char *args[] = {"poll", "--config", t->config, "--db", t->db, NULL};
	return mt_run(args, out);
}

static pid_t poll_async(struct env *t, const char *outfile)
{
	const char *args[] = {"poll", "--config", t->config, "--db", t->db, NULL};
	return mt_spawn(args, outfile);
}

static int64_t reports(const struct env *t)
{
	return mt_wait_count(t->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, 0);
}

/* Every report once, with all its records, and nothing else. */
static void assert_all_once(const struct env *t, const struct mt_corpus *c)
{
	assert_int_equal(reports(t), (int64_t)c->n_reports);
	assert_int_equal(
	    mt_wait_count(t->db, "SELECT count(DISTINCT report_id) FROM dmarcsift.v_reports", 0, 0),
	    (int64_t)c->n_reports);
	assert_int_equal(
	    mt_wait_count(t->db, "SELECT coalesce(sum(records), 0) FROM dmarcsift.v_reports", 0, 0),
	    (int64_t)c->n_reports * c->records_per_report);
	assert_int_equal(mt_wait_count(t->db, "SELECT count(*) FROM dmarcsift.v_records", 0, 0),
	                 (int64_t)c->n_reports * c->records_per_report);
}

static void test_exactly_once(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "once", NULL);
	mt_corpus_build(&c, "once", 200, 4, 3, 4);
	append_corpus(t.folder, &c);
	assert_int_equal(folder_count(t.folder), (int64_t)c.n);

	char *out = NULL;
	/* Broken and unrelated mail is quarantined: exit 1. */
	assert_int_equal(poll(&t, &out), 1);
	assert_int_equal(mt_sum_fetched(out), (int64_t)c.n);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_failures", 0, 0),
	                 (int64_t)(c.n_broken + c.n_unrelated));
	assert_int_equal(folder_count(t.folder), 0);
	assert_int_equal(folder_count(t.processed), (int64_t)(c.n_reports + c.n_dsn));
	assert_int_equal(folder_count(t.failed), (int64_t)(c.n_broken + c.n_unrelated));

	/* A second run finds nothing to do. */
	assert_int_equal(poll(&t, &out), 0);
	assert_int_equal(mt_sum_fetched(out), 0);
	assert_non_null(strstr(out, "0 fetched"));
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(folder_count(t.processed), (int64_t)(c.n_reports + c.n_dsn));
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_killed_poller(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "kill", NULL);
	mt_corpus_build(&c, "kill", 150, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *log = xasprintf("%s/poll.out", t.dir);
	pid_t pid = poll_async(&t, log);
	int64_t seen = mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_reports", 10, 60);
	kill(pid, SIGKILL);
	assert_int_equal(mt_wait(pid), 128 + SIGKILL); /* it was still running */
	assert_true(seen >= 10);
	int64_t stored = reports(&t);
	assert_true(stored < (int64_t)c.n_reports);
	/* Nothing moved that was not stored: at most the one in hand is stored
	 * but not yet moved. */
	int64_t moved = folder_count(t.processed);
	assert_true(moved <= stored && moved >= stored - 1);
	assert_int_equal(folder_count(t.folder) + moved, (int64_t)c.n);

	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(folder_count(t.folder), 0);
	assert_int_equal(folder_count(t.processed), (int64_t)c.n_reports);
	free(log);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_two_pollers(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "two", NULL);
	mt_corpus_build(&c, "two", 120, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *log1 = xasprintf("%s/poll1.out", t.dir), *log2 = xasprintf("%s/poll2.out", t.dir);
	pid_t a = poll_async(&t, log1), b = poll_async(&t, log2);
	assert_int_equal(mt_wait(a), 0);
	assert_int_equal(mt_wait(b), 0);
	size_t l1, l2;
	char *o1 = NULL, *o2 = NULL;
	FILE *f1 = fopen(log1, "r"), *f2 = fopen(log2, "r");
	assert_non_null(f1);
	assert_non_null(f2);
	o1 = xcalloc(1, 1 << 20);
	o2 = xcalloc(1, 1 << 20);
	l1 = fread(o1, 1, (1 << 20) - 1, f1);
	l2 = fread(o2, 1, (1 << 20) - 1, f2);
	fclose(f1);
	fclose(f2);
	(void)l1;
	(void)l2;
	printf("%s%s", o1, o2);
	/* Each message was fetched by exactly one of them. */
	assert_int_equal(mt_sum_fetched(o1) + mt_sum_fetched(o2), (int64_t)c.n);
	assert_all_once(&t, &c);
	assert_int_equal(folder_count(t.processed), (int64_t)c.n_reports);
	free(o1);
	free(o2);
	free(log1);
	free(log2);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_dovecot_stops(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "down", NULL);
	mt_corpus_build(&c, "down", 150, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *log = xasprintf("%s/poll.out", t.dir);
	pid_t pid = poll_async(&t, log);
	mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_reports", 10, 60);
	/* Killed outright: a graceful stop lets the open session finish. */
	char *stop = xasprintf("'%s' crash '%s'", SCRIPT, imap_dir);
	assert_int_equal(system(stop), 0);
	int rc = mt_wait(pid);
	char *out = NULL;
	{
		FILE *f = fopen(log, "r");
		assert_non_null(f);
		out = xcalloc(1, 1 << 20);
		size_t n = fread(out, 1, (1 << 20) - 1, f);
		(void)n;
		fclose(f);
		printf("%s", out);
	}
	char *resume = xasprintf("'%s' resume '%s'", SCRIPT, imap_dir);
	assert_int_equal(system(resume), 0);
	assert_int_equal(rc, 4);
	assert_non_null(strstr(out, "cannot reach IMAP server 127.0.0.1:"));
	int64_t stored = reports(&t);
	assert_true(stored < (int64_t)c.n_reports);
	int64_t moved = folder_count(t.processed);
	assert_true(moved <= stored && moved >= stored - 1);
	/* What the poller says it moved: every move it saw complete. Dovecot
	 * killed inside a MOVE may have done it (the reply lost), or done only
	 * its copy and not yet its expunge: one message the poller did not see
	 * moved may be in the processed folder, and perhaps still in INBOX. */
	const char *m = strstr(out, " moved");
	assert_non_null(m);
	while (m > out && m[-1] >= '0' && m[-1] <= '9')
		m--;
	int64_t said_moved = strtoll(m, NULL, 10);
	int64_t unseen_move = moved - said_moved;
	assert_true(unseen_move == 0 || unseen_move == 1);
	free(out);

	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(folder_count(t.folder), 0);
	/* If it was still in INBOX, the next run meets it again, knows it as a
	 * duplicate and moves it too: stored once, at most one copy extra. */
	int64_t processed = folder_count(t.processed);
	assert_true(processed >= (int64_t)c.n_reports &&
	            processed <= (int64_t)c.n_reports + unseen_move);
	free(stop);
	free(resume);
	free(log);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_database_goes_away(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "dbdown", NULL);
	mt_corpus_build(&c, "dbdown", 150, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *log = xasprintf("%s/poll.out", t.dir);
	pid_t pid = poll_async(&t, log);
	mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_reports", 10, 60);
	/* What a server restart looks like to the poller: its session ends. */
	mt_wait_count(t.db,
	              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	              "WHERE datname = current_database() AND pid <> pg_backend_pid()",
	              0, 0);
	assert_int_equal(mt_wait(pid), 3);
	int64_t stored = reports(&t);
	assert_true(stored < (int64_t)c.n_reports);
	int64_t moved = folder_count(t.processed);
	assert_true(moved <= stored && moved >= stored - 1);

	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_all_once(&t, &c);
	assert_int_equal(folder_count(t.processed), (int64_t)c.n_reports);
	free(log);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_uidvalidity_change(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c1, c2;
	env_init(&t, "uidv", NULL);
	mt_corpus_build(&c1, "uidv-a", 6, 0, 0, 0);
	mt_corpus_build(&c2, "uidv-b", 3, 0, 0, 0);
	append_corpus(t.folder, &c1);
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_int_equal(reports(&t), 6);
	char *uv1 = NULL;
	{
		int64_t v =
		    mt_wait_count(t.db, "SELECT uidvalidity FROM dmarcsift.mailbox_state", 0, 0);
		uv1 = xasprintf("%lld", (long long)v);
	}
	/* New mail arrives, then the server forgets the folder's UIDs: the new
	 * messages get UIDs 1..3, below the 6 already seen. */
	append_corpus(t.folder, &c2);
	sleep(1); /* Dovecot's UIDVALIDITY is a time stamp */
	char *reset = xasprintf("'%s' reset-uidvalidity '%s' '%s'", SCRIPT, imap_dir, t.folder);
	assert_int_equal(system(reset), 0);
	assert_int_equal(poll(&t, &out), 0);
	assert_non_null(strstr(out, "UIDVALIDITY changed"));
	free(out);
	assert_int_equal(reports(&t), 9);
	/* A new UIDVALIDITY was stored, and the last UID is of the new numbering. */
	char *sql = xasprintf("SELECT count(*) FROM dmarcsift.mailbox_state WHERE "
	                      "uidvalidity <> %s AND last_uid = 3",
	                      uv1);
	assert_int_equal(mt_wait_count(t.db, sql, 0, 0), 1);
	free(sql);
	assert_int_equal(folder_count(t.folder), 0);
	free(uv1);
	free(reset);
	mt_corpus_free(&c1);
	mt_corpus_free(&c2);
	env_done(&t);
}

static void test_wrong_password(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	const char *bad = "Wr0ng-Pa55-7f3k";
	env_init(&t, "badpw", bad);
	mt_corpus_build(&c, "badpw", 2, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 4);
	assert_non_null(strstr(out, "IMAP login failed for user dmarc at 127.0.0.1:"));
	assert_non_null(strstr(out, "wrong password?"));
	assert_null(strstr(out, bad));
	free(out);
	/* Nothing was touched. */
	assert_int_equal(folder_count(t.folder), 2);
	assert_int_equal(reports(&t), 0);
	mt_corpus_free(&c);
	env_done(&t);
}

/* Nothing listening on the port: said as a connection refused, never as a
 * failed login (it used to read "login failed 4 times"). */
static void test_connection_refused(void **state)
{
	(void)state;
	char *db = NULL;
	assert_int_equal(testdb_create(&db), 0);
	char *dir = mt_tmpdir("poll-refused");
	char *conf = mt_write_file(dir, "dmarcsift.conf",
	                           "[mailbox closed]\nurl = imap://127.0.0.1:1/INBOX\n"
	                           "user = dmarc\npassword_env = DS_TEST_UNUSED_PW\n"
	                           "retry_backoff = 10ms\n");
	setenv("DS_TEST_UNUSED_PW", "x", 1);
	const char *args[] = {"poll", "--config", conf, "--db", db, NULL};
	char *out = NULL;
	assert_int_equal(mt_run(args, &out), 4);
	unsetenv("DS_TEST_UNUSED_PW");
	if (!strstr(out, "cannot reach IMAP server 127.0.0.1:1: the connection was refused or "
	                 "timed out (4 attempts; is the server running, and are the url's host "
	                 "and port right?)") ||
	    strstr(out, "login"))
		fail_msg("poll of a closed port said:\n%s", out);
	free(out);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(conf);
	free(dir);
	testdb_drop(db);
	free(db);
}

/* XOAUTH2/OAUTHBEARER against Dovecot's oauth2 passdb (JWTs validated
 * locally): a token from oauth2_token_command logs in; an expired token from
 * oauth2_token_file is refused with a clear error that does not show it. */
static void test_oauth2(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	char *cmd = xasprintf("oauth2_token_command = '%s' token '%s'", SCRIPT, imap_dir);
	env_init_auth(&t, "oauth", NULL, cmd);
	mt_corpus_build(&c, "oauth", 5, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_int_equal(reports(&t), 5);
	assert_int_equal(folder_count(t.processed), 5);
	env_done(&t);

	/* An expired token. */
	char *get = xasprintf("'%s' token '%s' -60", SCRIPT, imap_dir);
	FILE *p = popen(get, "r");
	assert_non_null(p);
	char token[2048] = "";
	assert_non_null(fgets(token, sizeof token, p));
	pclose(p);
	token[strcspn(token, "\n")] = '\0';
	assert_true(strlen(token) > 40);
	char *dir = mt_tmpdir("oauth-token");
	char *tokline = xasprintf("%s\n", token);
	char *tokfile = mt_write_file(dir, "token", tokline);
	char *auth = xasprintf("oauth2_token_file = %s", tokfile);
	env_init_auth(&t, "oauthx", NULL, auth);
	append_corpus(t.folder, &c);
	assert_int_equal(poll(&t, &out), 4);
	assert_non_null(strstr(out, "IMAP login failed for user dmarc at 127.0.0.1:"));
	assert_non_null(strstr(out, "token expired or not accepted?"));
	assert_null(strstr(out, token));
	free(out);
	assert_int_equal(folder_count(t.folder), 5);
	env_done(&t);
	char *rm = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(dir);
	free(tokline);
	free(tokfile);
	free(auth);
	free(get);
	free(cmd);
	mt_corpus_free(&c);
}

/* The IMAP source on its own, on a server treated as one without MOVE:
 * each message is filed by COPY + STORE \Deleted + EXPUNGE, by verdict,
 * and its UID remembered; a second opening finds nothing left. */
static void test_source_without_move(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "nomove", NULL);
	mt_corpus_build(&c, "nomove", 4, 0, 0, 0);
	append_corpus(t.folder, &c);
	char *url = xasprintf("imaps://127.0.0.1:%s/%s", imap_port, t.folder);
	struct source_mailbox box = {.name = "nomove",
	                             .url = url,
	                             .user = imap_user,
	                             .password = imap_password,
	                             .ca_file = imap_ca,
	                             .backoff_ms = 100,
	                             .no_move = true,
	                             .processed_folder = t.processed,
	                             .failed_folder = t.failed};
	struct mt_progress k = {0};
	struct source_memory mem = mt_progress_memory(&k);
	struct source *s = NULL;
	struct err e = {0};
	if (source_imap_open(&s, &box, &mem, &e) != 0)
		fail_msg("source_imap_open: %s", e.msg);
	struct source_msg m;
	size_t got = 0;
	int rc;
	while ((rc = source_next(s, &m, &e)) == 1) {
		assert_true(m.len > 0);
		assert_non_null(strstr(m.name, "nomove:"));
		/* the first one "quarantined", the rest stored */
		assert_int_equal(source_done(s, got == 0 ? SOURCE_QUARANTINED : SOURCE_STORED, &e),
		                 0);
		got++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(got, c.n);
	assert_int_equal(source_counts(s)->moved, c.n);
	assert_int_equal(source_counts(s)->not_moved, 0);
	source_close(s);
	assert_true(k.p.uidvalidity != 0);
	assert_int_equal(k.saves, (int)c.n);
	assert_int_equal(folder_count(t.folder), 0);
	assert_int_equal(folder_count(t.failed), 1);
	assert_int_equal(folder_count(t.processed), (int64_t)c.n - 1);
	/* Opened again with what it remembered: nothing to do. */
	assert_int_equal(source_imap_open(&s, &box, &mem, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 0);
	source_close(s);
	free(url);
	mt_corpus_free(&c);
	env_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exactly_once),       cmocka_unit_test(test_killed_poller),
	    cmocka_unit_test(test_two_pollers),        cmocka_unit_test(test_dovecot_stops),
	    cmocka_unit_test(test_database_goes_away), cmocka_unit_test(test_uidvalidity_change),
	    cmocka_unit_test(test_wrong_password),     cmocka_unit_test(test_oauth2),
	    cmocka_unit_test(test_connection_refused), cmocka_unit_test(test_source_without_move),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
