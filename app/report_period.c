#include "app/report_int.h"

#include "core/xalloc.h"
#include "db/report_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400

/* Strict YYYY-MM-DD into days since the epoch. */
static int parse_day(const char *s, long *out)
{
	struct tm tm = {0};
	char *end = NULL;
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	tm.tm_year = (int)strtol(s, &end, 10) - 1900;
	tm.tm_mon = (int)strtol(s + 5, &end, 10) - 1;
	tm.tm_mday = (int)strtol(s + 8, &end, 10);
	int mday = tm.tm_mday, mon = tm.tm_mon;
	time_t t = timegm(&tm);
	/* timegm normalises 2026-02-31 (in place); a date that moved was not a date. */
	if (t == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon)
		return -1;
	*out = (long)(t / DAY);
	return 0;
}

static void fmt_day(long day, char out[11])
{
	time_t t = (time_t)day * DAY;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

struct first_day {
	char day[11];
};

static int first_row(void *ctx, int ncols, const char *const *names, const char *const *vals)
{
	(void)names;
	struct first_day *f = ctx;
	if (ncols > 0 && vals[0])
		snprintf(f->day, sizeof f->day, "%s", vals[0]);
	return 0;
}

int rperiod_resolve(struct db *db, const char *since, const char *until, int tenant_id,
                    struct rperiod *p, struct err *e)
{
	long u, s;
	if (until) {
		if (parse_day(until, &u) < 0)
			return err_set(e, ERR_CONFIG, "--until '%s': expected a day as YYYY-MM-DD",
			               until);
	} else {
		u = (long)(time(NULL) / DAY);
	}
	if (!since) {
		s = u - 29;
	} else if (strcmp(since, "all") == 0) {
		struct first_day f = {{0}};
		char id[16];
		snprintf(id, sizeof id, "%d", tenant_id);
		const char *params[1] = {tenant_id < 0 ? NULL : id};
		if (db_report_query(db, "report_first_day", 1, params, first_row, &f, e) < 0)
			return -1;
		if (!f.day[0] || parse_day(f.day, &s) < 0 || s > u)
			s = u; /* no data at all: a one-day period that says so */
	} else if (since[0] && strspn(since, "0123456789") == strlen(since) - 1 &&
	           since[strlen(since) - 1] == 'd') {
		errno = 0;
		long n = strtol(since, NULL, 10);
		if (errno || n < 1 || n > 36600)
			return err_set(e, ERR_CONFIG, "--since '%s': N days must be 1 to 36600",
			               since);
		s = u - n + 1;
	} else if (parse_day(since, &s) < 0) {
		return err_set(e, ERR_CONFIG,
		               "--since '%s': expected YYYY-MM-DD, a number of days (30d) or 'all'",
		               since);
	}
	if (s > u)
		return err_set(e, ERR_CONFIG, "--since %s is after --until %s", since, until);
	fmt_day(s, p->since);
	fmt_day(u, p->until);
	fmt_day(u + 1, p->until_excl);
	p->days = (int)(u - s + 1);
	return 0;
}

void rperiod_generated_at(char out[21])
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	if (sde && *sde) {
		char *end = NULL;
		errno = 0;
		long long v = strtoll(sde, &end, 10);
		if (errno == 0 && end && *end == '\0' && v >= 0)
			t = (time_t)v;
	}
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct fill {
	struct report_table *t;
	int *map; /* result column -> table column, -1 none */
	int nmap;
};

static int fill_row(void *ctx, int ncols, const char *const *names, const char *const *vals)
{
	struct fill *f = ctx;
	if (!f->map) {
		f->nmap = ncols;
		f->map = xcalloc((size_t)ncols + 1, sizeof *f->map);
		for (int c = 0; c < ncols; c++)
			f->map[c] = report_col_index(f->t, names[c]);
	}
	size_t row = report_row_add(f->t);
	for (int c = 0; c < ncols && c < f->nmap; c++)
		if (f->map[c] >= 0)
			report_cell_set(f->t, row, f->t->cols[f->map[c]].key, vals[c]);
	return 0;
}

void rsection_step(struct rsection *s, const char *step)
{
	if (s->o->progress)
		s->o->progress(s->o->progress_ctx, step, s->done, s->total);
	s->done++;
}

int rsection_fill(struct rsection *s, struct report_table *t, const char *name, int n,
                  const char *const *params)
{
	struct fill f = {t, NULL, 0};
	struct err qe = {0};
	int rc = db_report_query(s->db, name, n, params, fill_row, &f, &qe);
	free(f.map);
	if (rc == 0)
		return 0;
	if (qe.kind == ERR_RETRY) {
		err_set(s->e, ERR_RETRY, "%s", qe.msg);
		return -1;
	}
	/* Rows already added would be a partial table: drop them. */
	while (t->nrows > 0) {
		t->nrows--;
		for (size_t c = 0; c < t->ncols; c++) {
			free(t->cells[t->nrows * t->ncols + c]);
			t->cells[t->nrows * t->ncols + c] = NULL;
		}
	}
	report_table_unavailable(t, qe.msg);
	return 0;
}
