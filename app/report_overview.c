/*
 * The MSP overview: one row per tenant, the tenant needing attention first.
 */
#include "app/report.h"

#include "app/report_int.h"
#include "core/advice.h"
#include "core/xalloc.h"
#include "db/report_read.h"
#include "reports/format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct report_col_spec tenant_cols[] = {
    {"tenant", "Tenant", REPORT_TEXT, 0},
    {"domains", "Dom", REPORT_INT, 0},
    {"messages", "Messages", REPORT_INT, 0},
    {"dmarc_pass_rate", "DMARC", REPORT_RATE, 0},
    {"previous_dmarc_pass_rate", "DMARC before", REPORT_RATE, REPORT_COL_HIDDEN},
    {"dmarc_pass_rate_change", "Change", REPORT_PCT_POINTS, 0},
    {"enforced_domains", "Enforced domains", REPORT_INT, REPORT_COL_HIDDEN},
    {"policy_domains", "Domains with a policy", REPORT_INT, REPORT_COL_HIDDEN},
    {"enforcement", "Enf", REPORT_TEXT, 0},
    {"flags_high", "High flags", REPORT_INT, REPORT_COL_HIDDEN},
    {"flags_medium", "Medium flags", REPORT_INT, REPORT_COL_HIDDEN},
    {"flags_low", "Low flags", REPORT_INT, REPORT_COL_HIDDEN},
    {"flags", "Flags", REPORT_TEXT, 0},
    {"escalations", "Esc", REPORT_INT, 0},
    {"quarantined", "Quar", REPORT_INT, 0},
    {"last_report", "Last report", REPORT_DATE, 0},
    {"silent", "Silent", REPORT_BOOL, REPORT_COL_HIDDEN | REPORT_COL_ALERT},
    {"attention_score", "Attention score", REPORT_INT, REPORT_COL_HIDDEN},
    {"attention", "Attention", REPORT_TEXT, REPORT_COL_DETAIL},
};

static long long int_of(const char *s)
{
	if (!s)
		return 0;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	return errno ? 0 : v;
}

static double rate_of(const char *s, bool *ok)
{
	char *end = NULL;
	*ok = false;
	if (!s)
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	*ok = errno == 0 && end != s;
	return *ok ? v : -1;
}

struct flagrows {
	struct report_table *t;
};

static int flag_row(void *ctx, int ncols, const char *const *names, const char *const *vals)
{
	struct flagrows *f = ctx;
	const char *tenant = NULL;
	for (int c = 0; c < ncols; c++)
		if (strcmp(names[c], "tenant") == 0)
			tenant = vals[c];
	for (size_t r = 0; tenant && r < f->t->nrows; r++) {
		const char *have = report_cell_by_key(f->t, r, "tenant");
		if (!have || strcmp(have, tenant) != 0)
			continue;
		for (int c = 0; c < ncols; c++)
			if (strncmp(names[c], "flags_", 6) == 0)
				report_cell_set(f->t, r, names[c], vals[c]);
	}
	return 0;
}

struct scored {
	size_t row;
	long score;
	const char *name;
};

static int by_score(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static void attention(struct report_table *t, bool have_flags)
{
	struct scored *sc = xcalloc(t->nrows ? t->nrows : 1, sizeof *sc);
	for (size_t r = 0; r < t->nrows; r++) {
		bool ok, okc;
		struct advice_tenant a = {
		    .messages = int_of(report_cell_by_key(t, r, "messages")),
		    .flags_high = (long)int_of(report_cell_by_key(t, r, "flags_high")),
		    .flags_medium = (long)int_of(report_cell_by_key(t, r, "flags_medium")),
		    .flags_low = (long)int_of(report_cell_by_key(t, r, "flags_low")),
		    .escalations = (long)int_of(report_cell_by_key(t, r, "escalations")),
		    .quarantined = (long)int_of(report_cell_by_key(t, r, "quarantined")),
		    .enforced = (long)int_of(report_cell_by_key(t, r, "enforced_domains")),
		    .policy_domains = (long)int_of(report_cell_by_key(t, r, "policy_domains")),
		};
		const char *silent = report_cell_by_key(t, r, "silent");
		a.silent = silent && silent[0] == 't';
		a.never = report_cell_by_key(t, r, "last_report") == NULL;
		a.rate = rate_of(report_cell_by_key(t, r, "dmarc_pass_rate"), &ok);
		if (!ok)
			a.rate = -1;
		a.change = rate_of(report_cell_by_key(t, r, "dmarc_pass_rate_change"), &okc);
		a.has_change = okc;
		char *why = NULL;
		sc[r].row = r;
		sc[r].score = advice_attention(&a, &why);
		sc[r].name = report_cell_by_key(t, r, "tenant");
		char num[32];
		snprintf(num, sizeof num, "%ld", sc[r].score);
		report_cell_set(t, r, "attention_score", num);
		report_cell_set(t, r, "attention", why);
		free(why);
		char *enf = xasprintf("%ld/%ld", a.enforced, a.policy_domains);
		report_cell_set(t, r, "enforcement", enf);
		free(enf);
		if (have_flags) {
			char *fl =
			    xasprintf("%ld/%ld/%ld", a.flags_high, a.flags_medium, a.flags_low);
			report_cell_set(t, r, "flags", fl);
			free(fl);
		}
	}
	/* Names are cells of the table: sort a copy of the order, then apply. */
	qsort(sc, t->nrows, sizeof *sc, by_score);
	size_t *order = xcalloc(t->nrows ? t->nrows : 1, sizeof *order);
	for (size_t i = 0; i < t->nrows; i++)
		order[i] = sc[i].row;
	report_table_reorder(t, order);
	free(order);
	free(sc);
}

int app_report_overview(struct db *db, const struct app_report_opts *o, struct report **out,
                        struct err *e)
{
	struct rperiod p;
	struct report *rep = NULL;
	bool isolated, has_flags = false;
	char gen[21];

	*out = NULL;
	if (db_report_begin(db, -1, &isolated, e) < 0)
		return -1;
	if (rperiod_resolve(db, o->since, o->until, -1, &p, e) < 0)
		goto fail;
	rperiod_generated_at(gen);
	rep = report_new(REPORT_KIND_OVERVIEW, "DMARC overview: all tenants", NULL, p.since,
	                 p.until, gen);
	struct rsection s = {db, o, 0, 2, e};
	const char *pp[2] = {p.since, p.until_excl};
	rsection_step(&s, "tenants");
	struct report_table *t =
	    report_table_add(rep, "tenants", "Tenants, most in need of attention first",
	                     tenant_cols, N(tenant_cols));
	if (rsection_fill(&s, t, "report_overview", 2, pp) < 0)
		goto fail;
	rsection_step(&s, "flags");
	if (db_report_has(db, "dmarcsift.v_flags", &has_flags, e) < 0)
		goto fail;
	if (has_flags) {
		struct flagrows f = {t};
		struct err qe = {0};
		if (db_report_query(db, "report_overview_flags", 2, pp, flag_row, &f, &qe) < 0) {
			if (qe.kind == ERR_RETRY) {
				err_set(e, ERR_RETRY, "%s", qe.msg);
				goto fail;
			}
			has_flags = false;
			report_table_note(t, "Flags are not available: %s", qe.msg);
		}
	} else {
		report_table_note(t, "Flags are not available: the correlator's flags view "
		                     "(dmarcsift.v_flags) is not installed.");
	}
	attention(t, has_flags);
	static const char *const series[] = {"dmarc_pass_rate"};
	static const char *const labels[] = {"DMARC pass"};
	report_chart_add(rep, REPORT_CHART_BARS, "tenant_pass_rate", "DMARC pass rate by tenant",
	                 "tenants", "tenant", series, labels, 1);
	long long total = 0;
	size_t silent = 0, attn = 0;
	for (size_t r = 0; r < t->nrows; r++) {
		total += int_of(report_cell_by_key(t, r, "messages"));
		const char *s2 = report_cell_by_key(t, r, "silent");
		silent += s2 && s2[0] == 't';
		attn += int_of(report_cell_by_key(t, r, "attention_score")) >= 100;
	}
	if (total == 0) {
		rep->empty = true;
		report_note(rep, "No DMARC aggregate data for any tenant in this period.");
	} else {
		char num[32];
		struct buf b;
		snprintf(num, sizeof num, "%lld", total);
		buf_init(&b, 0);
		report_fmt(&b, REPORT_INT, num);
		report_note(rep, "%zu tenant(s), %s messages in the period.", t->nrows, b.data);
		buf_free(&b);
	}
	if (attn)
		report_note(rep, "%zu tenant(s) need attention; the first is %s.", attn,
		            report_cell_by_key(t, 0, "tenant"));
	if (silent)
		report_note(rep, "%zu tenant(s) received no report for more than 3 days.", silent);
	report_table_empty(t, "No tenants yet: add one with 'dmarcsift tenant add NAME DOMAIN'.");
	db_report_end(db);
	*out = rep;
	return 0;
fail:
	db_report_end(db);
	report_free(rep);
	return -1;
}

struct names {
	char **v;
	size_t n;
};

static int name_row(void *ctx, int ncols, const char *const *names, const char *const *vals)
{
	(void)names;
	struct names *nm = ctx;
	if (ncols < 1 || !vals[0])
		return 0;
	nm->v = xrealloc(nm->v, (nm->n + 1) * sizeof *nm->v);
	nm->v[nm->n++] = xstrdup(vals[0]);
	return 0;
}

int app_report_tenant_names(struct db *db, char ***names, size_t *n, struct err *e)
{
	bool isolated;
	struct names nm = {NULL, 0};
	*names = NULL;
	*n = 0;
	if (db_report_begin(db, -1, &isolated, e) < 0)
		return -1;
	int rc = db_report_query(db, "report_tenants", 0, NULL, name_row, &nm, e);
	db_report_end(db);
	if (rc < 0) {
		app_report_names_free(nm.v, nm.n);
		return -1;
	}
	*names = nm.v;
	*n = nm.n;
	return 0;
}

void app_report_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
