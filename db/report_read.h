/*
 * report_read: how reports read the database. Every report runs inside one
 * read scope — a read-only REPEATABLE READ transaction (one snapshot, so
 * the sections agree with each other) with TimeZone UTC — opened by
 * db_report_begin and closed by db_report_end.
 *
 * A tenant's report reads as that tenant: db_report_begin is the one place
 * that switches to the tenant's reading role (a role mapped to that tenant
 * alone by `dmarcsift tenant grant`, under the role-bound row-level-security
 * policies), so a query that forgets its tenant filter still cannot see
 * another tenant's rows. The MSP overview reads as the connecting (owner)
 * role. *isolated says whether the switch happened (it cannot when the
 * tenant has no such role, or the session may not become it); the queries
 * filter by tenant in any case.
 *
 * db_report_query runs db/sql/NAME.sql with text parameters inside a
 * savepoint and hands each row to `fn` (values NULL for SQL NULL). A failed
 * query sets `e` and leaves the scope usable for the next section, except
 * when the connection is gone (ERR_RETRY). `fn` returning non-zero stops.
 */
#ifndef DS_DB_REPORT_READ_H
#define DS_DB_REPORT_READ_H

#include "core/err.h"

#include <stdbool.h>

struct db;

typedef int (*db_report_row_fn)(void *ctx, int ncols, const char *const *names,
                                const char *const *values);

int db_report_begin(struct db *db, int tenant_id, bool *isolated, struct err *e);
void db_report_end(struct db *db);
int db_report_query(struct db *db, const char *name, int nparams, const char *const *params,
                    db_report_row_fn fn, void *ctx, struct err *e);
/* Whether a relation such as "dmarcsift.v_flags" exists (and may be read). */
int db_report_has(struct db *db, const char *relname, bool *out, struct err *e);

#endif
