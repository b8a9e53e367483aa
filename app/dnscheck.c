/*
 * dnscheck: see dnscheck.h.
 */
#include "app/dnscheck.h"

#include "checks/dnscheck.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"

#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The answer cache of one run: every question asked once. */
#define BUCKETS 1024

struct entry {
	char *name;
	enum resolver_type type;
	bool done;
	struct resolver_answer a;
	struct entry *next;
};

struct dnsctx {
	struct resolver *rv;
	struct entry *b[BUCKETS];
	int64_t deadline;
	long fetch_timeout_ms;
	size_t queries, failed;
};

static const struct resolver_answer no_answer = {.status = RESOLVER_TIMEOUT};

static unsigned hash(const char *name, enum resolver_type type)
{
	unsigned h = 2166136261u ^ (unsigned)type;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	return h % BUCKETS;
}

static void on_answer(void *arg, const char *name, enum resolver_type type,
                      const struct resolver_answer *a)
{
	(void)name;
	(void)type;
	struct entry *e = arg;
	e->done = true;
	e->a.status = a->status;
	e->a.ttl = a->ttl;
	e->a.n = a->n;
	e->a.values = a->n ? xcalloc(a->n, sizeof *e->a.values) : NULL;
	for (size_t i = 0; i < a->n; i++)
		e->a.values[i] = xstrdup(a->values[i]);
}

static struct entry *want(struct dnsctx *c, const char *name, enum resolver_type type)
{
	unsigned h = hash(name, type);
	for (struct entry *e = c->b[h]; e; e = e->next)
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
	struct entry *e = xcalloc(1, sizeof *e);
	e->name = xstrdup(name);
	e->type = type;
	e->next = c->b[h];
	c->b[h] = e;
	if (resolver_now_ms() >= c->deadline) {
		/* Out of time: the question is not asked, the answer is a timeout. */
		e->done = true;
		e->a.status = RESOLVER_TIMEOUT;
		return e;
	}
	c->queries++;
	resolver_query(c->rv, name, type, on_answer, e);
	return e;
}

static const struct resolver_answer *lookup(void *arg, const char *name, enum resolver_type type)
{
	struct dnsctx *c = arg;
	struct entry *e = want(c, name, type);
	while (!e->done && resolver_pending(c->rv) > 0 && resolver_now_ms() < c->deadline)
		resolver_run(c->rv, c->deadline);
	return e->done ? &e->a : &no_answer;
}

static void cache_free(struct dnsctx *c)
{
	/* Pending queries answer (cancelled) into their entries first. */
	resolver_free(c->rv);
	c->rv = NULL;
	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry *e = c->b[i];
		while (e) {
			struct entry *next = e->next;
			if (e->a.status != RESOLVER_OK && e->a.status != RESOLVER_NODATA &&
			    e->a.status != RESOLVER_NXDOMAIN)
				c->failed++;
			for (size_t k = 0; k < e->a.n; k++)
				free(e->a.values[k]);
			free(e->a.values);
			free(e->name);
			free(e);
			e = next;
		}
		c->b[i] = NULL;
	}
}

/* MTA-STS policy fetch: HTTPS only, no redirects (RFC 8461 section 3.3),
 * time-bounded, the host resolved through our own resolver. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

static int fetch(void *arg, const char *url, struct buf *body, struct buf *why)
{
	struct dnsctx *c = arg;
	const char *h = url + strlen("https://");
	char *host = xstrndup(h, strcspn(h, "/"));
	const struct resolver_answer *a = lookup(c, host, RESOLVER_A);
	bool v6 = false;
	if (a->status != RESOLVER_OK) {
		a = lookup(c, host, RESOLVER_AAAA);
		v6 = true;
	}
	if (a->status != RESOLVER_OK) {
		buf_printf(why, "%s has no address (%s)", host, resolver_status_name(a->status));
		free(host);
		return -1;
	}
	char *pin = v6 ? xasprintf("%s:443:[%s]", host, a->values[0])
	               : xasprintf("%s:443:%s", host, a->values[0]);
	struct curl_slist *resolve = curl_slist_append(NULL, pin);
	char errbuf[CURL_ERROR_SIZE] = "";
	int rc = -1;
	CURL *cu = curl_easy_init();
	if (!cu || !resolve) {
		buf_puts(why, "cannot start an HTTPS request");
		goto out;
	}
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, c->fetch_timeout_ms);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, c->fetch_timeout_ms);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "dmarcsift-dns-check");
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, body);
	CURLcode cr = curl_easy_perform(cu);
	if (cr != CURLE_OK) {
		buf_printf(why, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
		if (cr == CURLE_WRITE_ERROR)
			buf_puts(why, " (the policy is larger than 64 KiB)");
		goto out;
	}
	long code = 0;
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		buf_printf(why, "HTTP status %ld (senders need 200, without redirects)", code);
		goto out;
	}
	rc = 0;
out:
	curl_easy_cleanup(cu);
	curl_slist_free_all(resolve);
	free(pin);
	free(host);
	return rc;
}

/* Text for a jsonb parameter: bytes that are not UTF-8 become '?' (record
 * texts come from DNS and may hold anything). */
static json_object *jstr(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *t = xmalloc(n + 1);
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t len = u[i] < 0x80             ? 1
		             : (u[i] & 0xe0) == 0xc0 ? 2
		             : (u[i] & 0xf0) == 0xe0 ? 3
		             : (u[i] & 0xf8) == 0xf0 ? 4
		                                     : 0;
		bool good = len > 0 && i + len <= n && !(len == 2 && u[i] < 0xc2);
		for (size_t k = 1; good && k < len; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				good = false;
		if (!good) {
			t[i++] = '?';
			continue;
		}
		memcpy(t + i, s + i, len);
		i += len;
	}
	t[n] = '\0';
	json_object *o = json_object_new_string(t);
	free(t);
	return o;
}

static int save(struct db *db, int tenant_id, size_t domains, const struct dnscheck_out *out,
                struct dnscheck_stats *st, struct err *e)
{
	json_object *fa = json_object_new_array();
	for (size_t i = 0; i < out->f.n; i++) {
		const struct dnsfind *f = &out->f.v[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "seq", json_object_new_int((int)i + 1));
		json_object_object_add(o, "domain", jstr(f->domain));
		json_object_object_add(o, "check_name", jstr(f->check));
		json_object_object_add(o, "severity", jstr(dnsfind_severity_name(f->severity)));
		json_object_object_add(o, "code", jstr(f->code));
		json_object_object_add(o, "finding", jstr(f->finding));
		json_object_object_add(o, "fix", jstr(f->fix));
		json_object_object_add(o, "record", jstr(f->record));
		json_object_array_add(fa, o);
		st->findings++;
		if (f->severity == DNSFIND_ERROR)
			st->errors++;
		else if (f->severity == DNSFIND_WARNING)
			st->warnings++;
	}
	json_object *ra = json_object_new_array();
	for (size_t i = 0; i < out->nrec; i++) {
		const struct dnscheck_record *r = &out->rec[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "domain", jstr(r->domain));
		json_object_object_add(o, "kind", jstr(r->kind));
		json_object_object_add(o, "name", jstr(r->name));
		json_object_object_add(o, "text", jstr(r->text));
		json_object_array_add(ra, o);
	}
	char tid[16], nd[24];
	snprintf(tid, sizeof tid, "%d", tenant_id);
	snprintf(nd, sizeof nd, "%zu", domains);
	const char *params[4] = {tid,
	                         json_object_to_json_string_ext(
	                             fa, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	                         json_object_to_json_string_ext(
	                             ra, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	                         nd};
	PGresult *res = db_query(db, db_sql("dnscheck_save"), 4, params);
	json_object_put(fa);
	json_object_put(ra);
	if (db_check(db, &res, PGRES_TUPLES_OK, "saving the DNS check", e) < 0)
		return -1;
	st->changes += strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

static long long num(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Selectors and d= domains come from reports: only plain DNS labels make a
 * name worth asking. */
static bool label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

int dnscheck_run(struct db *db, const struct dnscheck_opts *o, struct dnscheck_stats *st,
                 struct err *e)
{
	memset(st, 0, sizeof *st);
	char days[16], maxsrc[16], maxsel[16];
	snprintf(days, sizeof days, "%d", o->days > 0 ? o->days : 30);
	snprintf(maxsrc, sizeof maxsrc, "%d", o->max_sources > 0 ? o->max_sources : 200);
	snprintf(maxsel, sizeof maxsel, "%d", o->max_selectors > 0 ? o->max_selectors : 200);
	const char *p2[2] = {o->tenant, days};
	const char *p3s[3] = {o->tenant, days, maxsrc};
	const char *p3k[3] = {o->tenant, days, maxsel};
	PGresult *dom = NULL, *src = NULL, *sel = NULL;
	struct dnsctx c = {0};
	int rc = -1;
	dom = db_query(db, db_sql("dnscheck_domains"), 2, p2);
	if (db_check(db, &dom, PGRES_TUPLES_OK, "reading the tenants' domains", e) < 0)
		goto out;
	src = db_query(db, db_sql("dnscheck_sources"), 3, p3s);
	if (db_check(db, &src, PGRES_TUPLES_OK, "reading the domains' sources", e) < 0)
		goto out;
	sel = db_query(db, db_sql("dnscheck_selectors"), 3, p3k);
	if (db_check(db, &sel, PGRES_TUPLES_OK, "reading the DKIM selectors", e) < 0)
		goto out;
	int nd = PQntuples(dom), ns = PQntuples(src), nk = PQntuples(sel);
	if (nd == 0) {
		rc = 0;
		goto out;
	}
	if (resolver_new(&c.rv, &o->dns, e) != 0)
		goto out;
	c.deadline = o->budget_ms > 0 ? resolver_now_ms() + o->budget_ms : INT64_MAX;
	c.fetch_timeout_ms = o->fetch_timeout_ms > 0 ? o->fetch_timeout_ms : 10000;
	if (o->fetch)
		curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Everything known up front is in flight at once. */
	for (int r = 0; r < nd; r++) {
		char *names[6];
		enum resolver_type types[6];
		size_t n = dnscheck_first_questions(PQgetvalue(dom, r, 2), names, types);
		for (size_t i = 0; i < n; i++) {
			want(&c, names[i], types[i]);
			free(names[i]);
		}
	}
	for (int r = 0; r < nk; r++) {
		const char *d = PQgetvalue(sel, r, 1), *s = PQgetvalue(sel, r, 2);
		if (label_ok(d, 200) && label_ok(s, 63)) {
			char *name = xasprintf("%s._domainkey.%s", s, d);
			want(&c, name, RESOLVER_TXT);
			free(name);
		}
	}
	struct dnscheck_env env = {
	    .lookup = lookup, .ctx = &c, .fetch = o->fetch ? fetch : NULL, .fetch_ctx = &c};
	/* Rows of all three come ordered by tenant id. */
	int r = 0, si = 0, ki = 0;
	rc = 0;
	while (rc == 0 && r < nd) {
		int tid = (int)num(dom, r, 0);
		struct dnscheck_out out = {0};
		size_t domains = 0;
		for (; r < nd && num(dom, r, 0) == tid; r++) {
			const char *domain = PQgetvalue(dom, r, 2);
			while (si < ns && (num(src, si, 0) < tid ||
			                   (num(src, si, 0) == tid &&
			                    strcmp(PQgetvalue(src, si, 1), domain) < 0)))
				si++;
			int from = si;
			while (si < ns && num(src, si, 0) == tid &&
			       strcmp(PQgetvalue(src, si, 1), domain) == 0)
				si++;
			struct dnscheck_source *sv = xcalloc((size_t)(si - from) + 1, sizeof *sv);
			for (int k = from; k < si; k++) {
				sv[k - from].ip = PQgetvalue(src, k, 2);
				sv[k - from].messages = num(src, k, 3);
				sv[k - from].spf_pass = num(src, k, 4);
				sv[k - from].dkim_pass = num(src, k, 5);
			}
			long long messages = num(dom, r, 3), pass = num(dom, r, 4);
			struct dnscheck_domain d = {
			    .domain = domain,
			    .messages = messages,
			    .rate = messages > 0 ? (double)pass / (double)messages : -1.0,
			    .days = (int)num(dom, r, 5),
			    .sources = sv,
			    .nsources = (size_t)(si - from),
			    .tls = {.known = true,
			            .reports = num(dom, r, 6),
			            .ok = num(dom, r, 7),
			            .failed = num(dom, r, 8),
			            .top_failure = PQgetvalue(dom, r, 9),
			            .top_failed = num(dom, r, 10)},
			};
			dnscheck_domain(&env, &d, &out);
			free(sv);
			domains++;
		}
		while (ki < nk && num(sel, ki, 0) < tid)
			ki++;
		size_t nsel = 0;
		struct dnscheck_selector *kv = xcalloc((size_t)nk + 1, sizeof *kv);
		for (; ki < nk && num(sel, ki, 0) == tid; ki++) {
			const char *d = PQgetvalue(sel, ki, 1), *s = PQgetvalue(sel, ki, 2);
			if (!label_ok(d, 200) || !label_ok(s, 63))
				continue;
			kv[nsel++] = (struct dnscheck_selector){
			    .domain = d,
			    .selector = s,
			    .messages = num(sel, ki, 3),
			    .pass = num(sel, ki, 4),
			    .fail = num(sel, ki, 5),
			};
		}
		dnscheck_selectors(&env, kv, nsel, &out);
		free(kv);
		st->tenants++;
		st->domains += domains;
		st->selectors += nsel;
		if (save(db, tid, domains, &out, st, e) != 0)
			rc = -1;
		dnscheck_out_free(&out);
	}
out:
	if (c.rv) {
		size_t q = c.queries;
		cache_free(&c);
		st->queries = q;
		st->failed = c.failed;
	}
	PQclear(dom);
	PQclear(src);
	PQclear(sel);
	return rc;
}
