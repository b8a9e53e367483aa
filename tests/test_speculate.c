/*
 * Inputs stored ahead of the server's answers (app/speculate.c), through
 * the real binary and a real PostgreSQL: whatever the answers turn out to
 * be — bytes processed before, a report identity stored before with other
 * records, a statement the server refuses, one after the other — the run
 * ends as storing each input the usual way would: the same summary, the
 * same rows, nothing counted twice, nothing lost. Each test also checks
 * from the run's own account (-v) that inputs were stored ahead and stored
 * again, so it tests the speculation and not only the usual way.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "app/drain.h"
#include "app/pipeline.h"
#include "db/db.h"
#include "sources/source.h"
#include "support/clifx.h"
#include "support/run.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A report of n records; `bump` adds to the first record's count, so two
 * copies of one identity disagree; `pad` adds blank lines, so two copies
 * with the same records differ in their bytes. */
static void write_report(const char *path, const char *id, long n, long bump, bool pad)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
	        "<report_metadata><org_name>spec.example</org_name>"
	        "<email>noreply@spec.example</email><report_id>%s</report_id>"
	        "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
	        "</report_metadata>\n<policy_published><domain>spec.example</domain>"
	        "<p>none</p></policy_published>\n",
	        id);
	for (long i = 1; i <= n; i++)
		fprintf(f,
		        "<record><row><source_ip>10.1.%ld.%ld</source_ip><count>%ld</count>"
		        "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
		        "<spf>fail</spf></policy_evaluated></row><identifiers>"
		        "<header_from>spec.example</header_from></identifiers><auth_results>"
		        "<spf><domain>spec.example</domain><result>fail</result></spf>"
		        "</auth_results></record>\n",
		        i >> 8, i & 255, i + (i == 1 ? bump : 0));
	fputs(pad ? "</feedback>\n\n\n" : "</feedback>\n", f);
	fclose(f);
}

/* `dir` := c->dir/name, with reports spec-<from>..spec-<to-1> of two records. */
static void make_dir(const struct clifx *c, char *dir, size_t n, const char *name, int from, int to)
{
	char path[192], id[32];
	snprintf(dir, n, "%s/%s", c->dir, name);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = from; i < to; i++) {
		snprintf(path, sizeof path, "%s/r%03d.xml", dir, i);
		snprintf(id, sizeof id, "spec-%03d", i);
		write_report(path, id, 2, 0, false);
	}
}

/* What a run says (-v) it stored ahead and again, and took for duplicates
 * ahead and found not to be. */
struct seen {
	long ahead, again, dup_ahead, dup_new;
};

/* The two numbers of the -v line containing `phrase` ("N ... phrase ..., M
 * of them"), or zeros. */
static void two_numbers(const char *text, const char *phrase, long *a, long *b)
{
	*a = *b = 0;
	const char *s = strstr(text, phrase);
	if (!s)
		return;
	while (s > text && s[-1] != ' ')
		s--;
	*a = strtol(s, NULL, 10);
	const char *g = strstr(s, "answers, ");
	assert_non_null(g);
	*b = strtol(g + 9, NULL, 10);
}

/* Runs `ingest -v DIR`: its exit code; *out is the summary line. */
static int ingest(const struct clifx *c, const char *dir, char **out, struct seen *sn)
{
	char log[128];
	snprintf(log, sizeof log, "%s/run.log", c->dir);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	const char *a[] = {"ingest",         "-v", "--db", c->db, "--no-resolve",
	                   "--no-correlate", dir,  NULL};
	int rc = run_wait(run_spawn(a, NULL, fd, true));
	close(fd);
	char *text = slurp(log, NULL);
	two_numbers(text, " input(s) stored ahead", &sn->ahead, &sn->again);
	two_numbers(text, " input(s) taken for duplicates", &sn->dup_ahead, &sn->dup_new);
	const char *sum = strstr(text, " reports (");
	assert_non_null(sum);
	while (sum > text && sum[-1] != '\n')
		sum--;
	*out = strndup(sum, strcspn(sum, "\n"));
	free(text);
	return rc;
}

/* Runs `ingest -v DIR`, expecting exit code `rc` and the summary `want`;
 * *sn is what the run says it did ahead of the answers. */
static void expect_run(const struct clifx *c, const char *dir, int rc, const char *want,
                       struct seen *sn)
{
	char *out = NULL;
	assert_int_equal(ingest(c, dir, &out, sn), rc);
	assert_string_equal(out, want);
	free(out);
}

/* Runs `ingest -v DIR`, expecting it to end well, whatever it stored. */
static void expect_ingested(const struct clifx *c, const char *dir, struct seen *sn)
{
	char *out = NULL;
	assert_int_equal(ingest(c, dir, &out, sn), 0);
	free(out);
}

/* The run stored at least `ahead` inputs ahead and `again` of them again. */
static void expect_ahead(const struct seen *sn, long ahead, long again)
{
	if (sn->ahead < ahead || sn->again < again)
		fail_msg("stored ahead %ld, again %ld: the speculation was not exercised",
		         sn->ahead, sn->again);
}

/* `mix` := c->dir/mix, forty reports, of which those numbered in `some`
 * were stored by a run of their own first (the same bytes). */
static void stored_some(const struct clifx *c, char *mix, size_t n, const int *some, size_t k)
{
	char first[128], from[192], to[192];
	make_dir(c, mix, n, "mix", 0, 40);
	snprintf(first, sizeof first, "%s/first", c->dir);
	assert_int_equal(mkdir(first, 0755), 0);
	for (size_t i = 0; i < k; i++) {
		snprintf(from, sizeof from, "%s/r%03d.xml", mix, some[i]);
		snprintf(to, sizeof to, "%s/r%03d.xml", first, some[i]);
		assert_int_equal(link(from, to), 0);
	}
	struct seen sn = {0};
	expect_ingested(c, first, &sn);
}

static int64_t reports_whole(const struct clifx *c, long records)
{
	char n[24];
	snprintf(n, sizeof n, "%ld", records);
	const char *p[] = {n};
	return q_int(c->db,
	             "SELECT count(*) FROM dmarcsift.reports r WHERE r.org_name = 'spec.example'"
	             " AND r.records = $1::bigint AND (SELECT count(*) FROM dmarcsift.records x"
	             " WHERE x.tenant_id = r.tenant_id AND x.report_pk = r.id) = $1::bigint",
	             1, p);
}

/* Bytes stored by an earlier run turn up among new ones: duplicates, found
 * after their rows were sent, and the inputs sent after them kept. */
static void test_duplicates_among_new(void **state)
{
	struct clifx *c = *state;
	char mix[128];
	const int dup[] = {10, 20, 21, 30, 39};
	stored_some(c, mix, sizeof mix, dup, sizeof dup / sizeof *dup);
	struct seen sn = {0};

	expect_run(c, mix, 0, "35 reports (70 records) ingested, 5 duplicates, 0 quarantined", &sn);
	expect_ahead(&sn, 20, 3);
	assert_int_equal(reports_whole(c, 2), 40);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.records", 0, NULL), 80);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE status = 'ok'", 0,
	                       NULL),
	                 40);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages", 0, NULL), 40);

	/* All of it again: duplicates, taken for such ahead of the answers. */
	expect_run(c, mix, 0, "0 reports (0 records) ingested, 40 duplicates, 0 quarantined", &sn);
	assert_int_equal(sn.ahead, 0);
	if (sn.dup_ahead < 30 || sn.dup_new != 0)
		fail_msg("taken for duplicates ahead %ld, %ld not", sn.dup_ahead, sn.dup_new);
}

/* Identities stored before: a less complete copy replaced, the same
 * records in other bytes a duplicate, copies that disagree (other counts,
 * or records the new one lacks) conflicts, quarantined — each found only
 * from its answer. */
static void test_stored_identities(void **state)
{
	struct clifx *c = *state;
	char first[128], dir[128], path[192];
	snprintf(first, sizeof first, "%s/first", c->dir);
	assert_int_equal(mkdir(first, 0755), 0);
	snprintf(path, sizeof path, "%s/a.xml", first);
	write_report(path, "spec-012", 1, 0, false);
	snprintf(path, sizeof path, "%s/b.xml", first);
	write_report(path, "spec-020", 3, 0, false);
	snprintf(path, sizeof path, "%s/c.xml", first);
	write_report(path, "spec-025", 2, 7, false);
	snprintf(path, sizeof path, "%s/d.xml", first);
	write_report(path, "spec-027", 2, 0, true);
	struct seen sn = {0};
	expect_ingested(c, first, &sn);

	make_dir(c, dir, sizeof dir, "ids", 0, 30);
	expect_run(c, dir, 1,
	           "26 reports (54 records) ingested, 1 duplicates, 2 quarantined, 1 replaced",
	           &sn);
	expect_ahead(&sn, 20, 3);
	const char *p12[] = {"spec-012"}, *p20[] = {"spec-020"}, *p25[] = {"spec-025"};
	const char *p27[] = {"spec-027"};
	const char *recs = "SELECT records FROM dmarcsift.reports WHERE report_id = $1";
	assert_int_equal(q_int(c->db, recs, 1, p12), 2);
	assert_int_equal(q_int(c->db, recs, 1, p20), 3);
	assert_int_equal(
	    q_int(c->db, "SELECT messages FROM dmarcsift.reports WHERE report_id = $1", 1, p25),
	    10);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.reports WHERE report_id = $1", 1, p27), 1);
	assert_int_equal(reports_whole(c, 2), 29);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 2);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages", 0, NULL), 34);
}

/* The server refuses two reports in a row (a report's row, then a record):
 * each is quarantined alone, and every input after them is stored. */
static void test_refused_in_a_row(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192];
	make_dir(c, dir, sizeof dir, "refused", 0, 30);
	snprintf(path, sizeof path, "%s/r016.xml", dir);
	write_report(path, "spec-016", 2, 40, false);
	q_exec(c->db,
	       "ALTER TABLE dmarcsift.reports ADD CONSTRAINT test_spec"
	       " CHECK (report_id <> 'spec-015');"
	       " ALTER TABLE dmarcsift.records ADD CONSTRAINT test_spec CHECK (count <> 41)");
	struct seen sn = {0};
	expect_run(c, dir, 1, "28 reports (56 records) ingested, 0 duplicates, 2 quarantined", &sn);
	expect_ahead(&sn, 20, 2);
	q_exec(c->db, "ALTER TABLE dmarcsift.reports DROP CONSTRAINT test_spec;"
	              " ALTER TABLE dmarcsift.records DROP CONSTRAINT test_spec");
	assert_int_equal(reports_whole(c, 2), 28);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.reports"
	                       " WHERE report_id IN ('spec-015', 'spec-016')",
	                       0, NULL),
	                 0);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 2);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE status = 'ok'", 0,
	                       NULL),
	                 28);
	/* Kept: the next run, with the cause gone, stores them. */
	expect_run(c, dir, 0, "2 reports (4 records) ingested, 28 duplicates, 0 quarantined", &sn);
}

/* Back among inputs taken for duplicates: new bytes (twice), bytes that do
 * not parse, found only from their answers and stored the usual way. */
static void test_new_among_duplicates(void **state)
{
	struct clifx *c = *state;
	char old[128], back[128], from[192], to[192];
	make_dir(c, old, sizeof old, "old", 0, 30);
	struct seen sn = {0};
	expect_ingested(c, old, &sn);
	snprintf(back, sizeof back, "%s/back", c->dir);
	assert_int_equal(mkdir(back, 0755), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "%s/r%03d.xml", old, i);
		snprintf(to, sizeof to, "%s/r%03d.xml", back, i);
		assert_int_equal(link(from, to), 0);
	}
	snprintf(to, sizeof to, "%s/r005a.xml", back);
	write_report(to, "spec-105", 2, 0, false);
	snprintf(from, sizeof from, "%s/r005b.xml", back);
	assert_int_equal(link(to, from), 0);
	snprintf(to, sizeof to, "%s/r029a.xml", back);
	write_report(to, "spec-129", 2, 0, false);
	snprintf(to, sizeof to, "%s/r010a.xml", back);
	write_report(to, "spec-110", 2, 0, false);
	snprintf(to, sizeof to, "%s/r010b.xml", back);
	write_report(to, "spec-111", 2, 0, false);
	snprintf(to, sizeof to, "%s/r015a.xml", back);
	FILE *f = fopen(to, "w");
	assert_non_null(f);
	fputs("<?xml version=\"1.0\"?><feedback><report_metadata><org_name>cut", f);
	fclose(f);

	expect_run(c, back, 1, "4 reports (8 records) ingested, 31 duplicates, 1 quarantined", &sn);
	if (sn.dup_ahead < 20 || sn.dup_new < 5)
		fail_msg("taken for duplicates ahead %ld, %ld not: not exercised", sn.dup_ahead,
		         sn.dup_new);
	assert_int_equal(reports_whole(c, 2), 34);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 1);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages", 0, NULL), 35);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE status = 'ok'", 0,
	                       NULL),
	                 34);
}

/* A batch's reports have their counts written with their rows: the
 * batch's end finds them right and rewrites none (0037; before it, every
 * moved report's row was written twice). The server's own statistics say
 * so once the ingest's sessions have reported them (at their end). */
static void test_counts_written_once(void **state)
{
	struct clifx *c = *state;
	char dir[128];
	make_dir(c, dir, sizeof dir, "once", 0, 30);
	struct seen sn = {0};
	expect_run(c, dir, 0, "30 reports (60 records) ingested, 0 duplicates, 0 quarantined", &sn);
	assert_int_equal(reports_whole(c, 2), 30);
	static const char stat[] = "SELECT n_tup_ins FROM pg_catalog.pg_stat_user_tables"
	                           " WHERE relid = 'dmarcsift.reports'::regclass";
	for (int i = 0; i < 100 && q_int(c->db, stat, 0, NULL) < 30; i++)
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
	assert_int_equal(q_int(c->db, stat, 0, NULL), 30);
	assert_int_equal(q_int(c->db,
	                       "SELECT n_tup_upd FROM pg_catalog.pg_stat_user_tables"
	                       " WHERE relid = 'dmarcsift.reports'::regclass",
	                       0, NULL),
	                 0);
}

/* What drain tells its caller, by outcome, for the same mix of new and
 * known bytes: the outcomes after the inputs stored again, not before. */
static void test_drain_counts(void **state)
{
	struct clifx *c = *state;
	char mix[128];
	const int dup[] = {9, 10, 25, 33};
	stored_some(c, mix, sizeof mix, dup, sizeof dup / sizeof *dup);

	struct db *db = NULL, *spare = NULL;
	struct err e = {0}, serr = {0};
	assert_int_equal(db_connect(&db, c->db, false, &e), 0);
	assert_int_equal(db_connect_again(&spare, db, &e), 0);
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_new(&p, db, NULL), 0);
	pipeline_set_spare(p, spare);
	struct source *src = NULL;
	char *paths[] = {mix};
	assert_int_equal(source_files_open(&src, paths, 1), 0);
	struct drain_counts dc = {0};
	assert_int_equal(drain(src, p, NULL, NULL, NULL, &dc, &serr, &e), 0);
	source_close(src);
	uint64_t a = 0, g = 0, da = 0, dn = 0;
	pipeline_speculated(p, &a, &g, &da, &dn);
	if (a < 20 || g < 2)
		fail_msg("stored ahead %llu, again %llu: the speculation was not exercised",
		         (unsigned long long)a, (unsigned long long)g);
	assert_int_equal(dc.ingested, 36);
	assert_int_equal(dc.duplicates, 4);
	assert_int_equal(dc.quarantined, 0);
	assert_int_equal(pipeline_stats(p)->reports, 36);
	assert_int_equal(pipeline_stats(p)->duplicates, 4);
	assert_int_equal(reports_whole(c, 2), 40);

	/* Again with two new inputs among the forty: taken for duplicates
	 * first, then counted as what they are. */
	char path[192];
	snprintf(path, sizeof path, "%s/r020a.xml", mix);
	write_report(path, "spec-220", 2, 0, false);
	snprintf(path, sizeof path, "%s/r031a.xml", mix);
	write_report(path, "spec-231", 2, 0, false);
	assert_int_equal(source_files_open(&src, paths, 1), 0);
	dc = (struct drain_counts){0};
	assert_int_equal(drain(src, p, NULL, NULL, NULL, &dc, &serr, &e), 0);
	source_close(src);
	pipeline_speculated(p, &a, &g, &da, &dn);
	if (da < 20 || dn < 2)
		fail_msg("taken for duplicates ahead %llu, %llu not: not exercised",
		         (unsigned long long)da, (unsigned long long)dn);
	assert_int_equal(dc.ingested, 2);
	assert_int_equal(dc.duplicates, 40);
	assert_int_equal(dc.quarantined, 0);
	pipeline_free(p);
	db_close(spare);
	db_close(db);
	assert_int_equal(reports_whole(c, 2), 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_duplicates_among_new, clifx_setup_migrated,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_stored_identities, clifx_setup_migrated,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_refused_in_a_row, clifx_setup_migrated,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_new_among_duplicates, clifx_setup_migrated,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_drain_counts, clifx_setup_migrated,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_counts_written_once, clifx_setup_migrated,
	                                    clifx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
