/*
 * test_cmd_bounces_db: `dmarcsift bounces ingest` against a real PostgreSQL
 * (DMARCSIFT_TEST_DB): the fixtures' events stored with their verdicts and
 * rule ids, re-ingesting adds nothing, `suppressions` and `escalations` show
 * what a deliverability engineer expects of them, and an unreachable database
 * is exit 3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/testdb.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define BDIR   FIXTURES_DIR "/bounces/"
#define INPUTS BDIR "postfix.log " BDIR "exim_main.log " BDIR "dsn_multi.eml " BDIR "esp_export.csv"

static char *conninfo;

static int setup(void **state)
{
	(void)state;
	if (testdb_create(&conninfo) != 0) {
		fprintf(stderr, "test_cmd_bounces_db: needs DMARCSIFT_TEST_DB (a PostgreSQL server "
		                "where it may CREATE DATABASE)\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(conninfo);
	free(conninfo);
	return 0;
}

static int run(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t len = 0, cap = 4096, n;
	char *b = xmalloc(cap);
	while ((n = fread(b + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			b = xrealloc(b, cap);
		}
	}
	b[len] = '\0';
	*out = b;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *query(const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r =
	    PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	assert_int_equal(PQntuples(r), 1);
	char *v = xstrdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static void test_ingest_twice(void **state)
{
	(void)state;
	char *cmd = xasprintf("%s bounces ingest --db '%s' %s", DMARCSIFT_BIN, conninfo, INPUTS);
	char *out = NULL;
	assert_int_equal(run(cmd, &out), 0);
	/* 13 Postfix + 10 Exim + 3 DSN + 6 CSV events; 4+1+0+3 malformed */
	assert_non_null(strstr(out, "32 events from"));
	assert_non_null(strstr(out, "malformed: 8"));
	assert_non_null(strstr(out, "stored: 32 added, 0 already known"));
	free(out);

	char *n = query("SELECT count(*) FROM dmarcsift.v_bounces", NULL);
	assert_string_equal(n, "32");
	free(n);
	/* the verdict and the text travel with the event */
	char *v = query("SELECT class || '|' || action || '|' || listed_on || '|' || listed_asset"
	                " FROM dmarcsift.v_bounces WHERE recipient = $1",
	                "mia@comcast.net");
	assert_string_equal(v, "blocklisted|check_listing|Spamhaus ZEN|ip");
	free(v);
	v = query("SELECT class || '|' || coalesce(enhanced_code, '-') || '|' || reply_code"
	          " FROM dmarcsift.v_bounces WHERE recipient = $1",
	          "bob@gmail.com");
	assert_string_equal(v, "auth_failure|5.7.26|550");
	free(v);

	/* the same inputs again: nothing new */
	assert_int_equal(run(cmd, &out), 0);
	assert_non_null(strstr(out, "stored: 0 added, 32 already known"));
	free(out);
	n = query("SELECT count(*) FROM dmarcsift.v_bounces", NULL);
	assert_string_equal(n, "32");
	free(n);
	free(cmd);
}

/* After the fixtures: hard bounces to invalid recipients are suppressed; an
 * auth failure, a blocklisting, a reputation deferral or a full mailbox seen
 * once suppresses nobody; nothing in the fixtures repeats enough to escalate. */
static void test_suppressions_after_fixtures(void **state)
{
	(void)state;
	char *out = NULL;
	char *cmd = xasprintf("%s suppressions --db '%s' --format csv", DMARCSIFT_BIN, conninfo);
	assert_int_equal(run(cmd, &out), 0);
	assert_true(strncmp(out, "tenant,address,reason,first_evidence,", 37) == 0);
	assert_non_null(strstr(out, "\nunassigned,frank@corp.example,invalid_recipient,"));
	assert_non_null(strstr(out, "\nunassigned,steve@nowhere.example,invalid_recipient,"));
	assert_null(strstr(out, "bob@gmail.com"));     /* 5.7.26: the sender's fault */
	assert_null(strstr(out, "mia@comcast.net"));   /* blocklisted: our IP's fault */
	assert_null(strstr(out, "carol@outlook.com")); /* 4.7.650 deferral */
	assert_null(strstr(out, "tina@aol.com"));      /* mailbox full, once */
	free(out);
	free(cmd);

	cmd = xasprintf("%s escalations --db '%s' --format csv", DMARCSIFT_BIN, conninfo);
	assert_int_equal(run(cmd, &out), 0);
	const char *nl = strchr(out, '\n'); /* the header line and nothing else */
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	free(out);
	free(cmd);
}

/* postfix_spike.log: Gmail rejects 24 of 40 messages with 5.7.26, each reply
 * with its own tracking id; ten corporate gateways reject two each on policy.
 * One escalation opens — Gmail's auth failures, at their rate — and the same
 * kind of count spread over the gateways opens none. */
static void test_spike_escalates(void **state)
{
	(void)state;
	char *out = NULL;
	char *cmd = xasprintf("%s bounces ingest --db '%s' " BDIR "postfix_spike.log",
	                      DMARCSIFT_BIN, conninfo);
	assert_int_equal(run(cmd, &out), 0);
	assert_non_null(strstr(out, "stored: 70 added, 0 already known"));
	assert_non_null(strstr(out, "1 escalations opened"));
	free(out);
	free(cmd);

	cmd = xasprintf("%s escalations --db '%s' --format csv", DMARCSIFT_BIN, conninfo);
	assert_int_equal(run(cmd, &out), 0);
	const char *row = strchr(out, '\n');
	assert_non_null(row);
	assert_true(strncmp(row + 1, "unassigned,google,auth_failure,5.7,24,40,0.6000,", 48) == 0);
	const char *next = strchr(row + 1, '\n');
	assert_non_null(next);
	assert_int_equal(next[1], '\0'); /* exactly one escalation */
	assert_null(strstr(out, "corp0"));
	free(out);

	/* the same log again changes nothing */
	free(cmd);
	cmd = xasprintf("%s bounces ingest --db '%s' " BDIR "postfix_spike.log", DMARCSIFT_BIN,
	                conninfo);
	assert_int_equal(run(cmd, &out), 0);
	assert_non_null(strstr(out, "stored: 0 added, 70 already known"));
	assert_non_null(strstr(out, "0 escalations opened"));
	free(out);
	free(cmd);
	char *n = query("SELECT count(*) FROM dmarcsift.v_escalations", NULL);
	assert_string_equal(n, "1");
	free(n);
}

/* Notices, a complaint and an auto-reply: each event keeps the format it was
 * read from; the complainer is suppressed with reason complaint, the
 * auto-reply is a delivery, an authentication reject suppresses nobody. */
static void test_notices(void **state)
{
	(void)state;
	char *out = NULL;
	char *cmd = xasprintf("%s bounces ingest --db '%s' " BDIR "notices/arf.eml " BDIR
	                      "notices/autoreply.eml " BDIR "notices/exim.eml " BDIR
	                      "notices/qmail.eml " BDIR "notices/dsn_broken.eml",
	                      DMARCSIFT_BIN, conninfo);
	assert_int_equal(run(cmd, &out), 0);
	assert_non_null(strstr(out, "malformed: 0"));
	assert_non_null(strstr(out, "stored: 10 added, 0 already known"));
	free(out);
	char *v = query("SELECT class || '|' || format || '|' || feedback_type || '|' || sending_ip"
	                " || '|' || status FROM dmarcsift.v_bounces WHERE recipient = $1",
	                "brad@isp.example.net");
	assert_string_equal(v, "complaint|arf|abuse|198.51.100.7/32|delivered");
	free(v);
	v = query("SELECT class || '|' || format || '|' || auto_reply FROM dmarcsift.v_bounces"
	          " WHERE recipient = $1",
	          "clara@example.org");
	assert_string_equal(v, "accepted|auto_reply|true");
	free(v);
	v = query("SELECT format || '|' || source || '|' || class FROM dmarcsift.v_bounces"
	          " WHERE recipient = $1",
	          "erin@example.net");
	assert_string_equal(v, "qmail|dsn|invalid_recipient");
	free(v);
	v = query("SELECT reason FROM dmarcsift.v_suppressions WHERE address = $1",
	          "brad@isp.example.net");
	assert_string_equal(v, "complaint");
	free(v);
	v = query("SELECT reason FROM dmarcsift.v_suppressions WHERE address = $1",
	          "alice@example.org");
	assert_string_equal(v, "invalid_recipient");
	free(v);
	v = query("SELECT count(*) FROM dmarcsift.v_suppressions WHERE address IN ($1, "
	          "'clara@example.org')",
	          "carol@example.com");
	assert_string_equal(v, "0");
	free(v);
	/* the log formats record theirs too */
	v = query("SELECT string_agg(DISTINCT format, ',' ORDER BY format) FROM dmarcsift.bounces"
	          " WHERE source = $1",
	          "postfix");
	assert_string_equal(v, "postfix");
	free(v);
	free(cmd);
}

static void test_unreachable(void **state)
{
	(void)state;
	char *out = NULL;
	int rc = run(DMARCSIFT_BIN " bounces ingest --db 'host=/nonexistent-dir port=1 dbname=x "
	                           "connect_timeout=2' " BDIR "postfix.log 2>/dev/null",
	             &out);
	assert_int_equal(rc, 3);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_twice),
	    cmocka_unit_test(test_suppressions_after_fixtures),
	    cmocka_unit_test(test_spike_escalates),
	    cmocka_unit_test(test_notices),
	    cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
