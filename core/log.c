#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static enum log_level level = LOG_NORMAL;

void log_set_level(enum log_level l)
{
	level = l;
}

enum log_level log_get_level(void)
{
	return level;
}

static void vlog(const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	fputs("dmarcsift: ", stderr);
	if (tag)
		fputs(tag, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	if (level < LOG_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (level < LOG_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
	exit(code);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("BUG: ", fmt, ap);
	va_end(ap);
	abort();
}
