/*
 * correlate: see app/correlate.h.
 */
#include "app/correlate.h"

#include "app/notify.h"
#include "core/log.h"
#include "core/provider.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/escalation_events.h"

#include <json-c/json.h>

#include <ctype.h>
#include <pthread.h>
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

/* One share of the tenants (flags.h: part/parts), on its own connection. */
struct share {
	struct db *db;
	struct flags_params p;
	struct flags_stats st;
	struct err e;
	int rc;
};

static void *run_share(void *arg)
{
	struct share *sh = arg;
	sh->rc = flags_recompute(sh->db, &sh->p, &sh->st, &sh->e);
	return NULL;
}

/* The events of both shares, in the order one run would give them
 * (tenant, provider, domain, source IP; correlate_events.sql). */
struct event_key {
	char *text;
	const char *k[4];
	json_object *o;
};

static int cmp_events(const void *a, const void *b)
{
	const struct event_key *x = a, *y = b;
	for (int i = 0; i < 4; i++) {
		int c = strcmp(x->k[i] ? x->k[i] : "", y->k[i] ? y->k[i] : "");
		if (c)
			return c;
	}
	return 0;
}

static void merge_events(struct flags_stats *into, struct flags_stats *from)
{
	size_t n = into->nevents + from->nevents;
	if (from->nevents == 0)
		return;
	struct event_key *keys = xcalloc(n, sizeof *keys);
	static const char *const names[4] = {"tenant", "provider", "domain", "source_ip"};
	for (size_t i = 0; i < n; i++) {
		keys[i].text =
		    i < into->nevents ? into->events[i] : from->events[i - into->nevents];
		keys[i].o = json_tokener_parse(keys[i].text);
		for (int k = 0; k < 4; k++) {
			json_object *v = NULL;
			if (keys[i].o && json_object_object_get_ex(keys[i].o, names[k], &v) && v)
				keys[i].k[k] = json_object_get_string(v);
		}
	}
	qsort(keys, n, sizeof *keys, cmp_events);
	into->events = xrealloc(into->events, n * sizeof *into->events);
	for (size_t i = 0; i < n; i++) {
		into->events[i] = keys[i].text;
		json_object_put(keys[i].o);
	}
	into->nevents = n;
	free(from->events);
	from->events = NULL;
	from->nevents = 0;
	free(keys);
}

/* The tenants in two shares (tenant_id odd or even), each recomputed in a
 * transaction of its own; on a second connection both run at once, one per
 * core. A share that failed leaves its queue for the next run; the other's
 * flags stand. */
static int recompute(struct db *db, struct flags_params *p, struct flags_stats *st, struct err *e)
{
	struct share sh[2];
	memset(sh, 0, sizeof sh);
	struct db *other = NULL;
	struct err ce = {0};
	if (db_connect_again(&other, db, &ce) != 0)
		log_debug("correlating on one connection: %s", ce.msg);
	for (int i = 0; i < 2; i++) {
		sh[i].db = i == 1 && other ? other : db;
		sh[i].p = *p;
		sh[i].p.part = i;
		sh[i].p.parts = 2;
	}
	pthread_t t;
	bool threaded = other && pthread_create(&t, NULL, run_share, &sh[1]) == 0;
	run_share(&sh[0]);
	if (threaded)
		pthread_join(t, NULL);
	else
		run_share(&sh[1]);
	db_close(other);

	int rc = 0;
	memset(st, 0, sizeof *st);
	for (int i = 0; i < 2; i++) {
		if (sh[i].rc != 0) {
			if (rc == 0)
				*e = sh[i].e;
			rc = -1;
			continue;
		}
		st->groups += sh[i].st.groups;
		st->created += sh[i].st.created;
		st->changed += sh[i].st.changed;
		st->resolved += sh[i].st.resolved;
		merge_events(st, &sh[i].st);
	}
	return rc;
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
	    /* resolved here, once: the shares' threads only read it */
	    .map = provider_map_default(),
	};
	struct flags_stats tmp = {0};
	int rc = recompute(db, &p, &tmp, e);
	/* What committed is told, also when the other share failed. */
	post_events(scope->notify, tmp.events, tmp.nevents, notify_flags);
	if (rc != 0) {
		flags_stats_free(&tmp);
		return -1;
	}
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
