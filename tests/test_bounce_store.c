/*
 * bounce_store against a real PostgreSQL (DMARCSIFT_TEST_DB): idempotent
 * batches, the suppression rules, escalations, tenant assignment, the views
 * and the suppressions/escalations subcommands. Events and verdicts are
 * built by hand, so these tests say what the store does with a given
 * verdict, independent of the classifier's tables.
 */
#include "core/bounce.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/bounce_store.h"
#include "db/db.h"
#include "db/store.h"
#include "tests/support/bstorefx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void test_idempotent(void **state)
{
	(void)state;
	const struct bs_ev evs[] = {
	    {BASE + 100, BOUNCE_DELIVERED, "a1@idem.example", NULL, 250, "2.0.0", "250 2.0.0 OK",
	     "Q1", "mx.idem.example", &V_OK},
	    {BASE + 200, BOUNCE_DEFERRED, "a2@idem.example", NULL, 421, "4.3.2",
	     "421 4.3.2 Service not available", "Q2", "mx.idem.example", &V_DEFER},
	    {BASE + 300, BOUNCE_BOUNCED, "a3@idem.example", NULL, 550, "5.1.1",
	     "550 5.1.1 <a3@idem.example>: user unknown", "Q3", "mx.idem.example", &V_HARD},
	    /* The same outcome twice in one batch is one event. */
	    {BASE + 300, BOUNCE_BOUNCED, "a3@idem.example", NULL, 550, "5.1.1",
	     "550 5.1.1 <a3@idem.example>: user unknown", "Q3", "mx.idem.example", &V_HARD},
	};
	struct bounce_store_stats st = bs_batch(evs, 4);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.known, 1);
	assert_int_equal(st.suppressed, 1);
	st = bs_batch(evs, 4);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.known, 4);
	assert_int_equal(st.suppressed, 0);
	assert_int_equal(bs_q1_long("SELECT count(*) FROM dmarcsift.bounces"
	                            " WHERE recipient_domain = $1",
	                            "idem.example"),
	                 3);
	/* A different attempt of the same message (another time) is new. */
	struct bs_ev again = evs[1];
	again.at += 600;
	st = bs_batch(&again, 1);
	assert_int_equal(st.added, 1);
}

static void test_soft_interrupted_by_delivery(void **state)
{
	(void)state;
	const char *r = "soft1@soft.example";
	const char *t = "452 4.2.2 The email account that you tried to reach is over quota";
	const struct bs_ev evs[] = {
	    {BASE + 1 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "S1", NULL, &V_SOFT},
	    {BASE + 2 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "S2", NULL, &V_SOFT},
	    {BASE + 3 * DAY, BOUNCE_DELIVERED, r, NULL, 250, "2.0.0", "250 ok", "S3", NULL, &V_OK},
	    {BASE + 4 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "S4", NULL, &V_SOFT},
	};
	struct bounce_store_stats st = bs_batch(evs, 4);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.suppressed, 0);
	bs_assert_q1(SUPP_REASON, r, NULL);
	bs_assert_q1("SELECT count(*) FROM dmarcsift.suppressions WHERE address = $1", r, "0");

	/* Two more after the delivery make three in a row: now suppressed. */
	const struct bs_ev more[] = {
	    {BASE + 5 * DAY, BOUNCE_BOUNCED, r, NULL, 552, "5.2.2", t, "S5", NULL, &V_SOFT},
	    {BASE + 6 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "S6", NULL, &V_SOFT},
	};
	st = bs_batch(more, 2);
	assert_int_equal(st.suppressed, 1);
	bs_assert_q1(SUPP_REASON, r, "mailbox_issue");
	bs_assert_q1("SELECT evidence_count FROM dmarcsift.v_suppressions WHERE address = $1", r,
	             "3");
	bs_assert_q1("SELECT extract(epoch FROM first_evidence_at)::bigint"
	             " FROM dmarcsift.v_suppressions WHERE address = $1",
	             r, "1793318400"); /* BASE + 4 days */
}

static void test_soft_three_then_lift(void **state)
{
	(void)state;
	const char *r = "Soft2@Soft.example"; /* stored lower-cased */
	const char *t = "452 4.2.2 Mailbox full";
	const struct bs_ev evs[] = {
	    {BASE + 1 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "L1", NULL, &V_SOFT},
	    {BASE + 10 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "L2", NULL, &V_SOFT},
	    {BASE + 20 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "L3", NULL, &V_SOFT},
	};
	struct bounce_store_stats st = bs_batch(evs, 3);
	assert_int_equal(st.suppressed, 1);
	assert_int_equal(st.lifted, 0);
	bs_assert_q1(SUPP_REASON, "soft2@soft.example", "mailbox_issue");
	bs_assert_q1("SELECT extract(epoch FROM last_evidence_at)::bigint"
	             " FROM dmarcsift.v_suppressions WHERE address = $1",
	             "soft2@soft.example", "1794700800"); /* BASE + 20 days */

	const struct bs_ev ok = {BASE + 25 * DAY, BOUNCE_DELIVERED, r,    NULL, 250,
	                         "2.0.0",         "250 2.0.0 OK",   "L4", NULL, &V_OK};
	st = bs_batch(&ok, 1);
	assert_int_equal(st.lifted, 1);
	assert_int_equal(st.suppressed, 0);
	bs_assert_q1(SUPP_REASON, "soft2@soft.example", NULL);
	bs_assert_q1("SELECT extract(epoch FROM lifted_at)::bigint FROM dmarcsift.suppressions"
	             " WHERE address = $1",
	             "soft2@soft.example", "1795132800"); /* BASE + 25 days */
}

static void test_soft_outside_window_or_retries(void **state)
{
	(void)state;
	const char *t = "452 4.2.2 Mailbox full";
	/* Three soft bounces, but never three within 30 days. */
	const char *r = "slow@soft.example";
	const struct bs_ev spread[] = {
	    {BASE + 1 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "W1", NULL, &V_SOFT},
	    {BASE + 35 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "W2", NULL, &V_SOFT},
	    {BASE + 70 * DAY, BOUNCE_DEFERRED, r, NULL, 452, "4.2.2", t, "W3", NULL, &V_SOFT},
	};
	assert_int_equal(bs_batch(spread, 3).suppressed, 0);
	bs_assert_q1(SUPP_REASON, r, NULL);
	/* One message deferred three times is one soft bounce, not three. */
	const char *r2 = "retry@soft.example";
	const struct bs_ev retries[] = {
	    {BASE + 3600, BOUNCE_DEFERRED, r2, NULL, 452, "4.2.2", t, "RQ", NULL, &V_SOFT},
	    {BASE + 7200, BOUNCE_DEFERRED, r2, NULL, 452, "4.2.2", t, "RQ", NULL, &V_SOFT},
	    {BASE + 14400, BOUNCE_DEFERRED, r2, NULL, 452, "4.2.2", t, "RQ", NULL, &V_SOFT},
	};
	assert_int_equal(bs_batch(retries, 3).suppressed, 0);
	bs_assert_q1(SUPP_REASON, r2, NULL);
}

static void test_hard_bounce(void **state)
{
	(void)state;
	const char *r = "gone@hard.example";
	const struct bs_ev bounce = {
	    BASE + DAY,
	    BOUNCE_BOUNCED,
	    r,
	    NULL,
	    550,
	    "5.1.1",
	    "550 5.1.1 The email account that you tried to reach does not exist",
	    "H1",
	    "mx.hard.example",
	    &V_HARD};
	struct bounce_store_stats st = bs_batch(&bounce, 1);
	assert_int_equal(st.suppressed, 1);
	bs_assert_q1(SUPP_REASON, r, "invalid_recipient");
	bs_assert_q1("SELECT last_text FROM dmarcsift.v_suppressions WHERE address = $1", r,
	             bounce.text);
	/* A later delivery does not lift a hard-bounce suppression. */
	const struct bs_ev ok = {BASE + 2 * DAY, BOUNCE_DELIVERED, r,    NULL, 250,
	                         "2.0.0",        "250 OK",         "H2", NULL, &V_OK};
	st = bs_batch(&ok, 1);
	assert_int_equal(st.lifted, 0);
	bs_assert_q1(SUPP_REASON, r, "invalid_recipient");
}

static void test_policy_rejects_never_suppress(void **state)
{
	(void)state;
	const struct bounce_verdict *vs[] = {&V_POLICY, &V_AUTH, &V_LISTED, &V_REPUTATION,
	                                     &V_CONTENT};
	const char *texts[] = {
	    "554 5.7.1 Message rejected due to local policy",
	    "550 5.7.26 Unauthenticated email from acme.example is not accepted due to "
	    "domain's DMARC policy",
	    "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using "
	    "zen.spamhaus.org",
	    "550 5.7.1 Our system has detected an unusual rate of unsolicited mail",
	    "554 5.7.1 Message rejected as spam by Content Filtering",
	};
	struct bs_ev evs[25];
	char rcpt[5][64];
	for (int k = 0; k < 5; k++) {
		snprintf(rcpt[k], sizeof rcpt[k], "never%d@never.example", k);
		for (int j = 0; j < 5; j++) {
			struct bs_ev x = {BASE + 40 * DAY + j * DAY,
			                  BOUNCE_BOUNCED,
			                  rcpt[k],
			                  NULL,
			                  k == 1 ? 550 : 554,
			                  k == 1 ? "5.7.26" : "5.7.1",
			                  texts[k],
			                  NULL,
			                  "mx.never.example",
			                  vs[k]};
			evs[k * 5 + j] = x;
		}
	}
	struct bounce_store_stats st = bs_batch(evs, 25);
	assert_int_equal(st.added, 25);
	assert_int_equal(st.suppressed, 0);
	bs_assert_q1("SELECT count(*) FROM dmarcsift.suppressions WHERE address LIKE $1",
	             "%@never.example", "0");
}

static void test_421_burst(void **state)
{
	(void)state;
	struct bs_ev evs[60];
	char rcpt[10][64];
	for (int k = 0; k < 10; k++)
		snprintf(rcpt[k], sizeof rcpt[k], "user%d@burst.example", k);
	for (int j = 0; j < 60; j++) {
		struct bs_ev x = {
		    BASE + 50 * DAY + j * 60,
		    BOUNCE_DEFERRED,
		    rcpt[j % 10],
		    NULL,
		    421,
		    "4.7.0",
		    "421 4.7.0 Too many concurrent SMTP connections; please try again later",
		    NULL,
		    "mx.burst.example",
		    &V_DEFER};
		evs[j] = x;
	}
	struct bounce_store_stats st = bs_batch(evs, 60);
	assert_int_equal(st.added, 60);
	assert_int_equal(st.suppressed, 0);
	assert_int_equal(st.escalations_opened, 0);
	bs_assert_q1("SELECT count(*) FROM dmarcsift.suppressions WHERE address LIKE $1",
	             "%burst.example", "0");
}

/* n rejects and m deliveries on day `day`, to `ndom` recipient domains
 * (dom0..) or, with ndom 0, to outlook.com; for tenant `from`. */
static void traffic(int day, int n, int m, int ndom, const char *from, const char *rprefix,
                    const struct bounce_verdict *v, struct bounce_store_stats *st)
{
	struct bs_ev *evs = xcalloc((size_t)(n + m), sizeof *evs);
	char(*rcpt)[96] = xcalloc((size_t)(n + m), sizeof *rcpt);
	char(*mta)[96] = xcalloc((size_t)(n + m), sizeof *mta);
	char(*text)[160] = xcalloc((size_t)(n + m), sizeof *text);
	for (int i = 0; i < n + m; i++) {
		if (ndom) {
			snprintf(rcpt[i], sizeof rcpt[i], "%s%d@corp%d.example", rprefix, i,
			         i % ndom);
			snprintf(mta[i], sizeof mta[i], "gw.corp%d.example", i % ndom);
		} else {
			snprintf(rcpt[i], sizeof rcpt[i], "%s%d@outlook.com", rprefix, i);
			snprintf(mta[i], sizeof mta[i], "outlook-com.olc.protection.outlook.com");
		}
		bool rej = i < n;
		/* The texts differ in what varies per event: IP and reference. */
		snprintf(text[i], sizeof text[i],
		         rej ? "554 5.7.1 Service unavailable, Client host [192.0.2.%d] blocked "
		               "by policy (ref %08x)"
		             : "250 2.0.0 OK %d %08x",
		         i % 250 + 1, (unsigned)(i * 2654435761u));
		struct bs_ev x = {BASE + day * DAY + 3600 + i * 30,
		                  rej ? BOUNCE_BOUNCED : BOUNCE_DELIVERED,
		                  rcpt[i],
		                  from,
		                  rej ? 554 : 250,
		                  rej ? "5.7.1" : "2.0.0",
		                  text[i],
		                  NULL,
		                  mta[i],
		                  rej ? v : &V_OK};
		evs[i] = x;
	}
	*st = bs_batch(evs, (size_t)(n + m));
	free(evs);
	free(rcpt);
	free(mta);
	free(text);
}

static void test_escalation_spike_vs_spread(void **state)
{
	(void)state;
	struct bounce_store_stats st;
	/* 25 rejects of 100 attempts at one provider (Microsoft via outlook.com). */
	traffic(60, 25, 75, 0, "acme.example", "spike", &V_POLICY, &st);
	assert_int_equal(st.escalations_opened, 1);
	const char *sql = "SELECT provider || '|' || class || '|' || code_family || '|' || count"
	                  " || '|' || attempts || '|' || rate || '|' || status || '|' || pattern"
	                  " FROM dmarcsift.v_escalations WHERE tenant = $1";
	bs_assert_q1(sql, "acme",
	             "microsoft|policy|5.7|25|100|0.25|open|# # service unavailable, client host "
	             "[<ip>] blocked by policy (ref #)");
	/* The same count spread over ten corporate gateways: ten groups of 2-3. */
	traffic(60, 25, 75, 10, "globex.example", "spread", &V_POLICY, &st);
	assert_int_equal(st.added, 100);
	assert_int_equal(st.escalations_opened, 0);
	bs_assert_q1(sql, "globex", NULL);
	/* Re-ingesting the spike opens nothing new. */
	traffic(60, 25, 75, 0, "acme.example", "spike", &V_POLICY, &st);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.escalations_opened, 0);
	bs_assert_q1("SELECT count(*) FROM dmarcsift.escalations", NULL, "1");
}

static void test_escalation_rate_and_jump(void **state)
{
	(void)state;
	struct bounce_store_stats st;
	/* 25 rejects among 1000 attempts: 2.5 %, under the 5 % rate. */
	traffic(70, 25, 975, 0, "globex.example", "low", &V_REPUTATION, &st);
	assert_int_equal(st.escalations_opened, 0);
	/* The next day 100 of the same: only the jump can open it, as no rate
	 * can pass this threshold. */
	struct bounce_rules rules;
	bounce_rules_default(&rules);
	rules.esc_min_rate = 1.01;
	struct bs_ev *evs = xcalloc(100, sizeof *evs);
	char(*rcpt)[64] = xcalloc(100, sizeof *rcpt);
	for (int i = 0; i < 100; i++) {
		snprintf(rcpt[i], sizeof rcpt[i], "jump%d@outlook.com", i);
		struct bs_ev x = {
		    BASE + 71 * DAY + 600 + i * 10,
		    BOUNCE_BOUNCED,
		    rcpt[i],
		    "globex.example",
		    554,
		    "5.7.1",
		    "554 5.7.1 Service unavailable, Client host [192.0.2.7] blocked by "
		    "policy (ref 0badc0de)",
		    NULL,
		    "outlook-com.olc.protection.outlook.com",
		    &V_REPUTATION};
		evs[i] = x;
	}
	st = bs_batch_rules(evs, 100, NULL, &rules);
	free(evs);
	free(rcpt);
	assert_int_equal(st.escalations_opened, 1);
	bs_assert_q1("SELECT reason || '|' || count || '|' || prev_count FROM dmarcsift.escalations"
	             " e JOIN dmarcsift.tenants t USING (tenant_id) WHERE t.name = $1",
	             "globex", "jump|100|25");
}

/* An open escalation closes when a later batch brings the rate under the
 * threshold, or when the rules lift the volume floor over its count; its
 * count and attempts are brought up to date either way. */
static void test_escalation_closes(void **state)
{
	(void)state;
	struct bounce_store_stats st;
	const char *sql =
	    "SELECT status || '|' || count || '|' || attempts FROM dmarcsift.escalations"
	    " WHERE class = 'content' AND window_start = to_timestamp($1::bigint)";
	char day64[32], day65[32];
	snprintf(day64, sizeof day64, "%lld", (long long)(BASE + 64 * DAY));
	snprintf(day65, sizeof day65, "%lld", (long long)(BASE + 65 * DAY));
	traffic(64, 25, 75, 0, "acme.example", "close", &V_CONTENT, &st);
	assert_int_equal(st.escalations_opened, 1);
	bs_assert_q1(sql, day64, "open|25|100");
	/* 500 more deliveries to the provider that day: 25 of 600 is 4.2 % */
	traffic(64, 0, 500, 0, "acme.example", "more", &V_CONTENT, &st);
	assert_int_equal(st.added, 500);
	bs_assert_q1(sql, day64, "closed|25|600");

	traffic(65, 25, 75, 0, "acme.example", "floor", &V_CONTENT, &st);
	bs_assert_q1(sql, day65, "open|25|100");
	struct bounce_rules rules;
	bounce_rules_default(&rules);
	rules.esc_min_count = 100;
	const struct bs_ev one = {BASE + 65 * DAY + 7200,
	                          BOUNCE_DELIVERED,
	                          "late@outlook.com",
	                          "acme.example",
	                          250,
	                          "2.0.0",
	                          "250 2.0.0 OK late",
	                          NULL,
	                          "outlook-com.olc.protection.outlook.com",
	                          &V_OK};
	st = bs_batch_rules(&one, 1, NULL, &rules);
	assert_int_equal(st.added, 1);
	bs_assert_q1(sql, day65, "closed|25|101");
}

static void test_single_reject_never_escalates(void **state)
{
	(void)state;
	struct bounce_rules rules;
	bounce_rules_default(&rules);
	rules.esc_min_count = 1; /* even with the floor set to one */
	const struct bs_ev one = {BASE + 80 * DAY,
	                          BOUNCE_BOUNCED,
	                          "ceo@bigcorp.example",
	                          NULL,
	                          554,
	                          "5.7.1",
	                          "554 5.7.1 Rejected by corporate gateway policy",
	                          "G1",
	                          "gw.bigcorp.example",
	                          &V_POLICY};
	struct bounce_store_stats st = bs_batch_rules(&one, 1, NULL, &rules);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.escalations_opened, 0);
	bs_assert_q1("SELECT count(*) FROM dmarcsift.escalations WHERE provider = $1",
	             "bigcorp.example", "0");
}

static void test_tenants_and_view(void **state)
{
	(void)state;
	const struct bs_ev evs[] = {
	    /* Subdomain of a tenant's domain: the organisational domain decides. */
	    {BASE + 90 * DAY, BOUNCE_BOUNCED, "t1@gmail.com", "news.Acme.example", 550, "5.7.26",
	     "550-5.7.26 Unauthenticated email\n550 5.7.26 is not accepted\t(DMARC) \\ x", "T1",
	     "gmail-smtp-in.l.google.com", &V_AUTH},
	    {BASE + 90 * DAY, BOUNCE_BOUNCED, "t2@gmail.com", "globex.example", 554, "5.7.1",
	     "554 5.7.1 blocked using zen.spamhaus.org \xff\xfe bytes", "T2",
	     "gmail-smtp-in.l.google.com", &V_LISTED},
	    {BASE + 90 * DAY, BOUNCE_DELIVERED, "t3@gmail.com", "nobody.example", 250, NULL,
	     "250 OK", "T3", NULL, &V_OK},
	    /* A whole address where the domain belongs still finds the tenant. */
	    {BASE + 90 * DAY, BOUNCE_DELIVERED, "t5@gmail.com", "Boss@Globex.example", 250, NULL,
	     "250 OK", "T5", NULL, &V_OK},
	};
	struct bounce_store_stats st = bs_batch(evs, 4);
	assert_int_equal(st.added, 4);
	const char *tenant = "SELECT tenant FROM dmarcsift.v_bounces WHERE recipient = $1";
	bs_assert_q1(tenant, "t5@gmail.com", "globex");
	bs_assert_q1(tenant, "t1@gmail.com", "acme");
	bs_assert_q1(tenant, "t2@gmail.com", "globex");
	bs_assert_q1(tenant, "t3@gmail.com", "unassigned");
	bs_assert_q1(
	    "SELECT concat_ws('|', extract(epoch FROM at)::bigint, sending_ip,"
	    " mail_from_domain, header_from_domain, recipient_domain, provider, reply_code,"
	    " enhanced_code, class, severity, action, is_block, source)"
	    " FROM dmarcsift.v_bounces WHERE recipient = $1",
	    "t1@gmail.com",
	    "1800748800|192.0.2.10|acme.example|news.acme.example|gmail.com|google|550|"
	    "5.7.26|auth_failure|escalate|investigate_auth|t|postfix");
	bs_assert_q1("SELECT listed_on || '|' || listed_asset FROM dmarcsift.v_bounces"
	             " WHERE recipient = $1",
	             "t2@gmail.com", "Spamhaus ZEN|ip");
	/* Raw text kept as is: line breaks, tabs, backslashes; bytes that are
	 * not UTF-8 replaced, not a failed batch. */
	bs_assert_q1("SELECT text FROM dmarcsift.v_bounces WHERE recipient = $1", "t1@gmail.com",
	             evs[0].text);
	bs_assert_q1("SELECT text FROM dmarcsift.v_bounces WHERE recipient = $1", "t2@gmail.com",
	             "554 5.7.1 blocked using zen.spamhaus.org \xef\xbf\xbd\xef\xbf\xbd bytes");

	/* An override puts everything into one tenant. */
	const struct bs_ev forced = {BASE + 91 * DAY,
	                             BOUNCE_DELIVERED,
	                             "t4@gmail.com",
	                             "acme.example",
	                             250,
	                             NULL,
	                             "250 OK",
	                             "T4",
	                             NULL,
	                             &V_OK};
	st = bs_batch_rules(&forced, 1, "globex", NULL);
	bs_assert_q1(tenant, "t4@gmail.com", "globex");
	struct bounce_store *s = NULL;
	struct err e = {0};
	assert_int_equal(bounce_store_begin(&s, bs_db, "no-such-tenant", &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
}

static int run(const char *cmd, struct buf *out)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
		buf_append(out, chunk, n);
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 1 << 20);
	char *cmd = xasprintf("%s suppressions --db '%s' --tenant acme --format csv", DMARCSIFT_BIN,
	                      bs_conninfo);
	assert_int_equal(run(cmd, &out), 0);
	free(cmd);
	assert_non_null(strstr(out.data, "tenant,address,reason,first_evidence,last_evidence,"));
	assert_non_null(strstr(out.data, "acme,gone@hard.example,invalid_recipient,"));
	assert_non_null(strstr(out.data, "acme,soft1@soft.example,mailbox_issue,"
	                                 "2026-10-30T00:00:00Z,2026-11-01T00:00:00Z,3,"));
	assert_null(strstr(out.data, "soft2@soft.example")); /* lifted */

	buf_reset(&out);
	cmd = xasprintf("%s suppressions --db '%s' --since 1h --format json", DMARCSIFT_BIN,
	                bs_conninfo);
	assert_int_equal(run(cmd, &out), 0);
	free(cmd);
	assert_non_null(strstr(out.data, "\"address\":\"gone@hard.example\""));
	assert_non_null(strstr(out.data, "\"bounces\":1"));

	/* --since a date: everything was added after 2000, nothing after 2999. */
	buf_reset(&out);
	cmd = xasprintf("%s suppressions --db '%s' --since 2000-01-01", DMARCSIFT_BIN, bs_conninfo);
	assert_int_equal(run(cmd, &out), 0);
	free(cmd);
	assert_non_null(strstr(out.data, "gone@hard.example"));
	buf_reset(&out);
	cmd = xasprintf("%s suppressions --db '%s' --since 2999-01-01T00:00", DMARCSIFT_BIN,
	                bs_conninfo);
	assert_int_equal(run(cmd, &out), 0);
	free(cmd);
	assert_string_equal(out.data, "no suppressed addresses\n");

	buf_reset(&out);
	cmd = xasprintf("%s escalations --db '%s' --format json", DMARCSIFT_BIN, bs_conninfo);
	assert_int_equal(run(cmd, &out), 0);
	free(cmd);
	assert_non_null(strstr(out.data, "\"provider\":\"microsoft\""));
	assert_non_null(strstr(out.data, "\"count\":25,\"attempts\":100,\"rate\":0.25"));

	buf_reset(&out);
	cmd =
	    xasprintf("%s escalations --db '%s' --tenant nosuch 2>&1", DMARCSIFT_BIN, bs_conninfo);
	assert_int_equal(run(cmd, &out), 2);
	free(cmd);

	buf_reset(&out);
	cmd = xasprintf("%s suppressions --db 'host=127.0.0.1 port=1 connect_timeout=3' 2>&1",
	                DMARCSIFT_BIN);
	assert_int_equal(run(cmd, &out), 3);
	free(cmd);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idempotent),
	    cmocka_unit_test(test_soft_interrupted_by_delivery),
	    cmocka_unit_test(test_soft_three_then_lift),
	    cmocka_unit_test(test_soft_outside_window_or_retries),
	    cmocka_unit_test(test_hard_bounce),
	    cmocka_unit_test(test_policy_rejects_never_suppress),
	    cmocka_unit_test(test_421_burst),
	    cmocka_unit_test(test_escalation_spike_vs_spread),
	    cmocka_unit_test(test_escalation_rate_and_jump),
	    cmocka_unit_test(test_escalation_closes),
	    cmocka_unit_test(test_single_reject_never_escalates),
	    cmocka_unit_test(test_tenants_and_view),
	    cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, bs_setup, bs_teardown);
}
