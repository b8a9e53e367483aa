/*
 * resolve: see resolve.h.
 */
#include "app/resolve.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/sources_store.h"
#include "senders/cache.h"
#include "senders/lookup.h"
#include "senders/mmdb.h"
#include "senders/orgdomain.h"
#include "senders/services.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAVE_BATCH 500
#define MARK_BATCH 5000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- step 1: lookups ---- */

struct saved {
	struct sources_fact_row row;
	char *ip, *ptr, *org, *as_name, *country;
};

struct lookup_ctx {
	struct db *db;
	const struct resolve_opts *o;
	struct resolve_stats *st;
	struct saved *batch;
	size_t n;
	int rc;
	struct err *e;
};

static void free_batch(struct lookup_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->batch[i].ip);
		free(c->batch[i].ptr);
		free(c->batch[i].org);
		free(c->batch[i].as_name);
		free(c->batch[i].country);
	}
	c->n = 0;
}

static void flush(struct lookup_ctx *c)
{
	if (c->n == 0 || c->rc != 0) {
		free_batch(c);
		return;
	}
	struct sources_fact_row rows[SAVE_BATCH];
	for (size_t i = 0; i < c->n; i++)
		rows[i] = c->batch[i].row;
	if (sources_store_save_facts(c->db, rows, c->n, c->e) != 0)
		c->rc = -1;
	free_batch(c);
}

static void on_fact(void *arg, const struct senders_fact *f)
{
	struct lookup_ctx *c = arg;
	uint32_t pttl = senders_cache_ttl(f->ptr_status, f->ptr_ttl);
	uint32_t attl = senders_cache_ttl(f->asn_status, f->asn_ttl);
	if (pttl == 0 || attl == 0) {
		/* No server could be asked: that says nothing about the address. */
		c->st->left++;
		return;
	}
	struct saved *s = &c->batch[c->n++];
	memset(s, 0, sizeof *s);
	s->ip = xstrdup(f->ip);
	s->ptr = f->ptr ? xstrdup(f->ptr) : NULL;
	char org[256];
	s->org = f->ptr && orgdomain_of(f->ptr, org, sizeof org) == 0 ? xstrdup(org) : NULL;
	s->as_name = xstrdup(f->as_name);
	s->country = xstrdup(f->country);
	s->row = (struct sources_fact_row){
	    .ip = s->ip,
	    .ptr = s->ptr,
	    .ptr_confirmed = f->ptr_confirmed,
	    .ptr_org_domain = s->org,
	    .ptr_status = resolver_status_name(f->ptr_status),
	    .asn = f->asn,
	    .as_name = s->as_name,
	    .country = s->country,
	    .asn_status = resolver_status_name(f->asn_status),
	    .ptr_ttl = pttl,
	    .asn_ttl = attl,
	};
	c->st->resolved++;
	if (c->n == SAVE_BATCH)
		flush(c);
	if (c->o->progress)
		c->o->progress(c->o->progress_arg, c->st);
}

static int lookups(struct db *db, const struct resolve_opts *o, int tenant_id,
                   struct resolve_stats *st, struct err *e)
{
	char **ips = NULL;
	size_t n = 0;
	if (sources_store_stale(db, tenant_id, o->since, &ips, &n, e) != 0)
		return -1;
	st->stale = n;
	int rc = 0;
	struct resolver *r = NULL;
	struct senders_mmdb *mm = NULL;
	/* Set up even with nothing to ask, so a wrong setting is said now. */
	if (o->mmdb && senders_mmdb_open(&mm, o->mmdb, e) != 0) {
		rc = -1;
		goto out;
	}
	if (resolver_new(&r, &o->dns, e) != 0) {
		rc = -1;
		goto out;
	}
	if (n == 0)
		goto out;
	struct senders_lookup_opts lo = {
	    .origin_zone = o->origin_zone,
	    .origin6_zone = o->origin6_zone,
	    .asname_zone = o->asname_zone,
	    .mmdb = mm,
	};
	struct lookup_ctx c = {.db = db, .o = o, .st = st, .e = e};
	c.batch = xcalloc(SAVE_BATCH, sizeof *c.batch);
	int64_t deadline = resolver_now_ms() + (o->budget_ms > 0 ? o->budget_ms : INT32_MAX);
	struct senders_lookup_stats ls;
	senders_lookup(r, (const char *const *)ips, n, &lo, deadline, on_fact, &c, &ls);
	flush(&c);
	free(c.batch);
	st->left += ls.left;
	st->failed = ls.failed;
	st->unreachable = ls.unreachable;
	st->queries = ls.queries;
	rc = c.rc;
out:
	resolver_free(r);
	senders_mmdb_close(mm);
	sources_store_free_list(ips, n);
	return rc;
}

/* ---- step 2: organisational domains ---- */

static int org_domains(struct db *db, int tenant_id, const char *changed_since,
                       struct resolve_stats *st, struct err *e)
{
	char **doms = NULL;
	size_t n = 0;
	if (sources_store_unknown_domains(db, tenant_id, changed_since, &doms, &n, e) != 0)
		return -1;
	int rc = 0;
	const char **orgs = xcalloc(n ? n : 1, sizeof *orgs);
	char(*buf)[256] = xcalloc(n ? n : 1, sizeof *buf);
	for (size_t i = 0; i < n; i++)
		orgs[i] = orgdomain_of(doms[i], buf[i], sizeof buf[i]) == 0 ? buf[i] : NULL;
	for (size_t i = 0; i < n && rc == 0; i += MARK_BATCH) {
		size_t k = n - i < MARK_BATCH ? n - i : MARK_BATCH;
		rc = sources_store_save_org_domains(db, doms + i, orgs + i, k, e);
	}
	st->domains = n;
	free(orgs);
	free(buf);
	sources_store_free_list(doms, n);
	return rc;
}

/* ---- step 3: marks ---- */

/* Messages per passing auth domain of one source. */
struct dom_count {
	char *domain;
	int64_t messages;
	const struct service *svc;
};

struct dom_list {
	struct dom_count *d;
	size_t n, cap;
};

struct group {
	int tenant_id;
	char *ip;
	int64_t messages, fwd, list_dkim;
	char *ptr;
	bool confirmed;
	int64_t asn;
	struct dom_list dkim, spf;
};

struct mark_ctx {
	const struct services *svc;
	struct group g;
	bool open;
	struct sources_mark_row *rows;
	char **ips;
	size_t n, cap;
	struct resolve_stats *st;
};

static bool forwarding(const struct service *s)
{
	return s && (strcmp(s->type, "forwarder") == 0 || strcmp(s->type, "mailing_list") == 0);
}

static struct dom_count *count_domain(struct dom_list *l, const struct services *svc,
                                      enum services_kind kind, const char *domain, int64_t messages)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->d[i].domain, domain) == 0) {
			l->d[i].messages += messages;
			return &l->d[i];
		}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->d = xrealloc(l->d, l->cap * sizeof *l->d);
	}
	struct dom_count *c = &l->d[l->n++];
	c->domain = xstrdup(domain);
	c->messages = messages;
	c->svc = services_match_domain(svc, kind, domain);
	return c;
}

/* The service behind the largest share of passing messages. */
static const struct service *best_of(const struct dom_list *l)
{
	const struct dom_count *best = NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->d[i].svc && (!best || l->d[i].messages > best->messages))
			best = &l->d[i];
	return best ? best->svc : NULL;
}

static void clear_list(struct dom_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->d[i].domain);
	free(l->d);
	memset(l, 0, sizeof *l);
}

static void close_group(struct mark_ctx *m)
{
	if (!m->open)
		return;
	struct group *g = &m->g;
	const struct service *svc = NULL;
	const char *by = NULL;
	if ((svc = services_match_ip(m->svc, g->ip)))
		by = "ip";
	else if (g->confirmed && (svc = services_match_domain(m->svc, SERVICES_PTR, g->ptr)))
		by = "ptr";
	else if ((svc = best_of(&g->dkim)))
		by = "dkim";
	else if ((svc = best_of(&g->spf)))
		by = "spf";
	else if (g->asn > 0 && (svc = services_match_asn(m->svc, (uint32_t)g->asn)))
		by = "asn";
	int64_t fwd = g->fwd + g->list_dkim;
	if (fwd > g->messages)
		fwd = g->messages;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->rows = xrealloc(m->rows, m->cap * sizeof *m->rows);
		m->ips = xrealloc(m->ips, m->cap * sizeof *m->ips);
	}
	m->ips[m->n] = g->ip;
	m->rows[m->n] = (struct sources_mark_row){
	    .tenant_id = g->tenant_id,
	    .ip = g->ip,
	    .service = svc ? svc->name : NULL,
	    .service_type = svc ? svc->type : NULL,
	    .matched_by = by,
	    /* Forwarded: a forwarder or list service, or most of its messages
	     * carry a forwarding override reason or a list's DKIM signature. */
	    .forwarded = forwarding(svc) || (g->messages > 0 && fwd * 2 > g->messages),
	    .forwarded_messages = fwd,
	};
	m->st->named += svc != NULL;
	m->st->forwarded += m->rows[m->n].forwarded;
	m->n++;
	g->ip = NULL;
	free(g->ptr);
	clear_list(&g->dkim);
	clear_list(&g->spf);
	memset(g, 0, sizeof *g);
	m->open = false;
}

static bool same_org(const char *a, const char *b)
{
	char oa[256], ob[256];
	if (!a || !b || orgdomain_of(a, oa, sizeof oa) != 0 || orgdomain_of(b, ob, sizeof ob) != 0)
		return false;
	return strcmp(oa, ob) == 0;
}

static void lower_copy(const char *s, char *out, size_t outsz)
{
	size_t i = 0;
	for (; s[i] && i + 1 < outsz; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static int on_mark_row(void *arg, const struct sources_mark_in *r, struct err *e)
{
	(void)e;
	struct mark_ctx *m = arg;
	if (m->open && (m->g.tenant_id != r->tenant_id || strcmp(m->g.ip, r->ip) != 0))
		close_group(m);
	struct group *g = &m->g;
	if (!m->open) {
		m->open = true;
		g->tenant_id = r->tenant_id;
		g->ip = xstrdup(r->ip);
		g->ptr = r->ptr ? xstrdup(r->ptr) : NULL;
		g->confirmed = r->ptr_confirmed;
		g->asn = r->asn;
	}
	g->messages += r->count;
	if (r->forwarded_reason)
		g->fwd += r->count;
	bool list_signed = false;
	char dom[256];
	for (size_t i = 0; i < r->ndkim; i++) {
		lower_copy(r->dkim[i], dom, sizeof dom);
		struct dom_count *c = count_domain(&g->dkim, m->svc, SERVICES_DKIM, dom, r->count);
		/* A list re-signs with its own domain: passing, but not aligned. */
		if (!list_signed && forwarding(c->svc) && !same_org(dom, r->header_from))
			list_signed = true;
	}
	if (list_signed)
		g->list_dkim += r->count;
	for (size_t i = 0; i < r->nspf; i++) {
		lower_copy(r->spf[i], dom, sizeof dom);
		count_domain(&g->spf, m->svc, SERVICES_SPF, dom, r->count);
	}
	return 0;
}

static int load_services(struct db *db, const char *file, struct services **out, struct err *e)
{
	struct services *s = NULL;
	services_new(&s);
	char *problems = NULL;
	if (file) {
		FILE *f = fopen(file, "rb");
		if (!f) {
			services_free(s);
			return err_set(e, ERR_CONFIG, "services file %s: %s", file,
			               strerror(errno));
		}
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		char chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
			fwrite(chunk, 1, got, mem);
		fclose(f);
		fclose(mem);
		services_add_text(s, text, len, file, &problems);
		free(text);
	} else {
		size_t len;
		const char *text = services_builtin(&len);
		services_add_text(s, text, len, "data/services.tsv", &problems);
	}
	if (problems) {
		err_set(e, ERR_CONFIG, "%s", problems);
		free(problems);
		services_free(s);
		return -1;
	}
	char *user = NULL;
	if (sources_store_user_services(db, &user, e) != 0) {
		services_free(s);
		return -1;
	}
	if (user) {
		/* Validated when loaded; a row the table no longer accepts is skipped. */
		services_add_text(s, user, strlen(user), "user services", &problems);
		free(problems);
		free(user);
	}
	*out = s;
	return 0;
}

int resolve_mark(struct db *db, int tenant_id, const char *services_file, const char *changed_since,
                 struct resolve_stats *st, struct err *e)
{
	double t0 = now_s();
	struct services *svc = NULL;
	if (load_services(db, services_file, &svc, e) != 0)
		return -1;
	struct mark_ctx m = {.svc = svc, .st = st};
	int rc = sources_store_mark_input(db, tenant_id, changed_since, on_mark_row, &m, e);
	close_group(&m);
	if (rc == 0)
		rc = db_exec(db, "BEGIN", e);
	for (size_t i = 0; i < m.n && rc == 0; i += MARK_BATCH) {
		size_t k = m.n - i < MARK_BATCH ? m.n - i : MARK_BATCH;
		rc = sources_store_save_marks(db, m.rows + i, k, e);
	}
	if (rc == 0 && !changed_since)
		rc = sources_store_prune_marks(db, tenant_id, e);
	if (rc == 0) {
		rc = db_exec(db, "COMMIT", e);
	} else {
		struct err ignore = {0};
		db_exec(db, "ROLLBACK", &ignore);
	}
	st->marked = m.n;
	for (size_t i = 0; i < m.n; i++)
		free(m.ips[i]);
	free(m.ips);
	free(m.rows);
	free(m.g.ip);
	free(m.g.ptr);
	clear_list(&m.g.dkim);
	clear_list(&m.g.spf);
	services_free(svc);
	st->mark_s = now_s() - t0;
	return rc;
}

int resolve_run(struct db *db, const struct resolve_opts *o, struct resolve_stats *st,
                struct err *e)
{
	memset(st, 0, sizeof *st);
	int tenant_id = -1;
	if (o->tenant && sources_store_tenant_id(db, o->tenant, &tenant_id, e) != 0)
		return -1;
	double t0 = now_s();
	if (!o->no_lookup && lookups(db, o, tenant_id, st, e) != 0)
		return -1;
	st->lookup_s = now_s() - t0;
	if (org_domains(db, tenant_id, o->changed_since, st, e) != 0)
		return -1;
	return resolve_mark(db, tenant_id, o->services_file, o->changed_since, st, e);
}
