/*
 * cluster: the private PostgreSQL cluster (initdb + pg_ctl of the installed
 * server, unix socket only) and the choice of connection string.
 *
 * Programs are run with fork + execv, never through a shell. The one string
 * that pg_ctl itself hands to a shell (-o, the server options) carries only
 * the socket directory, which must consist of characters that need no
 * quoting. Concurrent starts are serialised by flock on .../dmarcsift/lock.
 */
#include "db/cluster.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_ACCOUNT "postgres"
#define ROOT_BASE      "/var/lib/dmarcsift"
#define PORT           "5432"
#define START_TIMEOUT  "60"

/* ---- paths ------------------------------------------------------------ */

static char *data_home(void)
{
	const char *x = getenv("XDG_DATA_HOME");
	/* The XDG spec: a relative value is invalid and to be ignored. */
	if (x && x[0] == '/')
		return xstrdup(x);
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.local/share", home);
}

/* Can `pw` reach `path`? Every existing ancestor must be searchable by it
 * (a missing one we will create, searchable). */
static bool traversable(const char *path, const struct passwd *pw)
{
	char *p = xstrdup(path);
	bool ok = true;
	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		struct stat st;
		if (stat(p, &st) == 0) {
			mode_t need = st.st_uid == pw->pw_uid   ? S_IXUSR
			              : st.st_gid == pw->pw_gid ? S_IXGRP
			                                        : S_IXOTH;
			if (!S_ISDIR(st.st_mode) || !(st.st_mode & need)) {
				ok = false;
				*s = c;
				break;
			}
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return ok;
}

static int newest_bindir(char **out)
{
	glob_t g;
	long best = -1;
	*out = NULL;
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *v = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
			char *end = NULL;
			long n = strtol(v, &end, 10);
			if (end == v || *end != '/' || n <= best ||
			    access(g.gl_pathv[i], X_OK) != 0)
				continue;
			best = n;
			free(*out);
			*out = xstrndup(g.gl_pathv[i], (size_t)(end - g.gl_pathv[i]) + 4);
		}
		globfree(&g);
	}
	return *out ? 0 : -1;
}

/* `pg_config --bindir`, for servers installed elsewhere. */
static char *pg_config_bindir(void)
{
	int fds[2];
	char out[4096];
	size_t n = 0;
	if (pipe(fds) != 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		int dn = open("/dev/null", O_WRONLY);
		if (dn >= 0)
			dup2(dn, 2);
		char a0[] = "pg_config", a1[] = "--bindir";
		char *const argv[] = {a0, a1, NULL};
		execvp("pg_config", argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid > 0) {
		ssize_t r;
		while (n < sizeof out - 1 && ((r = read(fds[0], out + n, sizeof out - 1 - n)) > 0 ||
		                              (r < 0 && errno == EINTR)))
			if (r > 0)
				n += (size_t)r;
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			n = 0;
	}
	close(fds[0]);
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (out[0] != '/')
		return NULL;
	char *initdb = xasprintf("%s/initdb", out);
	bool ok = access(initdb, X_OK) == 0;
	free(initdb);
	return ok ? xstrdup(out) : NULL;
}

/* A libpq conninfo value in single quotes, with ' and \ escaped. */
static void conn_quote(struct buf *b, const char *v)
{
	buf_putc(b, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
	buf_putc(b, '\'');
}

int cluster_info_get(struct cluster_info *ci, struct err *e)
{
	char *home = NULL;
	int rc = -1;

	memset(ci, 0, sizeof *ci);
	home = data_home();
	ci->base = xasprintf("%s/dmarcsift", home);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(SERVER_ACCOUNT);
		if (!pw) {
			err_set(e, ERR_CONFIG,
			        "running as root, but there is no '" SERVER_ACCOUNT
			        "' account to run PostgreSQL as (PostgreSQL refuses root)");
			goto out;
		}
		ci->run_as = xstrdup(SERVER_ACCOUNT);
		if (!traversable(ci->base, pw)) {
			free(ci->base);
			ci->base = xstrdup(ROOT_BASE);
		}
	}
	ci->pgdata = xasprintf("%s/pg", ci->base);
	ci->sockdir = xasprintf("%s/run", ci->base);
	ci->logfile = xasprintf("%s/pg.log", ci->base);
	if (newest_bindir(&ci->bindir) < 0 && !(ci->bindir = pg_config_bindir())) {
		err_set(e, ERR_CONFIG,
		        "no PostgreSQL server found (no /usr/lib/postgresql/*/bin/initdb, no "
		        "pg_config): install postgresql, or point --db / DMARCSIFT_DB at a server");
		goto out;
	}
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "host=");
	conn_quote(&b, ci->sockdir);
	buf_puts(&b, " port=" PORT " dbname=dmarcsift user=dmarcsift");
	ci->conninfo = buf_steal(&b);
	rc = 0;
out:
	free(home);
	if (rc < 0)
		cluster_info_free(ci);
	return rc;
}

void cluster_info_free(struct cluster_info *ci)
{
	if (!ci)
		return;
	free(ci->base);
	free(ci->pgdata);
	free(ci->sockdir);
	free(ci->logfile);
	free(ci->bindir);
	free(ci->run_as);
	free(ci->conninfo);
	memset(ci, 0, sizeof *ci);
}

/* ---- running programs ------------------------------------------------- */

/* Runs argv[0] (an absolute path) with execv, as `run_as` when set, with
 * stdin from /dev/null and stdout+stderr appended to `log` (or discarded).
 * Returns the exit status, or -1 when it could not be run or was killed. */
static int run(const char *const *argv, const char *run_as, const char *log, struct err *e)
{
	struct passwd *pw = NULL;
	if (run_as && !(pw = getpwnam(run_as)))
		return err_set(e, ERR_CONFIG, "no account '%s' to run %s as", run_as, argv[0]);
	/* execv wants mutable strings; copies are made before fork. */
	size_t n = 0;
	while (argv[n])
		n++;
	char **args = xcalloc(n + 1, sizeof *args);
	for (size_t i = 0; i < n; i++)
		args[i] = xstrdup(argv[i]);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)
		              : open("/dev/null", O_WRONLY);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		if (pw && (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		           setuid(pw->pw_uid) != 0))
			_exit(126);
		/* Our cwd may be unreadable to the server account (/root). */
		if (chdir("/") != 0)
			_exit(126);
		execv(args[0], args);
		_exit(127);
	}
	int fork_errno = errno;
	for (size_t i = 0; i < n; i++)
		free(args[i]);
	free(args);
	if (pid < 0)
		return err_set(e, ERR_INTERNAL, "fork: %s", strerror(fork_errno));
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return err_set(e, ERR_INTERNAL, "waitpid: %s", strerror(errno));
	}
	if (!WIFEXITED(st))
		return err_set(e, ERR_INTERNAL, "%s was killed by signal %d", argv[0],
		               WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	if (WEXITSTATUS(st) == 126 || WEXITSTATUS(st) == 127)
		return err_set(e, ERR_CONFIG, "could not run %s%s%s", argv[0], run_as ? " as " : "",
		               run_as ? run_as : "");
	return WEXITSTATUS(st);
}

/* mkdir -p with `mode` for what we create; chowned to the server account. */
static int make_dir(const char *path, mode_t mode, const struct passwd *owner, struct err *e)
{
	char *p = xstrdup(path);
	int rc = -1;
	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, c ? 0755 : mode) != 0 && errno != EEXIST) {
			err_set(e, ERR_CONFIG, "cannot create %s: %s", p, strerror(errno));
			goto out;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (owner && chown(path, owner->pw_uid, owner->pw_gid) != 0) {
		err_set(e, ERR_CONFIG, "cannot hand %s to %s: %s", path, owner->pw_name,
		        strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

/* The socket directory goes through pg_ctl's shell (-o) and into a unix
 * socket path (at most 107 bytes with "/.s.PGSQL.5432"). */
static int sockdir_ok(const char *d, struct err *e)
{
	if (strlen(d) + strlen("/.s.PGSQL." PORT) > 107)
		return err_set(e, ERR_CONFIG,
		               "the socket directory %s is too long for a unix socket: set "
		               "XDG_DATA_HOME to a shorter path",
		               d);
	if (d[strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-")])
		return err_set(
		    e, ERR_CONFIG,
		    "the data directory %s has characters we will not pass to pg_ctl: set "
		    "XDG_DATA_HOME to a plain path",
		    d);
	return 0;
}

static bool initialised(const struct cluster_info *ci)
{
	char *v = xasprintf("%s/PG_VERSION", ci->pgdata);
	bool ok = access(v, F_OK) == 0;
	free(v);
	return ok;
}

/* The record, beside the data directory, that a cluster was created there:
 * without it a missing data directory is a first use, with it a loss. */
static char *marker_path(const struct cluster_info *ci)
{
	return xasprintf("%s/pg.created", ci->base);
}

static bool marker_exists(const struct cluster_info *ci)
{
	char *m = marker_path(ci);
	bool ok = access(m, F_OK) == 0;
	free(m);
	return ok;
}

static int write_marker(const struct cluster_info *ci, struct err *e)
{
	char *m = marker_path(ci);
	int rc = 0;
	FILE *f = fopen(m, "w");
	if (!f || fprintf(f,
	                  "A PostgreSQL cluster for dmarcsift was created in %s.\n"
	                  "While this file exists, a missing data directory is an error, not a "
	                  "first use:\n'dmarcsift db init --force' creates a new, empty cluster.\n",
	                  ci->pgdata) < 0) {
		rc = err_set(e, ERR_CONFIG, "cannot write %s: %s", m, strerror(errno));
	}
	if (f && fclose(f) != 0 && rc == 0)
		rc = err_set(e, ERR_CONFIG, "cannot write %s: %s", m, strerror(errno));
	free(m);
	return rc;
}

static int missing_error(const struct cluster_info *ci, struct err *e)
{
	return err_set(e, ERR_RETRY,
	               "the embedded PostgreSQL data directory %s is missing, though a cluster "
	               "was created there: not replacing it with an empty one. Mount or restore "
	               "it, or run 'dmarcsift db init --force' to start over with an empty "
	               "cluster",
	               ci->pgdata);
}

/* ---- whose process is it ---------------------------------------------- */

/* The PID on the first line of a PostgreSQL lock file (postmaster.pid, or
 * the socket's .s.PGSQL.PORT.lock); 0 when there is none. *present says
 * whether the file exists. */
static pid_t lockfile_pid(const char *path, bool *present)
{
	char line[64] = "";
	*present = false;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	*present = true;
	bool ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	if (!ok)
		return 0;
	char *end = NULL;
	long v = strtol(line, &end, 10);
	if (v < 0) /* a standalone backend (postgres --single) writes -PID */
		v = -v;
	if (end == line || (*end != '\n' && *end != '\0') || v <= 1 || v > 0x3fffffff)
		return 0;
	return (pid_t)v;
}

/* readlink /proc/PID/NAME into a string; NULL when it cannot be read (gone,
 * or another account's process and we are not root). */
static char *proc_link(pid_t pid, const char *name)
{
	char path[64], target[4096];
	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0)
		return NULL;
	target[n] = '\0';
	return xstrdup(target);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Does /proc/PID/cmdline carry "-D DATADIR", as pg_ctl starts ours? */
static bool cmdline_has_datadir(pid_t pid, const char *datadir)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	struct buf b;
	buf_init(&b, 0);
	char chunk[1024];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	bool found = false;
	const char *prev = NULL;
	for (size_t off = 0; off < b.len;) {
		const char *arg = b.data + off;
		size_t len = strnlen(arg, b.len - off);
		if (prev && strcmp(prev, "-D") == 0 && len == strlen(datadir) &&
		    memcmp(arg, datadir, len) == 0)
			found = true;
		prev = arg;
		off += len + 1;
	}
	buf_free(&b);
	return found;
}

/* Is `pid` the postmaster of this cluster? Only then may we signal it or
 * call the cluster running. A PID in a lock file proves nothing: after a
 * reboot the number can belong to any process of the server account (the
 * system's own PostgreSQL included). Ours runs the `postgres` executable
 * with "-D <our data directory>" (as pg_ctl starts it; a backend's title
 * replaces its command line) and in that directory (/proc/PID/cwd; it reads
 * "<path> (deleted)" when the directory was removed under a running server,
 * which *orphan then says). */
static bool our_postmaster(const struct cluster_info *ci, pid_t pid, bool *orphan)
{
	bool ours = false;
	*orphan = false;
	if (pid <= 1 || pid == getpid())
		return false;
	char *exe = proc_link(pid, "exe");
	char *cwd = proc_link(pid, "cwd");
	if (!exe || !cwd)
		goto out;
	if (ends_with(exe, " (deleted)")) /* the package was upgraded under it */
		exe[strlen(exe) - strlen(" (deleted)")] = '\0';
	const char *base = strrchr(exe, '/');
	if (strcmp(base ? base + 1 : exe, "postgres") != 0 || !cmdline_has_datadir(pid, ci->pgdata))
		goto out;
	char proc_cwd[64];
	snprintf(proc_cwd, sizeof proc_cwd, "/proc/%ld/cwd", (long)pid);
	struct stat a, b;
	if (stat(proc_cwd, &a) == 0 && stat(ci->pgdata, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		ours = true;
	} else if (ends_with(cwd, " (deleted)") && stat(proc_cwd, &a) == 0 && a.st_nlink == 0) {
		ours = true;
		*orphan = true;
	}
out:
	free(exe);
	free(cwd);
	return ours;
}

static char *pidfile_path(const struct cluster_info *ci)
{
	return xasprintf("%s/postmaster.pid", ci->pgdata);
}

static char *socklock_path(const struct cluster_info *ci)
{
	return xasprintf("%s/.s.PGSQL." PORT ".lock", ci->sockdir);
}

/* The PID of this cluster's running postmaster (from postmaster.pid, or
 * from the socket's lock file when the data directory was removed under
 * it), or 0. Never a PID that merely sits in a lock file. */
static pid_t running_postmaster(const struct cluster_info *ci, bool *orphan)
{
	bool present;
	char *p = pidfile_path(ci);
	pid_t pid = lockfile_pid(p, &present);
	free(p);
	if (pid && our_postmaster(ci, pid, orphan) && !*orphan)
		return pid;
	p = socklock_path(ci);
	pid = lockfile_pid(p, &present);
	free(p);
	if (pid && our_postmaster(ci, pid, orphan))
		return pid;
	*orphan = false;
	return 0;
}

/* Removes a lock file whose PID is not this cluster's postmaster (a stale
 * one from before a crash or reboot, naming a process that is alive but
 * someone else's): PostgreSQL would refuse to start over it. */
static void remove_stale_lock(const struct cluster_info *ci, const char *path)
{
	bool present, orphan;
	pid_t pid = lockfile_pid(path, &present);
	if (!present || (pid && our_postmaster(ci, pid, &orphan)))
		return;
	if (pid && kill(pid, 0) != 0 && errno == ESRCH)
		return; /* a dead PID: PostgreSQL replaces the file itself */
	if (unlink(path) == 0)
		log_warn("removed the stale lock file %s (PID %ld is not this cluster's server)",
		         path, (long)pid);
}

/* Asks a verified postmaster of ours to shut down (fast) and waits. */
static int stop_pid(const struct cluster_info *ci, pid_t pid, struct err *e)
{
	bool orphan;
	if (kill(pid, SIGINT) != 0 && errno != ESRCH)
		return err_set(e, ERR_CONFIG, "cannot stop PostgreSQL (PID %ld): %s", (long)pid,
		               strerror(errno));
	for (int i = 0; i < 600; i++) {
		if (!our_postmaster(ci, pid, &orphan))
			return 0;
		struct timespec ts = {0, 100000000L};
		nanosleep(&ts, NULL);
	}
	return err_set(e, ERR_CONFIG, "PostgreSQL (PID %ld) did not stop within 60 s", (long)pid);
}

int cluster_status(const struct cluster_info *ci, struct err *e)
{
	(void)e;
	if (!initialised(ci))
		return marker_exists(ci) ? 3 : 2;
	bool orphan;
	return running_postmaster(ci, &orphan) && !orphan ? 1 : 0;
}

static int lock_base(const struct cluster_info *ci, const struct passwd *owner, int *fd,
                     struct err *e)
{
	*fd = -1;
	if (make_dir(ci->base, owner ? 0755 : 0700, owner, e) < 0)
		return -1;
	char *path = xasprintf("%s/lock", ci->base);
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc = -1;
	if (f < 0) {
		err_set(e, ERR_CONFIG, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (flock(f, LOCK_EX) != 0) {
		if (errno != EINTR) {
			err_set(e, ERR_CONFIG, "cannot lock %s: %s", path, strerror(errno));
			close(f);
			goto out;
		}
	}
	*fd = f;
	rc = 0;
out:
	free(path);
	return rc;
}

static int do_initdb(const struct cluster_info *ci, const struct passwd *owner, struct err *e)
{
	char *initdb = xasprintf("%s/initdb", ci->bindir);
	char *log = xasprintf("%s/initdb.log", ci->base);
	int rc = -1;
	if (make_dir(ci->pgdata, 0700, owner, e) < 0)
		goto out;
	/* The log must be writable by the account initdb runs as. */
	int f = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f >= 0) {
		if (owner && fchown(f, owner->pw_uid, owner->pw_gid) != 0) {
			close(f);
			err_set(e, ERR_CONFIG, "cannot hand %s to %s", log, owner->pw_name);
			goto out;
		}
		close(f);
	}
	const char *argv[] = {initdb, "-D",   ci->pgdata,         "-U", "dmarcsift", "--auth=trust",
	                      "-E",   "UTF8", "--locale=C.UTF-8", NULL};
	int st = run(argv, ci->run_as, log, e);
	if (st < 0)
		goto out;
	if (st != 0) {
		err_set(e, ERR_CONFIG, "initdb -D %s failed (exit %d): see %s", ci->pgdata, st,
		        log);
		goto out;
	}
	rc = 0;
out:
	free(initdb);
	free(log);
	return rc;
}

static int create_database(const struct cluster_info *ci, struct err *e)
{
	struct buf b;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	int rc = -1;

	buf_init(&b, 0);
	buf_puts(&b, "host=");
	conn_quote(&b, ci->sockdir);
	buf_puts(&b, " port=" PORT " dbname=postgres user=dmarcsift");
	conn = PQconnectdb(b.data);
	if (PQstatus(conn) != CONNECTION_OK) {
		err_set(e, ERR_RETRY, "database unreachable: %.*s",
		        (int)strcspn(PQerrorMessage(conn), "\n"), PQerrorMessage(conn));
		goto out;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'dmarcsift'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(conn, "CREATE DATABASE dmarcsift");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	err_set(e, ERR_CONFIG, "creating database dmarcsift: %.*s",
	        (int)strcspn(PQerrorMessage(conn), "\n"), PQerrorMessage(conn));
out:
	PQclear(res);
	PQfinish(conn);
	buf_free(&b);
	return rc;
}

/* Creates (when allowed) and starts the cluster, under the base lock. */
static int start_cluster(const struct cluster_info *ci, bool force, struct err *e)
{
	static bool told;
	struct passwd *owner = NULL;
	char *pg_ctl = NULL, *opts = NULL, *pidfile = NULL, *socklock = NULL;
	int lock = -1, rc = -1;

	if (sockdir_ok(ci->sockdir, e) < 0)
		return -1;
	if (ci->run_as) {
		if (!(owner = getpwnam(ci->run_as)))
			return err_set(e, ERR_CONFIG, "no account '%s'", ci->run_as);
	}
	if (lock_base(ci, owner, &lock, e) < 0)
		goto out;
	int st = cluster_status(ci, e);
	if (st < 0)
		goto out;
	if (st == 3 && !force) {
		missing_error(ci, e);
		goto out;
	}
	/* Said when we create or start the server, not on every use of it. */
	if (st != 1 && ci->run_as && !told) {
		log_info("running as root: the private PostgreSQL server runs as user '%s' "
		         "(PostgreSQL refuses root); cluster at %s",
		         ci->run_as, ci->pgdata);
		told = true;
	}
	if (st == 3) {
		/* A server still running on the removed directory holds the socket. */
		bool orphan;
		pid_t old = running_postmaster(ci, &orphan);
		if (old && orphan && stop_pid(ci, old, e) < 0)
			goto out;
	}
	if (st == 2 || st == 3) {
		if (do_initdb(ci, owner, e) < 0)
			goto out;
	}
	/* Existing clusters from before the marker get one too. */
	if (!marker_exists(ci) && write_marker(ci, e) < 0)
		goto out;
	if (st != 1) {
		if (make_dir(ci->sockdir, 0700, owner, e) < 0)
			goto out;
		/* Lock files naming a live process that is not our server (left by a
		 * crash or a reboot) would keep PostgreSQL from starting. */
		pidfile = pidfile_path(ci);
		socklock = socklock_path(ci);
		remove_stale_lock(ci, pidfile);
		remove_stale_lock(ci, socklock);
		/* pg_ctl -l writes the log as the server account; pg_ctl's own
		 * messages go there too. */
		int f = open(ci->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (f >= 0) {
			if (owner && fchown(f, owner->pw_uid, owner->pw_gid) != 0) {
				close(f);
				err_set(e, ERR_CONFIG, "cannot hand %s to %s", ci->logfile,
				        owner->pw_name);
				goto out;
			}
			close(f);
		}
		pg_ctl = xasprintf("%s/pg_ctl", ci->bindir);
		opts = xasprintf("-c listen_addresses='' -c unix_socket_directories='%s'",
		                 ci->sockdir);
		const char *argv[] = {pg_ctl,     "start", "-w",        "-t", START_TIMEOUT, "-D",
		                      ci->pgdata, "-l",    ci->logfile, "-o", opts,          NULL};
		int r = run(argv, ci->run_as, ci->logfile, e);
		if (r < 0)
			goto out;
		if (r != 0) {
			err_set(e, ERR_CONFIG, "could not start PostgreSQL in %s: see %s",
			        ci->pgdata, ci->logfile);
			goto out;
		}
	}
	if (create_database(ci, e) < 0)
		goto out;
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	free(pg_ctl);
	free(opts);
	free(pidfile);
	free(socklock);
	return rc;
}

int cluster_start(const struct cluster_info *ci, struct err *e)
{
	return start_cluster(ci, false, e);
}

int cluster_init(const struct cluster_info *ci, bool force, struct err *e)
{
	return start_cluster(ci, force, e);
}

int cluster_stop(const struct cluster_info *ci, struct err *e)
{
	struct passwd *owner = NULL;
	int lock = -1, rc = -1;
	if (ci->run_as && !(owner = getpwnam(ci->run_as)))
		return err_set(e, ERR_CONFIG, "no account '%s'", ci->run_as);
	if (access(ci->base, F_OK) != 0)
		return 0; /* never created: nothing runs */
	if (lock_base(ci, owner, &lock, e) < 0)
		return -1;
	/* Only a process verified to be this cluster's postmaster is signalled;
	 * pg_ctl stop would signal whatever PID postmaster.pid names. */
	bool orphan;
	pid_t pid = running_postmaster(ci, &orphan);
	if (pid && stop_pid(ci, pid, e) < 0)
		goto out;
	rc = 0;
out:
	close(lock);
	return rc;
}

const char *cluster_source_name(enum db_source src)
{
	switch (src) {
	case DB_SRC_FLAG:
		return "--db";
	case DB_SRC_ENV:
		return "DMARCSIFT_DB";
	case DB_SRC_CONFIG:
		return "the configuration file's [database] url";
	case DB_SRC_EMBEDDED:
		break;
	}
	return "the embedded cluster";
}

int cluster_resolve(const char *cli_db, const char *config_db, bool autostart, char **out,
                    enum db_source *src, struct err *e)
{
	struct cluster_info ci;
	enum db_source dummy;
	if (!src)
		src = &dummy;
	*out = NULL;
	if (cli_db && *cli_db) {
		*src = DB_SRC_FLAG;
		*out = xstrdup(cli_db);
		return 0;
	}
	const char *env = getenv("DMARCSIFT_DB");
	if (env && *env) {
		*src = DB_SRC_ENV;
		*out = xstrdup(env);
		return 0;
	}
	if (config_db && *config_db) {
		*src = DB_SRC_CONFIG;
		*out = xstrdup(config_db);
		return 0;
	}
	*src = DB_SRC_EMBEDDED;
	if (cluster_info_get(&ci, e) < 0)
		return -1;
	int rc = -1;
	if (autostart && cluster_start(&ci, e) < 0)
		goto out;
	*out = ci.conninfo;
	ci.conninfo = NULL;
	rc = 0;
out:
	cluster_info_free(&ci);
	return rc;
}
