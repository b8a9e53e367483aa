#include "db/escalation_events.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"

#include <stdlib.h>

static int claim(struct db *db, const char *stmt, const char *what, const char *tenant,
                 char ***rows, size_t *n, struct err *e)
{
	*rows = NULL;
	*n = 0;
	const char *params[1] = {tenant};
	PGresult *res = db_query(db, db_sql(stmt), 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) < 0)
		return -1;
	size_t k = (size_t)PQntuples(res);
	char **out = k ? xcalloc(k, sizeof *out) : NULL;
	for (size_t i = 0; i < k; i++)
		out[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	*rows = out;
	*n = k;
	return 0;
}

int escalations_claim(struct db *db, const char *tenant, char ***rows, size_t *n, struct err *e)
{
	return claim(db, "escalations_claim", "claiming new escalations", tenant, rows, n, e);
}

int listings_claim(struct db *db, const char *tenant, char ***rows, size_t *n, struct err *e)
{
	return claim(db, "listings_claim", "claiming new listings", tenant, rows, n, e);
}

void escalation_rows_free(char **rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
}
