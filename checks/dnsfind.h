/*
 * dnsfind: the findings of `dns check` — one sentence saying what is wrong
 * (or right) with one of a domain's records, its severity, and the fix in
 * one sentence. Every finding has a stable code (dmarc_missing,
 * spf_too_many_lookups, ...) from one table (dnsfind.c), which gives its
 * check, severity and default fix; the README lists the same table.
 *
 * A list owns its strings; dnsfinds_free releases them. Nothing fails:
 * allocation failure aborts (core/xalloc).
 */
#ifndef DS_CHECKS_DNSFIND_H
#define DS_CHECKS_DNSFIND_H

#include <stdbool.h>
#include <stddef.h>

enum dnsfind_severity { DNSFIND_OK, DNSFIND_NOTICE, DNSFIND_WARNING, DNSFIND_ERROR };

struct dnsfind {
	const char *code;  /* static, from the table */
	const char *check; /* dmarc | spf | dkim | mta-sts | tls-rpt */
	enum dnsfind_severity severity;
	char *domain;  /* the domain the record belongs to (DKIM: the d= domain) */
	char *finding; /* one sentence */
	char *fix;     /* one sentence; NULL for ok findings */
	char *record;  /* the record text concerned, NULL when none */
};

struct dnsfinds {
	struct dnsfind *v;
	size_t n;
};

/* Appends a finding of `code` (which must be in the table: an unknown code
 * is a bug and aborts). `record` may be NULL. Returns the new finding, whose
 * fix may then be replaced by dnsfind_fix. */
struct dnsfind *dnsfind_add(struct dnsfinds *l, const char *code, const char *domain,
                            const char *record, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Replaces the default fix with a specific sentence. */
void dnsfind_fix(struct dnsfind *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *dnsfind_severity_name(enum dnsfind_severity s);
/* The first finding with `code` (of `domain` when not NULL), or NULL. */
const struct dnsfind *dnsfinds_get(const struct dnsfinds *l, const char *code, const char *domain);
void dnsfinds_free(struct dnsfinds *l);

/* The table, for the README and the tests: each code with its check,
 * severity and default fix. */
struct dnsfind_kind {
	const char *code;
	const char *check;
	enum dnsfind_severity severity;
	const char *fix;
};
const struct dnsfind_kind *dnsfind_kinds(size_t *n);

#endif
