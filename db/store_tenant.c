/*
 * store_tenant: tenants, the domains they own, and which tenant a domain
 * belongs to (exactly, or through its organisational domain per the Public
 * Suffix List; libpsl with Debian's list, else libpsl's built-in one).
 */
#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"

#include <ctype.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#define UNASSIGNED "unassigned"

/* Loaded once per process and kept: parsing the list costs milliseconds,
 * and ingest resolves a tenant per report. The program is single-threaded. */
static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;
	if (!ctx)
		ctx = psl_latest(NULL);
	if (!ctx)
		ctx = psl_builtin();
	return ctx;
}

/* Lowercase, without a trailing dot; NULL when it cannot be a domain name. */
static char *normalise_domain(const char *in)
{
	size_t n = in ? strlen(in) : 0;
	while (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return NULL;
	char *d = xstrndup(in, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c <= ' ' || c == 0x7f || c == '/' || c == '@' || c == ',') {
			free(d);
			return NULL;
		}
		d[i] = (char)tolower(c);
	}
	return d;
}

int store_tenant_resolve(struct db *db, const char *domain, const char *override, int *tenant_id,
                         struct err *e)
{
	PGresult *res = NULL;
	char *dom = NULL;
	int rc = -1;

	*tenant_id = -1;
	if (override) {
		const char *params[1] = {override};
		res = db_query(db, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = $1", 1,
		               params);
		if (db_check(db, res, PGRES_TUPLES_OK, "looking up a tenant", e) < 0) {
			res = NULL;
			goto out;
		}
		if (PQntuples(res) != 1) {
			err_stage(e, "store", ERR_CONFIG,
			          "unknown tenant '%s' (see 'dmarcsift tenant list')", override);
			goto out;
		}
	} else {
		/* An unusable domain simply matches no tenant. */
		dom = normalise_domain(domain);
		const char *org = dom ? psl_registrable_domain(psl(), dom) : NULL;
		const char *params[2] = {dom ? dom : "", org ? org : (dom ? dom : "")};
		res = db_query(db,
		               "SELECT coalesce("
		               " (SELECT tenant_id FROM dmarcsift.tenant_domains"
		               "  WHERE domain IN ($1, $2) ORDER BY domain = $1 DESC LIMIT 1),"
		               " (SELECT tenant_id FROM dmarcsift.tenants WHERE name = '" UNASSIGNED
		               "'))",
		               2, params);
		if (db_check(db, res, PGRES_TUPLES_OK, "resolving the tenant of a domain", e) < 0) {
			res = NULL;
			goto out;
		}
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
			err_stage(e, "store", ERR_INTERNAL,
			          "the built-in tenant '" UNASSIGNED "' is missing");
			goto out;
		}
	}
	char *end = NULL;
	long v = strtol(PQgetvalue(res, 0, 0), &end, 10);
	if (!end || *end || v < 0 || v > 0x7fffffffL) {
		err_stage(e, "store", ERR_INTERNAL, "bad tenant id '%s'", PQgetvalue(res, 0, 0));
		goto out;
	}
	*tenant_id = (int)v;
	rc = 0;
out:
	free(dom);
	PQclear(res);
	return rc;
}

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f)
			return false;
	return true;
}

/* Adds one domain to tenant `tid` (text), refusing one owned by another. */
static int add_domain(struct db *db, const char *tid, const char *name, const char *domain,
                      struct err *e)
{
	PGresult *res = NULL;
	char *dom = normalise_domain(domain);
	int rc = -1;

	if (!dom) {
		err_stage(e, "store", ERR_CONFIG, "'%s' is not a domain name", domain);
		goto out;
	}
	const char *p1[1] = {dom};
	res = db_query(db,
	               "SELECT t.name FROM dmarcsift.tenant_domains d"
	               " JOIN dmarcsift.tenants t USING (tenant_id) WHERE d.domain = $1",
	               1, p1);
	if (db_check(db, res, PGRES_TUPLES_OK, "looking up a domain", e) < 0) {
		res = NULL;
		goto out;
	}
	if (PQntuples(res) > 0) {
		const char *owner = PQgetvalue(res, 0, 0);
		if (strcmp(owner, name) != 0) {
			err_stage(e, "store", ERR_CONFIG, "domain %s already belongs to tenant %s",
			          dom, owner);
			goto out;
		}
		rc = 0; /* already ours */
		goto out;
	}
	PQclear(res);
	const char *p2[2] = {tid, dom};
	res = db_query(
	    db, "INSERT INTO dmarcsift.tenant_domains (tenant_id, domain) VALUES ($1, $2)", 2, p2);
	if (db_check(db, res, PGRES_COMMAND_OK, "adding a domain", e) < 0) {
		res = NULL;
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	free(dom);
	return rc;
}

/* Reports that waited in 'unassigned' for an owner move to the tenant that
 * now owns their policy domain, decided by the same resolution ingest uses.
 * A report whose identity the tenant already holds stays where it is. */
static int adopt_unassigned(struct db *db, const char *tid, struct err *e)
{
	PGresult *res = db_query(db,
	                         "SELECT DISTINCT policy_domain FROM dmarcsift.reports"
	                         " WHERE tenant_id = 0",
	                         0, NULL);
	if (db_check(db, res, PGRES_TUPLES_OK, "listing unassigned reports", e) < 0)
		return -1;
	int rc = 0;
	int want = (int)strtol(tid, NULL, 10);
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *domain = PQgetvalue(res, i, 0);
		int owner = 0;
		if (store_tenant_resolve(db, domain, NULL, &owner, e) < 0) {
			rc = -1;
			break;
		}
		if (owner != want)
			continue;
		const char *p[2] = {tid, domain};
		PGresult *u =
		    db_query(db,
		             "UPDATE dmarcsift.reports r SET tenant_id = $1::int"
		             " WHERE r.tenant_id = 0 AND r.policy_domain = $2 AND NOT EXISTS ("
		             "  SELECT 1 FROM dmarcsift.reports t WHERE t.tenant_id = $1::int"
		             "  AND t.org_name = r.org_name AND t.report_id = r.report_id"
		             "  AND t.policy_domain = r.policy_domain AND t.begin_at = r.begin_at"
		             "  AND t.end_at = r.end_at)",
		             2, p);
		if (db_check(db, u, PGRES_COMMAND_OK, "moving unassigned reports", e) < 0)
			rc = -1;
		else
			PQclear(u);
	}
	PQclear(res);
	return rc;
}

int store_tenant_add(struct db *db, const char *name, const char *const *domains, size_t n,
                     struct err *e)
{
	PGresult *res = NULL;
	char *tid = NULL;
	bool in_tx = false;
	int rc = -1;

	if (!name_ok(name)) {
		err_stage(e, "store", ERR_CONFIG,
		          "a tenant name must be 1 to 100 printable characters");
		goto out;
	}
	if (strcmp(name, UNASSIGNED) == 0) {
		err_stage(e, "store", ERR_CONFIG,
		          "'" UNASSIGNED "' is the built-in tenant of reports no tenant owns");
		goto out;
	}
	if (db_exec(db, "BEGIN", e) < 0)
		goto out;
	in_tx = true;
	/* Serialises tenant changes, so that two concurrent adds cannot both
	 * find a domain free (no unique index on domain alone, see 0001). */
	if (db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE ROW EXCLUSIVE MODE", e) < 0)
		goto out;
	const char *p1[1] = {name};
	res = db_query(
	    db, "INSERT INTO dmarcsift.tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1,
	    p1);
	if (db_check(db, res, PGRES_COMMAND_OK, "adding a tenant", e) < 0) {
		res = NULL;
		goto out;
	}
	PQclear(res);
	res = db_query(db, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = $1", 1, p1);
	if (db_check(db, res, PGRES_TUPLES_OK, "looking up a tenant", e) < 0) {
		res = NULL;
		goto out;
	}
	if (PQntuples(res) != 1) {
		err_stage(e, "store", ERR_INTERNAL, "tenant '%s' vanished", name);
		goto out;
	}
	tid = xstrdup(PQgetvalue(res, 0, 0));
	for (size_t i = 0; i < n; i++)
		if (add_domain(db, tid, name, domains[i], e) < 0)
			goto out;
	if (adopt_unassigned(db, tid, e) < 0)
		goto out;
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	in_tx = false;
	rc = 0;
out:
	PQclear(res);
	free(tid);
	if (in_tx && PQstatus(db_pg(db)) == CONNECTION_OK)
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
	return rc;
}

int store_tenant_list(struct db *db, struct store_tenant **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	PGresult *res =
	    db_query(db,
	             "SELECT t.name,"
	             " coalesce((SELECT string_agg(d.domain, ',' ORDER BY d.domain)"
	             "  FROM dmarcsift.tenant_domains d WHERE d.tenant_id = t.tenant_id), ''),"
	             " (SELECT count(*) FROM dmarcsift.reports r WHERE r.tenant_id = t.tenant_id),"
	             " (SELECT coalesce(sum(r.records), 0) FROM dmarcsift.reports r"
	             "  WHERE r.tenant_id = t.tenant_id)"
	             " FROM dmarcsift.tenants t ORDER BY t.tenant_id",
	             0, NULL);
	if (db_check(db, res, PGRES_TUPLES_OK, "listing tenants", e) < 0)
		return -1;
	size_t rows = (size_t)PQntuples(res);
	struct store_tenant *t = xcalloc(rows ? rows : 1, sizeof *t);
	for (size_t i = 0; i < rows; i++) {
		t[i].name = xstrdup(PQgetvalue(res, (int)i, 0));
		t[i].domains = xstrdup(PQgetvalue(res, (int)i, 1));
		t[i].reports = strtoll(PQgetvalue(res, (int)i, 2), NULL, 10);
		t[i].records = strtoll(PQgetvalue(res, (int)i, 3), NULL, 10);
	}
	PQclear(res);
	*out = t;
	*n = rows;
	return 0;
}

void store_tenant_list_free(struct store_tenant *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].domains);
	}
	free(t);
}
