/*
 * test_source_sums: a streamed report's record_sources rows computed by the
 * client (db/source_sums.c, migration 0034) equal those the server derives
 * from the same stored records, whichever way they came: by the client's
 * COPY, or by the server when the client hands over (text that is not
 * ASCII, more sources than it keeps). And the claim on the trigger ends
 * with its report: the next report of the same batch is derived as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/db.h"
#include "db/source_sums.h"
#include "db/store.h"
#include "tests/support/dbfx.h"
#include "tests/support/strpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough records for their COPY lines to outgrow one 64 KiB buffer, so the
 * report streams (db/store_report.c). */
#define N 900

static struct aggr_report report(const char *id)
{
	struct aggr_report r = {0};
	r.schema = AGGR_SCHEMA_RFC7489;
	r.version = strpool_dup("1.0");
	r.org_name = strpool_dup("Google.COM");
	r.email = strpool_dup("noreply-dmarc@example.net");
	r.report_id = strpool_dup(id);
	r.begin = 1700000000;
	r.end = 1700000000 + 86399;
	r.policy.domain = strpool_dup("example.com");
	r.policy.p = strpool_dup("reject");
	r.policy.pct = -1;
	return r;
}

/* Record i of a report: addresses written more than one way, From in any
 * case or missing, results in any case, signatures and checks with fields
 * missing, several per record, or none. */
static void fill(struct aggr_record *rec, int i, struct aggr_dkim *dk, struct aggr_spf *sp)
{
	static const char *const ips[] = {"192.0.2.1", "2001:DB8::1", "2001:db8:0:0::1",
	                                  "198.51.100.7", "2001:db8::2"};
	static const char *const froms[] = {"Example.COM", "example.com", NULL, "",
	                                    "news.Example.org"};
	static const char *const dkims[] = {"pass", "PASS", "fail", NULL, "Pass", "temperror"};
	static const char *const spfs[] = {"fail", "pass", NULL, "softfail"};
	char ip[48];
	if (i % 3 == 0)
		snprintf(ip, sizeof ip, "203.0.113.%d", i % 200);
	else
		snprintf(ip, sizeof ip, "%s", ips[i % 5]);
	*rec = (struct aggr_record){.source_ip = strpool_dup(ip),
	                            .count = i + 1,
	                            .disposition = strpool_dup("none"),
	                            .dkim = strpool_dup(dkims[i % 6]),
	                            .spf = strpool_dup(spfs[i % 4]),
	                            .header_from = strpool_dup(froms[i % 5])};
	if (i % 3 == 1) {
		dk[0] = (struct aggr_dkim){.domain = strpool_dup("Example.COM"),
		                           .selector = strpool_dup("S1"),
		                           .result = strpool_dup("FAIL")};
		rec->dkim_auth = dk;
		rec->n_dkim = 1;
	} else if (i % 3 == 2) {
		dk[0] = (struct aggr_dkim){0};
		dk[1] = (struct aggr_dkim){.domain = strpool_dup("ex.net"),
		                           .selector = strpool_dup("s2"),
		                           .result = strpool_dup("pass")};
		dk[2] = (struct aggr_dkim){.domain = strpool_dup("Example.COM"),
		                           .selector = strpool_dup("S1"),
		                           .result = strpool_dup("fail")};
		rec->dkim_auth = dk;
		rec->n_dkim = 3;
	}
	if (i % 2 == 1) {
		sp[0] = (struct aggr_spf){.domain = strpool_dup("Mail.Example.com"),
		                          .scope = strpool_dup("mfrom"),
		                          .result = strpool_dup(i % 5 == 0 ? NULL : "SoftFail")};
		rec->spf_auth = sp;
		rec->n_spf = 1;
	}
}

/* Stores report `id` (its n records; record `odd`, when >= 0, with a header
 * From that is not ASCII) inside the connection's open batch or on its own. */
static void store_n(struct db *db, const char *id, int odd, int n)
{
	struct aggr_report r = report(id);
	struct store_tx *tx = NULL;
	struct err e = {0};
	assert_int_equal(store_report_begin(&tx, db, &r, NULL, NULL, false, NULL, &e), 0);
	for (int i = 0; i < n; i++) {
		struct aggr_record rec;
		struct aggr_dkim dk[3];
		struct aggr_spf sp[1];
		fill(&rec, i, dk, sp);
		if (i == odd)
			rec.header_from = strpool_dup("B\xc3\xbc"
			                              "cher.example"); /* Bücher */
		if (store_report_record(tx, &rec, &e) < 0)
			fail_msg("store_report_record: %s", e.msg);
	}
	if (store_report_commit(tx, NULL, &e) < 0)
		fail_msg("store_report_commit: %s", e.msg);
	strpool_free();
}

static void store(struct db *db, const char *id, int odd)
{
	store_n(db, id, odd, N);
}

static const char rows_sql[] =
    "SELECT coalesce(string_agg(concat_ws('|', s.source_ip, s.header_from, s.org_name,"
    " s.policy_domain, s.begin_at, s.end_at, s.messages, s.dkim_pass, s.spf_pass, s.dmarc_pass,"
    " dmarcsift.source_fails_merge(s.fails, '[]')), E'\\n'"
    " ORDER BY s.source_ip, s.header_from), '')"
    " FROM dmarcsift.record_sources s JOIN dmarcsift.reports r"
    " ON r.tenant_id = s.tenant_id AND r.id = s.report_pk WHERE r.report_id = $1";

/* The report's rows as stored (more than `min` of them), then as the
 * server derives them again from its records: the same. */
static void expect_rows(struct dbfx *f, const char *id, int min)
{
	const char *p[] = {id};
	char *stored = dbfx_q1(f->db, rows_sql, 1, p);
	assert_non_null(stored);
	assert_non_null(strstr(stored, "2001:db8::1|example.com|google.com|example.com|"));
	assert_true(dbfx_qint(f->db,
	                      "WITH d AS (DELETE FROM dmarcsift.record_sources s"
	                      " USING dmarcsift.reports r WHERE r.tenant_id = s.tenant_id"
	                      " AND r.id = s.report_pk AND r.report_id = $1 RETURNING 1)"
	                      " SELECT count(*) FROM d",
	                      1, p) > min);
	free(dbfx_q1(f->db,
	             "SELECT dmarcsift.record_sources_of_report(tenant_id, id)::text"
	             " FROM dmarcsift.reports WHERE report_id = $1",
	             1, p));
	char *derived = dbfx_q1(f->db, rows_sql, 1, p);
	assert_string_equal(stored, derived);
	free(stored);
	free(derived);
}

static void expect_server_rows(struct dbfx *f, const char *id)
{
	expect_rows(f, id, 200);
}

static void test_client_rows_equal_server_rows(void **state)
{
	struct dbfx *f = *state;
	size_t before = source_sums_copied();
	store(f->db, "plain-1", -1);
	assert_int_equal(source_sums_copied(), before + 1);
	expect_server_rows(f, "plain-1");

	/* A From that is not ASCII: lower() is the server's to apply. */
	store(f->db, "odd-1", N / 2);
	assert_int_equal(source_sums_copied(), before + 1);
	expect_server_rows(f, "odd-1");
	const char *p[] = {"odd-1"};
	assert_int_equal(dbfx_qint(f->db,
	                           "SELECT count(*) FROM dmarcsift.record_sources s"
	                           " JOIN dmarcsift.reports r ON r.tenant_id = s.tenant_id"
	                           " AND r.id = s.report_pk"
	                           " WHERE r.report_id = $1 AND s.header_from = lower('B\xc3\xbc"
	                           "cher.example')",
	                           1, p),
	                 1);

	/* More sources than the client keeps. */
	source_sums_set_max(5);
	store(f->db, "many-1", -1);
	source_sums_set_max((size_t)1 << 18);
	assert_int_equal(source_sums_copied(), before + 1);
	expect_server_rows(f, "many-1");
}

/* In a batch, a streamed report's claim on the trigger ends with it: the
 * small report after it is derived by the trigger when the batch moves its
 * rows. */
static void test_claim_ends_with_report(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	size_t before = source_sums_copied();
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(store_report_batch_open(f->db, &e), 0);
	store(f->db, "big-1", -1);
	struct aggr_report r = report("small-1");
	struct store_tx *tx = NULL;
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	struct aggr_record rec;
	struct aggr_dkim dk[3];
	struct aggr_spf sp[1];
	fill(&rec, 4, dk, sp);
	assert_int_equal(store_report_record(tx, &rec, &e), 0);
	assert_int_equal(store_report_commit(tx, NULL, &e), 0);
	strpool_free();
	assert_int_equal(store_report_batch_flush(f->db, &e), 0);
	assert_int_equal(db_batch_commit(f->db, &e), 0);
	assert_int_equal(source_sums_copied(), before + 1);
	const char *p[] = {"small-1"};
	assert_int_equal(dbfx_qint(f->db,
	                           "SELECT count(*) FROM dmarcsift.record_sources s"
	                           " JOIN dmarcsift.reports r ON r.tenant_id = s.tenant_id"
	                           " AND r.id = s.report_pk WHERE r.report_id = $1",
	                           1, p),
	                 1);
	expect_server_rows(f, "big-1");
}

/* A batch's small reports (0035): their rows summed here go with each
 * report's statement (array parameters, or after rows sent by COPY into the
 * batch's table) and are stored at the batch's end, equal to the server's;
 * one with a From that is not ASCII is derived there instead. */
static void test_batch_rows_equal_server_rows(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	size_t before = source_sums_sent();
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(store_report_batch_open(f->db, &e), 0);
	store_n(f->db, "five-1", -1, 5);
	store_n(f->db, "sixty-1", -1, 60);
	store_n(f->db, "odd-5", 3, 5);
	store_n(f->db, "five-2", -1, 7);
	assert_int_equal(store_report_batch_flush(f->db, &e), 0);
	assert_int_equal(db_batch_commit(f->db, &e), 0);
	assert_int_equal(source_sums_sent(), before + 3);
	expect_rows(f, "five-1", 3);
	expect_rows(f, "sixty-1", 20);
	expect_rows(f, "odd-5", 3);
	expect_rows(f, "five-2", 3);
	assert_int_equal(dbfx_qint(f->db,
	                           "SELECT count(*) FROM dmarcsift.record_sources"
	                           " WHERE header_from = lower('B\xc3\xbc"
	                           "cher.example')",
	                           0, NULL),
	                 1);
	assert_int_equal(dbfx_qint(f->db,
	                           "SELECT sum(s.messages) FROM dmarcsift.record_sources s"
	                           " JOIN dmarcsift.reports r ON r.tenant_id = s.tenant_id"
	                           " AND r.id = s.report_pk WHERE r.report_id = 'sixty-1'",
	                           0, NULL),
	                 60 * 61 / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_client_rows_equal_server_rows, dbfx_setup,
	                                    dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_claim_ends_with_report, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_rows_equal_server_rows, dbfx_setup,
	                                    dbfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
