/*
 * tenant_domain: one spelling per domain name, so that ownership compares
 * like with like. tenant_domain_normalise gives the IDNA 2008 A-label form
 * (libidn2, non-transitional, NFC), lower case, without a trailing dot;
 * `bücher.example`, `BÜCHER.example.` and `xn--bcher-kva.example` are all
 * `xn--bcher-kva.example`. Wildcards and anything that is not a host name
 * are refused. tenant_domain_owned_ok additionally refuses what a tenant
 * cannot own: a public suffix (libpsl: `com`, `co.uk`).
 * tenant_domain_candidates lists the name and each parent above the public
 * suffix, most specific first — the names whose owner owns a report.
 * Strings returned are the caller's (free / tenant_domain_candidates_free);
 * errors are ERR_CONFIG with a message naming the problem.
 */
#ifndef DS_DB_TENANT_DOMAIN_H
#define DS_DB_TENANT_DOMAIN_H

#include "core/err.h"

#include <stddef.h>

int tenant_domain_normalise(const char *in, char **out, struct err *e);
int tenant_domain_owned_ok(const char *in, char **out, struct err *e);
/* Never fails: an unusable name yields no candidate. */
size_t tenant_domain_candidates(const char *in, char ***out);
void tenant_domain_candidates_free(char **c, size_t n);
/* The organisational domain (libpsl registrable domain) of a lower-case
 * domain into `out`; the domain itself when it has none (a public suffix,
 * an unknown TLD). Returns -1 when it does not fit. */
int tenant_domain_org(const char *domain, char *out, size_t outsz);

#endif
