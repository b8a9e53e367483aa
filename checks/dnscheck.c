/*
 * dnscheck: see dnscheck.h.
 */
#include "checks/dnscheck.h"

#include "checks/dnsrec.h"
#include "core/advice.h"
#include "core/xalloc.h"
#include "senders/orgdomain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Sources listed by name in one finding; the rest are counted. */
#define LIST_SOURCES 10
/* The policy file is small (RFC 8461 suggests a few hundred bytes). */
#define POLICY_MAX ((size_t)64 * 1024)

static bool failed(enum resolver_status st)
{
	return st != RESOLVER_OK && st != RESOLVER_NODATA && st != RESOLVER_NXDOMAIN;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The TXT values that start with v=<version>, sorted (answers come in any
 * order; a change is a change of the set), joined by newlines. */
struct matched {
	char **v;
	size_t n;
	char *joined;
};

static void match(const struct resolver_answer *a, const char *version, struct matched *m)
{
	memset(m, 0, sizeof *m);
	for (size_t i = 0; a->status == RESOLVER_OK && i < a->n; i++)
		if (!version || dnsrec_is(a->values[i], version)) {
			m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
			m->v[m->n++] = a->values[i];
		}
	if (m->n > 1)
		qsort(m->v, m->n, sizeof *m->v, cmp_str);
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "");
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			buf_putc(&b, '\n');
		buf_puts(&b, m->v[i]);
	}
	m->joined = buf_steal(&b);
}

static void matched_free(struct matched *m)
{
	free(m->v);
	free(m->joined);
}

static void add_record(struct dnscheck_out *out, const char *domain, const char *kind,
                       const char *name, const char *text)
{
	out->rec = xrealloc(out->rec, (out->nrec + 1) * sizeof *out->rec);
	struct dnscheck_record *r = &out->rec[out->nrec++];
	r->domain = xstrdup(domain);
	r->kind = xstrdup(kind);
	r->name = xstrdup(name);
	r->text = xstrdup(text);
}

size_t dnscheck_first_questions(const char *domain, char *names[6], enum resolver_type types[6])
{
	names[0] = xasprintf("_dmarc.%s", domain);
	types[0] = RESOLVER_TXT;
	names[1] = xstrdup(domain);
	types[1] = RESOLVER_TXT;
	names[2] = xasprintf("_mta-sts.%s", domain);
	types[2] = RESOLVER_TXT;
	names[3] = xasprintf("_smtp._tls.%s", domain);
	types[3] = RESOLVER_TXT;
	names[4] = xstrdup(domain);
	types[4] = RESOLVER_MX;
	return 5;
}

/* DMARC. */

static void check_destinations(const struct dnscheck_env *env, const char *domain, const char *tag,
                               const char *list, const char *record, struct dnscheck_out *out)
{
	char **hosts = NULL;
	struct buf bad;
	buf_init(&bad, 2048);
	size_t n = dmarc_uri_hosts(list, &hosts, &bad);
	if (bad.len)
		dnsfind_add(&out->f, "dmarc_bad_uri", domain, record,
		            "%s= has destinations receivers cannot use: %s", tag, bad.data);
	char org[256];
	if (orgdomain_of(domain, org, sizeof org) != 0)
		snprintf(org, sizeof org, "%s", domain);
	for (size_t i = 0; i < n; i++) {
		char dorg[256];
		if (orgdomain_of(hosts[i], dorg, sizeof dorg) != 0)
			snprintf(dorg, sizeof dorg, "%s", hosts[i]);
		if (strcasecmp(org, dorg) == 0)
			continue;
		/* RFC 7489 section 7.1: the destination says it accepts reports
		 * about this domain. */
		char *name = xasprintf("%s._report._dmarc.%s", domain, hosts[i]);
		const struct resolver_answer *a = env->lookup(env->ctx, name, RESOLVER_TXT);
		struct matched m;
		match(a, "DMARC1", &m);
		if (failed(a->status))
			dnsfind_add(&out->f, "dmarc_rua_unverified", domain, record,
			            "%s= sends reports to %s (another organisation); its "
			            "authorisation %s could not be read (%s)",
			            tag, hosts[i], name, resolver_status_name(a->status));
		else if (m.n == 0)
			dnsfind_fix(
			    dnsfind_add(
			        &out->f, "dmarc_rua_unauthorized", domain, record,
			        "%s= sends reports to %s (another organisation), which does not "
			        "authorise it: no v=DMARC1 TXT record at %s, so receivers send "
			        "no %s reports there",
			        tag, hosts[i], name,
			        strcmp(tag, "rua") == 0 ? "aggregate" : "failure"),
			    "Ask %s's owner to publish %s TXT \"v=DMARC1\" (RFC 7489 section 7.1), "
			    "or "
			    "send %s reports to an address of %s.",
			    hosts[i], name, tag, domain);
		else
			dnsfind_add(&out->f, "dmarc_rua_authorized", domain, record,
			            "%s= destination %s authorises reports for %s (%s)", tag,
			            hosts[i], domain, name);
		matched_free(&m);
		free(name);
	}
	dnsrec_strings_free(hosts, n);
	buf_free(&bad);
}

static void check_dmarc(const struct dnscheck_env *env, const struct dnscheck_domain *d,
                        struct dnscheck_out *out)
{
	const char *domain = d->domain;
	char *name = xasprintf("_dmarc.%s", domain);
	const struct resolver_answer *a = env->lookup(env->ctx, name, RESOLVER_TXT);
	if (failed(a->status)) {
		dnsfind_add(&out->f, "dmarc_lookup_failed", domain, NULL,
		            "the DMARC record at %s could not be read (%s)", name,
		            resolver_status_name(a->status));
		free(name);
		return;
	}
	struct matched m;
	match(a, "DMARC1", &m);
	add_record(out, domain, "dmarc", name, m.joined);
	if (m.n == 0) {
		struct dnsfind *f =
		    dnsfind_add(&out->f, "dmarc_missing", domain, NULL,
		                "no DMARC record at %s: receivers apply no policy and send no "
		                "reports for %s",
		                name, domain);
		char org[256];
		if (orgdomain_of(domain, org, sizeof org) == 0 && strcasecmp(org, domain) != 0) {
			/* A subdomain falls back to its organisational domain's record. */
			char *oname = xasprintf("_dmarc.%s", org);
			const struct resolver_answer *oa =
			    env->lookup(env->ctx, oname, RESOLVER_TXT);
			struct matched om;
			match(oa, "DMARC1", &om);
			if (om.n == 1) {
				free(f->finding);
				f->finding =
				    xasprintf("no DMARC record at %s; the organisational "
				              "domain's record at %s applies (its sp=, else "
				              "its p=)",
				              name, oname);
				f->severity = DNSFIND_NOTICE;
				dnsfind_fix(
				    f,
				    "Nothing to do if %s's policy suits %s; publish its own "
				    "record at %s to set a different one.",
				    org, domain, name);
			}
			matched_free(&om);
			free(oname);
		}
		goto out;
	}
	if (m.n > 1) {
		dnsfind_add(&out->f, "dmarc_multiple", domain, m.joined,
		            "%zu DMARC records at %s: receivers apply none of them", m.n, name);
		goto out;
	}
	const char *txt = m.v[0];
	struct dmarcrec r;
	struct buf why;
	buf_init(&why, 1024);
	if (dmarcrec_parse(txt, &r, &why) != 0) {
		dnsfind_add(&out->f, "dmarc_syntax", domain, txt,
		            "the DMARC record is unusable: %s", why.data);
		buf_free(&why);
		dmarcrec_free(&r);
		goto out;
	}
	buf_free(&why);
	if (r.problems.len)
		dnsfind_add(&out->f, "dmarc_syntax", domain, txt, "the DMARC record has errors: %s",
		            r.problems.data);
	if (r.unknown.len)
		dnsfind_add(&out->f, "dmarc_unknown_tag", domain, txt,
		            "the DMARC record has tags receivers do not know: %s", r.unknown.data);
	/* The policy and its stage, from the same numbers the report uses. */
	const char *p = r.p[0] ? r.p : "none";
	struct advice_policy ap = {
	    .p = p,
	    .sp = r.sp[0] ? r.sp : NULL,
	    .np = r.np[0] ? r.np : NULL,
	    .testing = r.testing ? "y" : NULL,
	    .pct = r.pct,
	    .rate = d->rate,
	    .messages = d->messages,
	    .days_with_data = d->days,
	};
	char *stage = advice_enforcement(&ap);
	char *line = advice_policy_line(&ap, domain);
	char rate[64];
	if (d->rate >= 0 && d->messages > 0)
		snprintf(rate, sizeof rate, "%.1f%% of %lld messages pass DMARC over %d day(s)",
		         d->rate * 100.0, d->messages, d->days);
	else
		snprintf(rate, sizeof rate, "no report data yet");
	if (strcmp(p, "none") != 0) {
		dnsfind_add(&out->f, "dmarc_enforced", domain, txt, "p=%s: %s; %s", p, stage, rate);
		if (r.pct >= 0 && r.pct < 100)
			dnsfind_add(&out->f, "dmarc_partial", domain, txt,
			            "pct=%d: the policy applies to %d%% of failing mail only",
			            r.pct, r.pct);
	} else if (d->rate >= ADVICE_READY_RATE && d->days >= ADVICE_MIN_DAYS) {
		struct dnsfind *f =
		    dnsfind_add(&out->f, "dmarc_ready_to_enforce", domain, txt,
		                "p=none (monitoring) while %s: ready to enforce", rate);
		if (line)
			dnsfind_fix(f, "%s", line);
	} else {
		struct dnsfind *f = dnsfind_add(
		    &out->f, "dmarc_monitoring", domain, txt,
		    "p=none (monitoring only); %s (ready to enforce at %.0f%% over %d days)", rate,
		    ADVICE_READY_RATE * 100.0, ADVICE_MIN_DAYS);
		if (line)
			dnsfind_fix(f, "%s", line);
	}
	if (r.testing)
		dnsfind_add(&out->f, "dmarc_testing", domain, txt,
		            "t=y: receivers apply the policy one level lower (test mode)");
	free(stage);
	free(line);
	if (!r.rua)
		dnsfind_add(&out->f, "dmarc_no_rua", domain, txt,
		            "no rua= tag: receivers send no aggregate reports for %s", domain);
	else
		check_destinations(env, domain, "rua", r.rua, txt, out);
	if (r.ruf)
		check_destinations(env, domain, "ruf", r.ruf, txt, out);
	dmarcrec_free(&r);
out:
	matched_free(&m);
	free(name);
}

/* SPF. */

static int cmp_source(const void *a, const void *b)
{
	const struct dnscheck_source *x = *(const struct dnscheck_source *const *)a;
	const struct dnscheck_source *y = *(const struct dnscheck_source *const *)b;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

static void list_sources(struct buf *b, const struct dnscheck_source **v, size_t n,
                         const char *const *results)
{
	for (size_t i = 0; i < n && i < LIST_SOURCES; i++)
		buf_printf(b, "%s%s (%lld messages, %s)", i ? ", " : "", v[i]->ip, v[i]->messages,
		           results[i]);
	if (n > LIST_SOURCES)
		buf_printf(b, " and %zu more", n - LIST_SOURCES);
}

static void check_coverage(const struct dnscheck_domain *d, const struct spf_walk *w,
                           const char *txt, struct dnscheck_out *out, size_t *covered,
                           size_t *evaluated)
{
	typedef const struct dnscheck_source *srcp;
	srcp *fail = xcalloc(d->nsources + 1, sizeof(srcp));
	srcp *pass = xcalloc(d->nsources + 1, sizeof(srcp));
	const char **fres = xcalloc(d->nsources + 1, sizeof *fres);
	const char **pres = xcalloc(d->nsources + 1, sizeof *pres);
	size_t nf = 0, np = 0;
	long long fmsg = 0;
	srcp *sorted = xcalloc(d->nsources + 1, sizeof(srcp));
	for (size_t i = 0; i < d->nsources; i++)
		sorted[i] = &d->sources[i];
	qsort(sorted, d->nsources, sizeof(srcp), cmp_source);
	for (size_t i = 0; i < d->nsources; i++) {
		const struct dnscheck_source *s = sorted[i];
		enum spf_result r = spf_eval(w, s->ip);
		if (r == SPF_R_UNKNOWN || r == SPF_R_TEMPERROR)
			continue;
		(*evaluated)++;
		if (r == SPF_R_PASS) {
			(*covered)++;
			continue;
		}
		if (s->spf_pass > 0 || s->dkim_pass > 0) {
			pres[np] = spf_result_name(r);
			pass[np++] = s;
		} else {
			fres[nf] = spf_result_name(r);
			fail[nf++] = s;
			fmsg += s->messages;
		}
	}
	struct buf b;
	buf_init(&b, 0);
	if (nf) {
		list_sources(&b, fail, nf, fres);
		dnsfind_add(&out->f, "spf_uncovered_failing", d->domain, txt,
		            "%zu source(s) failing DMARC in the reports (%lld messages) are not "
		            "covered by the SPF record: %s",
		            nf, fmsg, b.data);
	}
	if (np) {
		buf_reset(&b);
		list_sources(&b, pass, np, pres);
		dnsfind_add(&out->f, "spf_uncovered_passing", d->domain, txt,
		            "%zu source(s) not covered by the SPF record pass DMARC in the "
		            "reports another way (DKIM, or SPF of another envelope domain): %s",
		            np, b.data);
	}
	buf_free(&b);
	free(sorted);
	free(fail);
	free(pass);
	free(fres);
	free(pres);
}

static void check_spf(const struct dnscheck_env *env, const struct dnscheck_domain *d,
                      struct dnscheck_out *out)
{
	const char *domain = d->domain;
	const struct resolver_answer *a = env->lookup(env->ctx, domain, RESOLVER_TXT);
	if (failed(a->status)) {
		dnsfind_add(&out->f, "spf_lookup_failed", domain, NULL,
		            "the TXT records of %s could not be read (%s)", domain,
		            resolver_status_name(a->status));
		return;
	}
	struct matched m;
	match(a, "spf1", &m);
	add_record(out, domain, "spf", domain, m.joined);
	if (m.n == 0) {
		dnsfind_add(
		    &out->f, "spf_missing", domain, NULL,
		    "no SPF record at %s: SPF is 'none' for mail from it, so DMARC rests on "
		    "DKIM alone",
		    domain);
		matched_free(&m);
		return;
	}
	if (m.n > 1) {
		dnsfind_add(&out->f, "spf_multiple", domain, m.joined,
		            "%zu SPF records at %s: every SPF check is a permerror (RFC 7208 "
		            "section 4.5)",
		            m.n, domain);
		matched_free(&m);
		return;
	}
	/* The walk's look-ups may replace cached answers: keep our own copy. */
	char *txt = xstrdup(m.v[0]);
	matched_free(&m);
	struct spfrec rec;
	struct buf why;
	buf_init(&why, 1024);
	if (spfrec_parse(txt, &rec, &why) != 0) {
		dnsfind_add(&out->f, "spf_syntax", domain, txt, "the SPF record is invalid: %s",
		            why.data);
		buf_free(&why);
		free(txt);
		return;
	}
	bool has_end = rec.redirect != NULL;
	for (size_t i = 0; i < rec.n; i++)
		if (rec.t[i].mech == SPF_ALL)
			has_end = true;
	spfrec_free(&rec);
	buf_free(&why);
	struct spf_walk w;
	spf_walk(domain, txt, env->lookup, env->ctx, &w);
	size_t before = out->f.n;
	if (w.lookups > 10)
		dnsfind_add(
		    &out->f, "spf_too_many_lookups", domain, txt,
		    "the record needs %d DNS lookups (include, a, mx, ptr, exists, redirect, "
		    "followed through includes); receivers stop at 10 and return permerror",
		    w.lookups);
	else if (w.lookups >= 9)
		dnsfind_add(&out->f, "spf_lookups_near_limit", domain, txt,
		            "the record needs %d of the 10 DNS lookups allowed", w.lookups);
	if (w.voids > 2)
		dnsfind_add(&out->f, "spf_too_many_void", domain, txt,
		            "%d look-ups find nothing (%s); receivers return permerror after 2",
		            w.voids, w.voided.data);
	else if (w.voids > 0)
		dnsfind_add(&out->f, "spf_void_lookup", domain, txt,
		            "%d look-up(s) find nothing: %s (the limit is 2)", w.voids,
		            w.voided.data);
	if (w.errors.len)
		dnsfind_add(&out->f, "spf_include_missing", domain, txt,
		            "an included or redirected record is unusable: %s", w.errors.data);
	if (w.pass_all)
		dnsfind_add(&out->f, "spf_pass_all", domain, txt,
		            "+all: every server on the Internet passes SPF for %s", domain);
	if (w.ptr)
		dnsfind_add(&out->f, "spf_ptr", domain, txt,
		            "the record uses ptr, which RFC 7208 says not to use");
	if (w.mx_over)
		dnsfind_add(&out->f, "spf_mx_too_many", domain, txt,
		            "an mx mechanism names more than 10 MX hosts");
	if (!has_end)
		dnsfind_add(
		    &out->f, "spf_no_all", domain, txt,
		    "the record ends without all or redirect=: other servers get 'neutral'");
	if (w.lookup_failed.len)
		dnsfind_add(&out->f, "spf_lookup_failed", domain, txt,
		            "look-ups the record needs failed: %s; the counts may be low",
		            w.lookup_failed.data);
	if (w.macros)
		dnsfind_add(&out->f, "spf_macro", domain, txt,
		            "the record uses macros; the terms with them were not evaluated");
	size_t covered = 0, evaluated = 0;
	check_coverage(d, &w, txt, out, &covered, &evaluated);
	bool bad = false;
	for (size_t i = before; i < out->f.n; i++)
		if (out->f.v[i].severity >= DNSFIND_WARNING)
			bad = true;
	if (!bad)
		dnsfind_add(
		    &out->f, "spf_ok", domain, txt,
		    "one valid SPF record, %d of 10 DNS lookups, %d void; covers %zu of the "
		    "%zu report sources evaluated",
		    w.lookups, w.voids, covered, evaluated);
	spf_walk_free(&w);
	free(txt);
}

/* MTA-STS and TLS-RPT. */

static void check_mx_cover(const struct dnscheck_env *env, const char *domain,
                           const struct mtasts_policy *p, const char *txt, struct dnscheck_out *out,
                           bool *all)
{
	*all = true;
	const struct resolver_answer *a = env->lookup(env->ctx, domain, RESOLVER_MX);
	if (a->status != RESOLVER_OK)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (!mtasts_mx_match(p, a->values[i])) {
			*all = false;
			dnsfind_add(
			    &out->f, "mtasts_mx_not_covered", domain, txt,
			    "MX host %s matches no mx: line of the MTA-STS policy (mode %s)",
			    a->values[i], p->mode);
		}
}

static void check_mtasts(const struct dnscheck_env *env, const char *domain,
                         struct dnscheck_out *out)
{
	char *name = xasprintf("_mta-sts.%s", domain);
	const struct resolver_answer *a = env->lookup(env->ctx, name, RESOLVER_TXT);
	if (failed(a->status)) {
		dnsfind_add(&out->f, "mtasts_lookup_failed", domain, NULL,
		            "the MTA-STS record at %s could not be read (%s)", name,
		            resolver_status_name(a->status));
		free(name);
		return;
	}
	struct matched m;
	match(a, "STSv1", &m);
	add_record(out, domain, "mta-sts", name, m.joined);
	char id[40];
	struct buf why;
	buf_init(&why, 1024);
	if (m.n == 0) {
		dnsfind_add(&out->f, "mtasts_missing", domain, NULL,
		            "no MTA-STS record at %s: senders may deliver to %s without TLS", name,
		            domain);
		goto out;
	}
	if (m.n > 1) {
		dnsfind_add(&out->f, "mtasts_multiple", domain, m.joined,
		            "%zu MTA-STS records at %s: senders ignore MTA-STS", m.n, name);
		goto out;
	}
	char *txt = xstrdup(m.v[0]);
	if (mtasts_txt_parse(txt, id, sizeof id, &why) != 0) {
		dnsfind_add(&out->f, "mtasts_syntax", domain, txt,
		            "the MTA-STS record is invalid: %s", why.data);
		free(txt);
		goto out;
	}
	char *url = xasprintf("https://mta-sts.%s/.well-known/mta-sts.txt", domain);
	if (!env->fetch) {
		dnsfind_add(&out->f, "mtasts_not_fetched", domain, txt,
		            "MTA-STS record id=%s; the policy at %s was not fetched", id, url);
		free(url);
		free(txt);
		goto out;
	}
	struct buf body;
	buf_init(&body, POLICY_MAX);
	buf_reset(&why);
	if (env->fetch(env->fetch_ctx, url, &body, &why) != 0) {
		dnsfind_add(&out->f, "mtasts_policy_unreachable", domain, txt,
		            "the MTA-STS policy at %s could not be fetched: %s", url, why.data);
	} else {
		add_record(out, domain, "mta-sts-policy", url, body.data ? body.data : "");
		struct mtasts_policy p;
		buf_reset(&why);
		if (mtasts_policy_parse(body.data ? body.data : "", body.len, &p, &why) != 0) {
			dnsfind_add(&out->f, "mtasts_policy_syntax", domain, body.data,
			            "the MTA-STS policy at %s is invalid: %s", url, why.data);
		} else {
			bool all = true;
			if (strcmp(p.mode, "none") != 0)
				check_mx_cover(env, domain, &p, body.data, out, &all);
			if (strcmp(p.mode, "testing") == 0)
				dnsfind_add(
				    &out->f, "mtasts_testing", domain, body.data,
				    "MTA-STS policy in mode testing: failures are reported, "
				    "not enforced");
			else if (strcmp(p.mode, "none") == 0)
				dnsfind_add(&out->f, "mtasts_none", domain, body.data,
				            "MTA-STS policy in mode none: the policy is withdrawn");
			else if (all)
				dnsfind_add(
				    &out->f, "mtasts_ok", domain, body.data,
				    "MTA-STS enforced (id=%s, max_age %ld s, %zu mx pattern(s))",
				    id, p.max_age, p.nmx);
			mtasts_policy_free(&p);
		}
	}
	buf_free(&body);
	free(url);
	free(txt);
out:
	buf_free(&why);
	matched_free(&m);
	free(name);
}

static void check_tlsrpt(const struct dnscheck_env *env, const struct dnscheck_domain *d,
                         struct dnscheck_out *out)
{
	const char *domain = d->domain;
	char *name = xasprintf("_smtp._tls.%s", domain);
	const struct resolver_answer *a = env->lookup(env->ctx, name, RESOLVER_TXT);
	if (failed(a->status)) {
		dnsfind_add(&out->f, "tlsrpt_lookup_failed", domain, NULL,
		            "the TLS-RPT record at %s could not be read (%s)", name,
		            resolver_status_name(a->status));
		free(name);
		return;
	}
	struct matched m;
	match(a, "TLSRPTv1", &m);
	add_record(out, domain, "tls-rpt", name, m.joined);
	struct buf why;
	buf_init(&why, 1024);
	int n;
	if (m.n == 0)
		dnsfind_add(&out->f, "tlsrpt_missing", domain, NULL,
		            "no TLS-RPT record at %s: nobody reports TLS failures delivering to %s",
		            name, domain);
	else if (m.n > 1)
		dnsfind_add(&out->f, "tlsrpt_multiple", domain, m.joined,
		            "%zu TLS-RPT records at %s: senders send no reports", m.n, name);
	else if ((n = tlsrptrec_parse(m.v[0], &why)) < 0)
		dnsfind_add(&out->f, "tlsrpt_syntax", domain, m.v[0],
		            "the TLS-RPT record is invalid: %s", why.data);
	else if (d->tls.known && d->tls.reports == 0)
		dnsfind_add(&out->f, "tlsrpt_no_reports", domain, m.v[0],
		            "TLS-RPT record with %d report destination(s), but no SMTP TLS report "
		            "for %s arrived in the window",
		            n, domain);
	else
		dnsfind_add(&out->f, "tlsrpt_ok", domain, m.v[0],
		            "TLS-RPT record with %d report destination(s)", n);
	/* Whatever the record says now, failed sessions in the reports that did
	 * arrive are worth knowing. */
	if (d->tls.known && d->tls.failed > 0) {
		long long all = d->tls.ok + d->tls.failed;
		char top[200] = "";
		if (*d->tls.top_failure)
			snprintf(top, sizeof top, "; most: %.120s (%lld)", d->tls.top_failure,
			         d->tls.top_failed);
		struct dnsfind *f =
		    dnsfind_add(&out->f, "tlsrpt_failures", domain, NULL,
		                "the SMTP TLS reports show %lld of %lld sessions to %s failing "
		                "(%.1f %%) in %lld "
		                "report(s)%s",
		                d->tls.failed, all, domain,
		                100.0 * (double)d->tls.failed / (double)all, d->tls.reports, top);
		if (strstr(d->tls.top_failure, "sts-"))
			dnsfind_fix(
			    f,
			    "Senders could not fetch or apply the MTA-STS policy: check that "
			    "https://mta-sts.%s/.well-known/mta-sts.txt is served with a valid "
			    "certificate and lists every MX.",
			    domain);
		else if (strstr(d->tls.top_failure, "certificate") ||
		         strstr(d->tls.top_failure, "validation"))
			dnsfind_fix(
			    f, "Senders could not validate the MX certificates: renew them and "
			       "make them name every MX host (v_tls lists the hosts).");
	}
	buf_free(&why);
	matched_free(&m);
	free(name);
}

void dnscheck_domain(const struct dnscheck_env *env, const struct dnscheck_domain *d,
                     struct dnscheck_out *out)
{
	check_dmarc(env, d, out);
	check_spf(env, d, out);
	check_mtasts(env, d->domain, out);
	check_tlsrpt(env, d, out);
}

/* DKIM. */

static void check_selector(const struct dnscheck_env *env, const struct dnscheck_selector *s,
                           struct dnscheck_out *out)
{
	char *name = xasprintf("%s._domainkey.%s", s->selector, s->domain);
	const struct resolver_answer *a = env->lookup(env->ctx, name, RESOLVER_TXT);
	char seen[160];
	if (s->fail > 0)
		snprintf(seen, sizeof seen,
		         "selector %s fails DKIM in the reports (%lld of %lld messages)",
		         s->selector, s->fail, s->messages);
	else
		snprintf(seen, sizeof seen, "selector %s signs %lld messages in the reports",
		         s->selector, s->messages);
	if (failed(a->status)) {
		dnsfind_add(&out->f, "dkim_lookup_failed", s->domain, NULL,
		            "the DKIM key at %s could not be read (%s)", name,
		            resolver_status_name(a->status));
		free(name);
		return;
	}
	struct matched m;
	match(a, NULL, &m);
	add_record(out, s->domain, "dkim", name, m.joined);
	if (m.n == 0) {
		struct dnsfind *f =
		    dnsfind_add(&out->f, "dkim_key_missing", s->domain, NULL,
		                "no DKIM key at %s: %s, and every receiver fails it", name, seen);
		if (s->fail == 0)
			f->severity = DNSFIND_WARNING;
		dnsfind_fix(
		    f,
		    "Publish selector %s's public key at %s (the signing service shows it), "
		    "or stop signing with it.",
		    s->selector, name);
		goto out;
	}
	/* Several TXT records at a key name: the first that reads is used,
	 * as verifiers do. */
	struct dkimkey k = {0};
	struct buf why;
	buf_init(&why, 1024);
	const char *txt = NULL;
	for (size_t i = 0; i < m.n && !txt; i++) {
		buf_reset(&why);
		if (dkimkey_parse(m.v[i], &k, &why) == 0)
			txt = m.v[i];
	}
	if (!txt) {
		dnsfind_add(&out->f, "dkim_syntax", s->domain, m.v[0],
		            "the DKIM key record at %s is unusable: %s; %s", name, why.data, seen);
	} else if (k.revoked) {
		struct dnsfind *f =
		    dnsfind_add(&out->f, "dkim_key_revoked", s->domain, txt,
		                "the key at %s is revoked (empty p=); %s", name, seen);
		if (s->fail > 0)
			f->severity = DNSFIND_ERROR;
	} else if (strcmp(k.k, "ed25519") == 0) {
		dnsfind_add(&out->f, "dkim_key_ok", s->domain, txt, "ed25519 key at %s; %s", name,
		            seen);
	} else if (k.bits < 1024) {
		dnsfind_add(&out->f, "dkim_weak_key", s->domain, txt,
		            "%d-bit RSA key at %s, under 1024 bits; %s", k.bits, name, seen);
	} else if (k.bits < 2048) {
		dnsfind_add(&out->f, "dkim_1024_key", s->domain, txt, "%d-bit RSA key at %s; %s",
		            k.bits, name, seen);
	} else {
		dnsfind_add(&out->f, "dkim_key_ok", s->domain, txt, "%d-bit RSA key at %s; %s",
		            k.bits, name, seen);
	}
	if (txt && k.testing)
		dnsfind_add(&out->f, "dkim_testing", s->domain, txt,
		            "the key at %s is flagged t=y (testing)", name);
	buf_free(&why);
out:
	matched_free(&m);
	free(name);
}

void dnscheck_selectors(const struct dnscheck_env *env, const struct dnscheck_selector *s, size_t n,
                        struct dnscheck_out *out)
{
	for (size_t i = 0; i < n; i++)
		check_selector(env, &s[i], out);
}

void dnscheck_out_free(struct dnscheck_out *out)
{
	dnsfinds_free(&out->f);
	for (size_t i = 0; i < out->nrec; i++) {
		free(out->rec[i].domain);
		free(out->rec[i].kind);
		free(out->rec[i].name);
		free(out->rec[i].text);
	}
	free(out->rec);
	out->rec = NULL;
	out->nrec = 0;
}
