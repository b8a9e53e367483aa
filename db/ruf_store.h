/*
 * ruf_store: DMARC failure reports into failure_reports, one row per report
 * message, in the tenant owning r->domain, or the pinned tenant under the
 * aggregate reports' rule (store_tenant_choose, db/store.h; pin may be NULL). The raw message's
 * SHA-256 is the identity: the same bytes again insert nothing and set *duplicate. Errors set `e`
 * with stage "store"; ERR_RETRY when the server went away.
 */
#ifndef DS_DB_RUF_STORE_H
#define DS_DB_RUF_STORE_H

#include "core/err.h"
#include "core/ruf_model.h"

#include <stdbool.h>

struct db;
struct store_pin;

int ruf_store_add(struct db *db, const struct ruf_report *r, const char *raw_sha256,
                  struct store_pin *pin, bool *duplicate, struct err *e);

#endif
