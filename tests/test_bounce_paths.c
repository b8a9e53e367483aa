/*
 * The bounce store's two ways into dmarcsift.bounces against a real
 * PostgreSQL (DMARCSIFT_TEST_DB): rows built in C and COPYed straight in,
 * and the staging table they fall back to after a clash (a re-ingest, one
 * event twice) or without a spool file: the same rows, column for column,
 * each event stored once; and the work_mem a large batch's recomputations
 * get. The suppression and escalation rules: test_bounce_store.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/bstorefx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events given whole (every field), stored in one batch with blocks of
 * `block` row bytes (0: the default). */
static struct bounce_store_stats batch_raw(const struct bounce_event *evs,
                                           const struct bounce_verdict *const *v, size_t n,
                                           size_t block)
{
	struct bounce_store *s = NULL;
	struct bounce_store_stats st = {0};
	struct err e = {0};
	if (bounce_store_begin(&s, bs_db, NULL, &e) != 0)
		fail_msg("begin: %s", e.msg);
	bounce_store_set_block(s, block);
	for (size_t i = 0; i < n; i++)
		if (bounce_store_add(s, &evs[i], v[i], &e) != 0)
			fail_msg("add %zu: %s", i, e.msg);
	if (bounce_store_commit(s, &st, &e) != 0)
		fail_msg("commit: %s", e.msg);
	return st;
}

/* md5 over every stored column of the rows of recipient domain $1 but id
 * and ingested_at, in event-key order. */
static char *rows_digest(const char *rdom)
{
	return bs_q1("SELECT md5(string_agg(r::text, '|' ORDER BY r.event_key)) FROM "
	             "(SELECT " BOUNCE_STORE_COLUMNS
	             ", provider_key, code_family, from_domain FROM dmarcsift.bounces"
	             " WHERE recipient_domain = $1) r",
	             rdom);
}

/* The event key as SQL computes it, against the one stored. */
static const char KEYS_OFF[] =
    "SELECT count(*) FROM dmarcsift.bounces WHERE recipient_domain = $1 AND event_key <>"
    " encode(sha256(convert_to(concat_ws(chr(31), source,"
    " coalesce(extract(epoch FROM at)::bigint, 0)::text, coalesce(lower(recipient), ''),"
    " coalesce(queue_id, ''), status, coalesce(reply_code::text, ''), coalesce(text, '')),"
    " 'UTF8')), 'hex')";

/* Rows straight into bounces and rows through the staging table are the
 * same rows, column for column; and the key C computes is SQL's. */
static void test_direct_and_staging_rows_equal(void **state)
{
	(void)state;
	static char long_text[9000];
	memset(long_text, 'x', sizeof long_text - 1);
	memcpy(long_text, "550 ", 4);
	const struct bounce_event evs[] = {
	    /* the event that is stored first, so that the second batch clashes */
	    {.at = BASE + 1,
	     .status = BOUNCE_DELIVERED,
	     .source = "postfix",
	     .recipient = "first@rows.example",
	     .recipient_domain = "rows.example",
	     .text = "250 ok",
	     .queue_id = "R0",
	     .header_from_domain = "acme.example"},
	    {.at = BASE + 2,
	     .status = BOUNCE_BOUNCED,
	     .source = "postfix",
	     .sending_ip = "[ipv6:2001:DB8::1]",
	     .ip_source = "text",
	     .mail_from = "B@Acme.Example",
	     .mail_from_domain = "Acme.Example",
	     .header_from_domain = "NEWS.acme.example.",
	     .recipient = "Mixed.Case@ROWS.example",
	     .recipient_domain = "ROWS.example",
	     .remote_mta = "MX1.Rows.Example",
	     .remote_ip = "203.0.113.9",
	     .reply_code = 550,
	     .enhanced_code = "5.1.1",
	     .text = "550 5.1.1 <Mixed.Case@ROWS.example>\tno\\such\nuser",
	     .queue_id = "R1",
	     .message_id = "<m1@acme.example>",
	     .campaign = "c1",
	     .format = "postfix"},
	    /* no time, no code, no text, an address inet cannot take */
	    {.at = 0,
	     .status = BOUNCE_DEFERRED,
	     .source = NULL,
	     .sending_ip = "not-an-ip",
	     .ip_source = "log",
	     .mail_from = "x@globex.example",
	     .recipient = "n@rows.example",
	     .recipient_domain = "rows.example",
	     .reply_code = 0},
	    /* a complaint and an auto-reply */
	    {.at = BASE + 3,
	     .status = BOUNCE_DELIVERED,
	     .source = "dsn",
	     .format = "arf",
	     .feedback_type = "abuse",
	     .recipient = "c@rows.example",
	     .recipient_domain = "rows.example",
	     .header_from_domain = "globex.example"},
	    {.at = BASE + 4,
	     .status = BOUNCE_DELIVERED,
	     .source = "dsn",
	     .format = "auto_reply",
	     .auto_reply = true,
	     .recipient = "a@rows.example",
	     .recipient_domain = "rows.example",
	     .reply_code = 250,
	     .text = "250 2.0.0 ok",
	     .header_from_domain = "nobody.example"},
	    /* what C leaves to SQL: a text cut at 8 KiB, bytes that are not
	     * UTF-8, a recipient and a domain that are not ASCII */
	    {.at = BASE + 5,
	     .status = BOUNCE_BOUNCED,
	     .source = "postfix",
	     .recipient = "l@rows.example",
	     .recipient_domain = "rows.example",
	     .reply_code = 550,
	     .text = long_text},
	    {.at = BASE + 6,
	     .status = BOUNCE_BOUNCED,
	     .source = "postfix",
	     .recipient = "b@rows.example",
	     .recipient_domain = "rows.example",
	     .reply_code = 550,
	     .text = "550 \xff\xfe bytes"},
	    {.at = BASE + 7,
	     .status = BOUNCE_BOUNCED,
	     .source = "postfix",
	     .recipient = "J\xc3\x9cRGEN@rows.example",
	     .recipient_domain = "rows.example",
	     .reply_code = 550,
	     .text = "550 5.1.1 unknown"},
	    {.at = BASE + 8,
	     .status = BOUNCE_BOUNCED,
	     .source = "postfix",
	     .recipient = "d@rows.example",
	     .recipient_domain = "rows.example",
	     .remote_mta = "MX.B\xc3\x9c\x43HER.example",
	     .header_from_domain = "B\xc3\x9c\x43HER.example",
	     .reply_code = 550,
	     .text = "550 no"},
	};
	const struct bounce_verdict *v[] = {&V_OK,   &V_HARD,   &V_DEFER, &V_OK,    &V_OK,
	                                    &V_HARD, &V_POLICY, &V_HARD,  &V_LISTED};
	size_t n = sizeof evs / sizeof evs[0];
	/* Every row direct (one block each): the rows C can finish go straight
	 * in; each of the others sends its block to staging. */
	struct bounce_store_stats st = batch_raw(evs + 1, v + 1, n - 1, 1);
	assert_int_equal(st.added, n - 1);
	assert_int_equal(st.known, 0);
	bs_assert_q1(KEYS_OFF, "rows.example", "0");
	/* values lower-cased in C: NULL stays NULL */
	bs_assert_q1(
	    "SELECT concat_ws('|', mail_from_domain IS NULL, header_from_domain IS NULL,"
	    " remote_mta IS NULL, from_domain) FROM dmarcsift.bounces WHERE recipient = $1",
	    "n@rows.example", "t|t|t");
	bs_assert_q1(
	    "SELECT concat_ws('|', mail_from_domain, header_from_domain, recipient_domain,"
	    " remote_mta, provider_key, ip_source, sending_ip, from_org_domain, tenant_id <> 0)"
	    " FROM dmarcsift.bounces WHERE recipient = $1",
	    "Mixed.Case@ROWS.example",
	    "acme.example|news.acme.example.|rows.example|mx1.rows.example|rows.example|text|"
	    "2001:db8::1|acme.example|t");
	char *direct = rows_digest("rows.example");
	assert_non_null(direct);
	/* The keyed rows again, all through staging: the first clashes. */
	assert_int_equal(
	    bs_q1_long("WITH d AS (DELETE FROM dmarcsift.bounces"
	               " WHERE recipient_domain = $1 RETURNING 1) SELECT count(*) FROM d",
	               "rows.example"),
	    (long)n - 1);
	st = batch_raw(evs, v, 1, 0);
	assert_int_equal(st.added, 1);
	st = batch_raw(evs, v, n, 0);
	assert_int_equal(st.added, n - 1);
	assert_int_equal(st.known, 1);
	bs_assert_q1(KEYS_OFF, "rows.example", "0");
	assert_int_equal(bs_q1_long("WITH d AS (DELETE FROM dmarcsift.bounces"
	                            " WHERE recipient = $1 RETURNING 1) SELECT count(*) FROM d",
	                            "first@rows.example"),
	                 1);
	char *staged = rows_digest("rows.example");
	assert_string_equal(direct, staged);
	free(direct);
	free(staged);
	/* and a re-ingest of them all adds nothing */
	st = batch_raw(evs + 1, v + 1, n - 1, 1);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.known, n - 1);
}

/* A block that meets a stored event is undone and, with every row after
 * it, stored through staging: nothing lost, nothing twice, and the
 * suppressions see the new events of both paths. */
static void test_clash_in_a_later_block(void **state)
{
	(void)state;
	const struct bs_ev evs[] = {
	    {BASE + 10, BOUNCE_BOUNCED, "old@clash.example", NULL, 550, "5.1.1",
	     "550 5.1.1 user unknown", "C0", "mx.clash.example", &V_HARD},
	    {BASE + 11, BOUNCE_BOUNCED, "new1@clash.example", NULL, 550, "5.1.1",
	     "550 5.1.1 user unknown", "C1", "mx.clash.example", &V_HARD},
	    {BASE + 12, BOUNCE_BOUNCED, "new2@clash.example", NULL, 550, "5.1.1",
	     "550 5.1.1 user unknown", "C2", "mx.clash.example", &V_HARD},
	    {BASE + 13, BOUNCE_BOUNCED, "new3@clash.example", NULL, 550, "5.1.1",
	     "550 5.1.1 user unknown", "C3", "mx.clash.example", &V_HARD},
	};
	struct bounce_event raw[5];
	const struct bounce_verdict *v[5];
	char rdom[5][256];
	/* new1, new2 (direct blocks), old (stored before: clash), new3, and
	 * new1 again (twice in one batch) */
	const size_t order[5] = {1, 2, 0, 3, 1};
	for (size_t i = 0; i < 5; i++) {
		raw[i] = bs_event(&evs[order[i]], rdom[i], sizeof rdom[i]);
		v[i] = evs[order[i]].v;
	}
	struct bounce_store_stats st = bs_batch(evs, 1);
	assert_int_equal(st.added, 1);
	st = batch_raw(raw, v, 5, 1);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.known, 2);
	assert_int_equal(st.suppressed, 3);
	assert_int_equal(
	    bs_q1_long("SELECT count(*) FROM dmarcsift.bounces WHERE recipient_domain = $1",
	               "clash.example"),
	    4);
	assert_int_equal(bs_q1_long("SELECT count(*) FROM dmarcsift.v_suppressions"
	                            " WHERE address LIKE '%@' || $1",
	                            "clash.example"),
	                 4);
	/* the same with the default blocks: the batch is one block, which
	 * clashes at once */
	st = batch_raw(raw, v, 5, 0);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.known, 5);
}

/* A spool file that cannot be made (TMPDIR unwritable) sends the batch
 * through the staging table: stored all the same, once. */
static void test_no_spool_file(void **state)
{
	(void)state;
	const struct bs_ev evs[] = {
	    {BASE + 20, BOUNCE_BOUNCED, "s1@spool.example", NULL, 550, "5.1.1",
	     "550 5.1.1 user unknown", "S1", "mx.spool.example", &V_HARD},
	    {BASE + 21, BOUNCE_DELIVERED, "s2@spool.example", NULL, 250, "2.0.0", "250 ok", "S2",
	     "mx.spool.example", &V_OK},
	};
	const char *old = getenv("TMPDIR");
	char *keep = old ? xstrdup(old) : NULL;
	setenv("TMPDIR", "/nonexistent/dmarcsift-test", 1);
	struct bounce_store_stats first = bs_batch(evs, 2);
	struct bounce_store_stats st = bs_batch(evs, 2);
	if (keep)
		setenv("TMPDIR", keep, 1);
	else
		unsetenv("TMPDIR");
	free(keep);
	assert_int_equal(first.added, 2);
	assert_int_equal(first.suppressed, 1);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.known, 2);
	assert_int_equal(
	    bs_q1_long("SELECT count(*) FROM dmarcsift.bounces WHERE recipient_domain = $1",
	               "spool.example"),
	    2);
	bs_assert_q1(SUPP_REASON, "s1@spool.example", "invalid_recipient");
}

/* A large batch raises work_mem for its own transaction only: the
 * session's setting is what it was afterwards, and the batch is stored. */
static void test_large_batch_work_mem(void **state)
{
	(void)state;
	struct err e = {0};
	assert_int_equal(db_exec(bs_db, "SET work_mem = '1MB'", &e), 0);
	struct bs_ev *evs = xcalloc(1200, sizeof *evs);
	char(*rcpt)[64] = xcalloc(1200, sizeof *rcpt);
	for (int i = 0; i < 1200; i++) {
		snprintf(rcpt[i], sizeof rcpt[i], "wm%d@workmem.example", i);
		struct bs_ev x = {BASE + 100 * DAY + i,
		                  BOUNCE_DELIVERED,
		                  rcpt[i],
		                  NULL,
		                  250,
		                  "2.0.0",
		                  "250 2.0.0 OK",
		                  NULL,
		                  "mx.workmem.example",
		                  &V_OK};
		evs[i] = x;
	}
	struct bounce_store_stats st = bs_batch(evs, 1200);
	free(evs);
	free(rcpt);
	assert_int_equal(st.added, 1200);
	bs_assert_q1("SHOW work_mem", NULL, "1MB");
	assert_int_equal(db_exec(bs_db, "RESET work_mem", &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_direct_and_staging_rows_equal),
	    cmocka_unit_test(test_clash_in_a_later_block),
	    cmocka_unit_test(test_no_spool_file),
	    cmocka_unit_test(test_large_batch_work_mem),
	};
	return cmocka_run_group_tests(tests, bs_setup, bs_teardown);
}
