/* log: every line carries its level; a timestamp when stderr is not a
 * terminal; sd-daemon priorities for the journal (chosen by --log-format or
 * found through $JOURNAL_STREAM); syslog keeps stderr empty. stderr is
 * pointed at a file or a pseudo-terminal and read back. */
#include "core/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pty.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int saved_err = -1;
static char path[] = "/tmp/dmarcsift-test-log.XXXXXX";

/* Sends stderr to a new empty file. */
static void capture(void)
{
	fflush(stderr);
	if (saved_err < 0)
		saved_err = dup(STDERR_FILENO);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restores stderr and returns what was written (caller frees). */
static char *captured(void)
{
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	return buf;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	int rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("'%s' does not match /%s/", text, pattern);
}

static int reset(void **state)
{
	(void)state;
	unsetenv("JOURNAL_STREAM");
	unsetenv("DMARCSIFT_LOG_FORMAT");
	log_set_level(LOG_NORMAL);
	log_set_format(LOG_FORMAT_AUTO);
	return 0;
}

#define STAMP "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "

static void test_file_lines_have_time_and_level(void **state)
{
	(void)state;
	capture();
	log_info("stored %d reports", 3);
	log_warn("odd value");
	log_error("lost");
	log_debug("not shown");
	char *out = captured();
	assert_matches(out, STAMP "dmarcsift: info: stored 3 reports$");
	assert_matches(out, STAMP "dmarcsift: warning: odd value$");
	assert_matches(out, STAMP "dmarcsift: error: lost$");
	assert_null(strstr(out, "not shown"));
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	free(out);
}

static void test_terminal_lines_stay_short(void **state)
{
	(void)state;
	int master, slave;
	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	fflush(stderr);
	saved_err = saved_err < 0 ? dup(STDERR_FILENO) : saved_err;
	dup2(slave, STDERR_FILENO);
	log_set_format(LOG_FORMAT_AUTO);
	log_info("hello");
	log_warn("careful");
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	close(slave);
	char buf[512] = {0};
	size_t n = 0;
	ssize_t k;
	while (n < sizeof buf - 1 && (k = read(master, buf + n, sizeof buf - 1 - n)) > 0) {
		n += (size_t)k;
		if (strstr(buf, "careful"))
			break;
	}
	close(master);
	/* the terminal turns \n into \r\n */
	assert_matches(buf, "^dmarcsift: hello\r?$");
	assert_matches(buf, "^dmarcsift: warning: careful\r?$");
}

static void test_journald_priorities(void **state)
{
	(void)state;
	assert_int_equal(log_set_format_name("journald"), 0);
	log_set_level(LOG_VERBOSE);
	capture();
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	char *out = captured();
	assert_string_equal(out, "<7>dmarcsift: debug: d\n<6>dmarcsift: i\n"
	                         "<4>dmarcsift: warning: w\n<3>dmarcsift: error: e\n");
	free(out);
}

/* systemd's JOURNAL_STREAM counts only while stderr is that very stream. */
static void test_journal_stream_found(void **state)
{
	(void)state;
	capture();
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char js[64];
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_set_format(LOG_FORMAT_AUTO);
	log_warn("to the journal");
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", js, 1);
	log_set_format(LOG_FORMAT_AUTO);
	log_warn("inherited, not ours");
	char *out = captured();
	assert_matches(out, "^<4>dmarcsift: warning: to the journal$");
	assert_matches(out, STAMP "dmarcsift: warning: inherited, not ours$");
	free(out);
}

static void test_names_and_environment(void **state)
{
	(void)state;
	assert_int_equal(log_set_format_name("xml"), -1);
	assert_int_equal(log_set_format_name(NULL), -1);
	assert_int_equal(log_set_format_name("text"), 0);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	setenv("DMARCSIFT_LOG_FORMAT", "journald", 1);
	assert_int_equal(log_set_format_name("auto"), 0);
	assert_int_equal(log_get_format(), LOG_FORMAT_JOURNALD);
	/* an explicit choice (--log-format) wins over the variable */
	log_set_format(LOG_FORMAT_TEXT);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	/* a variable naming no format is ignored */
	setenv("DMARCSIFT_LOG_FORMAT", "loud", 1);
	log_set_format(LOG_FORMAT_AUTO);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
}

static void test_quiet_keeps_warnings(void **state)
{
	(void)state;
	log_set_level(LOG_QUIET);
	capture();
	log_info("progress");
	log_warn("something");
	char *out = captured();
	assert_null(strstr(out, "progress"));
	assert_non_null(strstr(out, "warning: something"));
	free(out);
}

static void test_syslog_leaves_stderr_alone(void **state)
{
	(void)state;
	assert_int_equal(log_set_format_name("syslog"), 0);
	capture();
	log_warn("to syslog");
	char *out = captured();
	assert_string_equal(out, "");
	assert_int_equal(log_get_format(), LOG_FORMAT_SYSLOG);
	free(out);
}

static void test_long_line_is_one_line(void **state)
{
	(void)state;
	char big[6000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	capture();
	log_warn("%s", big);
	log_info("next");
	char *out = captured();
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(nl - out < 4096);
	assert_non_null(strstr(nl + 1, "info: next\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_file_lines_have_time_and_level, reset),
	    cmocka_unit_test_setup(test_terminal_lines_stay_short, reset),
	    cmocka_unit_test_setup(test_journald_priorities, reset),
	    cmocka_unit_test_setup(test_journal_stream_found, reset),
	    cmocka_unit_test_setup(test_names_and_environment, reset),
	    cmocka_unit_test_setup(test_quiet_keeps_warnings, reset),
	    cmocka_unit_test_setup(test_syslog_leaves_stderr_alone, reset),
	    cmocka_unit_test_setup(test_long_line_is_one_line, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
