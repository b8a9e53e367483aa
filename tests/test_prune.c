/*
 * test_prune: retention through the real binary and a real PostgreSQL.
 *
 * A generated corpus spanning 15 months for two tenants (acme, beta): two
 * aggregate reports a day with three records each and their raw messages,
 * policy-class bounces every day, and for acme the rest of what prune
 * decides about — an open quarantine entry and closed ones, TLS and failure
 * reports, flags, escalations and suppressions open and closed, a raw
 * message another tenant's report still reads from, one a kept report
 * replaced, an orphan bounce notice and an unfinished ('new') input.
 *
 * Checked: --dry-run counts exactly what the run then deletes and changes
 * nothing; `--tenant acme` deletes acme's old rows and leaves beta's
 * (every table, row for row in count and sum) as they were; the rollups
 * after prune equal the rollups recomputed from the records kept, so no
 * derived row counts deleted data; the raw bytes of the open quarantine
 * entry, of kept reports and of reports another tenant keeps stay; a second
 * run deletes nothing more; every tenant at once also removes old orphans;
 * [retention] older_than stands in for --older-than, and without either
 * prune is a usage error naming both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/mailtest.h"
#include "support/run.h"
#include "support/testdb.h"

#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ctx {
	char *db;
	char *dir;
};

/* Two reports a day for 450 days per tenant, 3 records each, every one
 * with its raw message; two policy-class bounces a day. */
static const char corpus_sql[] =
    "INSERT INTO dmarcsift.raw_messages (sha256, received_at, size, data, status) "
    "SELECT encode(sha256(convert_to('agg-' || t.name || '-' || d || '-' || k, 'UTF8')), "
    "'hex'), date_trunc('day', now()) - (d - 1) * interval '1 day', 1, '\\x00', 'ok' "
    "FROM dmarcsift.tenants t, generate_series(0, 449) d, generate_series(1, 2) k "
    "WHERE t.name IN ('acme', 'beta');"
    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at, "
    "end_at, schema, records, messages, raw_sha256) "
    "SELECT t.tenant_id, 'rep' || k || '.example', 'r-' || d || '-' || k, t.name || "
    "'.example', date_trunc('day', now()) - d * interval '1 day', "
    "date_trunc('day', now()) - d * interval '1 day' + interval '86399 seconds', 'rfc7489', "
    "3, 0, encode(sha256(convert_to('agg-' || t.name || '-' || d || '-' || k, 'UTF8')), "
    "'hex') "
    "FROM dmarcsift.tenants t, generate_series(0, 449) d, generate_series(1, 2) k "
    "WHERE t.name IN ('acme', 'beta');"
    "INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, "
    "dkim, spf, header_from, dkim_auth, spf_auth) "
    "SELECT r.tenant_id, r.id, g, ('192.0.2.' || (1 + (r.id + g) % 7))::inet, 1 + g, "
    "'none', CASE WHEN g = 0 THEN 'fail' ELSE 'pass' END, "
    "CASE WHEN g = 1 THEN 'fail' ELSE 'pass' END, r.policy_domain, "
    "CASE WHEN g = 0 THEN jsonb_build_array(jsonb_build_object('domain', r.policy_domain, "
    "'selector', 's1', 'result', 'fail')) ELSE '[]' END, '[]' "
    "FROM dmarcsift.reports r, generate_series(0, 2) g;"
    "INSERT INTO dmarcsift.bounces (tenant_id, at, status, sending_ip, header_from_domain, "
    "recipient, recipient_domain, provider, class, severity, action, source, event_key, text) "
    "SELECT t.tenant_id, date_trunc('day', now()) - d * interval '1 day' + k * interval "
    "'1 hour', 'bounced', '192.0.2.1', t.name || '.example', 'u' || k || '@gmail.com', "
    "'gmail.com', 'gmail', 'auth_failure', 'hard', 'fix_auth', 'test', "
    "encode(sha256(convert_to('b-' || t.name || '-' || d || '-' || k, 'UTF8')), 'hex'), "
    "'550 5.7.26 unauthenticated mail is prohibited' "
    "FROM dmarcsift.tenants t, generate_series(0, 449) d, generate_series(1, 2) k "
    "WHERE t.name IN ('acme', 'beta');";

/* acme's rest; the raw messages are named by a word, see raw(). */
static const char extras_sql[] =
    "CREATE TEMP TABLE w AS SELECT (SELECT tenant_id FROM dmarcsift.tenants WHERE name = "
    "'acme') AS acme, (SELECT tenant_id FROM dmarcsift.tenants WHERE name = 'beta') AS beta;"
    "INSERT INTO dmarcsift.raw_messages (sha256, received_at, size, data, status) "
    "SELECT encode(sha256(convert_to(v.word, 'UTF8')), 'hex'), now() - v.age * interval "
    "'1 day', 1, '\\x01', v.status FROM (VALUES ('open-failure', 500, 'quarantined'), "
    "('dismissed-old', 480, 'dismissed'), ('dismissed-recent', 420, 'dismissed'), "
    "('tls-old', 430, 'ok'), ('tls-new', 10, 'ok'), ('ruf-old', 430, 'ok'), "
    "('ruf-new', 5, 'ok'), ('replaced-copy', 420, 'ok'), ('orphan-dsn', 420, 'dsn'), "
    "('unfinished', 420, 'new')) v(word, age, status);"
    "INSERT INTO dmarcsift.failures (tenant_id, sha256, received_at, source, stage, reason, "
    "resolved_at, dismissed_at) "
    "SELECT w.acme, encode(sha256(convert_to(v.word, 'UTF8')), 'hex'), now() - v.age * "
    "interval '1 day', 'test', 'xml', 'broken', now() - v.closed * interval '1 day', "
    "now() - v.closed * interval '1 day' FROM w, (VALUES ('open-failure', 500, NULL), "
    "('dismissed-old', 480, 450), ('dismissed-recent', 420, 10)) v(word, age, closed);"
    "INSERT INTO dmarcsift.tls_reports (tenant_id, org_name, report_id, policy_domain, "
    "begin_at, end_at, raw_sha256) "
    "SELECT w.acme, 'tls.example', v.word, 'acme.example', now() - v.age * interval '1 day', "
    "now() - v.age * interval '1 day' + interval '1 hour', "
    "encode(sha256(convert_to(v.word, 'UTF8')), 'hex') "
    "FROM w, (VALUES ('tls-old', 431), ('tls-new', 11)) v(word, age);"
    "INSERT INTO dmarcsift.tls_policies (tenant_id, report_pk, seq, policy_type, "
    "successful_sessions, failed_sessions) "
    "SELECT tenant_id, id, 0, 'sts', 10, 1 FROM dmarcsift.tls_reports;"
    "INSERT INTO dmarcsift.failure_reports (tenant_id, raw_sha256, domain, layout, "
    "arrival_at, feedback_type) "
    "SELECT w.acme, encode(sha256(convert_to(v.word, 'UTF8')), 'hex'), 'acme.example', "
    "'rfc6591', now() - v.age * interval '1 day', 'auth-failure' "
    "FROM w, (VALUES ('ruf-old', 430), ('ruf-new', 5)) v(word, age);"
    /* one message, two tenants: beta's recent report reads acme's oldest raw */
    "UPDATE dmarcsift.reports SET raw_sha256 = encode(sha256(convert_to('agg-acme-449-1', "
    "'UTF8')), 'hex') WHERE report_id = 'r-5-1' AND tenant_id = (SELECT beta FROM w);"
    /* a kept report replaced an old copy */
    "UPDATE dmarcsift.reports SET replaced_sha256 = encode(sha256(convert_to("
    "'replaced-copy', 'UTF8')), 'hex') WHERE report_id = 'r-10-2' AND tenant_id = (SELECT "
    "acme FROM w);"
    "INSERT INTO dmarcsift.flags (tenant_id, provider, domain, ip_key, kind, confidence, "
    "first_seen, last_seen, rejects, dmarc_messages, status, evidence) "
    "SELECT w.acme, 'gmail', 'acme.example', v.ip, 'auth_driven', 'high', now() - interval "
    "'430 days', now() - interval '420 days', 5, 10, v.status, '{}' "
    "FROM w, (VALUES ('192.0.2.1', 'resolved'), ('192.0.2.2', 'open')) v(ip, status);"
    "INSERT INTO dmarcsift.escalations (tenant_id, provider, class, code_family, pattern, "
    "window_start, window_end, count, attempts, rate, first_seen, last_seen, reason, status) "
    "SELECT w.acme, 'gmail', 'policy', '5.7', v.pattern, now() - interval '421 days', "
    "now() - interval '420 days', 5, 10, 0.5, now() - interval '421 days', "
    "now() - interval '420 days', 'volume', v.status "
    "FROM w, (VALUES ('closed one', 'closed'), ('open one', 'open')) v(pattern, status);"
    "INSERT INTO dmarcsift.suppressions (tenant_id, address, reason, evidence_count, "
    "added_at, lifted_at) "
    "SELECT w.acme, v.address, 'invalid_recipient', 1, now() - interval '430 days', "
    "now() - v.lifted * interval '1 day' "
    "FROM w, (VALUES ('gone@example.net', 420), ('kept@example.net', NULL)) "
    "v(address, lifted);";

/* Per tenant, every table prune touches: count and sum, in one string. */
static const char fingerprint_sql[] =
    "SELECT concat_ws(' ', "
    "(SELECT count(*) FROM dmarcsift.reports WHERE tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum(count), 0) FROM dmarcsift.records WHERE "
    "tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum(messages), 0) FROM dmarcsift.daily_rollup "
    "WHERE tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum(messages), 0) FROM dmarcsift.domain_rollup "
    "WHERE tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum(messages), 0) FROM dmarcsift.record_sources "
    "WHERE tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum((f ->> 'messages')::bigint), 0) "
    "FROM dmarcsift.record_sources, jsonb_array_elements(fails) f WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.bounces WHERE tenant_id = t), "
    "(SELECT count(*) || '/' || coalesce(sum(rejects), 0) FROM dmarcsift.bounce_days WHERE "
    "tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.tls_reports WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.tls_policies WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.failure_reports WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.failures WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.flags WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.escalations WHERE tenant_id = t), "
    "(SELECT count(*) FROM dmarcsift.suppressions WHERE tenant_id = t)) "
    "FROM (SELECT tenant_id AS t FROM dmarcsift.tenants WHERE name = $1) x";

/* Rows of either rollup that differ from a recomputation from the records
 * (both directions): 0 when nothing derived counts deleted data. */
static const char rollup_diff_sql[] =
    "WITH x AS (SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date AS day, "
    "r.policy_domain, x.source_ip, coalesce(lower(x.dkim) = 'pass', false) AS dkim_pass, "
    "coalesce(lower(x.spf) = 'pass', false) AS spf_pass, sum(x.count) AS messages, "
    "count(*) AS records FROM dmarcsift.records x JOIN dmarcsift.reports r ON "
    "r.tenant_id = x.tenant_id AND r.id = x.report_pk GROUP BY 1, 2, 3, 4, 5, 6), "
    "o AS (SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass, sum(messages) AS "
    "messages, sum(records) AS records FROM x GROUP BY 1, 2, 3, 4, 5) "
    "SELECT (SELECT count(*) FROM ((SELECT * FROM dmarcsift.daily_rollup EXCEPT SELECT * "
    "FROM x) UNION ALL (SELECT * FROM x EXCEPT SELECT * FROM dmarcsift.daily_rollup)) a) + "
    "(SELECT count(*) FROM ((SELECT * FROM dmarcsift.domain_rollup EXCEPT SELECT * FROM o) "
    "UNION ALL (SELECT * FROM o EXCEPT SELECT * FROM dmarcsift.domain_rollup)) b) + "
    /* the correlator's per-source sums, likewise */
    "(SELECT count(*) FROM (SELECT tenant_id, sum(messages) FROM dmarcsift.record_sources "
    "GROUP BY 1 EXCEPT SELECT tenant_id, sum(count) FROM dmarcsift.records GROUP BY 1) c)";

static char *fingerprint(struct ctx *c, const char *tenant)
{
	const char *p[] = {tenant};
	return q_str(c->db, fingerprint_sql, 1, p);
}

static int64_t raw_left(struct ctx *c, const char *word)
{
	const char *p[] = {word};
	return q_int(c->db,
	             "SELECT count(*) FROM dmarcsift.raw_messages WHERE sha256 = "
	             "encode(sha256(convert_to($1, 'UTF8')), 'hex')",
	             1, p);
}

static int64_t n(struct ctx *c, const char *sql)
{
	return q_int(c->db, sql, 0, NULL);
}

/* Runs prune with --json and the given arguments; returns the exit code and
 * the parsed summary (NULL when there is none). */
static int prune(struct ctx *c, json_object **out, const char *a1, const char *a2, const char *a3,
                 const char *a4)
{
	const char *args[] = {"prune", "--db", c->db, "--json", a1, a2, a3, a4, NULL};
	char *text = NULL;
	int rc = run_bin(args, NULL, &text);
	*out = text && text[0] ? json_tokener_parse(text) : NULL;
	free(text);
	return rc;
}

static int64_t got(json_object *o, const char *which, const char *kind)
{
	json_object *m = NULL, *v = NULL;
	if (!json_object_object_get_ex(o, which, &m) || !json_object_object_get_ex(m, kind, &v))
		fail_msg("no %s.%s in the summary: %s", which, kind, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	if (testdb_create(&c->db) != 0)
		return -1;
	c->dir = mt_tmpdir("ds-prune");
	const char *a[] = {"tenant", "add", "--db", c->db, "acme", "acme.example", NULL};
	const char *b[] = {"tenant", "add", "--db", c->db, "beta", "beta.example", NULL};
	if (run_bin(a, NULL, NULL) != 0 || run_bin(b, NULL, NULL) != 0)
		return -1;
	q_exec(c->db, corpus_sql);
	q_exec(c->db, extras_sql);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->dir);
	testdb_drop(c->db);
	free(c->db);
	free(c->dir);
	free(c);
	return 0;
}

static void test_prune(void **state)
{
	struct ctx *c = *state;
	/* The corpus is what it should be: rollups match the records, bounce
	 * days before the window, 15 months of reports. */
	assert_int_equal(n(c, rollup_diff_sql), 0);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.reports"), 1800);
	assert_true(n(c, "SELECT count(*) FROM dmarcsift.bounce_days WHERE day < "
	                 "((now() - interval '400 days') AT TIME ZONE 'UTC')::date") > 0);
	int64_t acme_old = n(c, "SELECT count(*) FROM dmarcsift.reports r JOIN dmarcsift.tenants "
	                        "t USING (tenant_id) WHERE t.name = 'acme' AND r.end_at < now() - "
	                        "interval '400 days'");
	assert_true(acme_old >= 96 && acme_old <= 100);
	int64_t acme_kept = n(c, "SELECT count(*) FROM dmarcsift.reports r JOIN "
	                         "dmarcsift.tenants t USING (tenant_id) WHERE t.name = 'acme'") -
	                    acme_old;
	char *acme0 = fingerprint(c, "acme"), *beta0 = fingerprint(c, "beta");
	int64_t raw0 = n(c, "SELECT count(*) FROM dmarcsift.raw_messages");

	/* --dry-run counts and changes nothing. */
	json_object *dry = NULL;
	assert_int_equal(prune(c, &dry, "--tenant", "acme", "--older-than", "soon"), 2);
	json_object_put(dry);
	assert_int_equal(prune(c, &dry, "--tenant", "acme", "--older-than=400d", "--dry-run"), 0);
	assert_non_null(dry);
	json_object *v = NULL;
	assert_true(json_object_object_get_ex(dry, "dry_run", &v) && json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(dry, "transactions", &v) &&
	            json_object_get_int64(v) == 0);
	assert_int_equal(got(dry, "deleted", "reports"), acme_old);
	assert_int_equal(got(dry, "deleted", "records"), acme_old * 3);
	char *f = fingerprint(c, "acme");
	assert_string_equal(f, acme0);
	free(f);
	f = fingerprint(c, "beta");
	assert_string_equal(f, beta0);
	free(f);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.raw_messages"), raw0);

	/* The run deletes exactly what the dry run counted, of acme only. */
	json_object *run = NULL;
	assert_int_equal(prune(c, &run, "--tenant", "acme", "--older-than", "400d"), 0);
	assert_non_null(run);
	static const char *const kinds[] = {
	    "reports",  "records", "tls_reports", "failure_reports", "bounces",
	    "failures", "flags",   "escalations", "suppressions",    "raw_messages"};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (got(run, "deleted", kinds[k]) != got(dry, "deleted", kinds[k]))
			fail_msg("%s: deleted %lld, the dry run said %lld", kinds[k],
			         (long long)got(run, "deleted", kinds[k]),
			         (long long)got(dry, "deleted", kinds[k]));
	assert_int_equal(got(run, "deleted", "reports"), acme_old);
	assert_int_equal(got(run, "deleted", "tls_reports"), 1);
	assert_int_equal(got(run, "deleted", "failure_reports"), 1);
	assert_int_equal(got(run, "deleted", "failures"), 1);     /* the old dismissed one */
	assert_int_equal(got(run, "deleted", "flags"), 1);        /* the resolved one */
	assert_int_equal(got(run, "deleted", "escalations"), 1);  /* the closed one */
	assert_int_equal(got(run, "deleted", "suppressions"), 1); /* the lifted one */
	/* raw: the old reports' but one (beta reads it), the old TLS and
	 * failure reports' and the old dismissed entry's */
	assert_int_equal(got(run, "deleted", "raw_messages"), acme_old - 1 + 3);
	json_object_put(run);
	json_object_put(dry);

	f = fingerprint(c, "beta");
	assert_string_equal(f, beta0);
	free(f);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.reports r JOIN dmarcsift.tenants t "
	                      "USING (tenant_id) WHERE t.name = 'acme'"),
	                 acme_kept);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.reports r JOIN dmarcsift.tenants t "
	                      "USING (tenant_id) WHERE t.name = 'acme' AND r.end_at < now() - "
	                      "interval '400 days'"),
	                 0);
	assert_int_equal(n(c, rollup_diff_sql), 0);
	/* No bounce day of acme before the window is left; beta's are. */
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.bounce_days b JOIN dmarcsift.tenants "
	                      "t USING (tenant_id) WHERE t.name = 'acme' AND b.day < ((now() - "
	                      "interval '400 days') AT TIME ZONE 'UTC')::date"),
	                 0);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.bounces b JOIN dmarcsift.tenants "
	                      "t USING (tenant_id) WHERE t.name = 'acme' AND b.at < now() - "
	                      "interval '400 days'"),
	                 0);
	/* What stays whatever its age. */
	assert_int_equal(raw_left(c, "open-failure"), 1);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.v_failures"), 1);
	assert_int_equal(raw_left(c, "dismissed-recent"), 1);
	assert_int_equal(raw_left(c, "agg-acme-449-1"), 1); /* beta's report reads it */
	assert_int_equal(raw_left(c, "agg-acme-449-2"), 0);
	assert_int_equal(raw_left(c, "agg-acme-10-1"), 1);
	assert_int_equal(raw_left(c, "replaced-copy"), 1);
	assert_int_equal(raw_left(c, "tls-old"), 0);
	assert_int_equal(raw_left(c, "tls-new"), 1);
	assert_int_equal(raw_left(c, "ruf-new"), 1);
	assert_int_equal(raw_left(c, "orphan-dsn"), 1); /* not acme's: --tenant leaves it */
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.flags WHERE status = 'open'"), 1);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.escalations WHERE status = 'open'"),
	                 1);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.suppressions WHERE lifted_at IS "
	                      "NULL"),
	                 1);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.tls_policies"), 1);

	/* Again: nothing more. */
	char *acme2 = fingerprint(c, "acme");
	assert_int_equal(prune(c, &run, "--tenant", "acme", "--older-than", "400d"), 0);
	assert_non_null(run);
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (got(run, "deleted", kinds[k]) != 0)
			fail_msg("a second run deleted %lld %s",
			         (long long)got(run, "deleted", kinds[k]), kinds[k]);
	json_object_put(run);
	f = fingerprint(c, "acme");
	assert_string_equal(f, acme2);
	free(f);
	free(acme2);

	/* Every tenant: beta's old rows, and the old orphan bounce notice. */
	int64_t beta_old = n(c, "SELECT count(*) FROM dmarcsift.reports r JOIN dmarcsift.tenants "
	                        "t USING (tenant_id) WHERE t.name = 'beta' AND r.end_at < now() - "
	                        "interval '400 days'");
	assert_int_equal(prune(c, &run, "--older-than", "400d", NULL, NULL), 0);
	assert_non_null(run);
	assert_int_equal(got(run, "deleted", "reports"), beta_old);
	assert_int_equal(got(run, "deleted", "raw_messages"), beta_old + 1);
	json_object_put(run);
	assert_int_equal(raw_left(c, "orphan-dsn"), 0);
	assert_int_equal(raw_left(c, "unfinished"), 1);
	assert_int_equal(raw_left(c, "open-failure"), 1);
	assert_int_equal(raw_left(c, "replaced-copy"), 1);
	assert_int_equal(raw_left(c, "agg-acme-449-1"), 1);
	assert_int_equal(n(c, rollup_diff_sql), 0);
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.reports WHERE end_at < now() - "
	                      "interval '400 days'"),
	                 0);
	/* Every report left has its raw message. */
	assert_int_equal(n(c, "SELECT count(*) FROM dmarcsift.reports r WHERE NOT EXISTS (SELECT 1 "
	                      "FROM dmarcsift.raw_messages m WHERE m.sha256 = r.raw_sha256)"),
	                 0);
	free(acme0);
	free(beta0);
}

/* [retention] older_than is the window when --older-than is not given;
 * without either, a usage error that names both. */
static void test_retention_config(void **state)
{
	struct ctx *c = *state;
	char *none = mt_write_file(c->dir, "none.conf", "# no [retention]\n");
	char *conf = mt_write_file(c->dir, "ret.conf", "[retention]\nolder_than = 400d\n");
	char *bad = mt_write_file(c->dir, "bad.conf", "[retention]\nolder_than = soon\n");
	char *out = NULL;
	const char *a[] = {"prune", "--db", c->db, "--config", none, NULL};
	assert_int_equal(run_bin(a, NULL, &out), 2);
	free(out);
	const char *b[] = {"prune", "--db", c->db, "--config", bad, "--older-than", "400d", NULL};
	assert_int_equal(run_bin(b, NULL, NULL), 2);
	const char *d[] = {"prune", "--db", c->db, "--config", conf, "--dry-run", "--json", NULL};
	out = NULL;
	assert_int_equal(run_bin(d, NULL, &out), 0);
	json_object *o = json_tokener_parse(out);
	free(out);
	assert_non_null(o);
	json_object *cut = NULL;
	assert_true(json_object_object_get_ex(o, "cutoff", &cut));
	/* the cutoff is 400 days back, as the database computes it */
	const char *p[] = {json_object_get_string(cut)};
	assert_int_equal(q_int(c->db,
	                       "SELECT CASE WHEN abs(extract(epoch FROM $1::timestamptz - (now() - "
	                       "interval '400 days'))) < 600 THEN 1 ELSE 0 END",
	                       1, p),
	                 1);
	json_object_put(o);
	/* --quiet (for cron): no summary on success */
	const char *q[] = {"prune", "--db", c->db, "--config", conf, "--dry-run", "--quiet", NULL};
	out = NULL;
	assert_int_equal(run_bin(q, NULL, &out), 0);
	assert_string_equal(out, "");
	free(out);
	const char *t[] = {"prune", "--db", c->db, "--config", conf, "--tenant", "nobody", NULL};
	assert_int_equal(run_bin(t, NULL, NULL), 2);
	free(none);
	free(conf);
	free(bad);
}

/* `poll --every` with [retention] older_than prunes after its first round:
 * the old reports go while it keeps running; a poll without --every does
 * not prune. */
static void test_poll_every(void **state)
{
	struct ctx *c = *state;
	static const char *const subs[] = {"/Maildir", "/Maildir/new", "/Maildir/cur",
	                                   "/Maildir/tmp"};
	for (size_t i = 0; i < 4; i++) {
		char p[512];
		snprintf(p, sizeof p, "%s%s", c->dir, subs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
	}
	char text[1024];
	snprintf(text, sizeof text,
	         "[mailbox md]\nurl = maildir:%s/Maildir\n\n[retention]\nolder_than = 400d\n",
	         c->dir);
	char *conf = mt_write_file(c->dir, "poll.conf", text);
	static const char old_sql[] =
	    "SELECT count(*) FROM dmarcsift.reports WHERE end_at < now() - interval '400 days'";
	int64_t old = n(c, old_sql);
	assert_true(old > 0);

	const char *once[] = {"poll",         "--config",       conf, "--db", c->db, "--once",
	                      "--no-resolve", "--no-correlate", NULL};
	assert_int_equal(mt_run(once, NULL), 0);
	assert_int_equal(n(c, old_sql), old);

	char log[512];
	snprintf(log, sizeof log, "%s/poll.log", c->dir);
	const char *every[] = {"poll",    "--config", conf,           "--db",           c->db,
	                       "--every", "1h",       "--no-resolve", "--no-correlate", NULL};
	pid_t pid = mt_spawn(every, log);
	int64_t gone = mt_wait_count(c->db,
	                             "SELECT (count(*) = 0)::int FROM dmarcsift.reports "
	                             "WHERE end_at < now() - interval '400 days'",
	                             1, 60);
	kill(pid, SIGTERM);
	assert_int_equal(mt_wait(pid), 0);
	char *out = slurp(log, NULL);
	if (gone != 1)
		fail_msg("poll --every did not prune within 60 s:\n%s", out);
	if (!strstr(out, "prune (older than "))
		fail_msg("poll --every did not say what it pruned:\n%s", out);
	free(out);
	assert_int_equal(n(c, rollup_diff_sql), 0);
	assert_int_equal(raw_left(c, "open-failure"), 1);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_poll_every, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
