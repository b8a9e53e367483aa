/*
 * blocklists: see blocklists.h.
 */
#include "app/blocklists.h"

#include "checks/dnsbl.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zones {
	char **v;
	size_t n;
};

static void zones_free(struct zones *z)
{
	for (size_t i = 0; i < z->n; i++)
		free(z->v[i]);
	free(z->v);
	z->v = NULL;
	z->n = 0;
}

static bool zone_ok(const char *z)
{
	size_t n = strlen(z);
	if (n == 0 || n > 200 || !strchr(z, '.') || z[0] == '.' || z[n - 1] == '.')
		return false;
	for (const char *p = z; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return strstr(z, "..") == NULL;
}

static int zones_parse(const char *text, struct zones *z, struct err *e)
{
	z->v = NULL;
	z->n = 0;
	const char *p = text;
	while (*p) {
		size_t len = strcspn(p, ", \t");
		if (len) {
			char *one = xstrndup(p, len);
			for (char *q = one; *q; q++)
				*q = (char)tolower((unsigned char)*q);
			if (!zone_ok(one)) {
				err_set(e, ERR_CONFIG,
				        "'%s' is not a blocklist zone (a DNS name such as "
				        "zen.spamhaus.org)",
				        one);
				free(one);
				zones_free(z);
				return -1;
			}
			z->v = xrealloc(z->v, (z->n + 1) * sizeof *z->v);
			z->v[z->n++] = one;
		}
		p += len;
		p += strspn(p, ", \t");
	}
	return 0;
}

int blocklists_check_zones(const char *zones, struct err *e)
{
	struct zones z;
	if (zones_parse(zones, &z, e) != 0)
		return -1;
	zones_free(&z);
	return 0;
}

/* One question: an asset asked of one list. */
struct ask {
	int tenant_id;
	const char *asset; /* into the assets result */
	const char *kind;
	struct dnsbl_list list;
	enum resolver_status status;
	char **values;
	size_t n;
	bool answered;
};

static void on_answer(void *arg, const char *name, enum resolver_type type,
                      const struct resolver_answer *a)
{
	(void)name;
	(void)type;
	struct ask *q = arg;
	q->answered = true;
	q->status = a->status;
	if (a->status == RESOLVER_OK && a->n) {
		q->values = xcalloc(a->n, sizeof *q->values);
		for (size_t i = 0; i < a->n; i++)
			q->values[i] = xstrdup(a->values[i]);
		q->n = a->n;
	}
}

static int save(struct db *db, const struct ask *q, const char *answer, const char *codes,
                const char *reason, struct blocklists_stats *st, struct err *e)
{
	char tid[16];
	snprintf(tid, sizeof tid, "%d", q->tenant_id);
	/* used_by and codes as text[] literals: quoted elements. */
	struct buf users, arr;
	buf_init(&users, 0);
	buf_init(&arr, 0);
	buf_putc(&users, '{');
	for (size_t i = 0; q->list.used_by[i]; i++)
		buf_printf(&users, "%s\"%s\"", i ? "," : "", q->list.used_by[i]);
	buf_putc(&users, '}');
	buf_putc(&arr, '{');
	for (const char *p = codes; *p;) {
		size_t len = strcspn(p, ",");
		buf_printf(&arr, "%s\"", arr.len > 1 ? "," : "");
		for (size_t i = 0; i < len; i++)
			if (p[i] != '"' && p[i] != '\\')
				buf_putc(&arr, p[i]);
		buf_putc(&arr, '"');
		p += len;
		if (*p == ',')
			p++;
	}
	buf_putc(&arr, '}');
	const char *params[9] = {tid,        q->asset, q->kind,  q->list.zone, q->list.family,
	                         users.data, answer,   arr.data, reason};
	PGresult *res = db_query(db, db_sql("blocklists_save"), 9, params);
	buf_free(&users);
	buf_free(&arr);
	if (db_check(db, &res, PGRES_TUPLES_OK, "saving a blocklist answer", e) < 0)
		return -1;
	bool was_listed = PQgetvalue(res, 0, 0)[0] == 't';
	bool is_new = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (is_new)
		st->new_listings++;
	if (was_listed && strcmp(answer, "clear") == 0)
		st->delisted++;
	return 0;
}

static int store(struct db *db, struct ask *q, struct blocklists_stats *st, struct err *e)
{
	switch (q->status) {
	case RESOLVER_NXDOMAIN:
	case RESOLVER_NODATA:
		return save(db, q, "clear", "", "not listed", st, e);
	case RESOLVER_OK: {
		struct dnsbl_result r;
		dnsbl_read(&q->list, (const char *const *)q->values, q->n, &r);
		if (r.verdict == DNSBL_LISTED)
			st->listed++;
		else
			st->unknown++;
		return save(db, q, r.verdict == DNSBL_LISTED ? "listed" : "unknown", r.codes,
		            r.reason, st, e);
	}
	default:
		st->failed++;
		return 0;
	}
}

static int record_run(struct db *db, int tenant_id, const size_t counts[5], struct err *e)
{
	char v[6][24];
	snprintf(v[0], sizeof v[0], "%d", tenant_id);
	for (int i = 0; i < 5; i++)
		snprintf(v[i + 1], sizeof v[i + 1], "%zu", counts[i]);
	const char *params[6] = {v[0], v[1], v[2], v[3], v[4], v[5]};
	PGresult *res = db_query(db, db_sql("blocklists_run"), 6, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, "recording the blocklist run", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

/* The answers of one tenant (asks [from, to)) stored in one transaction. */
static int store_tenant(struct db *db, int tenant_id, struct ask *asks, size_t from, size_t to,
                        size_t assets, struct blocklists_stats *st, struct err *e)
{
	if (db_exec(db, "BEGIN", e) != 0)
		return -1;
	struct blocklists_stats before = *st;
	for (size_t i = from; i < to; i++)
		if (store(db, &asks[i], st, e) != 0)
			goto fail;
	size_t counts[5] = {assets, to - from, st->listed - before.listed,
	                    st->unknown - before.unknown, st->failed - before.failed};
	if (record_run(db, tenant_id, counts, e) != 0)
		goto fail;
	/* The correlator's flags cite listings: its days with blocklisted
	 * rejects are examined again at the next correlation. */
	{
		char tid[16];
		snprintf(tid, sizeof tid, "%d", tenant_id);
		const char *p[1] = {tid};
		PGresult *res = db_query(db, db_sql("blocklists_dirty"), 1, p);
		if (db_check(db, &res, PGRES_COMMAND_OK, "queueing the correlation", e) < 0)
			goto fail;
		PQclear(res);
	}
	return db_exec(db, "COMMIT", e);
fail : {
	struct err ignore = {0};
	db_exec(db, "ROLLBACK", &ignore);
}
	return -1;
}

static int tenant_of(const PGresult *res, int row)
{
	return (int)strtol(PQgetvalue(res, row, 0), NULL, 10);
}

int blocklists_run(struct db *db, const struct blocklists_opts *o, struct blocklists_stats *st,
                   struct err *e)
{
	memset(st, 0, sizeof *st);
	struct zones ipz = {0}, domz = {0};
	if (zones_parse(o->ip_lists ? o->ip_lists : BLOCKLISTS_DEFAULT_IP, &ipz, e) != 0 ||
	    zones_parse(o->domain_lists ? o->domain_lists : BLOCKLISTS_DEFAULT_DOMAIN, &domz, e) !=
	        0) {
		zones_free(&ipz);
		return -1;
	}
	char days[16], floor[24], max[16];
	snprintf(days, sizeof days, "%d", o->days > 0 ? o->days : 30);
	snprintf(floor, sizeof floor, "%lld", o->floor >= 0 ? o->floor : 10);
	snprintf(max, sizeof max, "%d", o->max_assets > 0 ? o->max_assets : 500);
	const char *params[4] = {o->tenant, days, floor, max};
	PGresult *res = db_query(db, db_sql("blocklists_assets"), 4, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "choosing the assets to check", e) < 0) {
		zones_free(&ipz);
		zones_free(&domz);
		return -1;
	}
	int rows = PQntuples(res);
	st->assets = (size_t)rows;
	struct ask *asks = NULL;
	size_t n = 0, cap = 0;
	for (int r = 0; r < rows; r++) {
		const char *kind = PQgetvalue(res, r, 3);
		bool ip = strcmp(kind, "ip") == 0;
		const struct zones *z = ip ? &ipz : &domz;
		for (size_t k = 0; k < z->n; k++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				asks = xrealloc(asks, cap * sizeof *asks);
			}
			struct ask *q = &asks[n];
			memset(q, 0, sizeof *q);
			q->tenant_id = tenant_of(res, r);
			q->asset = PQgetvalue(res, r, 2);
			q->kind = kind;
			dnsbl_describe(z->v[k], ip ? DNSBL_IP : DNSBL_DOMAIN, &q->list);
			n++;
		}
	}
	int rc = 0;
	struct resolver *rv = NULL;
	if (n > 0 && resolver_new(&rv, &o->dns, e) != 0)
		rc = -1;
	if (rc == 0 && n > 0) {
		for (size_t i = 0; i < n; i++) {
			char name[512];
			if (dnsbl_query_name(&asks[i].list, asks[i].asset, name, sizeof name) !=
			    0) {
				/* Not askable (an odd domain): no answer, counted as failed. */
				asks[i].answered = true;
				asks[i].status = RESOLVER_BADRESPONSE;
				continue;
			}
			resolver_query(rv, name, RESOLVER_A, on_answer, &asks[i]);
			st->queries++;
		}
		int64_t deadline = o->budget_ms > 0 ? resolver_now_ms() + o->budget_ms : INT64_MAX;
		resolver_run(rv, deadline);
		resolver_cancel(rv);
	}
	resolver_free(rv);
	/* Per tenant (the rows come grouped by tenant), in the order asked. */
	size_t from = 0;
	for (int r = 0; rc == 0 && r < rows;) {
		int tid = tenant_of(res, r);
		size_t assets = 0;
		while (r < rows && tenant_of(res, r) == tid) {
			assets++;
			r++;
		}
		size_t to = from;
		while (to < n && asks[to].tenant_id == tid)
			to++;
		st->tenants++;
		if (store_tenant(db, tid, asks, from, to, assets, st, e) != 0)
			rc = -1;
		from = to;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < asks[i].n; k++)
			free(asks[i].values[k]);
		free(asks[i].values);
	}
	free(asks);
	PQclear(res);
	zones_free(&ipz);
	zones_free(&domz);
	return rc;
}

int blocklists_due(struct db *db, long every_s, bool *due, struct err *e)
{
	char s[24];
	snprintf(s, sizeof s, "%ld", every_s);
	const char *params[1] = {s};
	PGresult *res = db_query(db, db_sql("blocklists_due"), 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the blocklist schedule", e) < 0)
		return -1;
	*due = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}
