/*
 * correlate: the correlation use case — from the settings the user gave
 * (config [correlate], command-line scope) to a run of the correlator
 * (db/flags.h), and the day arguments it accepts.
 *
 * Settings come with defaults (correlate_settings_default: 90 % / 98 % /
 * 10 messages / 7 days) and are validated by correlate_settings_check
 * (ERR_CONFIG naming the value). correlate_day turns "2026-11-23" or "7d"
 * (that many days before today, UTC) into a "YYYY-MM-DD" string in `out`.
 * correlate_run returns 0 or -1 with `e` set; the statistics are filled on
 * success.
 */
#ifndef DS_APP_CORRELATE_H
#define DS_APP_CORRELATE_H

#include "core/err.h"
#include "db/flags.h"

#include <stdbool.h>
#include <stddef.h>

struct db;
struct notify_hook;

struct correlate_settings {
	double fail_below; /* [correlate] fail_below (percent in the file) */
	double pass_at;    /* [correlate] pass_at */
	long min_messages; /* [correlate] min_messages */
	int resolve_days;  /* [correlate] resolve_days */
};

void correlate_settings_default(struct correlate_settings *s);
int correlate_settings_check(const struct correlate_settings *s, struct err *e);

int correlate_day(const char *arg, char *out, size_t outsz, struct err *e);

struct correlate_scope {
	const char *tenant; /* NULL: all */
	const char *since;  /* as given to correlate_day, or NULL */
	const char *until;
	bool full;
	/* Where new and reopened flags are posted ([notify] webhook; NULL or
	 * no url: nowhere). The posts run in a detached child after the
	 * commit, so a slow receiver never holds up the run. */
	const struct notify_hook *notify;
};

int correlate_run(struct db *db, const struct correlate_settings *s,
                  const struct correlate_scope *scope, struct flags_stats *st, struct err *e);

#endif
