/*
 * sources_store: see sources_store.h. The long statements are in
 * db/sql/sources_*.sql.
 */
#include "db/sources_store.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/pgarray.h"
#include "db/sql.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tenant_param(int tenant_id, char *buf, size_t sz)
{
	if (tenant_id < 0)
		return NULL;
	snprintf(buf, sz, "%d", tenant_id);
	return buf;
}

int sources_store_tenant_id(struct db *db, const char *name, int *id, struct err *e)
{
	const char *p[] = {name};
	PGresult *res =
	    db_query(db, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = $1", 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up the tenant", e) != 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_set(e, ERR_CONFIG, "no tenant '%s' (see 'dmarcsift tenant list')", name);
	}
	*id = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

void sources_store_free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static int column_list(struct db *db, PGresult *res, const char *what, char ***out, size_t *n,
                       struct err *e)
{
	*out = NULL;
	*n = 0;
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) != 0)
		return -1;
	size_t rows = (size_t)PQntuples(res);
	if (rows) {
		*out = xcalloc(rows, sizeof **out);
		for (size_t i = 0; i < rows; i++)
			(*out)[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	}
	*n = rows;
	PQclear(res);
	return 0;
}

int sources_store_stale(struct db *db, int tenant_id, const char *since, char ***ips, size_t *n,
                        struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t), since};
	PGresult *res = db_query(db, db_sql("sources_stale"), 2, p);
	return column_list(db, res, "listing sources to look up", ips, n, e);
}

static const char *empty_null(const char *s)
{
	return s && *s ? s : NULL;
}

int sources_store_save_facts(struct db *db, const struct sources_fact_row *rows, size_t n,
                             struct err *e)
{
	if (n == 0)
		return 0;
	struct pgarray a[11];
	for (int i = 0; i < 11; i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		const struct sources_fact_row *r = &rows[i];
		pgarray_add(&a[0], r->ip);
		pgarray_add(&a[1], r->ptr);
		pgarray_add_bool(&a[2], r->ptr_confirmed);
		pgarray_add(&a[3], r->ptr_org_domain);
		pgarray_add(&a[4], r->ptr_status);
		if (r->asn > 0)
			pgarray_add_int(&a[5], r->asn);
		else
			pgarray_add(&a[5], NULL);
		pgarray_add(&a[6], empty_null(r->as_name));
		pgarray_add(&a[7], empty_null(r->country));
		pgarray_add(&a[8], r->asn_status);
		pgarray_add_int(&a[9], r->ptr_ttl);
		pgarray_add_int(&a[10], r->asn_ttl);
	}
	const char *p[11];
	for (int i = 0; i < 11; i++)
		p[i] = pgarray_text(&a[i]);
	PGresult *res = db_query(db, db_sql("sources_save_facts"), 11, p);
	for (int i = 0; i < 11; i++)
		pgarray_free(&a[i]);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing source facts", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

#define MAX_AUTH 16

/* The strings of a JSON array (jsonb_path_query_array's output); at most
 * MAX_AUTH, pointing into `arr`, which the caller releases. */
static size_t strings_of(json_object *arr, const char **out)
{
	size_t n = 0;
	if (!arr || !json_object_is_type(arr, json_type_array))
		return 0;
	size_t len = json_object_array_length(arr);
	for (size_t i = 0; i < len && n < MAX_AUTH; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
			out[n++] = json_object_get_string(v);
	}
	return n;
}

static json_object *parse_json(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : json_tokener_parse(PQgetvalue(res, 0, col));
}

int sources_store_mark_input(struct db *db, int tenant_id, const char *changed_since,
                             sources_mark_in_cb cb, void *arg, struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t), changed_since};
	PGconn *conn = db_pg(db);
	if (!PQsendQueryParams(conn, db_sql("sources_mark_input"), 2, NULL, p, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn))
		return db_check(db, NULL, PGRES_TUPLES_OK, "reading records for source marking", e);
	int rc = 0;
	PGresult *res;
	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && rc == 0) {
			json_object *dj = parse_json(res, 5), *sj = parse_json(res, 6);
			const char *dkim[MAX_AUTH], *spf[MAX_AUTH];
			struct sources_mark_in row = {
			    .tenant_id = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10),
			    .ip = PQgetvalue(res, 0, 1),
			    .count = strtoll(PQgetvalue(res, 0, 2), NULL, 10),
			    .header_from = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3),
			    .forwarded_reason = strcmp(PQgetvalue(res, 0, 4), "t") == 0,
			    .dkim = dkim,
			    .ndkim = strings_of(dj, dkim),
			    .spf = spf,
			    .nspf = strings_of(sj, spf),
			    .ptr = PQgetisnull(res, 0, 7) ? NULL : PQgetvalue(res, 0, 7),
			    .ptr_confirmed = strcmp(PQgetvalue(res, 0, 8), "t") == 0,
			    .asn = PQgetisnull(res, 0, 9)
			               ? 0
			               : strtoll(PQgetvalue(res, 0, 9), NULL, 10),
			};
			if (cb(arg, &row, e) != 0)
				rc = -1;
			json_object_put(dj);
			json_object_put(sj);
			PQclear(res);
		} else if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
			PQclear(res);
		} else {
			/* db_check clears res; keep draining so the connection stays usable. */
			if (db_check(db, &res, PGRES_TUPLES_OK,
			             "reading records for source marking", e) != 0)
				rc = -1;
		}
	}
	return rc;
}

int sources_store_save_marks(struct db *db, const struct sources_mark_row *rows, size_t n,
                             struct err *e)
{
	if (n == 0)
		return 0;
	struct pgarray a[7];
	for (int i = 0; i < 7; i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		const struct sources_mark_row *r = &rows[i];
		pgarray_add_int(&a[0], r->tenant_id);
		pgarray_add(&a[1], r->ip);
		pgarray_add(&a[2], r->service);
		pgarray_add(&a[3], r->service_type);
		pgarray_add(&a[4], r->matched_by);
		pgarray_add_bool(&a[5], r->forwarded);
		pgarray_add_int(&a[6], r->forwarded_messages);
	}
	const char *p[7];
	for (int i = 0; i < 7; i++)
		p[i] = pgarray_text(&a[i]);
	PGresult *res = db_query(db, db_sql("sources_save_marks"), 7, p);
	for (int i = 0; i < 7; i++)
		pgarray_free(&a[i]);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing source marks", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int sources_store_prune_marks(struct db *db, int tenant_id, struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t)};
	PGresult *res = db_query(db, db_sql("sources_prune_marks"), 1, p);
	if (db_check(db, &res, PGRES_COMMAND_OK, "pruning source marks", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int sources_store_unknown_domains(struct db *db, int tenant_id, const char *changed_since,
                                  char ***domains, size_t *n, struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t), changed_since};
	PGresult *res = db_query(db, db_sql("sources_unknown_domains"), 2, p);
	return column_list(db, res, "listing record domains", domains, n, e);
}

int sources_store_save_org_domains(struct db *db, char *const *domains, const char *const *orgs,
                                   size_t n, struct err *e)
{
	if (n == 0)
		return 0;
	struct pgarray d, o;
	pgarray_init(&d);
	pgarray_init(&o);
	for (size_t i = 0; i < n; i++) {
		pgarray_add(&d, domains[i]);
		pgarray_add(&o, orgs[i]);
	}
	const char *p[] = {pgarray_text(&d), pgarray_text(&o)};
	PGresult *res = db_query(db, db_sql("sources_save_org_domains"), 2, p);
	pgarray_free(&d);
	pgarray_free(&o);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing organisational domains", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int sources_store_user_services(struct db *db, char **text, struct err *e)
{
	*text = NULL;
	PGresult *res =
	    db_query(db, "SELECT string_agg(line, E'\\n' ORDER BY id) FROM dmarcsift.user_services",
	             0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the user's services", e) != 0)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*text = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int sources_store_load_services(struct db *db, const char *source, char *const *lines, size_t n,
                                struct err *e)
{
	if (db_exec(db, "BEGIN", e) != 0)
		return -1;
	struct pgarray a;
	pgarray_init(&a);
	for (size_t i = 0; i < n; i++)
		pgarray_add(&a, lines[i]);
	const char *p1[] = {source};
	const char *p2[] = {source, pgarray_text(&a)};
	PGresult *res =
	    db_query(db, "DELETE FROM dmarcsift.user_services WHERE source = $1", 1, p1);
	int rc = db_check(db, &res, PGRES_COMMAND_OK, "replacing the user's services", e);
	if (rc == 0) {
		PQclear(res);
		res = db_query(db,
		               "INSERT INTO dmarcsift.user_services (source, line) "
		               "SELECT $1, l FROM unnest($2::text[]) WITH ORDINALITY AS u(l, i) "
		               "ORDER BY i",
		               2, p2);
		rc = db_check(db, &res, PGRES_COMMAND_OK, "storing the user's services", e);
		if (rc == 0)
			PQclear(res);
	}
	pgarray_free(&a);
	if (rc == 0)
		rc = db_exec(db, "COMMIT", e);
	if (rc != 0) {
		struct err ignore = {0};
		db_exec(db, "ROLLBACK", &ignore);
	}
	return rc;
}

int sources_store_label(struct db *db, int tenant_id, const char *cidr, const char *name,
                        struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t), cidr, name};
	PGresult *res = db_query(db,
	                         "INSERT INTO dmarcsift.source_labels (tenant_id, cidr, name) "
	                         "VALUES ($1, $2::cidr, $3) ON CONFLICT (tenant_id, cidr) "
	                         "DO UPDATE SET name = excluded.name, created_at = now()",
	                         3, p);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing the label", e) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int sources_store_unlabel(struct db *db, int tenant_id, const char *cidr, bool *removed,
                          struct err *e)
{
	char t[16];
	const char *p[] = {tenant_param(tenant_id, t, sizeof t), cidr};
	PGresult *res = db_query(
	    db, "DELETE FROM dmarcsift.source_labels WHERE tenant_id = $1 AND cidr = $2::cidr", 2,
	    p);
	if (db_check(db, &res, PGRES_COMMAND_OK, "removing the label", e) != 0)
		return -1;
	*removed = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return 0;
}

int sources_store_now(struct db *db, char *out, size_t outsz, struct err *e)
{
	PGresult *res = db_query(db, "SELECT clock_timestamp()::text", 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the database clock", e) != 0)
		return -1;
	snprintf(out, outsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
