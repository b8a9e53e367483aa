/*
 * store_tenant: tenants, the domains they own, which tenant a domain belongs
 * to, and a tenant's life cycle (add, domains, rename, remove, import).
 *
 * Domains are stored once normalised (db/tenant_domain.h: IDNA 2008
 * A-labels, lower case, no trailing dot; public suffixes and wildcards
 * refused). The owner of a name is the tenant owning the most specific of
 * the name and its parents above the public suffix: a.sub.example.com goes
 * to the owner of sub.example.com before the owner of example.com.
 *
 * Every change of ownership runs under a SHARE ROW EXCLUSIVE lock on
 * tenant_domains, which the report and bounce transactions' SHARE lock
 * conflicts with (store_report.c): a report's choice of tenant and an
 * adoption never interleave.
 */
#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "db/tenant_domain.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNASSIGNED "unassigned"

/* "{a,b,c}": candidates are normalised host names ([a-z0-9._-]), which
 * need no quoting in an array literal; anything else is left out. */
char *store_tenant_candidates(const char *domain)
{
	char **c = NULL;
	size_t n = tenant_domain_candidates(domain, &c);
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += strlen(c[i]) + 1;
	char *out = xcalloc(len, 1);
	size_t k = 0;
	out[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		bool ok = *c[i] != '\0';
		for (const char *p = c[i]; *p && ok; p++)
			ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_';
		if (!ok)
			continue;
		if (k > 1)
			out[k++] = ',';
		memcpy(out + k, c[i], strlen(c[i]));
		k += strlen(c[i]);
	}
	out[k++] = '}';
	tenant_domain_candidates_free(c, n);
	return out;
}

static int parse_id(const char *s, int *out, struct err *e)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!end || *end || v < 0 || v > 0x7fffffffL)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bad tenant id '%s'", s);
	*out = (int)v;
	return 0;
}

int store_tenant_id(struct db *db, const char *name, int *tenant_id, struct err *e)
{
	*tenant_id = -1;
	const char *params[1] = {name};
	PGresult *res = db_query(
	    db, "SELECT tenant_id FROM dmarcsift.tenants WHERE lower(name) = lower(btrim($1))", 1,
	    params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up a tenant", e) < 0)
		return -1;
	int rc = -1;
	if (PQntuples(res) != 1)
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "unknown tenant '%s' (see 'dmarcsift tenant list')", name);
	else
		rc = parse_id(PQgetvalue(res, 0, 0), tenant_id, e);
	PQclear(res);
	return rc;
}

int store_tenant_owner(struct db *db, const char *domain, int *tenant_id, struct err *e)
{
	*tenant_id = 0;
	char *arr = store_tenant_candidates(domain);
	const char *params[1] = {arr};
	PGresult *res = db_query_prepared(db,
	                                  "SELECT tenant_id FROM dmarcsift.tenant_domains"
	                                  " WHERE domain = ANY ($1::text[])"
	                                  " ORDER BY length(domain) DESC LIMIT 1",
	                                  1, params, NULL, NULL);
	free(arr);
	if (db_check(db, &res, PGRES_TUPLES_OK, "resolving the tenant of a domain", e) < 0)
		return -1;
	int rc = 0;
	if (PQntuples(res) == 1)
		rc = parse_id(PQgetvalue(res, 0, 0), tenant_id, e);
	PQclear(res);
	return rc;
}

int store_tenant_resolve(struct db *db, const char *domain, const char *override, int *tenant_id,
                         struct err *e)
{
	if (override)
		return store_tenant_id(db, override, tenant_id, e);
	/* An unusable domain simply matches no tenant: 'unassigned' (0). */
	return store_tenant_owner(db, domain, tenant_id, e);
}

/* Trimmed copy of a valid tenant name, else NULL with e set. */
static char *tenant_name(const char *name, struct err *e)
{
	const char *s = name ? name : "";
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	if (n == 0 || n > 100) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "a tenant name must be 1 to 100 printable characters");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f) {
			err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
			          "a tenant name must be 1 to 100 printable characters");
			return NULL;
		}
	}
	if (n == strlen(UNASSIGNED) && strncasecmp(s, UNASSIGNED, n) == 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "'" UNASSIGNED
		          "' is reserved: the built-in tenant of data no tenant owns");
		return NULL;
	}
	return xstrndup(s, n);
}

static int exec_params(struct db *db, const char *sql, int n, const char *const *p,
                       const char *what, long long *rows, struct err *e)
{
	PGresult *res = db_query(db, sql, n, p);
	if (db_check(db, &res, PGRES_COMMAND_OK, what, e) < 0)
		return -1;
	if (rows)
		*rows += strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/* Begins a tenant change: the lock that orders it against every report's
 * and bounce batch's choice of tenant, and against other tenant changes
 * (there is no unique index on domain alone, see 0001). */
static int change_begin(struct db *db, struct err *e)
{
	if (db_exec(db, "BEGIN", e) < 0)
		return -1;
	if (db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE ROW EXCLUSIVE MODE", e) < 0) {
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
		return -1;
	}
	return 0;
}

static int change_end(struct db *db, int rc, struct err *e)
{
	if (rc == 0)
		return db_exec(db, "COMMIT", e);
	if (PQstatus(db_pg(db)) == CONNECTION_OK)
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
	return -1;
}

/* Adds one normalised domain to tenant `tid`, refusing one owned by another. */
static int add_domain(struct db *db, int tid, const char *domain, struct err *e)
{
	char *dom = NULL;
	PGresult *res = NULL;
	int rc = -1;

	if (tenant_domain_owned_ok(domain, &dom, e) < 0)
		return -1;
	const char *p1[1] = {dom};
	res = db_query(db,
	               "SELECT t.tenant_id, t.name FROM dmarcsift.tenant_domains d"
	               " JOIN dmarcsift.tenants t USING (tenant_id) WHERE d.domain = $1",
	               1, p1);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up a domain", e) < 0)
		goto out;
	if (PQntuples(res) > 0) {
		if (strtol(PQgetvalue(res, 0, 0), NULL, 10) != tid) {
			err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
			          "domain %s already belongs to tenant %s", dom,
			          PQgetvalue(res, 0, 1));
			goto out;
		}
		rc = 0; /* already ours */
		goto out;
	}
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	const char *p2[2] = {tbuf, dom};
	rc = exec_params(db,
	                 "INSERT INTO dmarcsift.tenant_domains (tenant_id, domain) VALUES ($1, $2)",
	                 2, p2, "adding a domain", NULL, e);
out:
	PQclear(res);
	free(dom);
	return rc;
}

/*
 * Everything waiting in 'unassigned' whose domain tenant `tid` now owns
 * moves to it: reports (their records follow by ON UPDATE CASCADE) by policy
 * domain, bounce events by their From domain (header, else envelope), and
 * then what was derived from those events alone: suppressions of addresses
 * and escalations of provider windows with no evidence left in 'unassigned'.
 * SMTP TLS reports move by policy domain (their policies and failure details
 * follow by ON UPDATE CASCADE), failure reports by the domain that chose
 * their tenant (Reported-Domain, else the original From domain).
 * A row whose identity the tenant already holds stays where it is.
 * Quarantined inputs whose policy domain is known (they failed after the
 * report header was read) follow their domain like reports; the others
 * stay with the intake until `reprocess` reads them. Raw messages stay in
 * 'unassigned' either way: they are the intake's record of what arrived.
 */
static const char adopt_report_sql[] =
    "UPDATE dmarcsift.reports r SET tenant_id = $1::int"
    " WHERE r.tenant_id = 0 AND r.policy_domain = $2 AND NOT EXISTS ("
    "  SELECT 1 FROM dmarcsift.reports t WHERE t.tenant_id = $1::int"
    "  AND t.org_name = r.org_name AND t.report_id = r.report_id"
    "  AND t.policy_domain = r.policy_domain AND t.begin_at = r.begin_at"
    "  AND t.end_at = r.end_at)";
static const char adopt_bounce_sql[] =
    "UPDATE dmarcsift.bounces b SET tenant_id = $1::int"
    " WHERE b.tenant_id = 0 AND coalesce(b.header_from_domain, b.mail_from_domain, '') = $2"
    " AND NOT EXISTS (SELECT 1 FROM dmarcsift.bounces t WHERE t.tenant_id = $1::int"
    "  AND t.event_key = b.event_key)";
static const char adopt_failure_sql[] =
    "UPDATE dmarcsift.failures f SET tenant_id = $1::int"
    " WHERE f.tenant_id = 0 AND f.domain = $2 AND f.resolved_at IS NULL";
/* Flags follow their From domain like bounces; the days they span are
 * queued for the adopting tenant's next correlation, which recomputes them
 * with its own reports (adopted alongside). */
static const char adopt_flag_days_sql[] =
    "INSERT INTO dmarcsift.correlate_dirty (tenant_id, day)"
    " SELECT DISTINCT $1::int, g::date FROM dmarcsift.flags f,"
    "  generate_series((f.first_seen AT TIME ZONE 'UTC')::date,"
    "                  (f.last_seen AT TIME ZONE 'UTC')::date, interval '1 day') g"
    " WHERE f.tenant_id = 0 AND f.domain = $2"
    " ON CONFLICT DO NOTHING";
static const char adopt_flag_sql[] =
    "UPDATE dmarcsift.flags f SET tenant_id = $1::int"
    " WHERE f.tenant_id = 0 AND f.domain = $2 AND NOT EXISTS ("
    "  SELECT 1 FROM dmarcsift.flags t WHERE t.tenant_id = $1::int"
    "  AND t.provider = f.provider AND t.domain = f.domain AND t.ip_key = f.ip_key)";
static const char adopt_suppression_sql[] =
    "UPDATE dmarcsift.suppressions s SET tenant_id = $1::int"
    " WHERE s.tenant_id = 0"
    " AND EXISTS (SELECT 1 FROM dmarcsift.bounces b WHERE b.tenant_id = $1::int"
    "  AND lower(b.recipient) = s.address)"
    " AND NOT EXISTS (SELECT 1 FROM dmarcsift.bounces b WHERE b.tenant_id = 0"
    "  AND lower(b.recipient) = s.address)"
    " AND NOT EXISTS (SELECT 1 FROM dmarcsift.suppressions t WHERE t.tenant_id = $1::int"
    "  AND t.address = s.address)";
static const char adopt_escalation_sql[] =
    "UPDATE dmarcsift.escalations x SET tenant_id = $1::int"
    " WHERE x.tenant_id = 0"
    " AND EXISTS (SELECT 1 FROM dmarcsift.bounces b WHERE b.tenant_id = $1::int"
    "  AND b.provider_key = x.provider AND b.at >= x.window_start AND b.at < x.window_end)"
    " AND NOT EXISTS (SELECT 1 FROM dmarcsift.bounces b WHERE b.tenant_id = 0"
    "  AND b.provider_key = x.provider AND b.at >= x.window_start AND b.at < x.window_end)"
    " AND NOT EXISTS (SELECT 1 FROM dmarcsift.escalations t WHERE t.tenant_id = $1::int"
    "  AND t.provider = x.provider AND t.class = x.class AND t.code_family = x.code_family"
    "  AND t.pattern = x.pattern AND t.window_start = x.window_start)";

static int adopt_by_domain(struct db *db, int tid, const char *list_sql, const char *move_sql,
                           const char *what, long long *moved, struct err *e)
{
	PGresult *res = db_query(db, list_sql, 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) < 0)
		return -1;
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *domain = PQgetvalue(res, i, 0);
		int owner = 0;
		if (store_tenant_owner(db, domain, &owner, e) < 0) {
			rc = -1;
			break;
		}
		if (owner != tid)
			continue;
		const char *p[2] = {tbuf, domain};
		rc = exec_params(db, move_sql, 2, p, what, moved, e);
	}
	PQclear(res);
	return rc;
}

static int adopt_unassigned(struct db *db, int tid, struct store_adopted *a, struct err *e)
{
	long long days = 0;
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	const char *p[1] = {tbuf};
	if (adopt_by_domain(
	        db, tid, "SELECT DISTINCT policy_domain FROM dmarcsift.reports WHERE tenant_id = 0",
	        adopt_report_sql, "adopting unassigned reports", &a->reports, e) < 0 ||
	    adopt_by_domain(db, tid,
	                    "SELECT DISTINCT coalesce(header_from_domain, mail_from_domain, '')"
	                    " FROM dmarcsift.bounces WHERE tenant_id = 0",
	                    adopt_bounce_sql, "adopting unassigned bounces", &a->bounces, e) < 0 ||
	    adopt_by_domain(db, tid,
	                    "SELECT DISTINCT domain FROM dmarcsift.flags WHERE tenant_id = 0",
	                    adopt_flag_days_sql, "queueing adopted flags", &days, e) < 0 ||
	    adopt_by_domain(db, tid,
	                    "SELECT DISTINCT domain FROM dmarcsift.flags WHERE tenant_id = 0",
	                    adopt_flag_sql, "adopting unassigned flags", &a->flags, e) < 0 ||
	    adopt_by_domain(db, tid,
	                    "SELECT DISTINCT domain FROM dmarcsift.failures"
	                    " WHERE tenant_id = 0 AND domain IS NOT NULL AND resolved_at IS NULL",
	                    adopt_failure_sql, "adopting unassigned failures", &a->failures,
	                    e) < 0 ||
	    adopt_by_domain(db, tid,
	                    "SELECT DISTINCT policy_domain FROM dmarcsift.tls_reports"
	                    " WHERE tenant_id = 0",
	                    db_sql("tenant_adopt_tls"), "adopting unassigned TLS reports",
	                    &a->tls_reports, e) < 0 ||
	    adopt_by_domain(
	        db, tid,
	        "SELECT DISTINCT domain FROM dmarcsift.failure_reports WHERE tenant_id = 0",
	        db_sql("tenant_adopt_ruf"), "adopting unassigned failure reports",
	        &a->failure_reports, e) < 0 ||
	    exec_params(db, adopt_suppression_sql, 1, p, "adopting unassigned suppressions",
	                &a->suppressions, e) < 0 ||
	    exec_params(db, adopt_escalation_sql, 1, p, "adopting unassigned escalations",
	                &a->escalations, e) < 0)
		return -1;
	return 0;
}

/* The tenant named `name` (trimmed), created when `create`; *tid its id. */
static int tenant_get(struct db *db, const char *name, bool create, int *tid, struct err *e)
{
	if (create) {
		const char *p[1] = {name};
		PGresult *res =
		    db_query(db,
		             "INSERT INTO dmarcsift.tenants (name) SELECT $1 WHERE NOT EXISTS"
		             " (SELECT 1 FROM dmarcsift.tenants WHERE lower(name) = lower($1))",
		             1, p);
		if (db_check(db, &res, PGRES_COMMAND_OK, "adding a tenant", e) < 0)
			return -1;
		PQclear(res);
	}
	return store_tenant_id(db, name, tid, e);
}

static int add_locked(struct db *db, const char *name, const char *const *domains, size_t n,
                      struct store_adopted *a, struct err *e)
{
	char *nm = tenant_name(name, e);
	int tid = -1, rc = -1;
	if (!nm)
		return -1;
	if (tenant_get(db, nm, true, &tid, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (add_domain(db, tid, domains[i], e) < 0)
			goto out;
	rc = adopt_unassigned(db, tid, a, e);
out:
	free(nm);
	return rc;
}

int store_tenant_add(struct db *db, const char *name, const char *const *domains, size_t n,
                     struct err *e)
{
	struct store_adopted a = {0};
	return store_tenant_domain_add(db, name, domains, n, true, &a, e);
}

int store_tenant_domain_add(struct db *db, const char *name, const char *const *domains, size_t n,
                            bool create, struct store_adopted *a, struct err *e)
{
	memset(a, 0, sizeof *a);
	if (!create) {
		int tid = -1;
		if (store_tenant_id(db, name, &tid, e) < 0)
			return -1;
	}
	if (change_begin(db, e) < 0)
		return -1;
	return change_end(db, add_locked(db, name, domains, n, a, e), e);
}

int store_tenant_domain_remove(struct db *db, const char *name, const char *domain, struct err *e)
{
	int tid = -1;
	char *dom = NULL;
	if (tenant_domain_normalise(domain, &dom, e) < 0)
		return -1;
	if (store_tenant_id(db, name, &tid, e) < 0) {
		free(dom);
		return -1;
	}
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	const char *p[2] = {tbuf, dom};
	long long rows = 0;
	int rc = change_begin(db, e);
	if (rc == 0)
		rc = change_end(db,
		                exec_params(db,
		                            "DELETE FROM dmarcsift.tenant_domains"
		                            " WHERE tenant_id = $1::int AND domain = $2",
		                            2, p, "removing a domain", &rows, e),
		                e);
	if (rc == 0 && rows == 0)
		rc = err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "tenant %s does not own %s", name,
		               dom);
	free(dom);
	return rc;
}

int store_tenant_rename(struct db *db, const char *from, const char *to, struct err *e)
{
	int tid = -1;
	char *nm = tenant_name(to, e);
	if (!nm)
		return -1;
	int rc = store_tenant_id(db, from, &tid, e);
	if (rc == 0 && tid == 0)
		rc = err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		               "the built-in tenant '" UNASSIGNED "' cannot be renamed");
	if (rc == 0) {
		char tbuf[16];
		snprintf(tbuf, sizeof tbuf, "%d", tid);
		const char *p[2] = {tbuf, nm};
		rc = exec_params(db,
		                 "UPDATE dmarcsift.tenants SET name = $2 WHERE tenant_id = $1::int",
		                 2, p, "renaming a tenant", NULL, e);
		if (rc < 0 && strcmp(e->sqlstate, "23505") == 0) {
			e->kind = ERR_CONFIG;
			snprintf(e->msg, sizeof e->msg, "a tenant named '%s' exists already", nm);
		}
	}
	free(nm);
	return rc;
}

/* Every tenant adopts what 'unassigned' holds for it (after a removal,
 * data returned there may belong to another tenant at once). */
static int adopt_all(struct db *db, struct store_adopted *a, struct err *e)
{
	PGresult *res =
	    db_query(db, "SELECT tenant_id FROM dmarcsift.tenants WHERE tenant_id <> 0", 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing tenants", e) < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = adopt_unassigned(db, (int)strtol(PQgetvalue(res, i, 0), NULL, 10), a, e);
	PQclear(res);
	return rc;
}

int store_tenant_remove(struct db *db, const char *name, bool purge, long long *rows, struct err *e)
{
	int tid = -1;
	*rows = 0;
	if (store_tenant_id(db, name, &tid, e) < 0)
		return -1;
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	const char *p[2] = {tbuf, purge ? "true" : "false"};
	if (change_begin(db, e) < 0)
		return -1;
	PGresult *res = db_query(db, "SELECT dmarcsift.remove_tenant($1::int, $2::boolean)", 2, p);
	int rc = db_check(db, &res, PGRES_TUPLES_OK, "removing a tenant", e);
	if (rc == 0) {
		struct store_adopted a = {0};
		*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (!purge)
			rc = adopt_all(db, &a, e);
	} else if (strcmp(e->sqlstate, "22023") == 0) {
		e->kind = ERR_CONFIG;
	}
	return change_end(db, rc, e);
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
	             "  WHERE r.tenant_id = t.tenant_id),"
	             " (SELECT count(*) FROM dmarcsift.bounces b WHERE b.tenant_id = t.tenant_id),"
	             " (SELECT count(*) FROM dmarcsift.suppressions s"
	             "  WHERE s.tenant_id = t.tenant_id AND s.lifted_at IS NULL),"
	             " (SELECT count(*) FROM dmarcsift.escalations x"
	             "  WHERE x.tenant_id = t.tenant_id AND x.status = 'open'),"
	             " coalesce((SELECT string_agg(r.role, ',' ORDER BY r.role)"
	             "  FROM dmarcsift.tenant_roles r WHERE r.tenant_id = t.tenant_id), ''),"
	             " t.created_at::text"
	             " FROM dmarcsift.tenants t ORDER BY t.tenant_id",
	             0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing tenants", e) < 0)
		return -1;
	size_t rows = (size_t)PQntuples(res);
	struct store_tenant *t = xcalloc(rows ? rows : 1, sizeof *t);
	for (size_t i = 0; i < rows; i++) {
		int r = (int)i;
		t[i].name = xstrdup(PQgetvalue(res, r, 0));
		t[i].domains = xstrdup(PQgetvalue(res, r, 1));
		t[i].reports = strtoll(PQgetvalue(res, r, 2), NULL, 10);
		t[i].records = strtoll(PQgetvalue(res, r, 3), NULL, 10);
		t[i].bounces = strtoll(PQgetvalue(res, r, 4), NULL, 10);
		t[i].suppressions = strtoll(PQgetvalue(res, r, 5), NULL, 10);
		t[i].escalations = strtoll(PQgetvalue(res, r, 6), NULL, 10);
		t[i].roles = xstrdup(PQgetvalue(res, r, 7));
		t[i].created_at = xstrdup(PQgetvalue(res, r, 8));
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
		free(t[i].roles);
		free(t[i].created_at);
	}
	free(t);
}

static long long count_of(struct db *db, const char *sql, struct err *e)
{
	PGresult *res = db_query(db, sql, 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "counting tenants", e) < 0)
		return -1;
	long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static int import_locked(struct db *db, const char *const *tenants, const char *const *domains,
                         size_t n, struct store_adopted *a, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		char *nm = tenant_name(tenants[i], e);
		int tid = -1;
		if (!nm || tenant_get(db, nm, true, &tid, e) < 0 ||
		    add_domain(db, tid, domains[i], e) < 0) {
			free(nm);
			err_set_stage_if_empty(e, ERR_STAGE_STORE);
			/* Say which line; the message names the problem already. */
			char msg[sizeof e->msg + 64];
			snprintf(msg, sizeof msg, "entry %zu: %s", i + 1, e->msg);
			size_t len = strnlen(msg, sizeof e->msg - 1);
			memcpy(e->msg, msg, len);
			e->msg[len] = '\0';
			return -1;
		}
		free(nm);
	}
	/* Adopt once per tenant, after every domain is in: an owner decided
	 * by a later, more specific line must not lose to an earlier one. */
	return adopt_all(db, a, e);
}

int store_tenant_import(struct db *db, const char *const *tenants, const char *const *domains,
                        size_t n, long long *new_tenants, long long *new_domains,
                        struct store_adopted *a, struct err *e)
{
	static const char count_t[] = "SELECT count(*) FROM dmarcsift.tenants";
	static const char count_d[] = "SELECT count(*) FROM dmarcsift.tenant_domains";
	memset(a, 0, sizeof *a);
	if (change_begin(db, e) < 0)
		return -1;
	long long t0 = count_of(db, count_t, e), d0 = count_of(db, count_d, e);
	int rc = t0 < 0 || d0 < 0 ? -1 : import_locked(db, tenants, domains, n, a, e);
	if (rc == 0) {
		long long t1 = count_of(db, count_t, e), d1 = count_of(db, count_d, e);
		rc = t1 < 0 || d1 < 0 ? -1 : 0;
		*new_tenants = t1 - t0;
		*new_domains = d1 - d0;
	}
	return change_end(db, rc, e);
}
