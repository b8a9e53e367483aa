/*
 * bounce_store: see bounce_store.h. The batch is COPYed into a temporary
 * staging table; commit resolves tenants per distinct From domain (in C,
 * store_tenant_resolve), moves the rows into dmarcsift.bounces with ON
 * CONFLICT DO NOTHING on (tenant_id, event_key), and recomputes the
 * suppressions and escalations of what the batch touched from the stored
 * events (window functions), all in one transaction.
 */
#include "db/bounce_store.h"

#include "core/bnorm.h"
#include "core/buf.h"
#include "core/provider.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "db/tenant_domain.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	FLUSH_AT = 64 * 1024, /* COPY bytes buffered before PQputCopyData */
	TEXT_MAX = 8 * 1024,  /* longest reply text kept */
	FIELD_MAX = 1024,     /* longest address, host, id kept */
	PATTERN_MAX = 512,    /* longest normalised pattern */
};

struct bounce_store {
	struct db *db;
	struct bounce_rules rules;
	int override_id;
	bool has_override;
	bool in_tx;
	struct copy copy; /* open from begin to commit */
	uint64_t staged;
};

void bounce_rules_default(struct bounce_rules *r)
{
	r->hard_after = 1;
	r->soft_after = 3;
	r->soft_window_days = 30;
	r->esc_window_hours = 24;
	r->esc_min_count = 20;
	r->esc_min_rate = 0.05;
	r->esc_jump_factor = 3.0;
}

void bounce_store_set_rules(struct bounce_store *s, const struct bounce_rules *r)
{
	s->rules = *r;
}

/* One field of the row and its separator. */
static void put_field(struct buf *b, const char *s, size_t max, char sep)
{
	copy_text(b, s, max);
	buf_putc(b, sep);
}

/* An IP address as PostgreSQL's inet will take it, or NULL: "[...]" and
 * Postfix's "ipv6:" prefix are stripped, anything else invalid is dropped
 * (an unparsable address must not fail the whole batch). */
static const char *clean_ip(const char *s, char *tmp, size_t tmpsz)
{
	unsigned char addr[16];
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n > 5 && strncmp(s, "ipv6:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || n >= tmpsz)
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1)
		return tmp;
	return NULL;
}

/* The domain that decides the tenant: header From, else envelope From (its
 * domain field, else the part after '@' of the address), lower-cased, any
 * local part dropped; "" when none. */
static void tenant_domain(const struct bounce_event *ev, char *out, size_t outsz)
{
	const char *d = ev->header_from_domain;
	if (!d || !*d)
		d = ev->mail_from_domain;
	if ((!d || !*d) && ev->mail_from)
		d = ev->mail_from;
	/* A whole address where a domain was expected: its domain. */
	const char *at = d ? strrchr(d, '@') : NULL;
	if (at)
		d = at + 1;
	else if (d == ev->mail_from)
		d = NULL;
	size_t i = 0;
	for (; d && d[i] && i + 1 < outsz; i++)
		out[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] + ('a' - 'A') : d[i]);
	while (i > 0 && out[i - 1] == '.')
		i--;
	out[i] = '\0';
}

static const char *status_name(enum bounce_status st)
{
	switch (st) {
	case BOUNCE_DELIVERED:
		return "delivered";
	case BOUNCE_DEFERRED:
		return "deferred";
	case BOUNCE_BOUNCED:
		return "bounced";
	}
	return NULL;
}

int bounce_store_begin(struct bounce_store **out, struct db *db, const char *tenant_override,
                       struct err *e)
{
	struct bounce_store *s = xcalloc(1, sizeof *s);
	PGresult *res = NULL;
	int rc = -1;

	s->db = db;
	bounce_rules_default(&s->rules);
	if (tenant_override) {
		/* Unknown names fail here, before anything is sent. */
		if (store_tenant_resolve(db, NULL, tenant_override, &s->override_id, e) < 0)
			goto out;
		s->has_override = true;
	}
	if (db_exec(db, "BEGIN", e) < 0)
		goto out;
	s->in_tx = true;
	res = PQexec(db_pg(db), db_sql("bounce_staging"));
	if (db_check(db, &res, PGRES_COMMAND_OK, "creating bounce staging tables", e) < 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (copy_begin(&s->copy, db, "COPY pg_temp.bounce_staging FROM STDIN", "bounce events", 0,
	               FLUSH_AT, e) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	PQclear(res);
	if (s)
		bounce_store_abort(s);
	return rc;
}

int bounce_store_add(struct bounce_store *s, const struct bounce_event *ev,
                     const struct bounce_verdict *v, struct err *e)
{
	const char *status = status_name(ev->status);
	char ip1[64], ip2[64], tdom[256], reply[16], at[32];
	char pattern[PATTERN_MAX];

	if (!status || !v)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce event without %s",
		                 v ? "a valid status" : "a verdict");
	if (!s->copy.open)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce batch is not open");
	bnorm_pattern(ev->text, pattern, sizeof pattern);
	/* The provider map names who receives for the domain / runs the MX;
	 * failing that, the provider the deciding rule was written for. */
	const char *provider =
	    provider_for(provider_map_default(), ev->recipient_domain, ev->remote_mta);
	if (!provider)
		provider = v->provider;
	tenant_domain(ev, tdom, sizeof tdom);
	snprintf(at, sizeof at, "%" PRId64, ev->at > 0 ? ev->at : (int64_t)0);
	snprintf(reply, sizeof reply, "%d", ev->reply_code);

	struct buf *b = &s->copy.buf;
	put_field(b, at, sizeof at, '\t');
	put_field(b, status, FIELD_MAX, '\t');
	put_field(b, ev->source ? ev->source : "unknown", FIELD_MAX, '\t');
	put_field(b, clean_ip(ev->sending_ip, ip1, sizeof ip1), FIELD_MAX, '\t');
	put_field(b, clean_ip(ev->remote_ip, ip2, sizeof ip2), FIELD_MAX, '\t');
	put_field(b, ev->mail_from, FIELD_MAX, '\t');
	put_field(b, ev->mail_from_domain, FIELD_MAX, '\t');
	put_field(b, ev->header_from_domain, FIELD_MAX, '\t');
	put_field(b, ev->recipient, FIELD_MAX, '\t');
	put_field(b, ev->recipient_domain, FIELD_MAX, '\t');
	put_field(b, provider, FIELD_MAX, '\t');
	put_field(b, ev->remote_mta, FIELD_MAX, '\t');
	put_field(b, ev->reply_code > 0 && ev->reply_code < 1000 ? reply : NULL, FIELD_MAX, '\t');
	put_field(b, ev->enhanced_code, FIELD_MAX, '\t');
	put_field(b, ev->text, TEXT_MAX, '\t');
	put_field(b, pattern, sizeof pattern, '\t');
	put_field(b, ev->queue_id, FIELD_MAX, '\t');
	put_field(b, ev->message_id, FIELD_MAX, '\t');
	put_field(b, ev->campaign, FIELD_MAX, '\t');
	put_field(b, v->klass ? v->klass : "unknown", FIELD_MAX, '\t');
	put_field(b, v->severity ? v->severity : "unknown", FIELD_MAX, '\t');
	put_field(b, v->action ? v->action : "unknown", FIELD_MAX, '\t');
	put_field(b, v->is_block ? "t" : "f", 1, '\t');
	put_field(b, v->listed_on, FIELD_MAX, '\t');
	put_field(b, v->listed_asset, FIELD_MAX, '\t');
	put_field(b, v->rule, FIELD_MAX, '\t');
	put_field(b, tdom, sizeof tdom, '\t');
	put_field(b, ev->format, FIELD_MAX, '\t');
	put_field(b, ev->auto_reply ? "t" : "f", 1, '\t');
	put_field(b, ev->feedback_type, FIELD_MAX, '\t');
	/* an address the log gave that inet cannot take is no address at all */
	const char *ipsrc = ev->ip_source ? ev->ip_source : ev->sending_ip ? "log" : "none";
	put_field(b, ipsrc, FIELD_MAX, '\n');
	s->staged++;
	return copy_flush(&s->copy, e);
}

/* Tenant of every distinct From domain of the batch into bounce_tmap. */
static int map_tenants(struct bounce_store *s, struct err *e)
{
	struct db *db = s->db;
	/* As for reports (store_report.c): the tenants are chosen under a lock
	 * tenant changes wait for, so an adoption cannot miss this batch. */
	if (db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
		return -1;
	PGresult *res =
	    db_query(db, "SELECT DISTINCT tdomain FROM pg_temp.bounce_staging", 0, NULL);
	int rc = -1;

	if (db_check(db, &res, PGRES_TUPLES_OK, "listing bounce sender domains", e) < 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *dom = PQgetvalue(res, i, 0);
		int tid = s->override_id;
		if (!s->has_override &&
		    store_tenant_resolve(db, *dom ? dom : NULL, NULL, &tid, e) < 0)
			goto out;
		char tbuf[16], org[256];
		snprintf(tbuf, sizeof tbuf, "%d", tid);
		bool has_org = *dom && tenant_domain_org(dom, org, sizeof org) == 0;
		const char *params[3] = {dom, tbuf, has_org ? org : NULL};
		PGresult *ins =
		    db_query(db,
		             "INSERT INTO pg_temp.bounce_tmap (domain, tenant_id, org_domain)"
		             " VALUES ($1, $2, $3)",
		             3, params);
		if (db_check(db, &ins, PGRES_COMMAND_OK, "mapping bounce tenants", e) < 0)
			goto out;
		PQclear(ins);
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int count_field(PGresult *res, int col, uint64_t *out)
{
	char *end;
	const char *v = PQgetvalue(res, 0, col);
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || *end)
		return -1;
	*out = n;
	return 0;
}

/* Runs one of the recomputation statements; its single row holds counts. */
static int recompute(struct bounce_store *s, const char *sql, const char *what, int nparams,
                     const char *const *params, uint64_t *a, uint64_t *b, struct err *e)
{
	PGresult *res = db_query(s->db, sql, nparams, params);
	int rc = -1;
	if (db_check(s->db, &res, PGRES_TUPLES_OK, what, e) < 0)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || count_field(res, 0, a) < 0 ||
	    count_field(res, 1, b) < 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "%s: unexpected result", what);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int bounce_store_commit(struct bounce_store *s, struct bounce_store_stats *st, struct err *e)
{
	struct bounce_store_stats tmp = {0};
	struct db *db = s->db;
	const struct bounce_rules *r = &s->rules;
	PGresult *res = NULL;
	uint64_t closed = 0;
	char p1[32], p2[32], p3[48], p4[32];
	int rc = -1;

	if (copy_end(&s->copy, e) < 0)
		goto out;
	if (map_tenants(s, e) < 0)
		goto out;
	res = db_query(db, db_sql("bounce_insert"), 0, NULL);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing bounce events", e) < 0)
		goto out;
	tmp.added = strtoull(PQcmdTuples(res), NULL, 10);
	tmp.known = s->staged >= tmp.added ? s->staged - tmp.added : 0;
	PQclear(res);
	res = NULL;
	/* Temporary tables have no statistics unless asked; the planner needs
	 * them for the recomputation joins of a large batch. */
	if (tmp.added > 1000 && db_exec(db, "ANALYZE pg_temp.bounce_new", e) < 0)
		goto out;
	/* The same for the bounces table when this batch is large next to what
	 * the planner knows of it: rows inserted in this transaction are
	 * invisible to autovacuum, and without statistics the escalation
	 * recomputation picks a plan that is quadratic in the batch size
	 * (tests/bench/README.md: 229 s instead of 4 s for 500k events). */
	if (tmp.added > 1000) {
		res = db_query(db,
		               "SELECT reltuples FROM pg_class"
		               " WHERE oid = 'dmarcsift.bounces'::regclass",
		               0, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "reading bounce statistics", e) < 0)
			goto out;
		double known_rows = PQntuples(res) ? strtod(PQgetvalue(res, 0, 0), NULL) : -1;
		PQclear(res);
		res = NULL;
		if ((known_rows < 0 || (double)tmp.added > 0.2 * known_rows) &&
		    db_exec(db, "ANALYZE dmarcsift.bounces", e) < 0)
			goto out;
	}

	if (tmp.added > 0) {
		snprintf(p1, sizeof p1, "%d", r->hard_after > 0 ? r->hard_after : 1);
		snprintf(p2, sizeof p2, "%d", r->soft_after > 0 ? r->soft_after : 1);
		snprintf(p3, sizeof p3, "%d days",
		         r->soft_window_days > 0 ? r->soft_window_days : 1);
		const char *sp[3] = {p1, p2, p3};
		if (recompute(s, db_sql("bounce_suppress"), "updating suppressions", 3, sp,
		              &tmp.suppressed, &tmp.lifted, e) < 0)
			goto out;

		snprintf(p1, sizeof p1, "%d hours",
		         r->esc_window_hours > 0 ? r->esc_window_hours : 1);
		snprintf(p2, sizeof p2, "%d", r->esc_min_count);
		snprintf(p3, sizeof p3, "%.17g", r->esc_min_rate);
		snprintf(p4, sizeof p4, "%.17g", r->esc_jump_factor);
		const char *ep[4] = {p1, p2, p3, p4};
		if (recompute(s, db_sql("bounce_escalate"), "updating escalations", 4, ep,
		              &tmp.escalations_opened, &closed, e) < 0)
			goto out;
	}
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	s->in_tx = false;
	if (st)
		*st = tmp;
	rc = 0;
out:
	PQclear(res);
	bounce_store_abort(s);
	return rc;
}

void bounce_store_abort(struct bounce_store *s)
{
	if (!s)
		return;
	copy_abort(&s->copy, "bounce batch aborted");
	if (s->in_tx) {
		PGresult *res = PQexec(db_pg(s->db), "ROLLBACK");
		PQclear(res);
	}
	free(s);
}
