#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_NORMAL;
static enum log_format chosen = LOG_FORMAT_AUTO; /* what was asked for */
static enum log_format format = LOG_FORMAT_AUTO; /* what it resolved to */
static bool stamp;                               /* text: timestamp and level always */
static bool syslog_open;

void log_set_level(enum log_level l)
{
	level = l;
}

enum log_level log_get_level(void)
{
	return level;
}

void log_set_format(enum log_format f)
{
	chosen = f;
	format = LOG_FORMAT_AUTO; /* resolved again at the next line */
}

int log_set_format_name(const char *name)
{
	static const struct {
		const char *name;
		enum log_format f;
	} names[] = {{"auto", LOG_FORMAT_AUTO},
	             {"text", LOG_FORMAT_TEXT},
	             {"journald", LOG_FORMAT_JOURNALD},
	             {"syslog", LOG_FORMAT_SYSLOG}};
	for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i].name) == 0) {
			log_set_format(names[i].f);
			return 0;
		}
	return -1;
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connected to
 * stdout/stderr; it only counts when stderr is still that stream (a child
 * whose stderr was redirected inherits the variable too). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	if (!js || !*js || fstat(STDERR_FILENO, &st) != 0)
		return false;
	char *end;
	unsigned long long dev = strtoull(js, &end, 10);
	if (*end != ':')
		return false;
	unsigned long long ino = strtoull(end + 1, &end, 10);
	return *end == '\0' && dev == (unsigned long long)st.st_dev &&
	       ino == (unsigned long long)st.st_ino;
}

static void resolve(void)
{
	if (format != LOG_FORMAT_AUTO)
		return;
	enum log_format f = chosen;
	if (f == LOG_FORMAT_AUTO) {
		const char *env = getenv("DMARCSIFT_LOG_FORMAT");
		if (env && *env && log_set_format_name(env) == 0)
			f = chosen;
		chosen = LOG_FORMAT_AUTO; /* the variable is read again after a reset */
	}
	if (f == LOG_FORMAT_AUTO)
		f = stderr_is_journal() ? LOG_FORMAT_JOURNALD : LOG_FORMAT_TEXT;
	format = f;
	stamp = f == LOG_FORMAT_TEXT && !isatty(STDERR_FILENO);
	if (f == LOG_FORMAT_SYSLOG && !syslog_open) {
		openlog("dmarcsift", LOG_PID, LOG_MAIL);
		syslog_open = true;
	}
}

enum log_format log_get_format(void)
{
	resolve();
	return format;
}

struct level_info {
	const char *tag; /* at a terminal; NULL: none */
	const char *word;
	int prio;
};

static const struct level_info L_DEBUG = {"debug: ", "debug: ", LOG_DEBUG};
static const struct level_info L_INFO = {NULL, "info: ", LOG_INFO};
static const struct level_info L_WARN = {"warning: ", "warning: ", LOG_WARNING};
static const struct level_info L_ERROR = {"error: ", "error: ", LOG_ERR};
static const struct level_info L_BUG = {"BUG: ", "BUG: ", LOG_CRIT};

static void vlog(const struct level_info *lv, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vlog(const struct level_info *lv, const char *fmt, va_list ap)
{
	resolve();
	if (format == LOG_FORMAT_SYSLOG) {
		vsyslog(lv->prio, fmt, ap);
		return;
	}
	/* One line, one write: lines from concurrent processes do not mix. */
	char line[4096];
	size_t n = 0;
	int k = 0;
	if (format == LOG_FORMAT_JOURNALD) {
		k = snprintf(line, sizeof line, "<%d>dmarcsift: %s", lv->prio,
		             lv->tag ? lv->tag : "");
	} else if (stamp) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		k = snprintf(line, sizeof line, "%s.%03ldZ dmarcsift: %s", when,
		             ts.tv_nsec / 1000000L, lv->word);
	} else {
		k = snprintf(line, sizeof line, "dmarcsift: %s", lv->tag ? lv->tag : "");
	}
	n = k > 0 ? (size_t)k : 0;
	if (n < sizeof line) {
		k = vsnprintf(line + n, sizeof line - n, fmt, ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof line - 2)
		n = sizeof line - 2; /* a longer line is cut, never split */
	line[n++] = '\n';
	fflush(stderr);
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

void log_info(const char *fmt, ...)
{
	if (level < LOG_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_INFO, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (level < LOG_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_DEBUG, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_WARN, fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_ERROR, fmt, ap);
	va_end(ap);
}

void log_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(&L_BUG, fmt, ap);
	va_end(ap);
	abort();
}
