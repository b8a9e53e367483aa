/*
 * The configuration file: a complete valid file, every kind of mistake
 * reported with its line and the problem, secrets read only on demand and
 * never printed by `dmarcsift config check`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/config.h"
#include "core/hostmap.h"
#include "core/xalloc.h"
#include "tests/support/mailtest.h"
#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char valid[] = "; comment\n"
                            "# another\n"
                            "[database]\n"
                            "url = postgresql://dmarc@db.example.com/dmarcsift\n"
                            "\n"
                            "[mailbox client-a]\n"
                            "url = imaps://imap.example.com/INBOX\n"
                            "user = rua@client-a.example\n"
                            "password_env = CLIENT_A_PASSWORD\n"
                            "tenant = client-a\n"
                            "processed_folder = Reports/done\n"
                            "insecure_skip_verify = yes\n"
                            "\n"
                            "[mailbox o365]\n"
                            "url = imaps://outlook.office365.com:993/INBOX\n"
                            "user = dmarc@example.org\n"
                            "oauth2_token_command = printf 'tok123\\n'\n"
                            "\n"
                            "[mailbox local]\n"
                            "url = maildir:/var/mail/dmarc\n"
                            "\n"
                            "[mailbox archive]\n"
                            "url = mbox:/var/mail/rua.mbox\n";

static void test_valid(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	struct err e = {0};
	assert_int_equal(config_load_string(&cfg, "valid.conf", valid, &e), 0);
	for (size_t i = 0; i < cfg->n_errors; i++)
		printf("unexpected: %s\n", cfg->errors[i]);
	assert_true(config_ok(cfg));
	assert_string_equal(cfg->db_url, "postgresql://dmarc@db.example.com/dmarcsift");
	assert_int_equal(cfg->n_mailboxes, 4);
	const struct config_mailbox *a = config_mailbox_find(cfg, "client-a");
	assert_non_null(a);
	assert_int_equal(a->line, 6);
	assert_int_equal(a->kind, CONFIG_MAILBOX_IMAP);
	assert_string_equal(a->user, "rua@client-a.example");
	assert_string_equal(a->tenant, "client-a");
	assert_string_equal(a->processed_folder, "Reports/done");
	assert_string_equal(a->failed_folder, CONFIG_DEFAULT_FAILED);
	assert_true(a->insecure_skip_verify);
	/* insecure_skip_verify on is loud: a warning naming the line. */
	assert_int_equal(cfg->n_warnings >= 1, 1);
	bool warned = false;
	for (size_t i = 0; i < cfg->n_warnings; i++)
		warned |=
		    strstr(cfg->warnings[i], "valid.conf:12: insecure_skip_verify is on") != NULL;
	assert_true(warned);
	const struct config_mailbox *l = config_mailbox_find(cfg, "local");
	assert_int_equal(l->kind, CONFIG_MAILBOX_MAILDIR);
	assert_string_equal(l->path, "/var/mail/dmarc");
	assert_false(l->folders_configured);
	const struct config_mailbox *m = config_mailbox_find(cfg, "archive");
	assert_int_equal(m->kind, CONFIG_MAILBOX_MBOX);
	assert_string_equal(m->path, "/var/mail/rua.mbox");

	/* Secrets: from the environment, from a command. */
	char *pw = NULL, *tok = NULL;
	setenv("CLIENT_A_PASSWORD", "env-secret", 1);
	assert_int_equal(config_mailbox_secret(a, &pw, &tok, &e), 0);
	assert_string_equal(pw, "env-secret");
	assert_null(tok);
	config_secret_free(pw);
	unsetenv("CLIENT_A_PASSWORD");
	assert_int_equal(config_mailbox_secret(a, &pw, &tok, &e), -1);
	assert_non_null(strstr(e.msg, "CLIENT_A_PASSWORD"));
	err_clear(&e);
	const struct config_mailbox *o = config_mailbox_find(cfg, "o365");
	assert_int_equal(config_mailbox_secret(o, &pw, &tok, &e), 0);
	assert_null(pw);
	assert_string_equal(tok, "tok123");
	config_secret_free(tok);
	config_free(cfg);
}

struct bad_case {
	const char *text;
	const char *expect; /* substring of one error, with the line */
};

static const struct bad_case bad_cases[] = {
    {"[mailbox a]\nurl = ftp://x/\n", "t.conf:2: url: unknown scheme 'ftp'"},
    {"[mailbox a]\nurl = imaps://ho st:99999/INBOX\n", "t.conf:2: url is not a valid URL"},
    {"[mailbox a]\nurl = maildir:relative/path\n", "t.conf:2: url 'maildir:relative/path': the "
                                                   "path must be absolute"},
    {"[mailbox a]\nurl = maildir:/m\npasword_file = /x\n", "t.conf:3: unknown key 'pasword_file'"},
    {"[mailbox a]\nurl = maildir:/m\nurl = maildir:/n\n", "t.conf:3: 'url' given twice"},
    {"[mailbox a]\nurl = maildir:/m\n[mailbox a]\nurl = maildir:/n\n",
     "t.conf:3: mailbox 'a' defined twice"},
    {"[mailbox]\nurl = maildir:/m\n", "t.conf:1: [mailbox] needs a name"},
    {"[mailbox a b]\nurl = maildir:/m\n", "t.conf:1: mailbox name 'a b' may only contain"},
    {"\n[mailbox a]\nuser = x\n", "t.conf:2: [mailbox a] has no url"},
    {"[mailbox a]\nurl = imaps://h/INBOX\npassword_env = P\n", "t.conf:1: [mailbox a] is IMAP "
                                                               "and needs 'user'"},
    {"[mailbox a]\nurl = imaps://h/INBOX\nuser = u\n", "t.conf:1: [mailbox a] needs one of "
                                                       "password_file"},
    {"[mailbox a]\nurl = imaps://h/INBOX\nuser = u\npassword_env = P\noauth2_token_command = x\n",
     "t.conf:1: [mailbox a] gives more than one of"},
    {"[mailbox a]\nurl = imaps://h/INBOX\nuser = u\npassword_file = /nonexistent/pw\n",
     "password_file '/nonexistent/pw' cannot be read"},
    {"[mailbox a]\nurl = imaps://h/\nuser = u\npassword_env = P\ninsecure_skip_verify = maybe\n",
     "t.conf:5: insecure_skip_verify = 'maybe': expected yes/no"},
    {"[mailbox a]\nurl = imaps://h/\nuser = u\npassword_env = P\ntls_ca_file = /nonexistent.pem\n",
     "t.conf:5: tls_ca_file '/nonexistent.pem' cannot be read"},
    {"[mailbox a]\nurl = maildir:/m\nuser = u\n", "t.conf:1: [mailbox a] is a Maildir: user, "
                                                  "password and oauth2 keys do not apply"},
    {"[mailbox a]\nurl = mbox:/m\nprocessed_folder = x\n", "t.conf:1: [mailbox a] is an mbox"},
    {"[mailbox a]\nurl = maildir:/m\nprocessed_folder = x\nfailed_folder = x\n",
     "t.conf:1: [mailbox a]: processed_folder and failed_folder are the same"},
    {"[database]\nurl = x\nhost = y\n", "t.conf:3: unknown key 'host' in [database]"},
    {"[databse]\nurl = x\n", "t.conf:1: unknown section [databse]"},
    {"[correlate]\nfail_below = 120\n", "t.conf:2: fail_below = '120': expected a percentage"},
    {"[correlate]\nfail_below = 95\npass_at = 90\n", "t.conf:3: pass_at (90 %) is below "
                                                     "fail_below (95 %)"},
    {"[correlate]\nmin_messages = 0\n", "t.conf:2: min_messages = '0': expected a whole number"},
    {"[correlate]\nthreshold = 3\n", "t.conf:2: unknown key 'threshold' in [correlate]"},
    {"[mta-hosts]\nmail1 = 198.51.100.300\n",
     "t.conf:2: [mta-hosts]: host mail1: '198.51.100.300' is not an IP address"},
    {"[database]\n", "t.conf:1: section [database] has no keys"},
    {"[mailbox a]\nurl = maildir:/m\nthis is not a key value line\n", "t.conf:3: syntax error"},
    {"[mailbox a]\nurl = maildir:/m\ntenant =\n", "t.conf:3: 'tenant' is empty"},
    {"key = value\n", "t.conf:1: unknown section []"},
    {"[dns]\nserver = 127.0.0.1\n", "t.conf:2: unknown key 'server' in [dns]"},
    {"[dns]\ntimeout = soon\n", "t.conf:2: timeout = 'soon': expected a duration"},
    {"[dns]\nbudget = 0\n", "t.conf:2: budget = '0': expected a duration"},
    {"[dns]\ntries = 11\n", "t.conf:2: tries = '11': expected a number from 1 to 10"},
    {"[dns]\nservers =\n", "t.conf:2: 'servers' is empty"},
    {"[dns]\ntries = 1\n[dns]\ntries = 2\n", "t.conf:3: [dns] given twice"},
    {"[sources]\nmmdb = /nonexistent.mmdb\n", "t.conf:2: mmdb '/nonexistent.mmdb' cannot be read"},
    {"[sources]\ngeoip = x\n", "t.conf:2: unknown key 'geoip' in [sources]"},
    {"[sources]\n", "t.conf:1: section [sources] has no keys"},
    /* an empty [tenants] was once called an unknown section */
    {"[tenants]\n", "t.conf:1: section [tenants] has no keys"},
    /* a key twice is an error in every section (in [dns] the last one won) */
    {"[dns]\ntries = 1\ntries = 2\n", "t.conf:3: 'tries' given twice in [dns]"},
    {"[mailbox a]\nurl = maildir:/m\nretry_backoff = 1h\n",
     "t.conf:3: retry_backoff = '1h': expected a delay"},
};

static void test_dns_sources(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	struct err e = {0};
	const char *text = "[dns]\nservers = 127.0.0.1:5353,[::1]:53\ntimeout = 500ms\ntries = 3\n"
	                   "budget = 1m\norigin_zone =\nasname_zone = asn.example\n"
	                   "[sources]\nservices = /dev/null\n";
	assert_int_equal(config_load_string(&cfg, "t.conf", text, &e), 0);
	for (size_t j = 0; j < cfg->n_errors; j++)
		printf("  got: %s\n", cfg->errors[j]);
	assert_true(config_ok(cfg));
	assert_string_equal(cfg->dns.servers, "127.0.0.1:5353,[::1]:53");
	assert_int_equal(cfg->dns.timeout_ms, 500);
	assert_int_equal(cfg->dns.tries, 3);
	assert_int_equal(cfg->dns.budget_s, 60);
	/* Empty turns ASN lookups off: kept as "", not as unset. */
	assert_string_equal(cfg->dns.origin_zone, "");
	assert_null(cfg->dns.origin6_zone);
	assert_string_equal(cfg->dns.asname_zone, "asn.example");
	assert_string_equal(cfg->sources_services, "/dev/null");
	assert_null(cfg->sources_mmdb);
	config_free(cfg);
}

static void test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct config *cfg = NULL;
		struct err e = {0};
		assert_int_equal(config_load_string(&cfg, "t.conf", bad_cases[i].text, &e), 0);
		bool found = false;
		for (size_t j = 0; j < cfg->n_errors; j++)
			found |= strstr(cfg->errors[j], bad_cases[i].expect) != NULL;
		if (!found) {
			for (size_t j = 0; j < cfg->n_errors; j++)
				printf("  got: %s\n", cfg->errors[j]);
			fail_msg("case %zu: no error containing \"%s\"", i, bad_cases[i].expect);
		}
		assert_false(config_ok(cfg));
		config_free(cfg);
	}
}

static void test_correlate_sections(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	struct err e = {0};
	static const char text[] = "[correlate]\n"
	                           "fail_below = 85%\n"
	                           "pass_at = 99.5\n"
	                           "min_messages = 50\n"
	                           "resolve_days = 3\n"
	                           "[mta-hosts]\n"
	                           "mail1.example.net = 198.51.100.7, 2001:db8::7\n"
	                           "mail2.example.net = 198.51.100.8\n";
	assert_int_equal(config_load_string(&cfg, "c.conf", text, &e), 0);
	for (size_t i = 0; i < cfg->n_errors; i++)
		printf("unexpected: %s\n", cfg->errors[i]);
	assert_true(config_ok(cfg));
	assert_true(cfg->correlate.fail_below > 0.8499 && cfg->correlate.fail_below < 0.8501);
	assert_true(cfg->correlate.pass_at > 0.9949 && cfg->correlate.pass_at < 0.9951);
	assert_int_equal(cfg->correlate.min_messages, 50);
	assert_int_equal(cfg->correlate.resolve_days, 3);
	assert_string_equal(hostmap_lookup(cfg->mta_hosts, "mail1", 6), "2001:db8::7");
	assert_string_equal(hostmap_lookup(cfg->mta_hosts, "mail2.example.net", 0), "198.51.100.8");
	config_free(cfg);
	/* no file: the defaults */
	assert_int_equal(config_load(&cfg, NULL, &e), 0);
	assert_true(cfg->correlate.fail_below > 0.8999 && cfg->correlate.fail_below < 0.9001);
	assert_int_equal(cfg->correlate.min_messages, 10);
	assert_int_equal(cfg->correlate.resolve_days, 7);
	assert_null(cfg->mta_hosts);
	config_free(cfg);
}

static void test_long_line(void **state)
{
	(void)state;
	char *text = xmalloc(2000);
	memset(text, 0, 2000);
	snprintf(text, 2000, "[mailbox a]\nurl = maildir:/m\ntenant = ");
	size_t n = strlen(text);
	memset(text + n, 'x', 1000);
	text[n + 1000] = '\n';
	struct config *cfg = NULL;
	struct err e = {0};
	assert_int_equal(config_load_string(&cfg, "t.conf", text, &e), 0);
	assert_int_equal(cfg->n_errors, 1);
	assert_non_null(strstr(cfg->errors[0], "t.conf:3: line too long"));
	config_free(cfg);
	free(text);
}

/* `dmarcsift config check`: summary without the secret; errors with lines. */
/* A secret file that is empty names the section it belongs to ([smtp] was
 * once called "[mailbox smtp]"). */
static void test_secret_names_its_section(void **state)
{
	(void)state;
	char *dir = mt_tmpdir("config-secret");
	char *empty = mt_write_file(dir, "empty", "");
	char *out = NULL;
	struct err e = {0};
	assert_int_equal(config_read_secret("smtp", empty, NULL, &out, &e), -1);
	assert_null(out);
	assert_string_equal(e.msg, "the secret file of [smtp] is empty");
	char *one = mt_write_file(dir, "one", "s3cret\r\nsecond line\n");
	assert_int_equal(config_read_secret("notify", one, NULL, &out, &e), 0);
	assert_string_equal(out, "s3cret");
	config_secret_free(out);
	free(one);
	free(empty);
	free(dir);
}

static void test_config_check_command(void **state)
{
	(void)state;
	char *dir = mt_tmpdir("config");
	const char *secret = "Hunter2-NotToBePrinted";
	char *pwline = xasprintf("%s\n", secret);
	char *pw = mt_write_file(dir, "pw", pwline);
	char *text = xasprintf("[mailbox rua]\nurl = imaps://imap.example.com/INBOX\n"
	                       "user = rua@example.com\npassword_file = %s\n",
	                       pw);
	char *good = mt_write_file(dir, "good.conf", text);
	const char *args[] = {"config", "check", "--config", good, NULL};
	char *out = NULL;
	assert_int_equal(mt_run(args, &out), 0);
	assert_non_null(strstr(out, "[mailbox rua] IMAP mailbox imaps://imap.example.com/INBOX"));
	assert_non_null(strstr(out, "********"));
	assert_null(strstr(out, secret));
	free(out);

	char *bad = mt_write_file(dir, "bad.conf",
	                          "[mailbox rua]\nurl = imaps://h/\nuser = u\n"
	                          "password_file = /nonexistent\nbogus = 1\n");
	const char *args2[] = {"config", "check", "--config", bad, NULL};
	assert_int_equal(mt_run(args2, &out), 2);
	char *want = xasprintf("%s:5: unknown key 'bogus'", bad);
	assert_non_null(strstr(out, want));
	free(want);
	free(out);

	const char *args3[] = {"config", "check", "--config", "/nonexistent/dmarcsift.conf", NULL};
	assert_int_equal(mt_run(args3, &out), 2);
	assert_non_null(strstr(out, "cannot read config file /nonexistent/dmarcsift.conf"));
	free(out);

	/* poll refuses a broken configuration before touching anything. */
	const char *args4[] = {"poll", "--config", bad, "--db", "host=/nonexistent", NULL};
	assert_int_equal(mt_run(args4, &out), 2);
	assert_non_null(strstr(out, ":5: unknown key 'bogus'"));
	free(out);

	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(text);
	free(good);
	free(bad);
	free(pw);
	free(pwline);
	free(dir);
}

/* `config check` finds what poll would fail on, beyond the syntax: paths
 * that are not there, tenants the database does not know; it warns about a
 * password others can read, and names the database without its password. */
static void test_config_check_findings(void **state)
{
	(void)state;
	char *db = NULL;
	assert_int_equal(testdb_create(&db), 0);
	const char *add[] = {"tenant", "add", "acme", "acme.example", "--db", db, NULL};
	assert_int_equal(run_bin(add, NULL, NULL), 0);

	char *dir = mt_tmpdir("config-findings");
	char *md = xasprintf("%s/Maildir", dir);
	assert_int_equal(mkdir(md, 0755), 0);
	char *sub = xasprintf("%s/new", md);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	sub = xasprintf("%s/cur", md);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	char *mbox = mt_write_file(dir, "mbox", "");
	char *text = xasprintf("[mailbox good]\nurl = maildir:%s\ntenant = acme\n\n"
	                       "[mailbox gone]\nurl = maildir:%s/nowhere\n\n"
	                       "[mailbox notmd]\nurl = maildir:%s\n\n"
	                       "[mailbox box]\nurl = mbox:%s\ntenant = nosuch\n\n"
	                       "[mailbox nobox]\nurl = mbox:%s/nobox\n",
	                       md, dir, dir, mbox, dir);
	char *conf = mt_write_file(dir, "f.conf", text);
	const char *chk[] = {"config", "check", "--config", conf, "--db", db, NULL};
	char *out = NULL;
	assert_int_equal(mt_run(chk, &out), 2);
	const char *want[] = {
	    ":6: [mailbox gone] Maildir ",
	    "/nowhere is not a directory",
	    ":9: [mailbox notmd] ",
	    " is not a Maildir (no cur/ and new/)",
	    ":11: [mailbox box] tenant 'nosuch' is not in the database",
	    ":16: [mailbox nobox] mbox file ",
	    "/nobox is not there",
	    "f.conf: 4 problems that poll would fail on",
	    "(from --db)",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(out, want[i]))
			fail_msg("config check: wanted '%s' in:\n%s", want[i], out);
	assert_null(strstr(out, "tenant 'acme'"));
	assert_null(strstr(out, ": ok\n"));
	free(out);
	free(text);
	free(conf);

	/* All well: ok, and the database named without its password. */
	text = xasprintf("[database]\nurl = %s password=Hunter2-NotShown\n\n"
	                 "[mailbox good]\nurl = maildir:%s\ntenant = acme\n",
	                 db, md);
	conf = mt_write_file(dir, "ok.conf", text);
	assert_int_equal(chmod(conf, 0644), 0);
	const char *ok[] = {"config", "check", "--config", conf, NULL};
	assert_int_equal(mt_run(ok, &out), 0);
	char *line = xasprintf("%s: ok\n", conf);
	assert_non_null(strstr(out, line));
	free(line);
	assert_non_null(strstr(out, "(from [database] url in "));
	assert_null(strstr(out, "Hunter2-NotShown"));
	/* ... but the file is readable by everyone while it holds a password. */
	assert_non_null(strstr(out, "holds a database password and is readable by every user"));
	free(out);
	assert_int_equal(chmod(conf, 0600), 0);
	assert_int_equal(mt_run(ok, &out), 0);
	assert_null(strstr(out, "readable by"));
	free(out);

	/* With no file: the paths looked at, expanded, and the database. */
	char *xdg = xasprintf("%s/xdg", dir);
	char *cmd = xasprintf("XDG_CONFIG_HOME='%s' DMARCSIFT_DB='%s password=Hunter2-NotShown' "
	                      "'%s' config check 2>&1",
	                      xdg, db, DMARCSIFT_BIN);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, p);
	buf[n] = '\0';
	assert_int_equal(pclose(p), 0);
	char *looked = xasprintf("looked for %s/dmarcsift/dmarcsift.conf and", xdg);
	if (!strstr(buf, looked) || !strstr(buf, "(from DMARCSIFT_DB)") ||
	    strstr(buf, "Hunter2-NotShown"))
		fail_msg("config check without a file:\n%s", buf);
	free(looked);
	free(cmd);
	free(xdg);

	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(text);
	free(conf);
	free(mbox);
	free(md);
	free(dir);
	testdb_drop(db);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_dns_sources),
	    cmocka_unit_test(test_correlate_sections),
	    cmocka_unit_test(test_secret_names_its_section),
	    cmocka_unit_test(test_config_check_command),
	    cmocka_unit_test(test_config_check_findings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
