/*
 * store_tenant_roles: which database roles read which tenant (`tenant grant`
 * and `tenant revoke`). The work is done by the SQL functions of
 * 0008_1_tenant_roles.sql, which quote role names with format('%I') — role
 * names cannot travel as parameters in DDL — and return the statements the
 * current role may not run, for a DBA.
 */
#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"

#include <stdlib.h>
#include <string.h>

/* Role names are identifiers: at most 63 bytes (NAMEDATALEN - 1). */
static int role_ok(const char *role, struct err *e)
{
	size_t n = role ? strlen(role) : 0;
	if (n == 0 || n > 63)
		return err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		                 "a role name must be 1 to 63 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)role[i] < ' ' || role[i] == 0x7f)
			return err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
			                 "a role name must not hold control characters");
	return 0;
}

static int run(struct db *db, const char *sql, int np, const char *const *p, const char *what,
               char ***dba, size_t *n, struct err *e)
{
	*dba = NULL;
	*n = 0;
	PGresult *res = db_query(db, sql, np, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) < 0) {
		/* Our functions raise 22023 for a wrong tenant or role: the
		 * user's mistake, a usage error. */
		if (strcmp(e->sqlstate, "22023") == 0)
			e->kind = ERR_CONFIG;
		return -1;
	}
	size_t rows = (size_t)PQntuples(res);
	char **out = xcalloc(rows + 1, sizeof *out);
	for (size_t i = 0; i < rows; i++)
		out[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	*dba = out;
	*n = rows;
	return 0;
}

int store_tenant_grant(struct db *db, const char *tenant, const char *role, bool login, char ***dba,
                       size_t *n, struct err *e)
{
	*dba = NULL;
	*n = 0;
	if (role_ok(role, e) < 0)
		return -1;
	const char *p[3] = {tenant, role, login ? "true" : "false"};
	return run(db, "SELECT s FROM dmarcsift.grant_tenant_role($1, $2, $3::boolean) s", 3, p,
	           "granting a tenant to a role", dba, n, e);
}

int store_tenant_revoke(struct db *db, const char *tenant, const char *role, char ***dba, size_t *n,
                        struct err *e)
{
	*dba = NULL;
	*n = 0;
	if (role_ok(role, e) < 0)
		return -1;
	const char *p[2] = {tenant, role};
	return run(db, "SELECT s FROM dmarcsift.revoke_tenant_role($1, $2) s", 2, p,
	           "revoking a tenant from a role", dba, n, e);
}
