/*
 * sources: files and directories, a Maildir and an mbox behind the one
 * interface (the IMAP source is tested against Dovecot in test_poll_imap):
 * what each hands over, in which order, what source_done files away, and
 * what an mbox remembers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "sources/source.h"
#include "tests/support/mailtest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
	free(mt_write_file(dir, name, text));
}

/* Every name a source hands over, joined by '|', each message done with
 * `v`. */
static char *drain_names(struct source *s, enum source_verdict v)
{
	char *all = xstrdup("");
	struct source_msg m;
	struct err e = {0};
	int rc;
	while ((rc = source_next(s, &m, &e)) == 1) {
		const char *base = strrchr(m.name, '/') ? strrchr(m.name, '/') + 1 : m.name;
		char *next = xasprintf("%s%s%s", all, *all ? "|" : "", base);
		free(all);
		all = next;
		assert_int_equal(m.fd, -1);
		assert_null(m.short_read);
		assert_int_equal(source_done(s, v, &e), 0);
	}
	assert_int_equal(rc, 0);
	return all;
}

static void test_files_walk(void **state)
{
	(void)state;
	char *dir = mt_tmpdir("sources-files");
	char *sub = xasprintf("%s/b-dir", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	put(dir, "c.xml", "<feedback/>");
	put(dir, "a.xml", "<feedback/>");
	put(dir, ".hidden.xml", "x");
	put(dir, "notes.md", "x");
	put(sub, "z.xml", "x");
	put(sub, "empty.xml", "");
	/* A link back to the directory itself: entered once. */
	char *loop = xasprintf("%s/loop", sub);
	assert_int_equal(symlink(dir, loop), 0);
	char *missing = xasprintf("%s/not-there.xml", dir);
	char *paths[] = {dir, missing};
	struct source *s = NULL;
	assert_int_equal(source_files_open(&s, paths, 2), 0);
	char *names = drain_names(s, SOURCE_STORED);
	/* Depth first, sorted, hidden and .md skipped; the loop adds nothing. */
	assert_string_equal(names, "a.xml|empty.xml|z.xml|c.xml");
	assert_int_equal(source_counts(s)->fetched, 4);
	assert_int_equal(source_counts(s)->unreadable, 1);
	source_close(s);
	free(names);
	free(missing);
	free(loop);
	free(sub);
	free(dir);
}

static void test_maildir_files_away(void **state)
{
	(void)state;
	char *root = mt_tmpdir("sources-maildir");
	const char *parts[] = {"new", "cur", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", root, parts[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	char *newdir = xasprintf("%s/new", root);
	put(newdir, "1700000001.a.host", "Subject: one\r\n\r\nx\r\n");
	put(newdir, "1700000002.b.host", "Subject: two\r\n\r\nx\r\n");
	struct source_mailbox box = {.name = "md",
	                             .path = root,
	                             .processed_folder = "done",
	                             .failed_folder = "bad",
	                             .folders_configured = true};
	struct source *s = NULL;
	struct err e = {0};
	assert_int_equal(source_maildir_open(&s, &box, &e), 0);
	struct source_msg m;
	assert_int_equal(source_next(s, &m, &e), 1);
	assert_string_equal(m.name, "md:new/1700000001.a.host");
	assert_int_equal(source_done(s, SOURCE_QUARANTINED, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 1);
	assert_int_equal(source_done(s, SOURCE_STORED, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 0);
	assert_int_equal(source_counts(s)->moved, 2);
	source_close(s);
	char *bad = xasprintf("%s/.bad/cur/1700000001.a.host:2,S", root);
	char *done = xasprintf("%s/.done/cur/1700000002.b.host:2,S", root);
	assert_int_equal(access(bad, F_OK), 0);
	assert_int_equal(access(done, F_OK), 0);
	/* Nothing left to do. */
	assert_int_equal(source_maildir_open(&s, &box, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 0);
	source_close(s);
	/* A path that is no Maildir: the source cannot open, and says why. */
	box.path = newdir;
	assert_int_equal(source_maildir_open(&s, &box, &e), -1);
	assert_null(s);
	assert_true(e.msg[0] != '\0');
	free(bad);
	free(done);
	free(newdir);
	free(root);
}

static bool holds(const struct source_msg *m, const char *needle)
{
	char *copy = xstrndup(m->data, m->len);
	bool yes = strstr(copy, needle) != NULL;
	free(copy);
	return yes;
}

static void test_mbox_remembers(void **state)
{
	(void)state;
	char *dir = mt_tmpdir("sources-mbox");
	const char *two = "From a@example.org Mon Nov 30 10:00:00 2026\n"
	                  "Subject: one\n\nbody one\n\n"
	                  "From b@example.org Mon Nov 30 10:01:00 2026\n"
	                  "Subject: two\n\nbody two\n";
	char *path = mt_write_file(dir, "inbox", two);
	struct source_mailbox box = {.name = "mb", .path = path};
	struct mt_progress k = {0};
	struct source_memory mem = mt_progress_memory(&k);
	struct source *s = NULL;
	struct err e = {0};
	assert_int_equal(source_mbox_open(&s, &box, &mem, &e), 0);
	struct source_msg m;
	assert_int_equal(source_next(s, &m, &e), 1);
	assert_non_null(strstr(m.name, "mb:"));
	assert_true(holds(&m, "Subject: one"));
	/* Handed over, not done: nothing remembered yet. */
	assert_int_equal(k.saves, 0);
	assert_int_equal(source_done(s, SOURCE_STORED, &e), 0);
	assert_int_equal(k.saves, 1);
	assert_int_equal(source_next(s, &m, &e), 1);
	assert_int_equal(source_done(s, SOURCE_QUARANTINED, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 0);
	source_close(s);
	assert_int_equal(k.p.mbox_offset, strlen(two));
	/* Reopened: nothing new. */
	assert_int_equal(source_mbox_open(&s, &box, &mem, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 0);
	source_close(s);
	/* Rewritten (another first message): read again from the start. */
	free(mt_write_file(dir, "inbox",
	                   "From c@example.org Mon Nov 30 11:00:00 2026\nSubject: new\n\nx\n"));
	assert_int_equal(source_mbox_open(&s, &box, &mem, &e), 0);
	assert_int_equal(source_next(s, &m, &e), 1);
	assert_true(holds(&m, "Subject: new"));
	assert_int_equal(source_done(s, SOURCE_STORED, &e), 0);
	source_close(s);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_files_walk),
	    cmocka_unit_test(test_maildir_files_away),
	    cmocka_unit_test(test_mbox_remembers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
