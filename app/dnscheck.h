/*
 * dnscheck: the 'dns check' use case — are each tenant's own DNS records
 * (DMARC, SPF, DKIM keys, MTA-STS, TLS-RPT) right, and do they fit what the
 * aggregate reports show?
 *
 * 1. Reads each tenant's domains with their DMARC pass rate, their sending
 *    sources with SPF/DKIM results (db/sql/dnscheck_domains.sql,
 *    dnscheck_sources.sql) and the DKIM (d=, s=) pairs of its records
 *    (dnscheck_selectors.sql), over the last `days` days of its data.
 * 2. Asks DNS through one resolver (senders/resolver, c-ares) with an
 *    answer cache for the run: the first questions of every domain in
 *    flight at once, then what the SPF walks need; fetches MTA-STS
 *    policies over HTTPS (libcurl, time-bounded, resolved through the same
 *    resolver) unless `fetch` is off. checks/dnscheck reads the answers.
 * 3. Stores one run per tenant (dmarcsift.dns_check_runs, dns_findings:
 *    v_dns_checks) and the record texts; a text that differs from the
 *    previous run's is kept as a change event (v_dns_changes).
 * Returns -1 only when the database fails (or the options are wrong:
 * ERR_CONFIG); DNS and HTTPS trouble are findings.
 */
#ifndef DS_APP_DNSCHECK_H
#define DS_APP_DNSCHECK_H

#include "core/err.h"
#include "senders/resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

struct dnscheck_opts {
	const char *tenant;    /* NULL: every tenant */
	int days;              /* of report data; 0: 30 */
	int max_sources;       /* per domain, by volume; 0: 200 */
	int max_selectors;     /* per tenant; 0: 200 */
	bool fetch;            /* fetch MTA-STS policies over HTTPS */
	long fetch_timeout_ms; /* per policy; 0: 10000 */
	int64_t budget_ms;     /* DNS, whole run; 0: no limit */
	struct resolver_opts dns;
};

struct dnscheck_stats {
	size_t tenants, domains, selectors, queries;
	size_t findings, errors, warnings;
	size_t changes; /* records whose text differs from the previous run's */
	size_t failed;  /* look-ups without an answer */
};

int dnscheck_run(struct db *db, const struct dnscheck_opts *o, struct dnscheck_stats *st,
                 struct err *e);

#endif
