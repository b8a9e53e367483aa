/*
 * mbox: the splitter on crafted files (separators, mboxrd un-escaping,
 * offsets, an incomplete last message), and `dmarcsift poll` on an mbox:
 * every report exactly once, the file never written, progress by offset,
 * new mail picked up, a rewritten mbox detected, a killed poller and two
 * pollers at once losing and duplicating nothing. The poll tests need
 * DMARCSIFT_TEST_DB (they fail when it is unset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "sources/mbox.h"
#include "tests/support/mailtest.h"
#include "tests/support/testdb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the splitter ---- */

static const char crafted[] = "From a@example.com Mon Jan  1 00:00:00 2024\n"
                              "Subject: one\n"
                              "\n"
                              "body of one\n"
                              ">From the archives (escaped)\n"
                              ">>From twice escaped\n"
                              "From not a separator: no blank line before\n"
                              "\n"
                              "From b@example.com Mon Jan  1 00:00:01 2024\n"
                              "Subject: two\n"
                              "\n"
                              "body of two\n"
                              "\n"
                              "From c@example.com Mon Jan  1 00:00:02 2024\n"
                              "Subject: three\n"
                              "\n"
                              "last line without newline";

static void test_split(void **state)
{
	(void)state;
	FILE *f = fmemopen((void *)(uintptr_t)crafted, sizeof crafted - 1, "r");
	assert_non_null(f);
	struct mbox *m = NULL;
	struct mbox_msg msg;
	struct err e = {0};
	assert_int_equal(mbox_open_stream(&m, f, "crafted", 1 << 20), 0);
	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_int_equal(msg.start, 0);
	assert_string_equal(msg.data, "Subject: one\n\nbody of one\nFrom the archives (escaped)\n"
	                              ">From twice escaped\nFrom not a separator: no blank line "
	                              "before\n");
	const char *two = strstr(crafted, "From b@");
	assert_int_equal(msg.end, (uint64_t)(two - crafted));
	uint64_t second = msg.end;
	char first_sha[65];
	memcpy(first_sha, msg.sha256, sizeof first_sha);
	assert_int_equal(strlen(first_sha), 64);

	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_int_equal(msg.start, second);
	assert_string_equal(msg.data, "Subject: two\n\nbody of two\n");
	/* The third message is still being written: not returned. */
	assert_int_equal(mbox_next(m, &msg, &e), 0);

	/* Resuming at a recorded offset, and refusing one inside a message. */
	assert_int_equal(mbox_seek(m, second, &e), 0);
	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_string_equal(msg.data, "Subject: two\n\nbody of two\n");
	assert_int_equal(mbox_seek(m, 5, &e), -1);
	assert_non_null(strstr(e.msg, "offset 5 does not start a message"));
	err_clear(&e);

	/* The hash of a message depends on its bytes only. */
	assert_int_equal(mbox_seek(m, 0, &e), 0);
	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_string_equal(msg.sha256, first_sha);
	mbox_close(m);
	fclose(f);

	/* Not an mbox at all. */
	static const char notmbox[] = "Subject: hi\n\nbody\n";
	f = fmemopen((void *)(uintptr_t)notmbox, sizeof notmbox - 1, "r");
	assert_int_equal(mbox_open_stream(&m, f, "plain", 1 << 20), 0);
	assert_int_equal(mbox_next(m, &msg, &e), -1);
	assert_non_null(strstr(e.msg, "not an mbox"));
	mbox_close(m);
	fclose(f);

	/* An oversized message is skipped over, and the next one still read. */
	static const char big[] =
	    "From x\nSubject: big\n\n0123456789012345678901234567890123456789\n"
	    "\nFrom y\nSubject: small\n\nok\n";
	f = fmemopen((void *)(uintptr_t)big, sizeof big - 1, "r");
	err_clear(&e);
	assert_int_equal(mbox_open_stream(&m, f, "big", 32), 0);
	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_true(msg.oversized);
	assert_null(msg.data);
	assert_int_equal(mbox_next(m, &msg, &e), 1);
	assert_false(msg.oversized);
	assert_string_equal(msg.data, "Subject: small\n\nok\n");
	assert_int_equal(mbox_next(m, &msg, &e), 0);
	mbox_close(m);
	fclose(f);
}

/* ---- poll ---- */

struct env {
	char *db, *dir, *mbox, *config;
};

static void env_init(struct env *t, const char *name)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(testdb_create(&t->db), 0);
	t->dir = mt_tmpdir("poll-mbox");
	t->mbox = xasprintf("%s/rua.mbox", t->dir);
	char *conf = xasprintf("[mailbox %s]\nurl = mbox:%s\n", name, t->mbox);
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
	free(t->mbox);
	free(t->config);
}

/* mboxrd: "From " lines (and already-escaped ones) in a message get one '>'. */
static void append_mbox(const char *path, const struct mt_corpus *c, size_t from, size_t to,
                        const char *mode)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	for (size_t i = from; i < to && i < c->n; i++) {
		fprintf(f, "From rua-sender@example.net Mon Jan  1 00:00:%02zu 2024\n", i % 60);
		const char *p = c->msgs[i].data, *end = p + c->msgs[i].len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
			const char *q = p;
			while (q < p + n && *q == '>')
				q++;
			if ((size_t)(p + n - q) >= 5 && memcmp(q, "From ", 5) == 0)
				fputc('>', f);
			fwrite(p, 1, n, f);
			p += n;
		}
		if (c->msgs[i].len && end[-1] != '\n')
			fputc('\n', f);
		fputc('\n', f);
	}
	assert_int_equal(fclose(f), 0);
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

static void assert_reports(const struct env *t, int64_t n, int64_t records_each)
{
	assert_int_equal(q(t, "SELECT count(*) FROM dmarcsift.v_reports"), n);
	assert_int_equal(q(t, "SELECT count(DISTINCT report_id) FROM dmarcsift.v_reports"), n);
	assert_int_equal(q(t, "SELECT count(*) FROM dmarcsift.v_records"), n * records_each);
}

static char *file_sha(const char *path)
{
	char *cmd = xasprintf("sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *s = xcalloc(1, 65);
	assert_int_equal(fread(s, 1, 64, p), 64);
	pclose(p);
	free(cmd);
	return s;
}

static void test_exactly_once(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c, more;
	env_init(&t, "mb");
	mt_corpus_build(&c, "mb-once", 200, 4, 3, 4);
	append_mbox(t.mbox, &c, 0, c.n, "w");
	char *before = file_sha(t.mbox);

	char *out = NULL;
	assert_int_equal(poll(&t, &out), 1);
	assert_int_equal(mt_sum_fetched(out), (int64_t)c.n);
	free(out);
	assert_reports(&t, (int64_t)c.n_reports, c.records_per_report);
	assert_int_equal(q(&t, "SELECT count(*) FROM dmarcsift.v_failures"),
	                 (int64_t)(c.n_broken + c.n_unrelated));
	struct stat st;
	assert_int_equal(stat(t.mbox, &st), 0);
	assert_int_equal(q(&t, "SELECT mbox_offset FROM dmarcsift.mailbox_state"),
	                 (int64_t)st.st_size);

	assert_int_equal(poll(&t, &out), 0);
	assert_int_equal(mt_sum_fetched(out), 0);
	free(out);
	/* The user's mbox is never written. */
	char *after = file_sha(t.mbox);
	assert_string_equal(before, after);

	/* New mail: only it is read. */
	mt_corpus_build(&more, "mb-more", 10, 0, 0, 0);
	append_mbox(t.mbox, &more, 0, more.n, "a");
	assert_int_equal(poll(&t, &out), 0);
	assert_int_equal(mt_sum_fetched(out), (int64_t)more.n);
	free(out);
	assert_reports(&t, (int64_t)(c.n_reports + more.n_reports), c.records_per_report);

	/* Rewritten (first message deleted by a mail client): read again from
	 * the start; everything is known already. */
	append_mbox(t.mbox, &c, 1, c.n, "w");
	append_mbox(t.mbox, &more, 0, more.n, "a");
	assert_int_equal(poll(&t, &out), 1); /* the broken ones are quarantined again */
	assert_non_null(strstr(out, "rewritten"));
	assert_int_equal(mt_sum_fetched(out), (int64_t)(c.n - 1 + more.n));
	free(out);
	assert_reports(&t, (int64_t)(c.n_reports + more.n_reports), c.records_per_report);
	free(before);
	free(after);
	mt_corpus_free(&more);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_killed_poller(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "mbk");
	mt_corpus_build(&c, "mb-kill", 300, 0, 0, 0);
	append_mbox(t.mbox, &c, 0, c.n, "w");
	char *log = xasprintf("%s/poll.out", t.dir);
	const char *args[] = {"poll", "--config", t.config, "--db", t.db, NULL};
	pid_t pid = mt_spawn(args, log);
	mt_wait_count(t.db, "SELECT count(*) FROM dmarcsift.v_reports", 10, 60);
	kill(pid, SIGKILL);
	assert_int_equal(mt_wait(pid), 128 + SIGKILL);
	assert_true(q(&t, "SELECT count(*) FROM dmarcsift.v_reports") < (int64_t)c.n_reports);
	char *out = NULL;
	assert_int_equal(poll(&t, &out), 0);
	free(out);
	assert_reports(&t, (int64_t)c.n_reports, c.records_per_report);
	free(log);
	mt_corpus_free(&c);
	env_done(&t);
}

static void test_two_pollers(void **state)
{
	(void)state;
	struct env t;
	struct mt_corpus c;
	env_init(&t, "mb2");
	mt_corpus_build(&c, "mb-two", 150, 0, 0, 0);
	append_mbox(t.mbox, &c, 0, c.n, "w");
	char *l1 = xasprintf("%s/p1.out", t.dir), *l2 = xasprintf("%s/p2.out", t.dir);
	const char *args[] = {"poll", "--config", t.config, "--db", t.db, NULL};
	pid_t a = mt_spawn(args, l1), b = mt_spawn(args, l2);
	assert_int_equal(mt_wait(a), 0);
	assert_int_equal(mt_wait(b), 0);
	size_t n1, n2;
	char *o1 = xcalloc(1, 1 << 16), *o2 = xcalloc(1, 1 << 16);
	FILE *f = fopen(l1, "r");
	n1 = fread(o1, 1, (1 << 16) - 1, f);
	fclose(f);
	f = fopen(l2, "r");
	n2 = fread(o2, 1, (1 << 16) - 1, f);
	fclose(f);
	(void)n1;
	(void)n2;
	printf("%s%s", o1, o2);
	assert_int_equal(mt_sum_fetched(o1) + mt_sum_fetched(o2), (int64_t)c.n);
	assert_reports(&t, (int64_t)c.n_reports, c.records_per_report);
	free(o1);
	free(o2);
	free(l1);
	free(l2);
	mt_corpus_free(&c);
	env_done(&t);
}

static int need_db(void **state)
{
	(void)state;
	if (!getenv("DMARCSIFT_TEST_DB")) {
		fprintf(stderr, "DMARCSIFT_TEST_DB is not set: run scripts/test.sh\n");
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test_setup(test_exactly_once, need_db),
	    cmocka_unit_test_setup(test_killed_poller, need_db),
	    cmocka_unit_test_setup(test_two_pollers, need_db),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
