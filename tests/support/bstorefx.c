/*
 * bstorefx: see bstorefx.h.
 */
#include "tests/support/bstorefx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/store.h"
#include "tests/support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bs_conninfo;
struct db *bs_db;

/* Verdicts as the classifier would give them. */
const struct bounce_verdict V_OK = {"accepted", "accepted", "none",       false,
                                    NULL,       NULL,       "t-accepted", NULL};
const struct bounce_verdict V_SOFT = {
    "mailbox_issue", "watch", "retry_then_suppress", false, NULL, NULL, "t-full", NULL};
const struct bounce_verdict V_HARD = {"invalid_recipient", "clean", "suppress", false, NULL, NULL,
                                      "t-unknown",         NULL};
const struct bounce_verdict V_POLICY = {"policy", "escalate", "investigate", true,
                                        NULL,     NULL,       "t-policy",    NULL};
const struct bounce_verdict V_AUTH = {"auth_failure", "escalate", "investigate_auth", true,
                                      NULL,           NULL,       "t-auth",           "google"};
const struct bounce_verdict V_LISTED = {"blocklisted",  "escalate", "check_listing", true,
                                        "Spamhaus ZEN", "ip",       "t-zen",         NULL};
const struct bounce_verdict V_REPUTATION = {"reputation", "escalate", "slow_down", true,
                                            NULL,         NULL,       "t-rep",     NULL};
const struct bounce_verdict V_CONTENT = {"content", "escalate", "investigate_content", true,
                                         NULL,      NULL,       "t-content",           NULL};
const struct bounce_verdict V_DEFER = {"deferred", "watch", "retry", false,
                                       NULL,       NULL,    "t-421", NULL};

struct bounce_event bs_event(const struct bs_ev *x, char *rdom, size_t rdomsz)
{
	const char *at = x->rcpt ? strrchr(x->rcpt, '@') : NULL;
	snprintf(rdom, rdomsz, "%s", at ? at + 1 : "");
	struct bounce_event e = {
	    .at = x->at,
	    .status = x->st,
	    .source = "postfix",
	    .sending_ip = "192.0.2.10",
	    .mail_from = "bounces@acme.example",
	    .mail_from_domain = "acme.example",
	    .header_from_domain = x->from_domain ? x->from_domain : "acme.example",
	    .recipient = x->rcpt,
	    .recipient_domain = at ? rdom : NULL,
	    .remote_mta = x->mta,
	    .remote_ip = "[203.0.113.25]",
	    .reply_code = x->reply,
	    .enhanced_code = x->enh,
	    .text = x->text,
	    .queue_id = x->queue_id,
	};
	return e;
}

struct bounce_store_stats bs_batch_rules(const struct bs_ev *evs, size_t n, const char *tenant,
                                         const struct bounce_rules *rules)
{
	struct bounce_store *s = NULL;
	struct bounce_store_stats st = {0};
	struct err e = {0};
	if (bounce_store_begin(&s, bs_db, tenant, &e) != 0)
		fail_msg("begin: %s", e.msg);
	if (rules)
		bounce_store_set_rules(s, rules);
	for (size_t i = 0; i < n; i++) {
		char rdom[256];
		struct bounce_event ev = bs_event(&evs[i], rdom, sizeof rdom);
		if (bounce_store_add(s, &ev, evs[i].v, &e) != 0)
			fail_msg("add %zu: %s", i, e.msg);
	}
	if (bounce_store_commit(s, &st, &e) != 0)
		fail_msg("commit: %s", e.msg);
	return st;
}

struct bounce_store_stats bs_batch(const struct bs_ev *evs, size_t n)
{
	return bs_batch_rules(evs, n, NULL, NULL);
}

/* First column of the first row, or NULL when there is no row. */
char *bs_q1(const char *sql, const char *p1)
{
	const char *params[1] = {p1};
	PGresult *res = db_query(bs_db, sql, p1 ? 1 : 0, params);
	struct err e = {0};
	if (db_check(bs_db, &res, PGRES_TUPLES_OK, sql, &e) != 0)
		fail_msg("%s", e.msg);
	char *v = NULL;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

long bs_q1_long(const char *sql, const char *p1)
{
	char *v = bs_q1(sql, p1);
	assert_non_null(v);
	long n = strtol(v, NULL, 10);
	free(v);
	return n;
}

void bs_assert_q1(const char *sql, const char *p1, const char *want)
{
	char *v = bs_q1(sql, p1);
	if (want == NULL && v != NULL)
		fail_msg("%s [%s]: got '%s', want no value", sql, p1 ? p1 : "", v);
	if (want != NULL && (v == NULL || strcmp(v, want) != 0))
		fail_msg("%s [%s]: got '%s', want '%s'", sql, p1 ? p1 : "", v ? v : "(none)", want);
	free(v);
}

int bs_setup(void **state)
{
	(void)state;
	struct err e = {0};
	if (testdb_create(&bs_conninfo) != 0)
		return -1;
	if (db_connect(&bs_db, bs_conninfo, true, &e) != 0) {
		fprintf(stderr, "connect: %s\n", e.msg);
		return -1;
	}
	const char *acme[] = {"acme.example"};
	const char *globex[] = {"globex.example"};
	if (store_tenant_add(bs_db, "acme", acme, 1, &e) != 0 ||
	    store_tenant_add(bs_db, "globex", globex, 1, &e) != 0) {
		fprintf(stderr, "tenants: %s\n", e.msg);
		return -1;
	}
	return 0;
}

int bs_teardown(void **state)
{
	(void)state;
	db_close(bs_db);
	if (bs_conninfo)
		testdb_drop(bs_conninfo);
	free(bs_conninfo);
	return 0;
}
