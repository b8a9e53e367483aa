/*
 * test_store: the report store against a real PostgreSQL (DMARCSIFT_TEST_DB),
 * each test in a database of its own (the raw-message store:
 * test_store_raw.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/store.h"
#include "tests/support/dbfx.h"
#include "tests/support/strpool.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- building reports by hand ------------------------------------------ */

static struct aggr_report report(const char *org, const char *id, const char *domain, int64_t begin)
{
	struct aggr_report r = {0};
	r.schema = AGGR_SCHEMA_RFC7489;
	r.version = strpool_dup("1.0");
	r.org_name = strpool_dup(org);
	r.email = strpool_dup("noreply-dmarc@example.net");
	r.report_id = strpool_dup(id);
	r.begin = begin;
	r.end = begin + 86399;
	r.policy.domain = strpool_dup(domain);
	r.policy.adkim = strpool_dup("r");
	r.policy.aspf = strpool_dup("r");
	r.policy.p = strpool_dup("reject");
	r.policy.pct = -1;
	return r;
}

static struct aggr_record record(const char *ip, int64_t count)
{
	struct aggr_record rec = {0};
	rec.source_ip = strpool_dup(ip);
	rec.count = count;
	rec.disposition = strpool_dup("none");
	rec.dkim = strpool_dup("pass");
	rec.spf = strpool_dup("fail");
	rec.header_from = strpool_dup("example.com");
	return rec;
}

/* Stores a report with its records; returns whether it was a duplicate. */
static bool store(struct db *db, const struct aggr_report *r, const struct aggr_record *recs,
                  size_t n, const char *override)
{
	struct store_tx *tx = NULL;
	struct err e = {0};
	enum store_outcome how = STORE_ADDED;
	int rc = store_report_begin(&tx, db, r, NULL, override, false, NULL, &e);
	if (rc < 0)
		fail_msg("store_report_begin: %s", e.msg);
	assert_non_null(tx);
	for (size_t i = 0; i < n; i++)
		if (store_report_record(tx, &recs[i], &e) < 0)
			fail_msg("store_report_record: %s", e.msg);
	if (store_report_commit(tx, &how, &e) < 0)
		fail_msg("store_report_commit: %s", e.msg);
	return how == STORE_DUPLICATE;
}

static void test_report_round_trip(void **state)
{
	struct dbfx *f = *state;
	struct aggr_report r = report("google.com", "rt-1", "example.com", 1700000000);
	r.schema = AGGR_SCHEMA_RFC9990;
	r.namespace_uri = strpool_dup("urn:ietf:params:xml:ns:dmarc-2.0");
	r.generator = strpool_dup("gen/1.0");
	r.policy.np = strpool_dup("quarantine");
	r.policy.pct = 50;
	r.extra_json = strpool_dup("{\"feedback/x-extra\":\"kept\"}");

	struct aggr_record recs[2];
	recs[0] = record("192.0.2.10", 7);
	struct aggr_dkim dk[2] = {
	    {strpool_dup("example.com"), strpool_dup("s1"), strpool_dup("pass"), NULL},
	    {strpool_dup("esp.example"), strpool_dup("k2"), strpool_dup("fail"),
	     strpool_dup("bad sig")}};
	struct aggr_spf sp[1] = {{strpool_dup("bounce.example.com"), strpool_dup("mfrom"),
	                          strpool_dup("softfail"), NULL}};
	struct aggr_reason rs[1] = {{strpool_dup("forwarded"), strpool_dup("list")}};
	recs[0].dkim_auth = dk;
	recs[0].n_dkim = 2;
	recs[0].spf_auth = sp;
	recs[0].n_spf = 1;
	recs[0].reasons = rs;
	recs[0].n_reasons = 1;
	recs[0].envelope_from = strpool_dup("");
	recs[1] = record("2001:db8::1", 35);
	recs[1].disposition = strpool_dup("reject");

	assert_false(store(f->db, &r, recs, 2, NULL));
	char *want_messages = xasprintf("%" PRId64, recs[0].count + recs[1].count);

	const char *id = "rt-1";
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', tenant, org_name, policy_domain, schema, recovered, records,"
	    " messages, extract(epoch FROM begin_at)::bigint, extract(epoch FROM end_at)::bigint)"
	    " FROM dmarcsift.v_reports WHERE report_id = $1",
	    id, "unassigned|google.com|example.com|rfc9990|f|2|42|1700000000|1700086399");
	dbfx_assert_q(f->db, "SELECT messages::text FROM dmarcsift.v_reports WHERE report_id = $1",
	              id, want_messages);
	free(want_messages);
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', pct, np, generator, namespace, extra->>'feedback/x-extra',"
	    " coalesce(sp, 'null')) FROM dmarcsift.reports WHERE report_id = $1",
	    id, "50|quarantine|gen/1.0|urn:ietf:params:xml:ns:dmarc-2.0|kept|null");

	/* Records: inet values, counts, jsonb arrays in order. */
	dbfx_assert_q(
	    f->db,
	    "SELECT string_agg(concat_ws('|', source_ip, family(source_ip), count, disposition,"
	    " dkim, spf), ';' ORDER BY count) FROM dmarcsift.v_records WHERE report_id = $1",
	    id, "192.0.2.10|4|7|none|pass|fail;2001:db8::1|6|35|reject|pass|fail");
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', jsonb_array_length(dkim_auth), dkim_auth->1->>'domain',"
	    " dkim_auth->1->>'selector', dkim_auth->1->>'result', dkim_auth->1->>'human_result',"
	    " jsonb_typeof(dkim_auth->0->'human_result'), spf_auth->0->>'scope',"
	    " spf_auth->0->>'result', reasons->0->>'type', reasons->0->>'comment',"
	    " envelope_from = '', envelope_to IS NULL)"
	    " FROM dmarcsift.v_records WHERE report_id = $1 AND count = 7",
	    id, "2|esp.example|k2|fail|bad sig|null|mfrom|softfail|forwarded|list|t|t");
	dbfx_assert_q(
	    f->db,
	    "SELECT dkim_auth::text || spf_auth::text || reasons::text FROM dmarcsift.v_records"
	    " WHERE report_id = $1 AND count = 35",
	    id, "[][][]");
	/* host() and the IP operators work: it is inet, not text. */
	dbfx_assert_q(f->db,
	              "SELECT count(*)::text FROM dmarcsift.v_records WHERE report_id = $1"
	              " AND source_ip << '192.0.2.0/24'",
	              id, "1");
	strpool_free();
}

static void test_duplicate_and_identity(void **state)
{
	struct dbfx *f = *state;
	struct aggr_record rec = record("198.51.100.1", 3);
	struct aggr_report a = report("google.com", "same-id", "example.org", 1700000000);
	struct aggr_report b = report("yahoo.com", "same-id", "example.org", 1700000000);
	struct aggr_report c = report("google.com", "same-id", "example.org", 1700086400);

	assert_false(store(f->db, &a, &rec, 1, NULL));
	assert_true(store(f->db, &a, &rec, 1, NULL));
	/* Same report id from another org, and from the same org another day. */
	assert_false(store(f->db, &b, &rec, 1, NULL));
	assert_false(store(f->db, &c, &rec, 1, NULL));
	assert_true(store(f->db, &c, &rec, 1, NULL));
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), 3);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_records", 0, NULL), 3);

	/* A duplicate left no transaction open behind it. */
	assert_true(store(f->db, &a, &rec, 1, NULL));
	assert_int_equal(PQtransactionStatus(db_pg(f->db)), PQTRANS_IDLE);
	strpool_free();
}

static void test_abort_leaves_nothing(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct store_tx *tx = NULL;
	struct aggr_report r = report("google.com", "aborted-1", "example.net", 1700000000);
	struct aggr_record rec = record("203.0.113.5", 1);

	assert_int_equal(store_report_begin(&tx, f->db, &r, SHA_B, NULL, true, "truncated", &e), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_report_record(tx, &rec, &e), 0);
	store_report_abort(tx);
	assert_int_equal(PQtransactionStatus(db_pg(f->db)), PQTRANS_IDLE);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 0);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.records", 0, NULL), 0);

	/* Aborted before any record, then stored for real: not a duplicate. */
	assert_int_equal(store_report_begin(&tx, f->db, &r, SHA_B, NULL, true, "truncated", &e), 0);
	store_report_abort(tx);
	assert_false(store(f->db, &r, &rec, 1, NULL));
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 1);
	strpool_free();
}

static void test_bad_records_fail_the_report(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct store_tx *tx = NULL;
	struct aggr_report r = report("google.com", "bad-1", "example.net", 1700000000);
	struct aggr_record good = record("203.0.113.5", 1);
	struct aggr_record badip = record("203.0.113.500", 1);
	struct aggr_record neg = record("203.0.113.6", -5);

	/* A negative count is refused at once, naming the value. */
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &good, &e), 0);
	assert_int_equal(store_report_record(tx, &neg, &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	assert_non_null(strstr(e.msg, "-5"));
	store_report_abort(tx);

	/* The server refuses an invalid address; the message says where. */
	err_clear(&e);
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &good, &e), 0);
	assert_int_equal(store_report_record(tx, &badip, &e), 0);
	assert_int_equal(store_report_commit(tx, NULL, &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	assert_string_equal(e.stage, "store");
	assert_non_null(strstr(e.msg, "203.0.113.500"));
	assert_non_null(strstr(e.msg, "source_ip"));
	assert_int_equal(PQtransactionStatus(db_pg(f->db)), PQTRANS_IDLE);

	/* Counts that overflow together. */
	err_clear(&e);
	struct aggr_record big = record("203.0.113.7", INT64_MAX);
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &big, &e), 0);
	assert_int_equal(store_report_record(tx, &good, &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	store_report_abort(tx);

	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 0);
	assert_false(store(f->db, &r, &good, 1, NULL));
	strpool_free();
}

static void test_many_records(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct store_tx *tx = NULL;
	struct aggr_report r = report("google.com", "many-1", "example.com", 1700000000);
	enum { N = 20000 };
	int64_t sum = 0;

	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	for (int i = 0; i < N; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
		struct aggr_record rec = {0};
		rec.source_ip = ip;
		rec.count = i % 13;
		sum += rec.count;
		assert_int_equal(store_report_record(tx, &rec, &e), 0);
	}
	assert_int_equal(store_report_commit(tx, NULL, &e), 0);
	char *want = xasprintf("%d|%" PRId64 "|%d|%" PRId64, N, sum, N, sum);
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', r.records, r.messages, (SELECT count(*) FROM"
	    " dmarcsift.v_records v WHERE v.report_id = r.report_id), (SELECT sum(count) FROM"
	    " dmarcsift.v_records v WHERE v.report_id = r.report_id))"
	    " FROM dmarcsift.v_reports r WHERE report_id = $1",
	    "many-1", want);
	free(want);
	/* seq numbers the records in order. */
	char last[32];
	snprintf(last, sizeof last, "10.%d.%d.%d", (N - 1) / 65536, ((N - 1) / 256) % 256,
	         (N - 1) % 256);
	char *seq = xasprintf("%d", N - 1);
	dbfx_assert_q(f->db, "SELECT host(source_ip) FROM dmarcsift.records WHERE seq = $1::int",
	              seq, last);
	free(seq);
	strpool_free();
}

static void test_copy_escaping(void **state)
{
	struct dbfx *f = *state;
	struct aggr_report r = report("org\twith\ttabs", "esc-1", "example.com", 1700000000);
	struct aggr_record rec = record("192.0.2.1", 1);
	const char *hf = "tab\there";
	const char *ef = "back\\slash \\N \\t literal";
	const char *et = "line1\nline2\r\nend";
	const char *comment = "quote \" tab\t nl\n bs\\ ünïcödé 日本 \\\\";
	struct aggr_reason rs[1] = {{strpool_dup(""), strpool_dup(comment)}};
	rec.header_from = strpool_dup(hf);
	rec.envelope_from = strpool_dup(ef);
	rec.envelope_to = strpool_dup(et);
	rec.reasons = rs;
	rec.n_reasons = 1;
	rec.extra_json = strpool_dup("{\"x\\ty\":\"a\\\\b\\n\"}");
	assert_false(store(f->db, &r, &rec, 1, NULL));

	const char *id = "esc-1";
	dbfx_assert_q(f->db, "SELECT header_from FROM dmarcsift.v_records WHERE report_id = $1", id,
	              hf);
	dbfx_assert_q(f->db, "SELECT envelope_from FROM dmarcsift.v_records WHERE report_id = $1",
	              id, ef);
	dbfx_assert_q(f->db, "SELECT envelope_to FROM dmarcsift.v_records WHERE report_id = $1", id,
	              et);
	dbfx_assert_q(f->db,
	              "SELECT reasons->0->>'comment' FROM dmarcsift.v_records WHERE report_id = $1",
	              id, comment);
	dbfx_assert_q(f->db,
	              "SELECT reasons->0->>'type' FROM dmarcsift.v_records WHERE report_id = $1",
	              id, "");
	dbfx_assert_q(f->db,
	              "SELECT x.extra->>E'x\\ty' FROM dmarcsift.records x JOIN dmarcsift.reports r"
	              " ON r.id = x.report_pk WHERE r.report_id = $1",
	              id, "a\\b\n");
	dbfx_assert_q(f->db, "SELECT org_name FROM dmarcsift.v_reports WHERE report_id = $1", id,
	              "org\twith\ttabs");
	strpool_free();
}

/* In a batch a small report is sent at its commit in one round trip, its
 * records as an array parameter (db/sql/report_add.sql): the same values
 * arrive as through COPY, NULL and the text "NULL" apart; one the server
 * refuses fails that report alone, and the batch goes on; a report that
 * outgrows the buffer, a copy of a stored one and a report that fails
 * mid-way each keep their own way. */
static void test_batch_deferred(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct store_tx *tx = NULL;
	enum store_outcome how = STORE_DUPLICATE;
	struct aggr_report r = report("org\"q\\b", "def-1", "example.com", 1700000000);
	struct aggr_record rec[2] = {record("192.0.2.1", 1), record("2001:db8::1", 2)};
	const char *comment = "quote \" tab\t nl\n bs\\ {a,b} ünïcödé \\\\";
	struct aggr_reason rs[1] = {{strpool_dup("forwarded"), strpool_dup(comment)}};
	rec[0].header_from = strpool_dup("NULL");
	rec[0].envelope_from = strpool_dup("back\\slash \\N \\t \"q\" {x} literal");
	rec[0].envelope_to = strpool_dup("line1\nline2\r\nend");
	rec[0].reasons = rs;
	rec[0].n_reasons = 1;
	rec[0].extra_json = strpool_dup("{\"x\\ty\":\"a\\\\b\\n\"}");
	rec[1].header_from = NULL;
	rec[1].dkim = strpool_dup("");

	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(store_report_batch_open(f->db, &e), 0);
	/* Nothing is sent before the commit, so an abort costs nothing. */
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &rec[0], &e), 0);
	store_report_abort(tx);
	assert_int_equal(PQtransactionStatus(db_pg(f->db)), PQTRANS_INTRANS);

	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_report_record(tx, &rec[i], &e), 0);
	store_report_note(tx, true, "kept with deviations");
	assert_int_equal(store_report_commit(tx, &how, &e), 0);
	assert_int_equal(how, STORE_ADDED);

	/* Refused by the server: that report alone. */
	struct aggr_report bad = report("google.com", "def-bad", "example.com", 1700000000);
	struct aggr_record badip = record("203.0.113.500", 1);
	assert_int_equal(store_report_begin(&tx, f->db, &bad, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &rec[1], &e), 0);
	assert_int_equal(store_report_record(tx, &badip, &e), 0);
	assert_int_equal(store_report_commit(tx, NULL, &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	assert_string_equal(e.stage, "store");
	assert_non_null(strstr(e.msg, "storing report"));
	assert_non_null(strstr(e.msg, "203.0.113.500"));
	assert_int_equal(PQtransactionStatus(db_pg(f->db)), PQTRANS_INTRANS);
	err_clear(&e);

	/* The same identity again in the batch, as damaged: compared with the
	 * stored copy, a duplicate. */
	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_report_record(tx, &rec[i], &e), 0);
	store_report_note(tx, true, "damaged again");
	assert_int_equal(store_report_commit(tx, &how, &e), 0);
	assert_int_equal(how, STORE_DUPLICATE);

	/* Larger than what goes as arrays, smaller than the buffer: its row in
	 * one round trip, its rows by COPY; then a copy of it, compared. */
	struct aggr_report mid = report("google.com", "def-mid", "example.com", 1700000000);
	for (int copy = 0; copy < 2; copy++) {
		assert_int_equal(store_report_begin(&tx, f->db, &mid, NULL, NULL, false, NULL, &e),
		                 0);
		for (int i = 0; i < 300; i++) {
			char ip[32];
			snprintf(ip, sizeof ip, "10.2.%d.%d", i / 256, i % 256);
			struct aggr_record one = {.source_ip = ip, .count = 2};
			assert_int_equal(store_report_record(tx, &one, &e), 0);
		}
		assert_int_equal(store_report_commit(tx, &how, &e), 0);
		assert_int_equal(how, copy == 0 ? STORE_ADDED : STORE_DUPLICATE);
	}

	/* Larger than the client-side buffer: its row goes in then. */
	struct aggr_report big = report("google.com", "def-big", "example.com", 1700000000);
	assert_int_equal(store_report_begin(&tx, f->db, &big, NULL, NULL, false, NULL, &e), 0);
	for (int i = 0; i < 3000; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
		struct aggr_record one = {.source_ip = ip, .count = 1};
		assert_int_equal(store_report_record(tx, &one, &e), 0);
	}
	assert_int_equal(store_report_commit(tx, &how, &e), 0);
	assert_int_equal(how, STORE_ADDED);
	assert_int_equal(store_report_batch_flush(f->db, &e), 0);
	assert_int_equal(db_batch_commit(f->db, &e), 0);

	const char *id = "def-1";
	dbfx_assert_q(f->db, "SELECT org_name FROM dmarcsift.v_reports WHERE report_id = $1", id,
	              "org\"q\\b");
	dbfx_assert_q(f->db,
	              "SELECT concat_ws('|', records, messages, recovered, complaint)"
	              " FROM dmarcsift.reports WHERE report_id = $1",
	              id, "2|3|t|kept with deviations");
	struct {
		const char *col;
		int seq;
		const char *want;
	} cases[] = {
	    {"header_from", 0, "NULL"},
	    {"header_from", 1, NULL},
	    {"dkim", 1, ""},
	    {"envelope_from", 0, "back\\slash \\N \\t \"q\" {x} literal"},
	    {"envelope_to", 0, "line1\nline2\r\nend"},
	    {"envelope_to", 1, NULL},
	    {"reasons->0->>'comment'", 0, comment},
	    {"reasons->0->>'type'", 0, "forwarded"},
	    {"x.extra->>E'x\\ty'", 0, "a\\b\n"},
	    {"reasons::text", 1, "[]"},
	    {"host(source_ip)", 1, "2001:db8::1"},
	    {"count::text", 1, "2"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *sql = xasprintf("SELECT %s FROM dmarcsift.records x JOIN dmarcsift.reports r"
		                      " ON r.id = x.report_pk WHERE r.report_id = 'def-1'"
		                      " AND x.seq = %d",
		                      cases[i].col, cases[i].seq);
		dbfx_assert_q(f->db, sql, NULL, cases[i].want);
		free(sql);
	}
	assert_int_equal(
	    dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.reports WHERE report_id = 'def-bad'",
	              0, NULL),
	    0);
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', records, messages, (SELECT count(*) FROM dmarcsift.records x"
	    " WHERE x.report_pk = r.id)) FROM dmarcsift.reports r WHERE report_id = $1",
	    "def-big", "3000|3000|3000");
	dbfx_assert_q(
	    f->db,
	    "SELECT concat_ws('|', records, messages, (SELECT count(*) FROM dmarcsift.records x"
	    " WHERE x.report_pk = r.id)) FROM dmarcsift.reports r WHERE report_id = $1",
	    "def-mid", "300|600|300");
	strpool_free();
}

/* ---- tenants ---------------------------------------------------------- */

static void test_tenants(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	const char *acme[] = {"Example.CO.UK.", "acme.example"};
	const char *beta[] = {"beta.example"};
	const char *gamma[] = {"gamma.example", "example.co.uk"};

	assert_int_equal(store_tenant_add(f->db, "acme", acme, 2, &e), 0);
	assert_int_equal(store_tenant_add(f->db, "beta", beta, 1, &e), 0);
	/* Adding a domain the tenant owns already is harmless. */
	assert_int_equal(store_tenant_add(f->db, "beta", beta, 1, &e), 0);

	/* A domain belongs to one tenant only; nothing of the add remains. */
	assert_int_equal(store_tenant_add(f->db, "gamma", gamma, 2, &e), -1);
	assert_string_equal(e.msg, "domain example.co.uk already belongs to tenant acme");
	assert_int_equal(dbfx_qint(f->db,
	                           "SELECT count(*) FROM dmarcsift.tenants WHERE name = 'gamma'", 0,
	                           NULL),
	                 0);
	err_clear(&e);
	assert_int_equal(store_tenant_add(f->db, "unassigned", beta, 1, &e), -1);
	err_clear(&e);

	int id = -1, acme_id, beta_id;
	assert_int_equal(store_tenant_resolve(f->db, "example.co.uk", NULL, &acme_id, &e), 0);
	assert_int_equal(store_tenant_resolve(f->db, "beta.example", NULL, &beta_id, &e), 0);
	assert_true(acme_id > 0 && beta_id > 0 && acme_id != beta_id);
	/* Organisational domain through the PSL: co.uk is a public suffix. */
	assert_int_equal(store_tenant_resolve(f->db, "mail.example.co.uk", NULL, &id, &e), 0);
	assert_int_equal(id, acme_id);
	/* beta.example is owned exactly, but x.beta.example's organisational
	 * domain is beta.example too (.example is a single-label suffix). */
	assert_int_equal(store_tenant_resolve(f->db, "X.Beta.Example", NULL, &id, &e), 0);
	assert_int_equal(id, beta_id);
	/* Not owned: a sibling under a public suffix, and other domains. */
	assert_int_equal(store_tenant_resolve(f->db, "other.co.uk", NULL, &id, &e), 0);
	assert_int_equal(id, 0);
	assert_int_equal(store_tenant_resolve(f->db, "co.uk", NULL, &id, &e), 0);
	assert_int_equal(id, 0);
	/* The override wins; an unknown one is a config error. */
	assert_int_equal(store_tenant_resolve(f->db, "mail.example.co.uk", "beta", &id, &e), 0);
	assert_int_equal(id, beta_id);
	assert_int_equal(store_tenant_resolve(f->db, "example.co.uk", "nosuch", &id, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	err_clear(&e);

	/* Reports land with their tenants. */
	struct aggr_record rec = record("192.0.2.1", 4);
	struct aggr_report r1 = report("google.com", "t-1", "mail.example.co.uk", 1700000000);
	struct aggr_report r2 = report("google.com", "t-2", "beta.example", 1700000000);
	struct aggr_report r3 = report("google.com", "t-3", "nobody.example.net", 1700000000);
	struct aggr_report r4 = report("google.com", "t-4", "nobody.example.net", 1700000000);
	struct aggr_report r5 = report("google.com", "t-5", "unknown.example.org", 1700000000);
	assert_false(store(f->db, &r1, &rec, 1, NULL));
	assert_false(store(f->db, &r2, &rec, 1, NULL));
	assert_false(store(f->db, &r3, &rec, 1, NULL));
	assert_false(store(f->db, &r4, &rec, 1, "acme"));
	assert_false(store(f->db, &r5, &rec, 1, NULL));
	dbfx_assert_q(f->db,
	              "SELECT string_agg(report_id || '=' || tenant, ',' ORDER BY report_id)"
	              " FROM dmarcsift.v_reports",
	              NULL, "t-1=acme,t-2=beta,t-3=unassigned,t-4=acme,t-5=unassigned");

	struct store_tenant *t = NULL;
	size_t n = 0;
	assert_int_equal(store_tenant_list(f->db, &t, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].name, "unassigned");
	assert_string_equal(t[0].domains, "");
	assert_int_equal(t[0].reports, 2);
	assert_int_equal(t[0].records, 2);
	assert_string_equal(t[1].name, "acme");
	assert_string_equal(t[1].domains, "acme.example,example.co.uk");
	assert_int_equal(t[1].reports, 2);
	assert_string_equal(t[2].name, "beta");
	assert_int_equal(t[2].reports, 1);
	store_tenant_list_free(t, n);
	strpool_free();
}

static void test_rls_isolation(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	const char *a[] = {"a.example"};
	const char *b[] = {"b.example"};
	assert_int_equal(store_tenant_add(f->db, "ta", a, 1, &e), 0);
	assert_int_equal(store_tenant_add(f->db, "tb", b, 1, &e), 0);
	struct aggr_record rec = record("192.0.2.1", 4);
	struct aggr_report ra = report("google.com", "rls-a", "a.example", 1700000000);
	struct aggr_report rb1 = report("google.com", "rls-b1", "b.example", 1700000000);
	struct aggr_report rb2 = report("google.com", "rls-b2", "b.example", 1700000000);
	assert_false(store(f->db, &ra, &rec, 1, NULL));
	assert_false(store(f->db, &rb1, &rec, 1, NULL));
	assert_false(store(f->db, &rb2, &rec, 1, NULL));
	int tb = -1;
	assert_int_equal(store_tenant_resolve(f->db, "b.example", NULL, &tb, &e), 0);
	char tbs[16];
	snprintf(tbs, sizeof tbs, "%d", tb);

	/* The owner sees everything. */
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), 3);

	assert_int_equal(db_exec(f->db, "SET ROLE dmarcsift_reader", &e), 0);
	/* No tenant chosen: nothing. */
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), 0);
	/* The setting the policies once read changes nothing any more. */
	const char *p[1] = {tbs};
	char *v = dbfx_q1(f->db, "SELECT set_config('dmarcsift.tenant_id', $1, false)", 1, p);
	free(v);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), 0);
	assert_int_equal(db_exec(f->db, "RESET ROLE", &e), 0);

	/* A role granted tenant tb sees tb's rows, and only those. Roles are
	 * cluster-wide: named after this run's database. */
	char *role = dbfx_q1(f->db, "SELECT 'rd_' || current_database()", 0, NULL);
	char **dba = NULL;
	size_t ndba = 0;
	assert_int_equal(store_tenant_grant(f->db, "tb", role, false, &dba, &ndba, &e), 0);
	assert_int_equal(ndba, 0); /* a superuser may do it all */
	migrate_sql_free(dba, ndba);
	const char *pr[1] = {role};
	free(dbfx_q1(f->db, "SELECT set_config('role', $1, false)", 1, pr));
	dbfx_assert_q(f->db,
	              "SELECT string_agg(tenant || ':' || report_id, ',' ORDER BY report_id)"
	              " FROM dmarcsift.v_reports",
	              NULL, "tb:rls-b1,tb:rls-b2");
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_records", 0, NULL), 2);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 2);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.records", 0, NULL), 2);
	dbfx_assert_q(f->db, "SELECT string_agg(name, ',') FROM dmarcsift.tenants", NULL, "tb");
	/* Raw bytes are not for readers at all. */
	PGresult *res = db_query(f->db, "SELECT count(*) FROM dmarcsift.raw_messages", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
	PQclear(res);
	assert_int_equal(db_exec(f->db, "RESET ROLE", &e), 0);
	assert_int_equal(db_exec(f->db, "RESET dmarcsift.tenant_id", &e), 0);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_reports", 0, NULL), 3);
	assert_int_equal(store_tenant_revoke(f->db, "tb", role, &dba, &ndba, &e), 0);
	migrate_sql_free(dba, ndba);
	char *drop = dbfx_q1(f->db, "SELECT format('DROP ROLE %I', $1::text)", 1, pr);
	assert_int_equal(db_exec(f->db, drop, &e), 0);
	free(drop);
	free(role);
	strpool_free();
}

/* ---- quarantine ------------------------------------------------------- */

static void test_failures(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	bool known;
	const char *sha_a = SHA_A;

	assert_int_equal(store_raw_put(f->db, sha_a, "junk", 4, "a.xml", &known, &e), 0);
	assert_int_equal(store_failure_add(f->db, sha_a, "a.xml", "xml", "not XML", NULL, NULL, &e),
	                 0);
	assert_int_equal(
	    store_failure_add(f->db, SHA_B, "b.zip", "unpack", "zip bomb", NULL, NULL, &e), 0);
	/* The same bytes failing again keep their first diagnosis and time;
	 * the latest attempt is noted beside them. */
	char *first_at =
	    dbfx_q1(f->db, "SELECT received_at::text FROM dmarcsift.failures WHERE sha256 = $1", 1,
	            (const char *[]){sha_a});
	assert_int_equal(
	    store_failure_add(f->db, sha_a, "a.xml", "validate", "bad count -1", NULL, NULL, &e),
	    0);
	dbfx_assert_q(f->db, "SELECT status FROM dmarcsift.raw_messages WHERE sha256 = $1", sha_a,
	              "quarantined");
	dbfx_assert_q(f->db, "SELECT received_at::text FROM dmarcsift.failures WHERE sha256 = $1",
	              sha_a, first_at);
	free(first_at);
	dbfx_assert_q(f->db,
	              "SELECT attempts || ' ' || last_stage || ': ' || last_reason"
	              " FROM dmarcsift.v_failures WHERE sha256 = $1",
	              sha_a, "2 validate: bad count -1");

	struct store_failure *l = NULL;
	size_t n = 0;
	assert_int_equal(store_failures_list(f->db, &l, &n, &e), 0);
	assert_int_equal(n, 2);
	/* Oldest first, by first failure. */
	assert_string_equal(l[0].sha256, sha_a);
	assert_string_equal(l[0].stage, "xml");
	assert_string_equal(l[0].reason, "not XML");
	assert_string_equal(l[0].source, "a.xml");
	assert_string_equal(l[1].sha256, SHA_B);
	assert_string_equal(l[1].stage, "unpack");
	assert_string_equal(l[1].reason, "zip bomb");
	assert_int_equal(strlen(l[0].received_at), 20); /* 2026-01-01T00:00:00Z */
	assert_int_equal(l[0].received_at[19], 'Z');
	store_failures_free(l, n);

	assert_int_equal(store_failure_resolve(f->db, sha_a, &e), 0);
	assert_int_equal(store_failures_list(f->db, &l, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].sha256, SHA_B);
	store_failures_free(l, n);
	dbfx_assert_q(f->db,
	              "SELECT string_agg(sha256 || ':' || stage, ',') FROM dmarcsift.v_failures",
	              NULL, SHA_B ":unpack");
	/* Fails again after being resolved: a new open entry, history kept. */
	assert_int_equal(
	    store_failure_add(f->db, sha_a, "a.xml", "xml", "still not XML", NULL, NULL, &e), 0);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 3);
	assert_int_equal(dbfx_qint(f->db, "SELECT count(*) FROM dmarcsift.v_failures", 0, NULL), 2);
}

/* The server goes away in the middle of a report: a retryable error, and the
 * report is not there afterwards. */
static void test_connection_lost_is_retry(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct store_tx *tx = NULL;
	struct aggr_report r = report("google.com", "lost-1", "example.com", 1700000000);
	struct aggr_record rec = record("192.0.2.1", 1);

	assert_int_equal(store_report_begin(&tx, f->db, &r, NULL, NULL, false, NULL, &e), 0);
	assert_int_equal(store_report_record(tx, &rec, &e), 0);

	struct db *other = NULL;
	assert_int_equal(db_connect(&other, f->conninfo, false, &e), 0);
	char *pid = xasprintf("%d", PQbackendPID(db_pg(f->db)));
	const char *p[1] = {pid};
	char *ok = dbfx_q1(other, "SELECT pg_terminate_backend($1::int, 5000)", 1, p);
	assert_string_equal(ok, "t");
	free(ok);
	free(pid);

	assert_int_equal(store_report_commit(tx, NULL, &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_true(strncmp(e.msg, "database unreachable: ", 22) == 0);
	assert_int_equal(dbfx_qint(other, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 0);
	/* Later calls on the dead connection say the same. */
	err_clear(&e);
	bool known;
	assert_int_equal(store_raw_put(f->db, SHA_B, "x", 1, NULL, &known, &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	db_close(other);
	strpool_free();
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, dbfx_setup, dbfx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_report_round_trip),
	    T(test_duplicate_and_identity),
	    T(test_abort_leaves_nothing),
	    T(test_bad_records_fail_the_report),
	    T(test_many_records),
	    T(test_copy_escaping),
	    T(test_batch_deferred),
	    T(test_tenants),
	    T(test_rls_isolation),
	    T(test_failures),
	    T(test_connection_lost_is_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
