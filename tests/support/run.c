#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char **make_argv(const char *const *args)
{
	size_t n = 0;
	while (args[n])
		n++;
	char **argv = calloc(n + 2, sizeof *argv);
	if (!argv)
		abort();
	argv[0] = strdup(DMARCSIFT_BIN);
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = strdup(args[i]);
	return argv;
}

static void free_argv(char **argv)
{
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

pid_t run_spawn(const char *const *args, const char *stdin_path, int out_fd, bool with_stderr)
{
	char **argv = make_argv(args);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
		int out = out_fd >= 0 ? out_fd : open("/dev/null", O_WRONLY);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		if (with_stderr)
			dup2(out, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	free_argv(argv);
	return pid;
}

int run_wait(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int run_bin(const char *const *args, const char *stdin_path, char **out)
{
	int pfd[2];
	/* close-on-exec: the binary keeps only its standard output (a server
	 * it starts must not hold the pipe open) */
	if (pipe(pfd) != 0 || fcntl(pfd[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(pfd[1], F_SETFD, FD_CLOEXEC) != 0)
		abort();
	pid_t pid = run_spawn(args, stdin_path, pfd[1], false);
	close(pfd[1]);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	ssize_t n;
	while ((n = read(pfd[0], buf + len, cap - len - 1)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
	}
	buf[len] = '\0';
	close(pfd[0]);
	int rc = run_wait(pid);
	fputs(buf, stdout); /* the test log shows what the binary said */
	if (out)
		*out = buf;
	else
		free(buf);
	return rc;
}

pid_t run_bin_async(const char *const *args)
{
	return run_spawn(args, NULL, -1, false);
}

static PGresult *query(PGconn **conn, const char *conninfo, const char *sql, int nparams,
                       const char *const *params)
{
	*conn = PQconnectdb(conninfo);
	if (PQstatus(*conn) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", conninfo, PQerrorMessage(*conn));
	PGresult *res = PQexecParams(*conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("query failed: %s\n%s", PQerrorMessage(*conn), sql);
	if (PQntuples(res) < 1)
		fail_msg("query returned no row: %s", sql);
	return res;
}

int64_t q_int(const char *conninfo, const char *sql, int nparams, const char *const *params)
{
	PGconn *conn = NULL;
	PGresult *res = query(&conn, conninfo, sql, nparams, params);
	int64_t v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(conn);
	return v;
}

void q_exec(const char *conninfo, const char *sql)
{
	PGconn *conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%.200s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

char *q_str(const char *conninfo, const char *sql, int nparams, const char *const *params)
{
	PGconn *conn = NULL;
	PGresult *res = query(&conn, conninfo, sql, nparams, params);
	char *v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return v;
}

char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n < 2)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf)
		abort();
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}
