#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
	e->kind = kind;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	if (!e || e->kind != ERR_NONE)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

const char *err_stage_name(enum err_stage_id stage)
{
	static const char *const names[] = {
	    [ERR_STAGE_NONE] = "",         [ERR_STAGE_READ] = "read",
	    [ERR_STAGE_MIME] = "mime",     [ERR_STAGE_UNPACK] = "unpack",
	    [ERR_STAGE_XML] = "xml",       [ERR_STAGE_JSON] = "json",
	    [ERR_STAGE_RUF] = "ruf",       [ERR_STAGE_VALIDATE] = "validate",
	    [ERR_STAGE_BOUNCE] = "bounce", [ERR_STAGE_IMAP] = "imap",
	    [ERR_STAGE_STORE] = "store",   [ERR_STAGE_CORRELATE] = "correlate",
	};
	if ((unsigned)stage >= sizeof names / sizeof names[0] || !names[stage])
		return "";
	return names[stage];
}

int err_stage(struct err *e, enum err_stage_id stage, enum err_kind kind, const char *fmt, ...)
{
	if (!e || e->kind != ERR_NONE)
		return -1;
	snprintf(e->stage, sizeof e->stage, "%s", err_stage_name(stage));
	va_list ap;
	va_start(ap, fmt);
	vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

void err_set_stage_if_empty(struct err *e, enum err_stage_id stage)
{
	if (e && e->stage[0] == '\0')
		snprintf(e->stage, sizeof e->stage, "%s", err_stage_name(stage));
}

void err_clear(struct err *e)
{
	memset(e, 0, sizeof *e);
}

bool err_is_set(const struct err *e)
{
	return e && e->kind != ERR_NONE;
}

const char *err_kind_name(enum err_kind kind)
{
	switch (kind) {
	case ERR_NONE:
		return "none";
	case ERR_INPUT:
		return "input";
	case ERR_RETRY:
		return "retry";
	case ERR_CONFIG:
		return "config";
	case ERR_INTERNAL:
		return "internal";
	}
	return "unknown";
}
