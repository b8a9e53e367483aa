/*
 * correlate: see app/correlate.h.
 */
#include "app/correlate.h"

#include "app/notify.h"
#include "core/xalloc.h"
#include "db/escalation_events.h"

#include <json-c/json.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void correlate_settings_default(struct correlate_settings *s)
{
	s->fail_below = 0.90;
	s->pass_at = 0.98;
	s->min_messages = 10;
	s->resolve_days = 7;
}

int correlate_settings_check(const struct correlate_settings *s, struct err *e)
{
	if (!(s->fail_below > 0 && s->fail_below <= 1))
		return err_set(e, ERR_CONFIG,
		               "correlate: fail_below must be a percentage in (0, 100]");
	if (!(s->pass_at > 0 && s->pass_at <= 1))
		return err_set(e, ERR_CONFIG,
		               "correlate: pass_at must be a percentage in (0, 100]");
	if (s->pass_at < s->fail_below)
		return err_set(e, ERR_CONFIG,
		               "correlate: pass_at (%.1f %%) is below fail_below (%.1f %%)",
		               s->pass_at * 100, s->fail_below * 100);
	if (s->min_messages < 1)
		return err_set(e, ERR_CONFIG, "correlate: min_messages must be at least 1");
	if (s->resolve_days < 1)
		return err_set(e, ERR_CONFIG, "correlate: resolve_days must be at least 1");
	return 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

int correlate_day(const char *arg, char *out, size_t outsz, struct err *e)
{
	size_t n = arg ? strlen(arg) : 0;
	if (outsz < 11)
		return err_set(e, ERR_INTERNAL, "correlate_day: buffer too small");
	if (n == 10 && all_digits(arg, 4) && arg[4] == '-' && all_digits(arg + 5, 2) &&
	    arg[7] == '-' && all_digits(arg + 8, 2)) {
		int mo = (arg[5] - '0') * 10 + (arg[6] - '0');
		int d = (arg[8] - '0') * 10 + (arg[9] - '0');
		if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31) {
			memcpy(out, arg, 11);
			return 0;
		}
	}
	if (n >= 2 && n <= 6 && arg[n - 1] == 'd' && all_digits(arg, n - 1)) {
		long days = strtol(arg, NULL, 10);
		time_t t = time(NULL) - (time_t)days * 86400;
		struct tm tm;
		if (gmtime_r(&t, &tm) && strftime(out, outsz, "%Y-%m-%d", &tm) == 10)
			return 0;
	}
	return err_set(e, ERR_CONFIG, "'%.40s' is not a day (YYYY-MM-DD, or Nd for N days ago)",
	               arg ? arg : "");
}

/* Posts JSON texts (v_flags / v_escalations rows) through `post`, which
 * returns at once (notify.h). */
static void post_events(const struct notify_hook *h, char *const *texts, size_t n,
                        void (*post)(const struct notify_hook *, struct json_object *const *,
                                     size_t))
{
	if (n == 0)
		return;
	json_object **objs = xcalloc(n, sizeof(void *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_tokener_parse(texts[i]);
		if (o)
			objs[k++] = o;
	}
	post(h, objs, k);
	for (size_t i = 0; i < k; i++)
		json_object_put(objs[i]);
	free(objs);
}

int correlate_run(struct db *db, const struct correlate_settings *s,
                  const struct correlate_scope *scope, struct flags_stats *st, struct err *e)
{
	char since[16], until[16];
	if (correlate_settings_check(s, e) < 0)
		return -1;
	if (scope->since && correlate_day(scope->since, since, sizeof since, e) < 0)
		return -1;
	if (scope->until && correlate_day(scope->until, until, sizeof until, e) < 0)
		return -1;
	struct flags_params p = {
	    .fail_below = s->fail_below,
	    .pass_at = s->pass_at,
	    .min_messages = s->min_messages,
	    .resolve_days = s->resolve_days,
	    .tenant = scope->tenant,
	    .since = scope->since ? since : NULL,
	    .until = scope->until ? until : NULL,
	    .full = scope->full,
	    .want_events = scope->notify && scope->notify->url,
	    .map = NULL,
	};
	struct flags_stats tmp = {0};
	if (flags_recompute(db, &p, &tmp, e) != 0)
		return -1;
	post_events(scope->notify, tmp.events, tmp.nevents, notify_flags);
	/* Escalations opened by the ingests since the last run (or reopened)
	 * go out with the flags, each once. */
	if (p.want_events) {
		char **rows = NULL;
		size_t n = 0;
		if (escalations_claim(db, scope->tenant, &rows, &n, e) != 0) {
			flags_stats_free(&tmp);
			return -1;
		}
		post_events(scope->notify, rows, n, notify_escalations);
		escalation_rows_free(rows, n);
		/* New blocklist listings (blocklists check ends with this run),
		 * those that already make mail bounce first. */
		if (listings_claim(db, scope->tenant, &rows, &n, e) != 0) {
			flags_stats_free(&tmp);
			return -1;
		}
		post_events(scope->notify, rows, n, notify_listings);
		escalation_rows_free(rows, n);
	}
	flags_stats_free(&tmp);
	if (st)
		*st = tmp;
	return 0;
}
