/*
 * The bundled fixtures through the real binary into a real PostgreSQL,
 * checked against what the files hold (fixtures/reports/MANIFEST.tsv and
 * fixtures/hostile/MANIFEST-unpack.tsv):
 *   - every report fixture is stored, with v_reports.records/messages and the
 *     v_records row count and count sum equal to the file's;
 *   - a second run changes nothing and reports every input as a duplicate;
 *   - the archives and mails (the same reports, packed and mailed) add only
 *     duplicates;
 *   - every hostile fixture is quarantined with its stage and a reason naming
 *     the problem, while a valid report in the same run is still ingested;
 *     those whose fault is one value (a bad source or count in one record,
 *     no records, an unknown result) are stored marked recovered instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct row {
	char file[256];
	char outcome[32];
	char stage[32];
	char reason[256];
	long records;
	long messages;
	char report_id[128];
};

/* A manifest field that does not fit its slot is a broken manifest, not
 * something to cut short in silence. */
#define FIELD(dst, ...) assert_true(snprintf(dst, sizeof dst, __VA_ARGS__) < (int)sizeof dst)

/* Reads a tab-separated manifest; '#' lines and the header are skipped. */
static size_t read_manifest(const char *path, struct row *rows, size_t max, int unpack_format)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[2048];
	size_t n = 0;
	while (fgets(line, sizeof line, f) && n < max) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0' || strncmp(line, "file", 4) == 0)
			continue;
		char *fields[8] = {0};
		size_t nf = 0;
		for (char *p = line; p && nf < 8;) {
			fields[nf++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		struct row *r = &rows[n];
		memset(r, 0, sizeof *r);
		if (unpack_format) {
			assert_true(nf >= 3);
			FIELD(r->file, "hostile/%s", fields[0]);
			snprintf(r->outcome, sizeof r->outcome, "fail:%s", fields[1]);
			snprintf(r->stage, sizeof r->stage, "%s", fields[1]);
			snprintf(r->reason, sizeof r->reason, "%s", fields[2]);
		} else {
			assert_true(nf >= 7);
			FIELD(r->file, "%s", fields[0]);
			snprintf(r->outcome, sizeof r->outcome, "%s", fields[1]);
			if (strncmp(r->outcome, "fail:", 5) == 0)
				snprintf(r->stage, sizeof r->stage, "%s", r->outcome + 5);
			r->records = strtol(fields[2], NULL, 10);
			r->messages = strtol(fields[3], NULL, 10);
			/* "(null)": the file has no report_id; stored as ''. */
			snprintf(r->report_id, sizeof r->report_id, "%s",
			         strcmp(fields[6], "(null)") == 0 ? "" : fields[6]);
		}
		n++;
	}
	fclose(f);
	return n;
}

static char *db;

static int setup(void **state)
{
	(void)state;
	return testdb_create(&db);
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(db);
	free(db);
	return 0;
}

static const char *fingerprint_sql =
    "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM ("
    " SELECT concat_ws(',', tenant, org_name, report_id, policy_domain, begin_at, end_at,"
    " source_ip, count, disposition, dkim, spf, header_from, envelope_from, envelope_to,"
    " dkim_auth::text, spf_auth::text, reasons::text) AS x FROM dmarcsift.v_records) s";

static void test_reports_match_the_files(void **state)
{
	(void)state;
	static struct row rows[256];
	size_t n = read_manifest(FIXTURES_DIR "/reports/MANIFEST.tsv", rows, 256, 0);
	assert_true(n > 30);

	char *out = NULL;
	const char *a[] = {"ingest", "--db", db, FIXTURES_DIR "/reports", NULL};
	assert_int_equal(run_bin(a, NULL, &out), 0);
	char *first_summary = out;

	size_t stored = 0, recovered = 0;
	long total_records = 0;
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		if (strncmp(r->file, "reports/", 8) != 0)
			continue;
		assert_true(strcmp(r->outcome, "ok") == 0 || strcmp(r->outcome, "recovered") == 0);
		const char *p[] = {r->report_id};
		printf("checking %s (%s)\n", r->file, r->report_id);
		assert_int_equal(
		    q_int(db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p),
		    1);
		assert_int_equal(
		    q_int(db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p),
		    r->records);
		assert_int_equal(
		    q_int(db, "SELECT messages FROM dmarcsift.v_reports WHERE report_id=$1", 1, p),
		    r->messages);
		assert_int_equal(
		    q_int(db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, p),
		    r->records);
		assert_int_equal(
		    q_int(
		        db,
		        "SELECT coalesce(sum(count),0) FROM dmarcsift.v_records WHERE report_id=$1",
		        1, p),
		    r->messages);
		assert_int_equal(
		    q_int(db, "SELECT recovered::int FROM dmarcsift.v_reports WHERE report_id=$1",
		          1, p),
		    strcmp(r->outcome, "recovered") == 0);
		/* A recovered report says why; a clean one has nothing to say. */
		assert_int_equal(
		    q_int(db,
		          "SELECT (complaint IS NOT NULL AND length(complaint) > 10)::int"
		          " FROM dmarcsift.v_reports WHERE report_id=$1",
		          1, p),
		    strcmp(r->outcome, "recovered") == 0);
		stored++;
		recovered += strcmp(r->outcome, "recovered") == 0;
		total_records += r->records;
	}
	/* ingest counts the recovered reports (and says where to look). */
	char want[96];
	snprintf(want, sizeof want, ", %zu recovered", recovered);
	if (!strstr(first_summary, want))
		fail_msg("summary '%s' lacks '%s'", first_summary, want);
	free(first_summary);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), stored);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_records", 0, NULL),
	                 total_records);

	/* Twice: nothing changes, and every input is reported as a duplicate. */
	char *before = q_str(db, fingerprint_sql, 0, NULL);
	assert_int_equal(run_bin(a, NULL, &out), 0);
	char expect[128];
	snprintf(expect, sizeof expect,
	         "0 reports (0 records) ingested, %zu duplicates, 0 quarantined", stored);
	assert_non_null(strstr(out, expect));
	free(out);
	char *after = q_str(db, fingerprint_sql, 0, NULL);
	assert_string_equal(before, after);
	free(after);

	/* The same reports packed (gzip, zip, gz.gz ...) and mailed add nothing new
	 * beyond their own payloads, and a second run of those is all duplicates. */
	const char *b[] = {"ingest", "--db", db, FIXTURES_DIR "/archives", FIXTURES_DIR "/mail",
	                   NULL};
	assert_int_equal(run_bin(b, NULL, &out), 1); /* mail/classify holds a non-report */
	free(out);
	int64_t reports_after_mail = q_int(db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL);
	assert_true(reports_after_mail > (int64_t)stored);
	assert_int_equal(
	    q_int(db,
	          "SELECT count(*) FROM dmarcsift.v_failures WHERE source LIKE '%/mail/classify/%'",
	          0, NULL),
	    1);
	/* The failure report among the mails is read as one (RFC 6591). */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE"
	                       " reported_domain = 'example.com' AND auth_failure = 'dmarc'"
	                       " AND source_ip = '198.51.100.7'",
	                       0, NULL),
	                 1);
	/* The DSN among the mails went to the bounce store, classified. */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_bounces WHERE recipient = "
	                       "'someone@gmail.com' AND enhanced_code = '5.7.26' AND class = "
	                       "'auth_failure'",
	                       0, NULL),
	                 1);
	char *mid = q_str(db, fingerprint_sql, 0, NULL);
	assert_int_equal(run_bin(b, NULL, &out), 1);
	assert_non_null(strstr(out, "0 reports (0 records) ingested"));
	free(out);
	char *end = q_str(db, fingerprint_sql, 0, NULL);
	assert_string_equal(mid, end);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_bounces", 0, NULL), 1);
	free(mid);
	free(end);
	free(before);
}

static void test_hostile_inputs_are_quarantined(void **state)
{
	(void)state;
	static struct row rows[256];
	size_t n = read_manifest(FIXTURES_DIR "/reports/MANIFEST.tsv", rows, 256, 0);
	n += read_manifest(FIXTURES_DIR "/hostile/MANIFEST-unpack.tsv", rows + n, 256 - n, 1);

	/* A valid report in the same run as the hostile ones is still ingested. */
	char *out = NULL;
	const char *a[] = {"ingest",
	                   "--db",
	                   db,
	                   FIXTURES_DIR "/hostile",
	                   FIXTURES_DIR "/reports/rfc9990-namespace-extensions.xml",
	                   NULL};
	int rc = run_bin(a, NULL, &out);
	free(out);
	assert_int_equal(rc, 1);
	const char *v[] = {FIXTURES_DIR "/reports/rfc9990-namespace-extensions.xml"};
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE source=$1 AND "
	                       "status='ok'",
	                       1, v),
	                 1);

	size_t hostile = 0, kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		if (strncmp(r->file, "hostile/", 8) != 0)
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, r->file);
		const char *p[] = {path};
		printf("checking %s\n", r->file);
		if (strcmp(r->outcome, "recovered") == 0) {
			/* A deviation in one value (an unusable record, no records, an
			 * unknown result) costs only itself: stored, marked, counted. */
			char records[24];
			snprintf(records, sizeof records, "%ld", r->records);
			const char *id[] = {r->report_id, records};
			assert_int_equal(q_int(db,
			                       "SELECT count(*) FROM dmarcsift.v_reports WHERE "
			                       "report_id=$1 AND recovered AND records=$2::bigint "
			                       "AND complaint IS NOT NULL",
			                       2, id),
			                 1);
			assert_int_equal(
			    q_int(db, "SELECT count(*) FROM dmarcsift.v_failures WHERE source=$1",
			          1, p),
			    0);
			kept++;
			continue;
		}
		assert_int_equal(
		    q_int(db, "SELECT count(*) FROM dmarcsift.v_failures WHERE source=$1", 1, p),
		    1);
		char *stage =
		    q_str(db, "SELECT stage FROM dmarcsift.v_failures WHERE source=$1", 1, p);
		char *reason =
		    q_str(db, "SELECT reason FROM dmarcsift.v_failures WHERE source=$1", 1, p);
		printf("  %s: %s\n", stage, reason);
		assert_true(strlen(reason) > 10);
		if (r->reason[0]) {
			assert_string_equal(stage, r->stage);
			assert_non_null(strstr(reason, r->reason));
		} else if (strcmp(r->stage, "validate") == 0) {
			assert_string_equal(stage, "validate");
		} else {
			/* Not XML at all is already refused by the unpacker's sniffing. */
			assert_true(strcmp(stage, "xml") == 0 || strcmp(stage, "unpack") == 0);
		}
		free(stage);
		free(reason);
		hostile++;
	}
	assert_true(hostile + kept >= 30);
	assert_int_equal(kept, 6);
	/* Every file in fixtures/hostile is covered by a manifest row. */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failures WHERE source LIKE "
	                       "'%/hostile/%'",
	                       0, NULL),
	                 hostile);
	/* Nothing of a refused report was stored. */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id IN "
	                       "('backwards-1','laughs-1','xxe-1','undef-ent-1')",
	                       0, NULL),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reports_match_the_files),
	    cmocka_unit_test(test_hostile_inputs_are_quarantined),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
