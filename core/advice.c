#include "core/advice.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <stddef.h>
#include <strings.h>

static bool is(const char *v, const char *want)
{
	return v && strcasecmp(v, want) == 0;
}

static bool partial(const struct advice_policy *a)
{
	return (a->pct >= 0 && a->pct < 100) || is(a->testing, "y");
}

char *advice_enforcement(const struct advice_policy *a)
{
	if (!a->p || !*a->p)
		return xstrdup("unknown");
	bool enforcing = is(a->p, "quarantine") || is(a->p, "reject");
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, a->p);
	if (a->pct >= 0 && a->pct < 100)
		buf_printf(&b, ", pct %d", a->pct);
	if (is(a->testing, "y"))
		buf_puts(&b, ", testing");
	if (!enforcing)
		buf_puts(&b, " (monitoring)");
	else if (partial(a))
		buf_puts(&b, " (partial)");
	else
		buf_puts(&b, " (enforced)");
	return buf_steal(&b);
}

char *advice_policy_line(const struct advice_policy *a, const char *domain)
{
	if (a->messages <= 0)
		return xasprintf("No aggregate reports for %s in this period: check that its DMARC "
		                 "record has rua= pointing at this mailbox.",
		                 domain);
	if (!a->p || !*a->p || a->rate < 0)
		return NULL;
	double pc = a->rate * 100.0;
	bool enough = a->days_with_data >= ADVICE_MIN_DAYS;
	if (is(a->p, "none")) {
		if (a->rate >= ADVICE_READY_RATE && enough)
			return xasprintf("%.1f %% pass over %d days of reports: ready for "
			                 "p=quarantine (start with pct=25 and watch the failures).",
			                 pc, a->days_with_data);
		if (a->rate >= ADVICE_READY_RATE)
			return xasprintf("%.1f %% pass, but only %d day(s) of reports: keep p=none "
			                 "and collect at least %d days before enforcing.",
			                 pc, a->days_with_data, ADVICE_MIN_DAYS);
		return xasprintf("%.1f %% pass: authenticate the failing sources below before "
		                 "moving to p=quarantine.",
		                 pc);
	}
	if (is(a->p, "quarantine") || is(a->p, "reject")) {
		if (partial(a)) {
			if (a->rate >= ADVICE_READY_RATE)
				return xasprintf("%.1f %% pass: ready to apply p=%s to all mail "
				                 "(pct=100%s).",
				                 pc, a->p, is(a->testing, "y") ? ", t=n" : "");
			return xasprintf(
			    "%.1f %% pass: fix the failing sources before raising pct.", pc);
		}
		if (a->rate < ADVICE_READY_RATE)
			return xasprintf("%.1f %% pass under p=%s: mail from the failing sources "
			                 "below is being %s; check which of them are legitimate.",
			                 pc, a->p, is(a->p, "reject") ? "rejected" : "quarantined");
		if (is(a->p, "quarantine") && a->rate >= ADVICE_REJECT_RATE && enough)
			return xasprintf("%.1f %% pass over %d days under p=quarantine: ready for "
			                 "p=reject.",
			                 pc, a->days_with_data);
		if (is(a->sp, "none"))
			return xstrdup("The domain is enforced but subdomains are not (sp=none).");
	}
	return NULL;
}

/* "N WHAT" or "N WHATs", after a separator. */
static void reason(struct buf *b, const char *what, long n)
{
	if (b->len)
		buf_puts(b, "; ");
	buf_printf(b, "%ld %s%s", n, what, n == 1 ? "" : "s");
}

long advice_attention(const struct advice_tenant *t, char **reasons)
{
	struct buf b;
	long score = 0;

	buf_init(&b, 0);
	if (t->flags_high) {
		score += 1000 * t->flags_high;
		reason(&b, "high-confidence flag", t->flags_high);
	}
	if (t->flags_medium) {
		score += 300 * t->flags_medium;
		reason(&b, "medium-confidence flag", t->flags_medium);
	}
	if (t->escalations) {
		score += 200 * t->escalations;
		reason(&b, "open escalation", t->escalations);
	}
	if (t->silent) {
		score += 150;
		if (b.len)
			buf_puts(&b, "; ");
		if (t->never)
			buf_puts(&b, "no report received yet");
		else
			buf_printf(&b, "no report for more than %d days", ADVICE_SILENT_DAYS);
	}
	if (t->rate >= 0 && t->rate < ADVICE_LOW_RATE) {
		score += 100 + (long)((ADVICE_LOW_RATE - t->rate) * 1000.0);
		if (b.len)
			buf_puts(&b, "; ");
		buf_printf(&b, "DMARC pass %.1f %%", t->rate * 100.0);
	}
	if (t->has_change && t->change <= -0.05) {
		score += 100;
		if (b.len)
			buf_puts(&b, "; ");
		buf_printf(&b, "pass rate down %.1f pt", -t->change * 100.0);
	}
	if (t->flags_low) {
		score += 50 * t->flags_low;
		reason(&b, "low-confidence flag", t->flags_low);
	}
	if (t->quarantined) {
		score += 20;
		reason(&b, "quarantined input", t->quarantined);
	}
	if (t->policy_domains > 0 && t->enforced < t->policy_domains) {
		score += 5;
		if (b.len)
			buf_puts(&b, "; ");
		buf_printf(&b, "%ld of %ld domains not enforced", t->policy_domains - t->enforced,
		           t->policy_domains);
	}
	*reasons = b.len ? buf_steal(&b) : NULL;
	buf_free(&b);
	return score;
}
