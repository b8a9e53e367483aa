/*
 * flag_text: see reports/flag_text.h. One function per kind of flag; the
 * wording says which numbers it rests on and, for flags that are not about
 * authentication, says so first, so nobody "fixes SPF" for a reputation or
 * blocklist problem.
 */
#include "reports/flag_text.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void flag_text_count(long long n, struct buf *out)
{
	char d[32];
	int len = snprintf(d, sizeof d, "%lld", n < 0 ? -n : n);
	if (n < 0)
		buf_putc(out, '-');
	for (int i = 0; i < len; i++) {
		buf_putc(out, d[i]);
		if ((len - i - 1) % 3 == 0 && i != len - 1)
			buf_putc(out, ',');
	}
}

void flag_text_provider(const char *provider, struct buf *out)
{
	if (!provider || !*provider) {
		buf_puts(out, "the provider");
		return;
	}
	buf_putc(out, (char)toupper((unsigned char)provider[0]));
	buf_puts(out, provider + 1);
}

static const char *ev_str(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The first element of an evidence array, or NULL. */
static json_object *ev_first(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
		return NULL;
	return json_object_array_get_idx(v, 0);
}

static void pct(struct buf *out, double rate)
{
	double p = rate * 100;
	if (p > 99.5 && p < 100)
		buf_printf(out, "%.1f %%", p);
	else
		buf_printf(out, "%.0f %%", p);
}

/* "203.0.113.7 (sending as example.com)" or "example.com's mail (every
 * source)". */
static void who(const struct flag_view *f, struct buf *out)
{
	if (f->source_ip && *f->source_ip)
		buf_printf(out, "%s (sending as %s)", f->source_ip, f->domain ? f->domain : "?");
	else
		buf_printf(out, "%s's mail (all sources)", f->domain ? f->domain : "?");
}

/* "312 rejects 550 5.7.26" */
static void rejects(const struct flag_view *f, struct buf *out)
{
	flag_text_count(f->rejects, out);
	buf_puts(out, f->rejects == 1 ? " reject" : " rejects");
	const char *code = ev_str(f->evidence, "top_code");
	if (code)
		buf_printf(out, " %s", code);
}

static void at_provider(const struct flag_view *f, struct buf *out)
{
	buf_puts(out, " at ");
	flag_text_provider(f->provider, out);
}

static void messages(const struct flag_view *f, struct buf *out)
{
	flag_text_count(f->dmarc_messages, out);
	buf_puts(out, f->dmarc_messages == 1 ? " message" : " messages");
}

static bool data_fails(const struct flag_view *f)
{
	json_object *th, *v;
	double below = 0.9;
	if (f->evidence && json_object_object_get_ex(f->evidence, "thresholds", &th) &&
	    json_object_object_get_ex(th, "fail_below", &v))
		below = json_object_get_double(v);
	long long min = 10;
	if (f->evidence && json_object_object_get_ex(f->evidence, "thresholds", &th) &&
	    json_object_object_get_ex(th, "min_messages", &v))
		min = json_object_get_int64(v);
	return f->has_rates && f->dmarc_messages >= min && f->dmarc_pass_rate < below;
}

static void auth_driven(const struct flag_view *f, struct buf *out)
{
	const char *cause = f->cause ? f->cause : "";
	json_object *dk = ev_first(f->evidence, "failing_dkim");
	json_object *sp = ev_first(f->evidence, "failing_spf");
	const char *sel = ev_str(dk, "selector"), *ddom = ev_str(dk, "domain");
	const char *sdom = ev_str(sp, "domain");
	if (data_fails(f)) {
		bool is_dkim = strcmp(cause, "dkim") == 0, is_spf = strcmp(cause, "spf") == 0;
		buf_puts(out, is_dkim  ? "DKIM fails"
		              : is_spf ? "SPF fails"
		                       : "DKIM and SPF both fail");
		buf_puts(out, " for ");
		who(f, out);
		at_provider(f, out);
		buf_puts(out, " in ");
		pct(out, 1 - (is_dkim  ? f->dkim_pass_rate
		              : is_spf ? f->spf_pass_rate
		                       : f->dmarc_pass_rate));
		buf_puts(out, " of ");
		messages(f, out);
		buf_puts(out, "; ");
		rejects(f, out);
		buf_puts(out, ". ");
		if (is_dkim && sel && ddom)
			buf_printf(
			    out,
			    "Check the DKIM key and d= alignment for selector %s at that sender "
			    "(it signs as d=%s; DMARC needs d=%s or a parent of it).",
			    sel, ddom, f->domain);
		else if (is_dkim && sel)
			buf_printf(
			    out,
			    "Check the DKIM key and d= alignment for selector %s at that sender.",
			    sel);
		else if (is_dkim)
			buf_printf(
			    out,
			    "That sender does not sign as %s: set up DKIM signing with d=%s there.",
			    f->domain, f->domain);
		else if (is_spf)
			buf_printf(
			    out,
			    "Add %s to the SPF record of %s, or have that sender use an aligned "
			    "return-path of its own.",
			    f->source_ip && *f->source_ip ? f->source_ip : "the failing sources",
			    sdom ? sdom : f->domain);
		else
			buf_printf(
			    out,
			    "Fix DKIM signing (d=%s) or SPF (the record of %s) for that sender; "
			    "one aligned pass is enough for DMARC.",
			    f->domain, sdom ? sdom : f->domain);
		json_object *tip = ev_first(f->evidence, "top_failing_ips");
		const char *ip = ev_str(tip, "ip");
		if (ip)
			buf_printf(out, " The source failing most is %s.", ip);
		return;
	}
	flag_text_provider(f->provider, out);
	buf_puts(out, "'s rejects of ");
	who(f, out);
	buf_puts(out, " name authentication (");
	rejects(f, out);
	buf_puts(out, ")");
	if (f->has_rates && f->dmarc_messages > 0) {
		buf_puts(out, ", but its reports show DMARC passing in ");
		pct(out, f->dmarc_pass_rate);
		buf_puts(out, " of ");
		messages(f, out);
		buf_puts(out,
		         ". Likely forwarded mail or another path: do not change this source's "
		         "SPF for it; check the forwarding path (ARC, a DKIM signature that "
		         "survives forwarding).");
	} else {
		buf_puts(out,
		         ", with no aggregate data to confirm it (low confidence). Check that ");
		flag_text_provider(f->provider, out);
		buf_printf(out,
		           "'s DMARC reports for %s arrive (rua=), and check %s for that sender.",
		           f->domain ? f->domain : "the domain",
		           strcmp(cause, "spf") == 0    ? "SPF"
		           : strcmp(cause, "dkim") == 0 ? "DKIM"
		                                        : "SPF and DKIM");
	}
}

static void not_auth(const struct flag_view *f, struct buf *out)
{
	const char *cause = f->cause ? f->cause : "policy";
	buf_puts(out, "Authentication is fine for ");
	who(f, out);
	at_provider(f, out);
	buf_puts(out, ": DMARC passes in ");
	pct(out, f->dmarc_pass_rate);
	buf_puts(out, " of ");
	messages(f, out);
	buf_puts(out, "; the ");
	rejects(f, out);
	if (strcmp(cause, "blocklisted") == 0) {
		const char *list = ev_str(f->evidence, "listed_on");
		const char *asset = ev_str(f->evidence, "listed_asset");
		const char *val = ev_str(f->evidence, "listed_value");
		buf_printf(out, " are a blocklisting (%s", list ? list : "a blocklist");
		if (asset)
			buf_printf(out, ", listed: %s%s%s", asset, val ? " " : "", val ? val : "");
		buf_puts(out,
		         "). Do not change SPF/DKIM: check the listing and request removal once "
		         "its cause is fixed.");
	} else if (strcmp(cause, "reputation") == 0) {
		buf_puts(out,
		         " are about reputation. Do not change SPF/DKIM: slow down, and look at "
		         "complaint rates, list hygiene and volume spikes.");
	} else if (strcmp(cause, "content") == 0) {
		buf_puts(out, " are about content. Do not change SPF/DKIM: look at the message "
		              "content and the URLs in it.");
	} else {
		buf_printf(out,
		           " are %s rejects. Do not change SPF/DKIM: read the provider's wording "
		           "in the samples.",
		           cause);
	}
}

static void mixed(const struct flag_view *f, struct buf *out)
{
	buf_puts(out, "DMARC passes for ");
	who(f, out);
	at_provider(f, out);
	buf_puts(out, " in ");
	pct(out, f->dmarc_pass_rate);
	buf_puts(out, " of ");
	messages(f, out);
	buf_puts(out, ", between the thresholds; ");
	rejects(f, out);
	buf_puts(out, ". No verdict: compare the failing DKIM/SPF identifiers in the evidence with "
	              "that sender's setup.");
}

static void no_evidence(const struct flag_view *f, struct buf *out)
{
	flag_text_provider(f->provider, out);
	buf_puts(out, " rejected ");
	who(f, out);
	buf_puts(out, " (");
	rejects(f, out);
	if (f->cause)
		buf_printf(out, ", %s", f->cause);
	buf_puts(out, ") but sent ");
	if (f->dmarc_messages > 0) {
		buf_puts(out, "too little aggregate data (");
		messages(f, out);
		buf_puts(out, ") for a verdict");
	} else {
		buf_puts(out, "no aggregate reports for it in that window");
	}
	buf_printf(out, ". Check that %s publishes rua= and that ",
	           f->domain ? f->domain : "the domain");
	flag_text_provider(f->provider, out);
	buf_puts(out, "'s reports arrive.");
}

void flag_text_advice(const struct flag_view *f, struct buf *out)
{
	const char *k = f->kind ? f->kind : "";
	if (strcmp(k, "auth_driven") == 0)
		auth_driven(f, out);
	else if (strcmp(k, "not_auth_driven") == 0)
		not_auth(f, out);
	else if (strcmp(k, "mixed") == 0)
		mixed(f, out);
	else
		no_evidence(f, out);
}
