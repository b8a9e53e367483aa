/*
 * End to end through the real binary and a real PostgreSQL: exit codes, the
 * summary, stdin, --json, reprocess after the cause is fixed, a database that
 * cannot be reached, and a run killed in the middle of a large report.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/clifx.h"
#include "support/run.h"
#include "support/testdb.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Writes a report of n records to path; the counts are 1..n so the
 * messages sum is n(n+1)/2. */
static void write_report(const char *path, const char *org, const char *id, const char *domain,
                         long n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
	        "<report_metadata><org_name>%s</org_name><email>noreply@%s</email>"
	        "<report_id>%s</report_id><date_range><begin>1700000000</begin>"
	        "<end>1700086399</end></date_range></report_metadata>\n"
	        "<policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>"
	        "<sp>none</sp><pct>100</pct></policy_published>\n",
	        org, org, id, domain);
	for (long i = 1; i <= n; i++)
		fprintf(
		    f,
		    "<record><row><source_ip>10.%ld.%ld.%ld</source_ip><count>%ld</count>"
		    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
		    "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>%s"
		    "</header_from></identifiers><auth_results><dkim><domain>%s</domain>"
		    "<selector>s1</selector><result>pass</result></dkim><spf><domain>%s</domain>"
		    "<result>fail</result></spf></auth_results></record>\n",
		    (i >> 16) & 255, (i >> 8) & 255, i & 255, i, domain, domain, domain);
	fputs("</feedback>\n", f);
	fclose(f);
}

static void test_summary_json_and_duplicates(void **state)
{
	struct clifx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/r1.xml", c->dir);
	write_report(path, "example.net", "json-1", "json.example", 7);

	char *out = NULL;
	const char *a1[] = {"ingest", "--db", c->db, "--json", path, NULL};
	assert_int_equal(run_bin(a1, NULL, &out), 0);
	json_object *o = json_tokener_parse(out);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "reports", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(o, "records", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(o, "messages", &v));
	assert_int_equal(json_object_get_int64(v), 28);
	json_object_put(o);
	free(out);

	/* The same bytes again: a duplicate, and the database is unchanged. */
	const char *a2[] = {"ingest", "--db", c->db, path, NULL};
	assert_int_equal(run_bin(a2, NULL, &out), 0);
	assert_non_null(strstr(out, "0 reports (0 records) ingested, 1 duplicates, 0 quarantined"));
	free(out);
	const char *p[] = {"json-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 1);
	assert_int_equal(
	    q_int(c->db, "SELECT sum(count) FROM dmarcsift.v_records WHERE report_id=$1", 1, p),
	    28);

	/* Other bytes, same identity (re-sent with different whitespace): duplicate. */
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("\n\n", f);
	fclose(f);
	assert_int_equal(run_bin(a2, NULL, &out), 0);
	assert_non_null(strstr(out, "0 reports (0 records) ingested, 1 duplicates"));
	free(out);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 1);
}

static void test_stdin(void **state)
{
	struct clifx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/stdin.xml", c->dir);
	write_report(path, "stdin.example", "stdin-1", "stdin.example", 3);
	const char *a[] = {"ingest", "--db", c->db, "-", NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, path, &out), 0);
	assert_non_null(strstr(out, "1 reports (3 records) ingested"));
	free(out);
	const char *p[] = {"stdin-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 3);
}

static void test_reprocess_after_tenant_added(void **state)
{
	struct clifx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/acme.xml", c->dir);
	write_report(path, "google.com", "acme-1", "acme.example", 2);

	/* The run names a tenant that does not exist yet: a usage error (exit 2)
	 * before the input is touched — nothing stored, nothing quarantined. */
	const char *a[] = {"ingest", "--db", c->db, "--tenant", "acme", path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 2);
	const char *src[] = {path};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages WHERE source=$1", 1, src), 0);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.failures WHERE source=$1", 1, src), 0);

	/* Once the tenant exists, the same run stores the report there. */
	const char *t[] = {"tenant", "add", "--db", c->db, "acme", "acme.example", NULL};
	assert_int_equal(run_bin(t, NULL, NULL), 0);
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	assert_non_null(strstr(out, "1 reports (2 records) ingested"));
	free(out);
	const char *p[] = {"acme-1"};
	char *tenant =
	    q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "acme");
	free(tenant);
}

/* Reports for a domain nobody owns wait in 'unassigned'; once a tenant adds
 * the domain (or its organisational domain), they move to that tenant. */
static void test_unassigned_reports_move_to_new_tenant(void **state)
{
	struct clifx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/adopt.xml", c->dir);
	write_report(path, "yahoo.com", "adopt-1", "mail.adopt.co.uk", 4);
	const char *a[] = {"ingest", "--db", c->db, path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 0);
	const char *p[] = {"adopt-1"};
	char *tenant =
	    q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "unassigned");
	free(tenant);

	char *out = NULL;
	const char *l[] = {"tenant", "list", "--db", c->db, NULL};
	assert_int_equal(run_bin(l, NULL, &out), 0);
	assert_non_null(strstr(out, "reports waiting for a tenant"));
	free(out);

	const char *t[] = {"tenant", "add", "--db", c->db, "adoptco", "adopt.co.uk", NULL};
	assert_int_equal(run_bin(t, NULL, NULL), 0);
	tenant = q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "adoptco");
	free(tenant);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1 AND "
	                       "tenant='adoptco'",
	                       1, p),
	                 4);
}

static void test_database_unreachable(void **state)
{
	struct clifx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/unreach.xml", c->dir);
	write_report(path, "x.example", "unreach-1", "x.example", 1);
	const char *a[] = {"ingest", "--db",
	                   "host=/nonexistent-dir port=1 dbname=x connect_timeout=2", path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 3);
}

static void test_usage_errors(void **state)
{
	(void)state;
	const char *a[] = {"ingest", NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 2);
	const char *b[] = {"no-such-command", NULL};
	assert_int_equal(run_bin(b, NULL, NULL), 2);
	const char *h[] = {"ingest", "--help", NULL};
	char *out = NULL;
	assert_int_equal(run_bin(h, NULL, &out), 0);
	assert_non_null(strstr(out, "usage: dmarcsift ingest"));
	free(out);
}

/* Killing the process in the middle of a large report leaves no partial
 * report behind; running again ingests it whole. */
static void copy_file(const char *from, const char *to, const char *append)
{
	size_t len = 0;
	char *b = slurp(from, &len);
	FILE *f = fopen(to, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	if (append)
		fputs(append, f);
	fclose(f);
	free(b);
}

/* A directory's files share one transaction (app/drain.c): a report that
 * fails rolls back alone, the same bytes twice in one batch are a
 * duplicate, and every report lands whole. */
static void test_batch_bad_report_alone(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192], path2[192];
	snprintf(dir, sizeof dir, "%s/batch", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/a.xml", dir);
	write_report(path, "batch.example", "batch-a", "batch.example", 4);
	snprintf(path2, sizeof path2, "%s/d.xml", dir);
	copy_file(path, path2, NULL);
	snprintf(path, sizeof path, "%s/c.xml", dir);
	write_report(path, "batch.example", "batch-c", "batch.example", 6);
	/* b: its records start streaming into COPY, then the XML breaks. */
	snprintf(path, sizeof path, "%s/b.xml", dir);
	write_report(path, "batch.example", "batch-b", "batch.example", 5);
	size_t len = 0;
	char *b = slurp(path, &len);
	char *cut = strstr(b, "<record><row><source_ip>10.0.0.4");
	assert_non_null(cut);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite(b, 1, (size_t)(cut - b), f);
	fputs("<record><row><source_ip>10.0.0.4</source_ip><count>4<</</feedback>\n", f);
	fclose(f);
	free(b);

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", dir, NULL};
	char *out = NULL;
	run_bin(a, NULL, &out);
	assert_non_null(strstr(out, "1 duplicates"));
	free(out);
	const char *pa[] = {"batch-a"}, *pc[] = {"batch-c"};
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, pa), 4);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, pa), 4);
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, pc), 6);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, pc), 6);
	/* b either was salvaged whole as far as it went, or quarantined: never
	 * rows of a failed pass beside it, and its raw bytes kept either way. */
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.reports p"
	                       " ON p.tenant_id = r.tenant_id AND p.id = r.report_pk"
	                       " WHERE p.report_id = 'batch-b'",
	                       0, NULL),
	                 q_int(c->db,
	                       "SELECT coalesce(sum(records), 0) FROM dmarcsift.reports"
	                       " WHERE report_id = 'batch-b'",
	                       0, NULL));
	assert_true(q_int(c->db,
	                  "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.reports p"
	                  " ON p.tenant_id = r.tenant_id AND p.id = r.report_pk"
	                  " WHERE p.report_id = 'batch-b'",
	                  0, NULL) < 5);
	char like[160];
	snprintf(like, sizeof like, "%s/%%", dir);
	const char *pl[] = {like};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages WHERE source LIKE $1", 1, pl),
	    3);
}

/* The connection goes while a batch is open: the run exits 3 and its
 * summary counts none of the batch's reports, which the database did not
 * keep (the next run stores them). A trigger of the test's own ends the
 * run's backend on the last report of the batch. */
static void test_batch_lost_not_counted(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192];
	snprintf(dir, sizeof dir, "%s/lost", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	const char *ids[] = {"lost-a", "lost-b", "lost-c", "lost-z"};
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s.xml", dir, ids[i]);
		write_report(path, "lost.example", ids[i], "lost.example", 3);
	}
	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);
	q_exec(c->db,
	       "CREATE FUNCTION public.lose_connection() RETURNS trigger LANGUAGE plpgsql AS $$"
	       " BEGIN IF NEW.report_id = 'lost-z' THEN"
	       " PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$");
	q_exec(c->db, "CREATE TRIGGER lose BEFORE INSERT ON dmarcsift.reports FOR EACH ROW"
	              " EXECUTE FUNCTION public.lose_connection()");

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", "--no-correlate", dir, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 3);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.reports WHERE org_name = 'lost.example'",
	          0, NULL),
	    0);
	if (!strstr(out, "0 reports (0 records) ingested"))
		fail_msg("the summary counts reports the database did not keep:\n%s", out);
	free(out);

	q_exec(c->db, "DROP TRIGGER lose ON dmarcsift.reports");
	assert_int_equal(run_bin(a, NULL, &out), 0);
	assert_non_null(strstr(out, "4 reports (12 records) ingested"));
	free(out);
}

/* `dir` := a new directory of n two-record reports from NAME.example,
 * report ids NAME-000 ... in file name order. */
static void report_dir(const struct clifx *c, char *dir, size_t dirsz, const char *name, int n)
{
	char path[192], id[32], org[64];
	snprintf(dir, dirsz, "%s/%s", c->dir, name);
	snprintf(org, sizeof org, "%s.example", name);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s%03d.xml", dir, name, i);
		snprintf(id, sizeof id, "%s-%03d", name, i);
		write_report(path, org, id, org, 2);
	}
}

/* More inputs than one batch holds (200): batches take turns on the run's
 * two connections, each ended while the next fills (app/pipeline.c), and a
 * copy of the first batch's first report in a later batch (a replacement:
 * one record more) is compared with it once that batch has settled. */
static void test_batches_take_turns(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192];
	report_dir(c, dir, sizeof dir, "turn", 450);
	snprintf(path, sizeof path, "%s/zz-copy.xml", dir);
	write_report(path, "turn.example", "turn-000", "turn.example", 3);
	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);
	/* Which backend stored each report's row. */
	q_exec(c->db, "CREATE TABLE public.turn_pids (pid integer);"
	              " CREATE FUNCTION public.note_pid() RETURNS trigger LANGUAGE plpgsql AS $$"
	              " BEGIN INSERT INTO public.turn_pids VALUES (pg_backend_pid()); RETURN NULL;"
	              " END $$;"
	              " CREATE TRIGGER note_pid AFTER INSERT ON dmarcsift.reports FOR EACH ROW"
	              " EXECUTE FUNCTION public.note_pid()");

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", "--no-correlate", dir, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	if (!strstr(out, "450 reports (903 records) ingested") || !strstr(out, "1 replaced"))
		fail_msg("%s", out);
	free(out);
	q_exec(c->db, "DROP TRIGGER note_pid ON dmarcsift.reports");
	assert_int_equal(q_int(c->db, "SELECT count(DISTINCT pid) FROM public.turn_pids", 0, NULL),
	                 2);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.reports WHERE org_name = 'turn.example'",
	          0, NULL),
	    450);
	assert_int_equal(q_int(c->db,
	                       "SELECT records FROM dmarcsift.reports WHERE report_id = 'turn-000'",
	                       0, NULL),
	                 3);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.reports p"
	                       " ON p.tenant_id = r.tenant_id AND p.id = r.report_pk"
	                       " WHERE p.org_name = 'turn.example'",
	                       0, NULL),
	                 901);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE status <> 'ok'",
	                       0, NULL),
	                 0);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 0);
}

/* The first batch fails at its COMMIT after the run went on with the next
 * one: both are lost, the summary counts neither, and the next run stores
 * everything. */
static void test_sent_batch_lost(void **state)
{
	struct clifx *c = *state;
	char dir[128];
	report_dir(c, dir, sizeof dir, "sent", 260);
	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);
	q_exec(c->db,
	       "CREATE FUNCTION public.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
	       " BEGIN IF NEW.report_id = 'sent-000' THEN"
	       " RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$;"
	       " CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON dmarcsift.reports"
	       " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
	       " EXECUTE FUNCTION public.refuse_commit()");

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", "--no-correlate", dir, NULL};
	char both[200];
	snprintf(both, sizeof both, "%s/sent.out", c->dir);
	int fd = open(both, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_not_equal(run_wait(run_spawn(a, NULL, fd, true)), 0);
	close(fd);
	char *out = slurp(both, NULL);
	if (!strstr(out, "0 reports (0 records) ingested") || !strstr(out, "refused at commit"))
		fail_msg("%s", out);
	free(out);
	const char *n_sql =
	    "SELECT count(*) FROM dmarcsift.reports WHERE org_name = 'sent.example'";
	assert_int_equal(q_int(c->db, n_sql, 0, NULL), 0);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.failures", 0, NULL), 0);

	q_exec(c->db, "DROP TRIGGER refuse ON dmarcsift.reports");
	assert_int_equal(run_bin(a, NULL, &out), 0);
	if (!strstr(out, "260 reports (520 records) ingested"))
		fail_msg("%s", out);
	free(out);
	assert_int_equal(q_int(c->db, n_sql, 0, NULL), 260);
}

/* Copies of one report in one batch: each is compared with the stored copy
 * alone, not with the staged records of the copy before it (a savepoint's
 * release empties no ON COMMIT DELETE ROWS table). */
static void test_batch_copies_of_one_report(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192], path2[192];
	snprintf(dir, sizeof dir, "%s/copies", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/x1.xml", dir);
	write_report(path, "copies.example", "copies-1", "copies.example", 3);
	snprintf(path2, sizeof path2, "%s/x2.xml", dir);
	copy_file(path, path2, "\n\n"); /* other bytes, the same records */
	snprintf(path, sizeof path, "%s/x3.xml", dir);
	write_report(path, "copies.example", "copies-1", "copies.example", 4); /* and one more */

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", dir, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	free(out);
	const char *p[] = {"copies-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 1);
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 4);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, p), 4);
	assert_int_equal(
	    q_int(c->db, "SELECT sum(count) FROM dmarcsift.v_records WHERE report_id=$1", 1, p),
	    10);
}

/* Reports the server refuses inside a batch, each sent with its savepoint
 * in one round trip: a report row a constraint rejects, and a record one
 * rejects. Each rolls back alone and is quarantined with what the server
 * said; the reports around them are stored whole. */
static void test_batch_server_refuses_report(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192], like[160];
	snprintf(dir, sizeof dir, "%s/refused", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	const char *names[] = {"r1", "r2", "r3", "r4"};
	for (int i = 0; i < 4; i++) {
		char id[32];
		snprintf(path, sizeof path, "%s/%s.xml", dir, names[i]);
		snprintf(id, sizeof id, "refused-%d", i + 1);
		write_report(path, "refused.example", id, "refused.example", 3);
	}
	/* r4's second record comes from an address the records refuse. */
	snprintf(path, sizeof path, "%s/r4.xml", dir);
	size_t len = 0;
	char *b = slurp(path, &len);
	char *ip = strstr(b, "10.0.0.2<");
	assert_non_null(ip);
	memcpy(ip, "10.9.9.9", 8);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
	free(b);
	q_exec(c->db, "ALTER TABLE dmarcsift.reports ADD CONSTRAINT test_refused"
	              " CHECK (report_id <> 'refused-2');"
	              " ALTER TABLE dmarcsift.records ADD CONSTRAINT test_refused"
	              " CHECK (source_ip <> '10.9.9.9'::inet)");

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", dir, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 1); /* some quarantined */
	assert_non_null(strstr(out, "2 reports (6 records) ingested, 0 duplicates, 2 quarantined"));
	free(out);
	q_exec(c->db, "ALTER TABLE dmarcsift.reports DROP CONSTRAINT test_refused;"
	              " ALTER TABLE dmarcsift.records DROP CONSTRAINT test_refused");
	const char *whole =
	    "SELECT count(*) FROM dmarcsift.reports p WHERE p.org_name = 'refused.example'"
	    " AND p.records = 3 AND p.messages = 6 AND (SELECT count(*) FROM dmarcsift.records r"
	    " WHERE r.tenant_id = p.tenant_id AND r.report_pk = p.id) = 3";
	assert_int_equal(q_int(c->db, whole, 0, NULL), 2);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.reports"
	                       " WHERE org_name = 'refused.example'"
	                       " AND report_id IN ('refused-1', 'refused-3')",
	                       0, NULL),
	                 2);
	snprintf(like, sizeof like, "%s/%%", dir);
	const char *pl[] = {like};
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.failures WHERE source LIKE $1"
	                       " AND resolved_at IS NULL AND stage = 'store'"
	                       " AND reason LIKE '%storing report%test_refused%'",
	                       1, pl),
	                 2);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages WHERE source LIKE $1", 1, pl),
	    4);
}

/* A batch sets its inputs' raw status at its commit, in one statement: an
 * input quarantined before and stored now is 'ok' with its failure closed,
 * and every input of the batch is 'ok'. */
static void test_batch_status_at_commit(void **state)
{
	struct clifx *c = *state;
	char dir[128], path[192], like[160];
	snprintf(dir, sizeof dir, "%s/status", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/s1.xml", dir);
	write_report(path, "status.example", "status-1", "status.example", 2);
	const char *a1[] = {"ingest", "--db", c->db, "--no-resolve", path, NULL};
	assert_int_equal(run_bin(a1, NULL, NULL), 0);
	/* As if it had been quarantined: its status and an open failure. */
	const char *src[] = {path};
	assert_int_equal(
	    q_int(c->db,
	          "WITH m AS (UPDATE dmarcsift.raw_messages SET status = 'quarantined'"
	          " WHERE source = $1 RETURNING sha256, source),"
	          " f AS (INSERT INTO dmarcsift.failures (sha256, source, stage, reason)"
	          " SELECT sha256, source, 'store', 'a test' FROM m RETURNING 1)"
	          " SELECT count(*) FROM f",
	          1, src),
	    1);
	snprintf(path, sizeof path, "%s/s2.xml", dir);
	write_report(path, "status.example", "status-2", "status.example", 3);
	snprintf(path, sizeof path, "%s/s3.xml", dir);
	write_report(path, "status.example", "status-3", "status.example", 4);

	const char *a[] = {"ingest", "--db", c->db, "--no-resolve", dir, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	assert_non_null(strstr(out, "2 reports (7 records) ingested, 1 duplicates, 0 quarantined"));
	free(out);
	snprintf(like, sizeof like, "%s/%%", dir);
	const char *pl[] = {like};
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages"
	                       " WHERE source LIKE $1 AND status = 'ok'",
	                       1, pl),
	                 3);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.failures"
	                       " WHERE source LIKE $1 AND resolved_at IS NULL",
	                       1, pl),
	                 0);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.failures"
	                       " WHERE source LIKE $1 AND resolved_at IS NOT NULL",
	                       1, pl),
	                 1);
}

/* Once `holders` backends of the run hold the tenant_domains lock that
 * every batch takes, the run is killed with SIGKILL; returns when the
 * server has noticed the dead client and its open transactions are gone. */
static void kill_while_locked(const struct clifx *c, pid_t pid, int holders)
{
	int seen = 0;
	for (int i = 0; i < 3000 && !seen; i++) {
		seen = q_int(c->db,
		             "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_class r"
		             " ON r.oid = l.relation WHERE r.relname = 'tenant_domains'"
		             " AND l.mode = 'ShareLock' AND l.pid <> pg_backend_pid()",
		             0, NULL) >= holders;
		if (!seen)
			nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
	}
	assert_true(seen);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	for (int i = 0; i < 500; i++) {
		if (q_int(c->db,
		          "SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation"
		          " WHERE r.relname = 'tenant_domains' AND l.pid <> pg_backend_pid()",
		          0, NULL) == 0)
			break;
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
}

/* After a kill -9: the reports of `org` that committed are whole (`records`
 * records each), fewer than `n`; `rerun` then stores the rest and counts
 * those as duplicates, and all `n` are whole. */
static void expect_whole_then_rest(const struct clifx *c, const char *org, int records, int n,
                                   const char *const *rerun)
{
	char rec[16];
	snprintf(rec, sizeof rec, "%d", records);
	const char *params[2] = {org, rec};
	const char *whole =
	    "SELECT count(*) FROM dmarcsift.reports p WHERE p.org_name = $1"
	    " AND p.records = $2::integer AND (SELECT count(*) FROM dmarcsift.records r"
	    " WHERE r.tenant_id = p.tenant_id AND r.report_pk = p.id) = $2::integer";
	const char *all = "SELECT count(*) FROM dmarcsift.reports WHERE org_name = $1";
	int64_t before = q_int(c->db, all, 1, params);
	assert_int_equal(q_int(c->db, whole, 2, params), before);
	assert_true(before < n);

	char *out = NULL;
	assert_int_equal(run_bin(rerun, NULL, &out), 0);
	char want[96];
	snprintf(want, sizeof want, "%d reports (%d records) ingested, %d duplicates",
	         n - (int)before, records * (n - (int)before), (int)before);
	if (!strstr(out, want))
		fail_msg("want '%s':\n%s", want, out);
	free(out);
	assert_int_equal(q_int(c->db, all, 1, params), n);
	assert_int_equal(q_int(c->db, whole, 2, params), n);
}

/* Killed while a batch is open (its reports parsed and sent, not
 * committed): whatever committed before is whole, nothing else is there,
 * and the next run stores the rest. */
static void test_batch_killed(void **state)
{
	struct clifx *c = *state;
	enum { N = 150 };
	char dir[128], path[192];
	snprintf(dir, sizeof dir, "%s/killed", c->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = 0; i < N; i++) {
		char id[32];
		snprintf(path, sizeof path, "%s/k%03d.xml", dir, i);
		snprintf(id, sizeof id, "killed-%03d", i);
		write_report(path, "killed.example", id, "killed.example", 5);
	}
	const char *a[] = {"ingest", "--db", c->db, "--quiet", "--no-resolve", dir, NULL};
	pid_t pid = run_bin_async(a);
	/* An open batch holds the tenant_domains lock of its reports. */
	kill_while_locked(c, pid, 1);
	const char *b[] = {"ingest", "--db", c->db, "--no-resolve", dir, NULL};
	expect_whole_then_rest(c, "killed.example", 5, N, b);
}

/* kill -9 while a batch's end is on its way (its move slowed down here)
 * and the next batch is open: the sent batch commits or not, whole, the
 * open one rolls back, and the next run stores the rest and counts the
 * others as duplicates. */
static void test_killed_in_flight(void **state)
{
	struct clifx *c = *state;
	enum { N = 450 };
	char dir[128];
	report_dir(c, dir, sizeof dir, "flight", N);
	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);
	q_exec(c->db, "CREATE FUNCTION public.slow_move() RETURNS trigger LANGUAGE plpgsql AS $$"
	              " BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;"
	              " CREATE TRIGGER slow_move AFTER INSERT ON dmarcsift.records"
	              " FOR EACH STATEMENT EXECUTE FUNCTION public.slow_move()");
	const char *a[] = {"ingest",       "--db",           c->db, "--quiet",
	                   "--no-resolve", "--no-correlate", dir,   NULL};
	pid_t pid = run_bin_async(a);
	/* Two backends hold the batches' lock: one batch sent, one open. */
	kill_while_locked(c, pid, 2);
	q_exec(c->db, "DROP TRIGGER slow_move ON dmarcsift.records");
	expect_whole_then_rest(c, "flight.example", 2, N, a);
}

static void test_killed_mid_report(void **state)
{
	struct clifx *c = *state;
	const long n = 300000;
	char path[128];
	snprintf(path, sizeof path, "%s/big.xml", c->dir);
	write_report(path, "big.example", "big-1", "big.example", n);

	const char *a[] = {"ingest", "--db", c->db, "--quiet", path, NULL};
	pid_t pid = run_bin_async(a);
	/* Wait until its COPY is running, then kill it without warning. */
	int seen = 0;
	for (int i = 0; i < 2000 && !seen; i++) {
		seen = q_int(c->db,
		             "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY "
		             "dmarcsift.records%'",
		             0, NULL) > 0;
		if (!seen) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	assert_true(seen);
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));

	const char *p[] = {"big-1"};
	/* The server notices the dead client; its transaction rolls back. */
	int64_t partial = -1;
	for (int i = 0; i < 500 && partial != 0; i++) {
		partial =
		    q_int(c->db,
		          "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.reports p "
		          "ON p.tenant_id=r.tenant_id AND p.id=r.report_pk WHERE p.report_id=$1",
		          1, p);
		if (partial != 0)
			nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	assert_int_equal(partial, 0);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 0);

	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	free(out);
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), n);
	assert_int_equal(
	    q_int(c->db, "SELECT messages FROM dmarcsift.v_reports WHERE report_id=$1", 1, p),
	    n * (n + 1) / 2);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, p), n);

	/* A file this large is streamed into the raw store; what is kept is the
	 * whole file, byte for byte. */
	size_t len = 0;
	char *bytes = slurp(path, &len);
	const char *src[] = {path};
	assert_int_equal(
	    q_int(c->db, "SELECT size FROM dmarcsift.raw_messages WHERE source=$1", 1, src), len);
	char *sha =
	    q_str(c->db, "SELECT sha256 FROM dmarcsift.raw_messages WHERE source=$1", 1, src);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "sha256sum '%s' | cut -c1-64 > '%s/sum'", path, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/sum", c->dir);
	char *sum = slurp(cmd, NULL);
	sum[64] = '\0';
	assert_string_equal(sha, sum);
	/* Stored as received (the column compresses it on the server). */
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE source=$1"
	                       " AND encoding = 'identity' AND length(data) = size",
	                       1, src),
	                 1);
	assert_true(q_int(c->db,
	                  "SELECT pg_column_size(data) FROM dmarcsift.raw_messages WHERE source=$1",
	                  1, src) < (int64_t)len / 4);
	free(sum);
	free(sha);
	free(bytes);
}

/* A file of 4 MiB or more has its raw bytes stored on the second
 * connection (app/raw_aside.h): by a thread started when the
 * records' COPY is sent, or, for an input that never gets to a COPY, at its
 * end. Either way they are all kept, byte for byte, and the input's status
 * set after them: the report stored, the non-report quarantined. */
static void test_big_file_raw_aside(void **state)
{
	struct clifx *c = *state;
	/* Over 16 MiB each: only files that large are streamed from their file
	 * descriptor (sources/from_files.c) and so go aside; smaller ones are
	 * read whole and stored before they are parsed. */
	const long n = 90000;
	char path[128], bad[128], noise[128];
	snprintf(path, sizeof path, "%s/aside.xml", c->dir);
	write_report(path, "aside.example", "aside-1", "aside.example", n);
	snprintf(bad, sizeof bad, "%s/aside-bad.xml", c->dir);
	FILE *f = fopen(bad, "w");
	assert_non_null(f);
	for (int i = 0; i < 300000; i++)
		fprintf(f, "line %06d of something that is not a DMARC report at all\n", i);
	fclose(f);
	/* And a big gzip file whose content is not XML. */
	snprintf(noise, sizeof noise, "%s/aside-noise.gz", c->dir);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "head -c 17M /dev/urandom | gzip -1 > '%s'", noise);
	assert_int_equal(system(cmd), 0);

	const char *a[] = {"ingest", "--db", c->db, "--json", path, bad, noise, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 1);
	assert_non_null(strstr(out, "\"reports\":1"));
	assert_non_null(strstr(out, "\"quarantined\":2"));
	free(out);

	const char *p[] = {"aside-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), n);
	static const char kept[] =
	    "SELECT status || ' ' || encoding || ' ' || (length(data) = size)::text || ' ' ||"
	    " (encode(sha256(data), 'hex') = sha256)::text || ' ' || size"
	    " FROM dmarcsift.raw_messages WHERE source = $1";
	const char *files[][2] = {{path, "ok"}, {bad, "quarantined"}, {noise, "quarantined"}};
	for (int i = 0; i < 3; i++) {
		char want[96];
		struct stat st;
		assert_int_equal(stat(files[i][0], &st), 0);
		assert_true(st.st_size > 16 << 20);
		const char *src[] = {files[i][0]};
		char *got = q_str(c->db, kept, 1, src);
		snprintf(want, sizeof want, "%s identity true true %lld", files[i][1],
		         (long long)st.st_size);
		assert_string_equal(got, want);
		free(got);
	}

	/* All again: known, nothing stored twice (the bad ones are tried and
	 * quarantined again). */
	assert_int_equal(run_bin(a, NULL, &out), 1);
	free(out);
	assert_int_equal(q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages", 0, NULL), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_summary_json_and_duplicates),
	    cmocka_unit_test(test_stdin),
	    cmocka_unit_test(test_reprocess_after_tenant_added),
	    cmocka_unit_test(test_unassigned_reports_move_to_new_tenant),
	    cmocka_unit_test(test_database_unreachable),
	    cmocka_unit_test(test_killed_mid_report),
	    cmocka_unit_test_setup_teardown(test_big_file_raw_aside, clifx_setup, clifx_teardown),
	    cmocka_unit_test(test_batch_bad_report_alone),
	    cmocka_unit_test(test_batch_copies_of_one_report),
	    cmocka_unit_test(test_batch_killed),
	    cmocka_unit_test(test_batch_lost_not_counted),
	    cmocka_unit_test(test_batches_take_turns),
	    cmocka_unit_test(test_sent_batch_lost),
	    cmocka_unit_test(test_killed_in_flight),
	    cmocka_unit_test(test_batch_status_at_commit),
	    cmocka_unit_test(test_batch_server_refuses_report),
	};
	return cmocka_run_group_tests(tests, clifx_setup, clifx_teardown);
}
