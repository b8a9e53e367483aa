/*
 * The tenant report: every section the MSP sends its client each month.
 */
#include "app/report.h"

#include "app/report_int.h"
#include "core/advice.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/report_read.h"
#include "db/store.h"
#include "reports/flag_text.h"
#include "reports/format.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T      REPORT_TEXT
#define I      REPORT_INT
#define R      REPORT_RATE
#define PP     REPORT_PCT_POINTS
#define D      REPORT_DATE
#define TM     REPORT_TIME
#define B      REPORT_BOOL
#define J      REPORT_JSON
#define DETAIL REPORT_COL_DETAIL
#define HIDDEN REPORT_COL_HIDDEN
#define ALERT  REPORT_COL_ALERT
#define N(a)   (sizeof(a) / sizeof((a)[0]))

static const struct report_col_spec summary_cols[] = {
    {"messages", "Messages", I, 0},
    {"dmarc_pass_rate", "DMARC pass", R, 0},
    {"dkim_pass_rate", "DKIM aligned", R, 0},
    {"spf_pass_rate", "SPF aligned", R, 0},
    {"dmarc_fail", "Failing messages", I, 0},
    {"previous_dmarc_pass_rate", "DMARC pass, previous period", R, 0},
    {"dmarc_pass_rate_change", "Change", PP, 0},
    {"domains", "Domains", I, 0},
    {"sources", "Sending sources", I, 0},
    {"reporters", "Reporters", I, 0},
    {"reports", "Reports", I, 0},
    {"days_with_data", "Days with reports", I, 0},
    {"days", "Days in period", I, HIDDEN},
};

static const struct report_col_spec daily_cols[] = {
    {"day", "Day", D, 0},
    {"messages", "Messages", I, 0},
    {"pass_both", "DKIM and SPF", I, HIDDEN},
    {"pass_dkim_only", "DKIM only", I, HIDDEN},
    {"pass_spf_only", "SPF only", I, HIDDEN},
    {"fail", "Failing", I, 0},
    {"dmarc_pass_rate", "DMARC", R, 0},
    {"dkim_pass_rate", "DKIM", R, 0},
    {"spf_pass_rate", "SPF", R, 0},
};

static const struct report_col_spec domain_cols[] = {
    {"domain", "Domain", T, 0},
    {"messages", "Messages", I, 0},
    {"dmarc_pass_rate", "DMARC", R, 0},
    {"dkim_pass_rate", "DKIM", R, 0},
    {"spf_pass_rate", "SPF", R, 0},
    {"days", "Days with reports", I, HIDDEN},
    {"p", "p", T, HIDDEN},
    {"sp", "sp", T, HIDDEN},
    {"pct", "pct", I, HIDDEN},
    {"np", "np", T, HIDDEN},
    {"testing", "testing", T, HIDDEN},
    {"policy", "Policy", T, 0},
    {"advice", "Advice", T, DETAIL},
};

static const struct report_col_spec source_cols[] = {
    {"source_ip", "Source", T, 0},
    {"name", "Known as", T, 0},
    {"messages", "Messages", I, 0},
    {"failing", "Failing", I, 0},
    {"dmarc_pass_rate", "DMARC", R, 0},
    {"dkim_pass_rate", "DKIM", R, 0},
    {"spf_pass_rate", "SPF", R, 0},
    {"forwarded", "Fwd", B, 0},
    {"reporters", "Seen by", T, DETAIL},
    {"header_from", "From domains", T, HIDDEN},
    {"ptr", "PTR", T, HIDDEN},
    {"ptr_confirmed", "PTR confirmed", B, HIDDEN},
    {"org_domain", "Organisational domain", T, HIDDEN},
    {"asn", "ASN", I, HIDDEN},
    {"as_name", "AS name", T, HIDDEN},
    {"country", "Country", T, HIDDEN},
    {"service", "Service", T, HIDDEN},
    {"service_type", "Service type", T, HIDDEN},
    {"total_sources", "Sources in the period", I, HIDDEN},
};

static const struct report_col_spec reporter_cols[] = {
    {"reporter", "Reporter", T, 0},        {"reports", "Reports", I, 0},
    {"messages", "Messages", I, 0},        {"domains", "Domains", I, 0},
    {"last_report", "Last report", TM, 0}, {"stale", "Stale", B, ALERT},
};

static const struct report_col_spec bounce_cols[] = {
    {"provider", "Provider", T, 0}, {"class", "Class", T, 0}, {"events", "Events", I, 0},
    {"attempts", "Attempts", I, 0}, {"rate", "Share", R, 0},  {"block", "Block", B, 0},
};

static const struct report_col_spec suppression_cols[] = {
    {"address", "Address", T, 0},           {"reason", "Reason", T, 0},
    {"evidence_count", "Bounces", I, 0},    {"suppressed_at", "Since", TM, 0},
    {"last_text", "Last reply", T, DETAIL},
};

static const struct report_col_spec escalation_cols[] = {
    {"provider", "Provider", T, 0},
    {"class", "Class", T, 0},
    {"code_family", "Code", T, 0},
    {"count", "Rejects", I, 0},
    {"attempts", "Attempts", I, 0},
    {"rate", "Rate", R, 0},
    {"first_seen", "First seen", TM, HIDDEN},
    {"last_seen", "Last seen", TM, 0},
    {"trigger", "Trigger", T, HIDDEN},
    {"pattern", "Pattern", T, HIDDEN},
    {"sample_text", "Sample reply", T, DETAIL},
};

static const struct report_col_spec listing_cols[] = {
    {"asset", "Asset", T, 0},
    {"list", "List", T, 0},
    {"code", "Code", T, 0},
    {"reason", "Reason", T, 0},
    {"status", "Status", T, 0},
    {"impact", "Impact", T, 0},
    {"rejects", "Rejects", I, 0},
    {"asset_kind", "Kind", T, HIDDEN},
    {"first_seen", "First seen", TM, HIDDEN},
    {"last_seen", "Last seen", TM, HIDDEN},
};

static const struct report_col_spec flag_cols[] = {
    {"kind", "Kind", T, 0},
    {"confidence", "Conf.", T, 0},
    {"cause", "Cause", T, 0},
    {"provider", "Provider", T, 0},
    {"domain", "Domain", T, 0},
    {"source_ip", "Source", T, 0},
    {"rejects", "Rejects", I, 0},
    {"dmarc_pass_rate", "DMARC", R, 0},
    {"status", "Status", T, HIDDEN},
    {"first_seen", "First seen", TM, HIDDEN},
    {"last_seen", "Last seen", TM, HIDDEN},
    {"dmarc_messages", "DMARC messages", I, HIDDEN},
    {"dkim_pass_rate", "DKIM", R, HIDDEN},
    {"spf_pass_rate", "SPF", R, HIDDEN},
    {"seen", "Seen", T, DETAIL},
    {"numbers", "Evidence", T, DETAIL},
    {"action", "Action", T, DETAIL},
    {"evidence", "Evidence (full)", J, HIDDEN},
};

static const struct report_col_spec failure_cols[] = {
    {"received_at", "Received", TM, 0}, {"stage", "Stage", T, 0},
    {"reason", "Reason", T, 0},         {"source", "Source", T, DETAIL},
    {"sha256", "SHA-256", T, HIDDEN},
};

static double rate_of(const char *s)
{
	double v;
	char *end = NULL;
	if (!s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	return (errno || end == s) ? -1 : v;
}

static long long int_of(const char *s)
{
	if (!s)
		return 0;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	return errno ? 0 : v;
}

static void domains_advice(struct report_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		const char *pct = report_cell_by_key(t, r, "pct");
		struct advice_policy a = {
		    .p = report_cell_by_key(t, r, "p"),
		    .sp = report_cell_by_key(t, r, "sp"),
		    .np = report_cell_by_key(t, r, "np"),
		    .testing = report_cell_by_key(t, r, "testing"),
		    .pct = pct ? (int)int_of(pct) : -1,
		    .rate = rate_of(report_cell_by_key(t, r, "dmarc_pass_rate")),
		    .messages = int_of(report_cell_by_key(t, r, "messages")),
		    .days_with_data = (int)int_of(report_cell_by_key(t, r, "days")),
		};
		char *enf = advice_enforcement(&a);
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, enf);
		if (a.sp && a.p && strcmp(a.sp, a.p) != 0)
			buf_printf(&b, "; sp=%s", a.sp);
		if (a.np)
			buf_printf(&b, "; np=%s", a.np);
		report_cell_set(t, r, "policy", b.data);
		buf_free(&b);
		free(enf);
		char *adv = advice_policy_line(&a, report_cell_by_key(t, r, "domain"));
		report_cell_set(t, r, "advice", adv);
		free(adv);
	}
}

struct named {
	struct report_table *t;
	size_t matched;
};

/* One row of v_sources: fills the matching source row's naming columns. */
static int named_row(void *ctx, int ncols, const char *const *names, const char *const *vals)
{
	struct named *n = ctx;
	const char *ip = NULL;
	for (int c = 0; c < ncols; c++)
		if (strcmp(names[c], "source_ip") == 0)
			ip = vals[c];
	if (!ip)
		return 0;
	for (size_t r = 0; r < n->t->nrows; r++) {
		const char *have = report_cell_by_key(n->t, r, "source_ip");
		if (!have || strcmp(have, ip) != 0)
			continue;
		for (int c = 0; c < ncols; c++)
			if (strcmp(names[c], "source_ip") != 0 &&
			    report_col_index(n->t, names[c]) >= 0)
				report_cell_set(n->t, r, names[c], vals[c]);
		n->matched++;
	}
	return 0;
}

static void source_names(struct report_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		const char *service = report_cell_by_key(t, r, "service");
		const char *ptr = report_cell_by_key(t, r, "ptr");
		const char *conf = report_cell_by_key(t, r, "ptr_confirmed");
		const char *as = report_cell_by_key(t, r, "as_name");
		const char *asn = report_cell_by_key(t, r, "asn");
		struct buf b;
		buf_init(&b, 0);
		if (service)
			buf_puts(&b, service);
		else if (ptr)
			buf_printf(&b, "%s%s", ptr, conf && conf[0] == 'f' ? " (unconfirmed)" : "");
		if (asn || as) {
			buf_puts(&b, b.len ? ", " : "");
			if (asn)
				buf_printf(&b, "AS%s", asn);
			if (as)
				buf_printf(&b, "%s%s", asn ? " " : "", as);
		}
		report_cell_set(t, r, "name", b.len ? b.data : NULL);
		buf_free(&b);
	}
}

static void flag_details(struct report_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		const char *first = report_cell_by_key(t, r, "first_seen");
		const char *last = report_cell_by_key(t, r, "last_seen");
		const char *status = report_cell_by_key(t, r, "status");
		char *seen = xasprintf("%.10s to %.10s%s%s", first ? first : "?", last ? last : "?",
		                       status ? ", " : "", status ? status : "");
		report_cell_set(t, r, "seen", seen);
		free(seen);
		struct buf b;
		buf_init(&b, 0);
		buf_printf(&b, "%s rejects; ",
		           report_cell_by_key(t, r, "rejects") ? report_cell_by_key(t, r, "rejects")
		                                               : "0");
		const char *dm = report_cell_by_key(t, r, "dmarc_messages");
		if (dm && int_of(dm) > 0) {
			buf_printf(&b, "DMARC data: %s messages", dm);
			const char *keys[3] = {"dmarc_pass_rate", "dkim_pass_rate",
			                       "spf_pass_rate"};
			const char *labels[3] = {"DMARC", "DKIM", "SPF"};
			for (int k = 0; k < 3; k++) {
				double v = rate_of(report_cell_by_key(t, r, keys[k]));
				if (v >= 0)
					buf_printf(&b, ", %s pass %.1f %%", labels[k], v * 100.0);
			}
		} else {
			buf_puts(&b, "no DMARC data from this provider");
		}
		report_cell_set(t, r, "numbers", b.data);
		buf_free(&b);
		/* The same sentence, with its numbers, as 'dmarcsift flags' prints. */
		const char *ev = report_cell_by_key(t, r, "evidence");
		double dm_rate = rate_of(report_cell_by_key(t, r, "dmarc_pass_rate"));
		struct flag_view fv = {
		    .tenant = NULL,
		    .kind = report_cell_by_key(t, r, "kind"),
		    .confidence = report_cell_by_key(t, r, "confidence"),
		    .cause = report_cell_by_key(t, r, "cause"),
		    .provider = report_cell_by_key(t, r, "provider"),
		    .domain = report_cell_by_key(t, r, "domain"),
		    .source_ip = report_cell_by_key(t, r, "source_ip"),
		    .status = report_cell_by_key(t, r, "status"),
		    .rejects = int_of(report_cell_by_key(t, r, "rejects")),
		    .dmarc_messages = int_of(dm),
		    .has_rates = dm_rate >= 0,
		    .dkim_pass_rate = rate_of(report_cell_by_key(t, r, "dkim_pass_rate")),
		    .spf_pass_rate = rate_of(report_cell_by_key(t, r, "spf_pass_rate")),
		    .dmarc_pass_rate = dm_rate,
		    .evidence = ev ? json_tokener_parse(ev) : NULL,
		};
		struct buf act;
		buf_init(&act, 0);
		flag_text_advice(&fv, &act);
		report_cell_set(t, r, "action", act.len ? act.data : NULL);
		buf_free(&act);
		if (fv.evidence)
			json_object_put(fv.evidence);
	}
}

/* The sentences at the top: the story of the period at a glance. */
static void headline(struct report *rep)
{
	struct report_table *s = report_table_find(rep, "summary");
	long long msgs = s && s->nrows ? int_of(report_cell_by_key(s, 0, "messages")) : 0;
	if (msgs == 0) {
		rep->empty = true;
		report_note(rep, "No DMARC aggregate data for this tenant in this period.");
		/* A calendar of zeros says nothing the sentence does not. */
		struct report_table *d = report_table_find(rep, "daily");
		if (d && !d->unavailable) {
			for (size_t i = 0; i < d->nrows * d->ncols; i++) {
				free(d->cells[i]);
				d->cells[i] = NULL;
			}
			d->nrows = 0;
			report_table_empty(d, "No reports in this period.");
		}
	} else {
		double rate = rate_of(report_cell_by_key(s, 0, "dmarc_pass_rate"));
		double chg = rate_of(report_cell_by_key(s, 0, "dmarc_pass_rate_change"));
		const char *c = report_cell_by_key(s, 0, "dmarc_pass_rate_change");
		if (c)
			chg = strtod(c, NULL);
		struct buf n;
		buf_init(&n, 0);
		report_fmt(&n, REPORT_INT, report_cell_by_key(s, 0, "messages"));
		report_note(rep, "%s messages, %.1f %% passing DMARC%s.", n.data, rate * 100.0,
		            c ? (chg >= 0 ? " (up from the previous period)"
		                          : " (down from the previous period)")
		              : "");
		buf_free(&n);
	}
	struct report_table *src = report_table_find(rep, "sources");
	if (src && !src->unavailable && src->nrows > 0) {
		long long fail = int_of(report_cell_by_key(src, 0, "failing"));
		if (fail > 0) {
			const char *name = report_cell_by_key(src, 0, "name");
			struct buf f, m;
			buf_init(&f, 0);
			buf_init(&m, 0);
			report_fmt(&f, REPORT_INT, report_cell_by_key(src, 0, "failing"));
			report_fmt(&m, REPORT_INT, report_cell_by_key(src, 0, "messages"));
			report_note(
			    rep, "Most failing source: %s%s%s%s, %s of %s messages failing DMARC.",
			    report_cell_by_key(src, 0, "source_ip"), name ? " (" : "",
			    name ? name : "", name ? ")" : "", f.data, m.data);
			buf_free(&f);
			buf_free(&m);
		}
	}
	struct report_table *fl = report_table_find(rep, "flags");
	if (fl && !fl->unavailable && fl->nrows > 0) {
		size_t auth = 0, notauth = 0;
		for (size_t r = 0; r < fl->nrows; r++) {
			const char *k = report_cell_by_key(fl, r, "kind");
			auth += k && strcmp(k, "auth_driven") == 0;
			notauth += k && strcmp(k, "not_auth_driven") == 0;
		}
		report_note(rep,
		            "%zu auth-driven and %zu not-auth-driven reject flag(s): see Flags.",
		            auth, notauth);
		const char *act = report_cell_by_key(fl, 0, "action");
		if (act)
			report_note(rep, "%s", act);
	}
	struct report_table *esc = report_table_find(rep, "escalations");
	if (esc && !esc->unavailable && esc->nrows > 0)
		report_note(rep, "%zu open escalation(s) of repeating rejects.", esc->nrows);
	struct report_table *rp = report_table_find(rep, "reporters");
	if (rp && !rp->unavailable) {
		size_t stale = 0;
		for (size_t r = 0; r < rp->nrows; r++) {
			const char *v = report_cell_by_key(rp, r, "stale");
			stale += v && v[0] == 't';
		}
		if (stale)
			report_note(rep, "%zu reporter(s) stopped sending reports: see Reporters.",
			            stale);
	}
}

static int build(struct db *db, const struct app_report_opts *o, int tenant_id,
                 const struct rperiod *p, struct report *rep, struct err *e)
{
	struct rsection s = {db, o, 0, 11, e};
	char id[16], limit[16];
	bool has;
	snprintf(id, sizeof id, "%d", tenant_id);
	snprintf(limit, sizeof limit, "%d", o->source_limit > 0 ? o->source_limit : 100);
	const char *pp[4] = {id, p->since, p->until_excl, limit};
	const char *np[3] = {o->tenant, p->since, p->until_excl};
	struct report_table *t;

	rsection_step(&s, "summary");
	t = report_table_add(rep, "summary", "Summary", summary_cols, N(summary_cols));
	t->vertical = true;
	if (rsection_fill(&s, t, "report_summary", 3, pp) < 0)
		return -1;

	rsection_step(&s, "daily");
	t = report_table_add(rep, "daily", "Day by day", daily_cols, N(daily_cols));
	if (rsection_fill(&s, t, "report_daily", 3, pp) < 0)
		return -1;
	static const char *const rate_series[] = {"dmarc_pass_rate", "dkim_pass_rate",
	                                          "spf_pass_rate"};
	static const char *const rate_labels[] = {"DMARC pass", "DKIM aligned", "SPF aligned"};
	report_chart_add(rep, REPORT_CHART_LINE, "pass_rate", "Daily pass rate", "daily", "day",
	                 rate_series, rate_labels, 3);
	static const char *const vol_series[] = {"pass_both", "pass_dkim_only", "pass_spf_only",
	                                         "fail"};
	static const char *const vol_labels[] = {"DKIM and SPF pass", "DKIM only", "SPF only",
	                                         "DMARC fail"};
	report_chart_add(rep, REPORT_CHART_STACKED, "volume", "Daily volume by result", "daily",
	                 "day", vol_series, vol_labels, 4);

	rsection_step(&s, "domains");
	t = report_table_add(rep, "domains", "Domains and policy", domain_cols, N(domain_cols));
	if (rsection_fill(&s, t, "report_domains", 3, pp) < 0)
		return -1;
	domains_advice(t);
	report_table_empty(t, "No domains: this tenant owns none and no report named one.");

	rsection_step(&s, "sources");
	t = report_table_add(rep, "sources", "Sending sources, most failing first", source_cols,
	                     N(source_cols));
	if (rsection_fill(&s, t, "report_sources", 4, pp) < 0)
		return -1;
	if (t->nrows > 0) {
		long long total = int_of(report_cell_by_key(t, 0, "total_sources"));
		if (total > (long long)t->nrows)
			report_table_note(t, "The %zu most failing of %lld sources.", t->nrows,
			                  total);
	}
	/* The listed sources' addresses, as an inet[] literal: who saw them
	 * and what they are is looked up for these only. */
	struct buf ips;
	buf_init(&ips, 0);
	buf_putc(&ips, '{');
	for (size_t r = 0; r < t->nrows; r++) {
		const char *ip = report_cell_by_key(t, r, "source_ip");
		if (ip)
			buf_printf(&ips, "%s\"%s\"", ips.len > 1 ? "," : "", ip);
	}
	buf_putc(&ips, '}');
	if (t->nrows > 0) {
		const char *rp[4] = {id, p->since, p->until_excl, ips.data};
		struct named n = {t, 0};
		struct err qe = {0};
		int qrc = db_report_query(db, "report_source_reporters", 4, rp, named_row, &n, &qe);
		if (qrc < 0 && qe.kind == ERR_RETRY) {
			buf_free(&ips);
			return err_set(e, ERR_RETRY, "%s", qe.msg);
		}
		if (qrc < 0)
			report_table_note(t, "Reporters per source are not available: %s", qe.msg);
	}
	if (db_report_has(db, "dmarcsift.v_sources", &has, e) < 0) {
		buf_free(&ips);
		return -1;
	}
	if (has) {
		const char *sp[2] = {id, ips.data};
		struct named n = {t, 0};
		struct err qe = {0};
		if (db_report_query(db, "report_sources_named", 2, sp, named_row, &n, &qe) < 0) {
			if (qe.kind == ERR_RETRY) {
				buf_free(&ips);
				return err_set(e, ERR_RETRY, "%s", qe.msg);
			}
			report_table_note(t, "Source names are not available: %s", qe.msg);
		}
		source_names(t);
	} else if (t->nrows > 0) {
		char *before = t->note ? xstrdup(t->note) : NULL;
		report_table_note(t,
		                  "%s%sSource names (reverse DNS, ASN, known services) are not "
		                  "available: the sources view is not installed.",
		                  before ? before : "", before ? " " : "");
		free(before);
	}
	buf_free(&ips);

	rsection_step(&s, "reporters");
	t = report_table_add(rep, "reporters", "Reporters", reporter_cols, N(reporter_cols));
	if (rsection_fill(&s, t, "report_reporters", 3, pp) < 0)
		return -1;

	rsection_step(&s, "bounces");
	t = report_table_add(rep, "bounces", "Bounce classes by provider", bounce_cols,
	                     N(bounce_cols));
	if (rsection_fill(&s, t, "report_bounces", 3, pp) < 0)
		return -1;
	report_table_empty(t, "No bounce records in this period.");

	/* Blocklist listings beside the bounces they explain. */
	rsection_step(&s, "listings");
	t = report_table_add(rep, "listings", "Blocklist listings", listing_cols, N(listing_cols));
	if (db_report_has(db, "dmarcsift.v_listings", &has, e) < 0)
		return -1;
	if (!has) {
		report_table_unavailable(t, "the listings view (dmarcsift.v_listings) is not "
		                            "installed.");
	} else {
		if (rsection_fill(&s, t, "report_listings", 3, np) < 0)
			return -1;
		report_table_empty(t, "No blocklist listing ('dmarcsift blocklists check' found "
		                      "none, or has not run).");
	}

	rsection_step(&s, "suppressions");
	t = report_table_add(rep, "suppressions", "Suppressions added", suppression_cols,
	                     N(suppression_cols));
	if (rsection_fill(&s, t, "report_suppressions", 3, pp) < 0)
		return -1;
	report_table_empty(t, "No address was suppressed in this period.");

	rsection_step(&s, "escalations");
	t = report_table_add(rep, "escalations", "Open escalations", escalation_cols,
	                     N(escalation_cols));
	if (rsection_fill(&s, t, "report_escalations", 3, pp) < 0)
		return -1;
	report_table_empty(t, "No open escalation.");

	rsection_step(&s, "flags");
	t = report_table_add(rep, "flags", "Flags: rejects and their cause", flag_cols,
	                     N(flag_cols));
	if (db_report_has(db, "dmarcsift.v_flags", &has, e) < 0)
		return -1;
	if (!has) {
		report_table_unavailable(t,
		                         "the correlator's flags view (dmarcsift.v_flags) is not "
		                         "installed.");
	} else {
		if (rsection_fill(&s, t, "report_flags", 3, np) < 0)
			return -1;
		flag_details(t);
		report_table_empty(t,
		                   "No flags: no policy reject in this period needs explaining.");
	}

	rsection_step(&s, "quarantine");
	t = report_table_add(rep, "quarantine", "Quarantined inputs", failure_cols,
	                     N(failure_cols));
	if (rsection_fill(&s, t, "report_failures", 1, pp) < 0)
		return -1;
	report_table_empty(t, "Nothing in quarantine.");
	headline(rep);
	return 0;
}

int app_report_tenant(struct db *db, const struct app_report_opts *o, struct report **out,
                      struct err *e)
{
	struct rperiod p;
	struct report *rep = NULL;
	int tenant_id;
	bool isolated = false;
	char gen[21];

	*out = NULL;
	if (!o->tenant)
		return err_set(e, ERR_CONFIG, "a tenant report needs --tenant NAME");
	if (store_tenant_resolve(db, NULL, o->tenant, &tenant_id, e) < 0)
		return -1;
	if (db_report_begin(db, tenant_id, &isolated, e) < 0)
		return -1;
	if (!isolated)
		fprintf(
		    stderr,
		    "dmarcsift: warning: tenant %s has no reading role of its own, so its report "
		    "relies on its queries' tenant filters ('dmarcsift tenant grant %s ROLE' adds "
		    "one)\n",
		    o->tenant, o->tenant);
	if (rperiod_resolve(db, o->since, o->until, tenant_id, &p, e) < 0)
		goto fail;
	rperiod_generated_at(gen);
	char *title = xasprintf("DMARC report: %s", o->tenant);
	rep = report_new(REPORT_KIND_TENANT, title, o->tenant, p.since, p.until, gen);
	free(title);
	if (build(db, o, tenant_id, &p, rep, e) < 0)
		goto fail;
	db_report_end(db);
	*out = rep;
	return 0;
fail:
	db_report_end(db);
	report_free(rep);
	return -1;
}
