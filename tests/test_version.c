/*
 * `dmarcsift --version` and `dmarcsift version`: the version CMake was
 * given (no other copy of it in the code), the git revision when built from
 * a clone, the libraries' versions, and the PostgreSQL server's when the
 * database can be reached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/mailtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_output(const char *out)
{
	char *first = xasprintf("dmarcsift %s", DMARCSIFT_PROJECT_VERSION);
	if (strncmp(out, first, strlen(first)) != 0)
		fail_msg("first line is not '%s...':\n%s", first, out);
	free(first);
	const char *libs[] = {"\nlibxml2 2.", "\nlibarchive 3.", "\ngmime 3.", "\nlibcurl ",
	                      "\nlibpq 1"};
	for (size_t i = 0; i < sizeof libs / sizeof *libs; i++)
		if (!strstr(out, libs[i]))
			fail_msg("no '%s' line:\n%s", libs[i] + 1, out);
}

static void test_version(void **state)
{
	(void)state;
	const char *db = getenv("DMARCSIFT_TEST_DB");
	assert_non_null(db);
	setenv("DMARCSIFT_DB", db, 1);
	char *out = NULL;
	const char *v1[] = {"--version", NULL};
	assert_int_equal(mt_run(v1, &out), 0);
	check_output(out);
	assert_non_null(strstr(out, "\nPostgreSQL server 1"));
	free(out);

	/* Built from a clone: the revision it was built from is named. */
	char *git = xasprintf("git -C '%s' rev-parse --short=7 HEAD 2>/dev/null", SOURCE_DIR);
	FILE *p = popen(git, "r");
	char rev[64] = "";
	if (p && fgets(rev, sizeof rev, p))
		rev[strcspn(rev, "\n")] = '\0';
	if (p)
		pclose(p);
	free(git);

	/* Without a database: everything else, and no server started. */
	unsetenv("DMARCSIFT_DB");
	const char *v2[] = {"version", "--db", "host=/nonexistent-dir dbname=x", NULL};
	assert_int_equal(mt_run(v2, &out), 0);
	check_output(out);
	assert_non_null(strstr(out, "PostgreSQL server: not reached"));
	if (*rev) {
		char *want = xasprintf("(git %s", rev);
		if (!strstr(out, want))
			fail_msg("no '%s' in:\n%s", want, out);
		free(want);
	}
	free(out);
}

/* The version lives in CMakeLists.txt only. */
static void test_no_hardcoded_version(void **state)
{
	(void)state;
	char *cmd =
	    xasprintf("grep -rn --include='*.c' --include='*.h' -F '\"%s' '%s/cli' "
	              "'%s/core' '%s/app' '%s/db'",
	              DMARCSIFT_PROJECT_VERSION, SOURCE_DIR, SOURCE_DIR, SOURCE_DIR, SOURCE_DIR);
	int rc = system(cmd);
	free(cmd);
	assert_int_not_equal(WEXITSTATUS(rc), 0); /* grep found nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_no_hardcoded_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
