/*
 * test_cmd_bounces: `dmarcsift bounces classify` as a user runs it — one
 * line / JSON object per event over the fixtures, the summary, --rules,
 * stdin, and the exit codes (no database involved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BDIR FIXTURES_DIR "/bounces/"

struct out {
	char *data;
	size_t len;
	int rc;
};

/* Runs a shell command, captures stdout, returns the exit code. */
static struct out run(const char *cmd)
{
	struct out o = {NULL, 0, -1};
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
		if (o.len + n + 1 > cap) {
			cap = (o.len + n + 1) * 2;
			o.data = xrealloc(o.data, cap);
		}
		memcpy(o.data + o.len, chunk, n);
		o.len += n;
	}
	if (!o.data)
		o.data = xstrdup("");
	o.data[o.len] = '\0';
	int st = pclose(p);
	o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return o;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_text_output(void **state)
{
	(void)state;
	struct out o = run(DMARCSIFT_BIN " bounces classify " BDIR "postfix.log 2>/dev/null");
	assert_int_equal(o.rc, 0);
	assert_int_equal(count_lines(o.data), 13);
	/* recipient, code, enhanced, class, severity, action, block, listed_on,
	 * asset, rule, text */
	assert_non_null(strstr(o.data, "bob@gmail.com\t550\t5.7.26\tauth_failure\tescalate\t"
	                               "investigate_auth\tblock\t-\t-\tgmail.unauthenticated\t550 "
	                               "5.7.26 This email"));
	assert_non_null(strstr(o.data,
	                       "mia@comcast.net\t554\t5.7.1\tblocklisted\tescalate\t"
	                       "check_listing\tblock\tSpamhaus ZEN\tip\tcomcast.bl000001\t"));
	free(o.data);

	/* the summary goes to stderr: events by class, skipped, malformed */
	o = run(DMARCSIFT_BIN " bounces classify " BDIR "postfix.log 2>&1 >/dev/null");
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.data, "13 events from 34 lines"));
	assert_non_null(strstr(o.data, "skipped (not delivery outcomes): 17"));
	assert_non_null(strstr(o.data, "malformed: 4"));
	assert_non_null(strstr(o.data, "postfix: unterminated to=<: 1"));
	free(o.data);
}

static void test_json_output(void **state)
{
	(void)state;
	struct out o = run(DMARCSIFT_BIN " bounces classify --format json " BDIR
	                                 "dsn_multi.eml " BDIR "exim_main.log 2>/dev/null");
	assert_int_equal(o.rc, 0);
	assert_int_equal(count_lines(o.data), 3 + 10);
	int seen = 0;
	for (char *l = o.data, *nl; *l; l = nl + 1) {
		nl = strchr(l, '\n');
		assert_non_null(nl);
		*nl = '\0';
		json_object *j = json_tokener_parse(l);
		assert_non_null(j);
		json_object *v;
		assert_true(json_object_object_get_ex(j, "class", &v));
		assert_true(json_object_object_get_ex(j, "rule", &v));
		json_object *r;
		assert_true(json_object_object_get_ex(j, "recipient", &r));
		if (strcmp(json_object_get_string(r), "listed@corp3.example") == 0) {
			json_object_object_get_ex(j, "listed_on", &v);
			assert_string_equal(json_object_get_string(v), "Spamhaus ZEN");
			json_object_object_get_ex(j, "listed_asset", &v);
			assert_string_equal(json_object_get_string(v), "ip");
			json_object_object_get_ex(j, "is_block", &v);
			assert_true(json_object_get_boolean(v));
			json_object_object_get_ex(j, "reply_code", &v);
			assert_int_equal(json_object_get_int(v), 554);
			seen++;
		}
		if (strcmp(json_object_get_string(r), "victor@web.de") == 0) {
			/* Latin-1 in the log came out as UTF-8 JSON */
			json_object_object_get_ex(j, "text", &v);
			assert_non_null(strstr(json_object_get_string(v), "F\xc3\xbcr"));
			json_object_object_get_ex(j, "provider", &v);
			assert_string_equal(json_object_get_string(v), "gmx");
			seen++;
		}
		json_object_put(j);
	}
	assert_int_equal(seen, 2);
	free(o.data);
}

/* CSV: the JSON's fields, a header line, one line per event. */
static void test_csv_output(void **state)
{
	(void)state;
	struct out o = run(DMARCSIFT_BIN " bounces classify --format csv " BDIR
	                                 "dsn_multi.eml " BDIR "exim_main.log 2>/dev/null");
	assert_int_equal(o.rc, 0);
	assert_int_equal(count_lines(o.data), 1 + 3 + 10);
	assert_true(strncmp(o.data,
	                    "recipient,reply_code,enhanced_code,class,severity,action,is_block,"
	                    "listed_on,listed_asset,rule,text,status,provider,source,format,"
	                    "auto_reply,feedback_type,at,remote_mta,mail_from,queue_id\r\n",
	                    strlen("recipient,reply_code,enhanced_code,class,severity,action,"
	                           "is_block,listed_on,listed_asset,rule,text,status,provider,"
	                           "source,format,auto_reply,feedback_type,at,remote_mta,"
	                           "mail_from,queue_id\r\n")) == 0);
	assert_non_null(strstr(o.data, "\nlisted@corp3.example,554,"));
	assert_non_null(strstr(o.data, ",true,Spamhaus ZEN,ip,"));
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces ingest --format csv " BDIR "dsn_multi.eml 2>/dev/null");
	assert_int_equal(o.rc, 2);
	free(o.data);
}

static void test_rules_and_stdin(void **state)
{
	(void)state;
	char path[] = "/tmp/test_cmd_bounces.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *rules = "everything\t*\t*\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n";
	assert_int_equal(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "%s bounces classify --rules %s --input-format csv - < %sesp_export.csv "
	         "2>/dev/null",
	         DMARCSIFT_BIN, path, BDIR);
	struct out o = run(cmd);
	assert_int_equal(o.rc, 0);
	assert_int_equal(count_lines(o.data), 6);
	for (char *l = o.data; *l; l = strchr(l, '\n') + 1) /* every event decided by it */
		assert_true(strstr(l, "\teverything\t") &&
		            strstr(l, "\teverything\t") < strchr(l, '\n'));
	free(o.data);

	/* a broken rules file is a usage error naming the line */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "bad\tline\n", 9), 9);
	close(fd);
	snprintf(cmd, sizeof cmd, "%s bounces classify --rules %s %spostfix.log 2>&1",
	         DMARCSIFT_BIN, path, BDIR);
	o = run(cmd);
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.data, "line 1"));
	free(o.data);
	unlink(path);
}

static void test_exit_codes(void **state)
{
	(void)state;
	struct out o = run(DMARCSIFT_BIN " bounces classify " BDIR "no-such-file.log " BDIR
	                                 "postfix.log 2>/dev/null");
	assert_int_equal(o.rc, 1); /* unreadable input; the other one still ran */
	assert_int_equal(count_lines(o.data), 13);
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces classify 2>/dev/null");
	assert_int_equal(o.rc, 2);
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces classify --format xml x 2>/dev/null");
	assert_int_equal(o.rc, 2);
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces frobnicate 2>/dev/null");
	assert_int_equal(o.rc, 2);
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces classify --help");
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.data, "usage: dmarcsift bounces classify"));
	free(o.data);
	o = run(DMARCSIFT_BIN " bounces ingest --help");
	assert_int_equal(o.rc, 0);
	free(o.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_output), cmocka_unit_test(test_json_output),
	    cmocka_unit_test(test_csv_output),  cmocka_unit_test(test_rules_and_stdin),
	    cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
