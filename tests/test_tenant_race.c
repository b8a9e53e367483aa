/*
 * test_tenant_race: `tenant add` while an ingest runs (issue 7, item 8).
 * The adoption of waiting reports and each report's choice of tenant must
 * serialise; before they did, reports resolved to 'unassigned' just before
 * the adoption committed were stored there afterwards and stayed behind.
 * 20 rounds: an ingest of many small reports for a domain nobody owns, and,
 * while it runs, `tenant add` of that domain; afterwards no report of the
 * domain may be left in 'unassigned', and none may be missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS  20
#define REPORTS 80

static void write_report(const char *path, const char *id, const char *domain)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><report_metadata>"
	        "<org_name>example.net</org_name><email>noreply@example.net</email>"
	        "<report_id>%s</report_id><date_range><begin>1700000000</begin>"
	        "<end>1700086399</end></date_range></report_metadata>"
	        "<policy_published><domain>%s</domain><p>none</p></policy_published>"
	        "<record><row><source_ip>192.0.2.1</source_ip><count>1</count>"
	        "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
	        "<spf>pass</spf></policy_evaluated></row><identifiers><header_from>%s"
	        "</header_from></identifiers><auth_results><spf><domain>%s</domain>"
	        "<result>pass</result></spf></auth_results></record></feedback>\n",
	        id, domain, domain, domain);
	fclose(f);
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void test_adoption_during_ingest(void **state)
{
	(void)state;
	char *db = NULL;
	char dir[64];
	assert_int_equal(testdb_create(&db), 0);
	snprintf(dir, sizeof dir, "/tmp/ds-race-XXXXXX");
	assert_non_null(mkdtemp(dir));

	/* Create the schema before the first race. */
	const char *mig[] = {"db", "migrate", "--db", db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);

	int64_t left_total = 0;
	for (int round = 0; round < ROUNDS; round++) {
		char domain[64], sub[96], path[160], id[64], tenant[32];
		snprintf(domain, sizeof domain, "race%d.example", round);
		snprintf(tenant, sizeof tenant, "race%d", round);
		snprintf(sub, sizeof sub, "%s/%d", dir, round);
		assert_int_equal(mkdir(sub, 0755), 0);
		for (int i = 0; i < REPORTS; i++) {
			snprintf(path, sizeof path, "%s/r%03d.xml", sub, i);
			snprintf(id, sizeof id, "race-%d-%d", round, i);
			write_report(path, id, domain);
		}
		const char *ing[] = {"ingest", "--quiet", "--db", db, sub, NULL};
		pid_t pid = run_bin_async(ing);
		/* Adopt once the ingest is under way, at a varying point. */
		const char *p[] = {domain};
		for (int waited = 0; waited < 2000; waited++) {
			if (q_int(db,
			          "SELECT count(*) FROM dmarcsift.reports WHERE policy_domain = $1",
			          1, p) >= 5 + (round % 4) * 10)
				break;
			nap_ms(5);
		}
		const char *add[] = {"tenant", "add", "--db", db, tenant, domain, NULL};
		assert_int_equal(run_bin(add, NULL, NULL), 0);
		int status = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);

		int64_t all = q_int(
		    db, "SELECT count(*) FROM dmarcsift.reports WHERE policy_domain = $1", 1, p);
		int64_t left =
		    q_int(db,
		          "SELECT count(*) FROM dmarcsift.reports WHERE policy_domain = $1"
		          " AND tenant_id = 0",
		          1, p);
		assert_int_equal(all, REPORTS);
		if (left > 0)
			fprintf(stderr, "round %d: %lld report(s) left in 'unassigned'\n", round,
			        (long long)left);
		left_total += left;
	}
	assert_int_equal(left_total, 0);

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	testdb_drop(db);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_adoption_during_ingest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
