/*
 * tls_store: SMTP TLS reports (RFC 8460) into tls_reports, tls_policies and
 * tls_failures, one transaction per report.
 *
 * The report is stored once per policy domain, in the tenant owning that
 * domain, or the pinned tenant under the aggregate reports' rule
 * (store_tenant_choose, db/store.h; pin may be NULL), with the identity
 * (tenant, organisation, report id, policy domain, begin, end): a known
 * identity inserts nothing (ON CONFLICT DO NOTHING). *stored gets the number
 * of (report, domain) rows written, *duplicates the number already known.
 * Errors set `e` with stage "store"; ERR_RETRY when the server went away
 * (nothing is then written).
 */
#ifndef DS_DB_TLS_STORE_H
#define DS_DB_TLS_STORE_H

#include "core/err.h"
#include "core/tlsrpt_model.h"

#include <stddef.h>

struct db;
struct store_pin;

int tls_store_report(struct db *db, const struct tlsrpt_report *r, const char *raw_sha256,
                     struct store_pin *pin, size_t *stored, size_t *duplicates, struct err *e);

#endif
