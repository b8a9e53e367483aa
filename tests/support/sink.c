#include "tests/support/sink.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t sink_start(const char *const *argv, int *port)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		char *args[8] = {0};
		for (int i = 0; i < 7 && argv[i]; i++)
			args[i] = xstrdup(argv[i]);
		execvp(args[0], args);
		_exit(127);
	}
	close(pfd[1]);
	/* The whole line: closing early would kill the sink with SIGPIPE. */
	char line[32] = {0};
	size_t n = 0;
	while (n < sizeof line - 1 && read(pfd[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	close(pfd[0]);
	*port = n ? (int)strtol(line, NULL, 10) : 0;
	if (*port <= 0) {
		sink_stop(pid);
		fail_msg("%s did not start (python3, and python3-aiosmtpd for SMTP?)", argv[1]);
	}
	return pid;
}

pid_t sink_start_http(const char *dir, const char *key, int fail_first, int fail_status, int *port)
{
	char first[16], status[16];
	snprintf(first, sizeof first, "%d", fail_first);
	snprintf(status, sizeof status, "%d", fail_status);
	const char *argv[] = {
	    "/usr/bin/python3", TESTS_DIR "/support/http_sink.py", dir, key, first, status, NULL};
	return sink_start(argv, port);
}

void sink_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

bool sink_wait_file(const char *path, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		if (access(path, R_OK) == 0)
			return true;
		usleep(50000);
	}
	return false;
}

char *sink_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = xcalloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}
