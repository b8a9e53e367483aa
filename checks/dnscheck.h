/*
 * dnscheck: the record checks of `dmarcsift dns check` for one domain —
 * DMARC, SPF, MTA-STS, TLS-RPT — and for the DKIM selectors the tenant's
 * reports show, into findings (checks/dnsfind.h) and the record texts seen
 * (for the change events). No I/O of its own: DNS answers come from
 * env->lookup (the real resolver in app/dnscheck.c, a table in the tests),
 * the MTA-STS policy from env->fetch (libcurl in app/, NULL: not fetched).
 *
 * What the reports say comes in as plain numbers: the domain's DMARC pass
 * rate (the policy stage: core/advice.h decides "ready to enforce"), its
 * sending sources with their SPF results (is each covered by the record?),
 * the DKIM selectors with their results (is a failing selector's key
 * missing or revoked?), and the domain's TLS reports (a published TLS-RPT
 * record nobody's reports reach; sessions that failed, and how).
 *
 * Outputs are appended to *out, which owns them (dnscheck_out_free).
 */
#ifndef DS_CHECKS_DNSCHECK_H
#define DS_CHECKS_DNSCHECK_H

#include "checks/dnsfind.h"
#include "checks/spf.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct dnscheck_source {
	const char *ip;
	long long messages;
	long long spf_pass;  /* messages whose (aligned) SPF passed */
	long long dkim_pass; /* messages whose (aligned) DKIM passed */
};

struct dnscheck_selector {
	const char *domain; /* d= */
	const char *selector;
	long long messages, pass, fail;
};

/* What the domain's SMTP TLS reports (RFC 8460) of the window say. */
struct dnscheck_tls {
	bool known;              /* false: not looked at (no findings about reports) */
	long long reports;       /* TLS reports received for the domain */
	long long ok, failed;    /* sessions */
	const char *top_failure; /* most frequent result type, "" when none */
	long long top_failed;    /* its failed sessions */
};

struct dnscheck_domain {
	const char *domain;
	long long messages; /* in the reports of the window */
	double rate;        /* DMARC pass rate; < 0: no data */
	int days;           /* days with data */
	const struct dnscheck_source *sources;
	size_t nsources;
	struct dnscheck_tls tls;
};

/* The policy body into `body` (capped by the caller), 0; or -1 with why. */
typedef int (*dnscheck_fetch_fn)(void *ctx, const char *url, struct buf *body, struct buf *why);

struct dnscheck_env {
	spf_lookup_fn lookup;
	void *ctx;
	dnscheck_fetch_fn fetch; /* NULL: MTA-STS policies are not fetched */
	void *fetch_ctx;
};

/* A record as DNS (or the policy server) gave it: kind dmarc | spf | dkim |
 * mta-sts | mta-sts-policy | tls-rpt; text the matching records sorted and
 * joined by newlines, "" when there is none. Only records whose look-up got
 * an answer are listed: a timeout is no change. */
struct dnscheck_record {
	char *domain, *kind, *name, *text;
};

struct dnscheck_out {
	struct dnsfinds f;
	struct dnscheck_record *rec;
	size_t nrec;
};

void dnscheck_domain(const struct dnscheck_env *env, const struct dnscheck_domain *d,
                     struct dnscheck_out *out);
void dnscheck_selectors(const struct dnscheck_env *env, const struct dnscheck_selector *s, size_t n,
                        struct dnscheck_out *out);
void dnscheck_out_free(struct dnscheck_out *out);

/* The names and types dnscheck_domain asks first, so the caller can have
 * them all in flight at once: fills up to 6 (name, type) pairs; names are
 * the caller's to free. */
size_t dnscheck_first_questions(const char *domain, char *names[6], enum resolver_type types[6]);

#endif
