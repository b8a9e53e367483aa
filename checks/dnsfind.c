/*
 * dnsfind: see dnsfind.h. The table below is the list of findings; the
 * README's "dns check" table says the same in prose.
 */
#include "checks/dnsfind.h"

#include "core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK      DNSFIND_OK
#define NOTICE  DNSFIND_NOTICE
#define WARNING DNSFIND_WARNING
#define ERROR   DNSFIND_ERROR

static const struct dnsfind_kind kinds[] = {
    /* DMARC (RFC 7489, RFC 9989) */
    {"dmarc_missing", "dmarc", ERROR,
     "Publish one TXT record at _dmarc.<domain>: v=DMARC1; p=none; rua=mailto:<your report "
     "address> to start monitoring."},
    {"dmarc_multiple", "dmarc", ERROR,
     "Delete all but one v=DMARC1 record at _dmarc.<domain>: with several, receivers apply no "
     "DMARC policy at all."},
    {"dmarc_syntax", "dmarc", ERROR,
     "Rewrite the record as v=DMARC1; p=none|quarantine|reject; ... with the tag values RFC "
     "7489 section 6.3 allows."},
    {"dmarc_unknown_tag", "dmarc", NOTICE,
     "Remove the unknown tag (receivers ignore it) or correct its spelling."},
    {"dmarc_lookup_failed", "dmarc", WARNING,
     "Check that the domain's name servers answer TXT queries for _dmarc.<domain>; run the "
     "check again."},
    {"dmarc_enforced", "dmarc", OK, NULL},
    {"dmarc_ready_to_enforce", "dmarc", NOTICE,
     "Move to p=quarantine (then p=reject): the reports show almost all mail passing."},
    {"dmarc_monitoring", "dmarc", NOTICE,
     "Fix the failing sources the reports show, then move from p=none to p=quarantine."},
    {"dmarc_partial", "dmarc", NOTICE,
     "Raise pct to 100 (or drop it) once the reports show the policy does no harm."},
    {"dmarc_testing", "dmarc", NOTICE,
     "Remove t=y once the reports show the policy does no harm: receivers treat it as one "
     "level lower."},
    {"dmarc_no_rua", "dmarc", WARNING,
     "Add rua=mailto:<your report address>: without it no aggregate reports are sent, and "
     "this tool has nothing to read."},
    {"dmarc_bad_uri", "dmarc", ERROR,
     "Use mailto: URIs with a full address (rua=mailto:dmarc@example.com); receivers skip "
     "anything else."},
    {"dmarc_rua_unauthorized", "dmarc", ERROR,
     "Ask the destination's owner to publish <domain>._report._dmarc.DESTINATION TXT "
     "\"v=DMARC1\" (RFC 7489 section 7.1), or send reports to an address of your own domain."},
    {"dmarc_rua_authorized", "dmarc", OK, NULL},
    {"dmarc_rua_unverified", "dmarc", WARNING,
     "Check that the destination's name servers answer; the authorisation record could not "
     "be read."},
    /* SPF (RFC 7208) */
    {"spf_missing", "spf", ERROR,
     "Publish one TXT record at the domain: v=spf1 with the servers that send its mail, "
     "ending in ~all or -all (v=spf1 -all when it sends none)."},
    {"spf_multiple", "spf", ERROR,
     "Merge the v=spf1 records into one: with several, every SPF check is a permerror."},
    {"spf_syntax", "spf", ERROR,
     "Correct the record (RFC 7208 section 12): receivers treat a record they cannot parse as "
     "a permerror, i.e. as failing."},
    {"spf_too_many_lookups", "spf", ERROR,
     "Bring the record under 10 DNS lookups: replace include:/a/mx of services you no longer "
     "use, or ip4:/ip6: ranges for your own servers."},
    {"spf_lookups_near_limit", "spf", WARNING,
     "Remove includes you do not need before the next one a provider adds takes you over the "
     "limit of 10."},
    {"spf_too_many_void", "spf", ERROR,
     "Remove the mechanisms whose names do not exist: more than 2 empty answers make the SPF "
     "check a permerror."},
    {"spf_void_lookup", "spf", WARNING,
     "Remove or correct the mechanism whose name has no address or record."},
    {"spf_include_missing", "spf", ERROR,
     "Remove the include: of a domain without an SPF record (a permerror), or correct its "
     "name."},
    {"spf_ptr", "spf", WARNING,
     "Replace ptr (deprecated: slow, and receivers may skip it) with ip4:/ip6: or a: of the "
     "sending servers."},
    {"spf_pass_all", "spf", ERROR,
     "Replace +all (anyone may send as the domain) with ~all or -all."},
    {"spf_no_all", "spf", NOTICE,
     "End the record with ~all or -all, so mail from other servers is not a neutral result."},
    {"spf_mx_too_many", "spf", ERROR,
     "The mx mechanism names a domain with more than 10 MX hosts (a permerror): list the "
     "sending servers with ip4:/ip6: instead."},
    {"spf_lookup_failed", "spf", WARNING,
     "Check that the name servers answer TXT (and A/MX) queries for the names the record "
     "uses; run the check again."},
    {"spf_uncovered_failing", "spf", WARNING,
     "Add these sources to the record if they send for you (ip4:/ip6: or their provider's "
     "include:); if they do not, they are spoofing and the policy should stop them."},
    {"spf_uncovered_passing", "spf", NOTICE,
     "Nothing to do when these sources pass through DKIM or an ESP's own envelope domain; "
     "add them if they send with this domain in MAIL FROM."},
    {"spf_macro", "spf", NOTICE,
     "Nothing to do: mechanisms with macros depend on each message and are not evaluated "
     "here."},
    {"spf_ok", "spf", OK, NULL},
    /* DKIM (RFC 6376, RFC 8463) */
    {"dkim_key_missing", "dkim", ERROR,
     "Publish the selector's public key at SELECTOR._domainkey.<domain> (the signing "
     "service shows it), or stop signing with it."},
    {"dkim_key_revoked", "dkim", WARNING,
     "The key is revoked (empty p=): stop signing with this selector, or publish the current "
     "key if mail is still signed with it."},
    {"dkim_syntax", "dkim", ERROR,
     "Republish the key record as your signing service gives it: v=DKIM1; k=rsa; p=<base64 "
     "public key>."},
    {"dkim_weak_key", "dkim", WARNING,
     "Rotate to a 2048-bit RSA key: keys under 1024 bits are refused by major receivers."},
    {"dkim_1024_key", "dkim", NOTICE,
     "Rotate to a 2048-bit RSA key when the signing service allows it."},
    {"dkim_key_ok", "dkim", OK, NULL},
    {"dkim_testing", "dkim", NOTICE,
     "Remove t=y from the key record once signing works: some receivers ignore test keys."},
    {"dkim_lookup_failed", "dkim", WARNING,
     "Check that the name servers answer TXT queries for the selector; run the check again."},
    /* MTA-STS (RFC 8461) */
    {"mtasts_missing", "mta-sts", NOTICE,
     "Optional: publish _mta-sts.<domain> TXT \"v=STSv1; id=...\" and a policy at "
     "https://mta-sts.<domain>/.well-known/mta-sts.txt, so senders require TLS to your MX."},
    {"mtasts_multiple", "mta-sts", ERROR,
     "Keep exactly one v=STSv1 record at _mta-sts.<domain>: with several, senders ignore "
     "MTA-STS."},
    {"mtasts_syntax", "mta-sts", ERROR,
     "Publish the record as v=STSv1; id=<1-32 letters or digits>; and change id with each "
     "policy change."},
    {"mtasts_policy_unreachable", "mta-sts", WARNING,
     "Serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt with a valid "
     "certificate for mta-sts.<domain>: senders that cannot fetch it apply none."},
    {"mtasts_policy_syntax", "mta-sts", ERROR,
     "Correct the policy file: version: STSv1, mode: enforce|testing|none, max_age: seconds, "
     "one mx: line per MX host (RFC 8461 section 3.2)."},
    {"mtasts_mx_not_covered", "mta-sts", ERROR,
     "Add an mx: line for this MX host to the policy: in enforce mode senders refuse to "
     "deliver to it."},
    {"mtasts_testing", "mta-sts", NOTICE,
     "Move to mode: enforce once the TLS reports show no failures."},
    {"mtasts_none", "mta-sts", NOTICE,
     "mode: none withdraws the policy; remove the records once senders' caches expired, or "
     "go back to testing."},
    {"mtasts_not_fetched", "mta-sts", NOTICE,
     "Nothing to do: the policy was not fetched (--no-fetch, or this machine cannot reach "
     "it); check it with a run that may."},
    {"mtasts_lookup_failed", "mta-sts", WARNING,
     "Check that the name servers answer TXT queries for _mta-sts.<domain>; run the check "
     "again."},
    {"mtasts_ok", "mta-sts", OK, NULL},
    /* TLS-RPT (RFC 8460) */
    {"tlsrpt_missing", "tls-rpt", NOTICE,
     "Optional: publish _smtp._tls.<domain> TXT \"v=TLSRPTv1; rua=mailto:<report address>\" "
     "to receive reports of TLS failures delivering to you."},
    {"tlsrpt_multiple", "tls-rpt", ERROR,
     "Keep exactly one v=TLSRPTv1 record at _smtp._tls.<domain>: with several, senders send "
     "no reports."},
    {"tlsrpt_syntax", "tls-rpt", ERROR,
     "Publish the record as v=TLSRPTv1; rua=mailto:<address> (or https:<url>), v first."},
    {"tlsrpt_lookup_failed", "tls-rpt", WARNING,
     "Check that the name servers answer TXT queries for _smtp._tls.<domain>; run the check "
     "again."},
    {"tlsrpt_no_reports", "tls-rpt", NOTICE,
     "Check that the record's rua= reaches a mailbox dmarcsift reads: senders that support "
     "TLS-RPT (Google, Microsoft) send a report a day."},
    {"tlsrpt_failures", "tls-rpt", WARNING,
     "Senders could not deliver over TLS: check STARTTLS and the certificates of the MX hosts "
     "v_tls names, and the MTA-STS policy."},
    {"tlsrpt_ok", "tls-rpt", OK, NULL},
};

const struct dnsfind_kind *dnsfind_kinds(size_t *n)
{
	*n = sizeof kinds / sizeof kinds[0];
	return kinds;
}

static const struct dnsfind_kind *kind_of(const char *code)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i].code, code) == 0)
			return &kinds[i];
	return NULL;
}

/* "<domain>" in a default fix is the finding's domain. */
static char *fill_domain(const char *fix, const char *domain)
{
	const char *p = strstr(fix, "<domain>");
	if (!p)
		return xstrdup(fix);
	char *out = xasprintf("%.*s%s%s", (int)(p - fix), fix, domain, p + 8);
	/* A second <domain> (the DMARC authorisation fix has one). */
	if (strstr(out, "<domain>")) {
		char *again = fill_domain(out, domain);
		free(out);
		return again;
	}
	return out;
}

struct dnsfind *dnsfind_add(struct dnsfinds *l, const char *code, const char *domain,
                            const char *record, const char *fmt, ...)
{
	const struct dnsfind_kind *k = kind_of(code);
	if (!k) {
		fprintf(stderr, "dnsfind: unknown finding code '%s'\n", code);
		abort();
	}
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	struct dnsfind *f = &l->v[l->n++];
	memset(f, 0, sizeof *f);
	f->code = k->code;
	f->check = k->check;
	f->severity = k->severity;
	f->domain = xstrdup(domain);
	f->record = record ? xstrdup(record) : NULL;
	f->fix = k->fix ? fill_domain(k->fix, domain) : NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	f->finding = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	f->finding[0] = '\0';
	if (n > 0) {
		va_start(ap, fmt);
		vsnprintf(f->finding, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	return f;
}

void dnsfind_fix(struct dnsfind *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	free(f->fix);
	f->fix = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	f->fix[0] = '\0';
	if (n > 0) {
		va_start(ap, fmt);
		vsnprintf(f->fix, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
}

const char *dnsfind_severity_name(enum dnsfind_severity s)
{
	switch (s) {
	case DNSFIND_OK:
		return "ok";
	case DNSFIND_NOTICE:
		return "notice";
	case DNSFIND_WARNING:
		return "warning";
	case DNSFIND_ERROR:
		return "error";
	}
	return "?";
}

const struct dnsfind *dnsfinds_get(const struct dnsfinds *l, const char *code, const char *domain)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].code, code) == 0 &&
		    (!domain || strcmp(l->v[i].domain, domain) == 0))
			return &l->v[i];
	return NULL;
}

void dnsfinds_free(struct dnsfinds *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].domain);
		free(l->v[i].finding);
		free(l->v[i].fix);
		free(l->v[i].record);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
