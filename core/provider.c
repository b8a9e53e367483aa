/*
 * provider: provider map parsing and lookups. See core/provider.h.
 *
 * Lookups run once per bounce event, so they are a handful of binary
 * searches: exact names and "*.suffix" patterns go into sorted key arrays;
 * a host is looked up whole and then by each of its parent domains. Only
 * "label.*" patterns are scanned linearly (there are few).
 */
#include "core/provider.h"

#include "core/log.h"
#include "core/tsv.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char provider_map_embedded[];
extern const size_t provider_map_embedded_len;

struct entry {
	char *key; /* lower case */
	const char *provider;
	bool suffix; /* "*.key": below key, not key itself */
};

struct table {
	struct entry *e;
	size_t n, cap;
};

struct prov {
	char *name;
	char *kind;
};

struct provider_map {
	struct prov *prov;
	size_t nprov;
	struct table domains, mx, orgs;
	struct table label; /* "hotmail.*": key = "hotmail." */
};

static void table_add(struct table *t, const char *key, const char *provider, bool suffix)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->e = xrealloc(t->e, t->cap * sizeof *t->e);
	}
	char *k = xstrdup(key);
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	t->e[t->n].key = k;
	t->e[t->n].provider = provider;
	t->e[t->n].suffix = suffix;
	t->n++;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return (int)x->suffix - (int)y->suffix;
}

/* An empty table has no array, and qsort wants one even for 0 entries. */
static void table_sort(struct table *t)
{
	if (t->n > 0)
		qsort(t->e, t->n, sizeof(struct entry), cmp_entry);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].key);
	free(t->e);
}

void provider_map_free(struct provider_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nprov; i++) {
		free(m->prov[i].name);
		free(m->prov[i].kind);
	}
	free(m->prov);
	table_free(&m->domains);
	table_free(&m->mx);
	table_free(&m->orgs);
	table_free(&m->label);
	free(m);
}

/* Adds each comma-separated pattern of `list` ("-" = none). */
static int add_patterns(struct provider_map *m, struct table *t, const char *list,
                        const char *provider, size_t lineno, struct err *e)
{
	if (strcmp(list, "-") == 0)
		return 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *pat = xstrndup(p, n);
		int rc = 0;
		if (n == 0 || (t != &m->orgs && strchr(pat, ' '))) {
			rc = err_set(e, ERR_CONFIG, "providers line %zu: bad pattern '%s'", lineno,
			             pat);
		} else if (strncmp(pat, "*.", 2) == 0 && !strchr(pat + 2, '*')) {
			table_add(t, pat + 2, provider, true);
		} else if (t == &m->domains && n > 2 && strchr(pat, '*') == pat + n - 1 &&
		           pat[n - 2] == '.') {
			pat[n - 1] = '\0';
			table_add(&m->label, pat, provider, false);
		} else if (!strchr(pat, '*') || t == &m->orgs) {
			table_add(t, pat, provider, false);
		} else {
			rc = err_set(
			    e, ERR_CONFIG,
			    "providers line %zu: pattern '%s' (use name, *.suffix or label.*)",
			    lineno, pat);
		}
		free(pat);
		if (rc < 0)
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

#define NCOLS 5

int provider_map_load(struct provider_map **out, const char *text, size_t len, struct err *e)
{
	struct provider_map *m = xcalloc(1, sizeof *m);
	char *line = NULL;
	size_t lineno = 0, cap = 0;
	int rc = -1;
	size_t off = 0, n;
	const char *s;
	while (tsv_next_line(text, len, &off, &s, &n)) {
		lineno++;
		free(line);
		line = xstrndup(s, n);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		char *col[NCOLS];
		if (tsv_split(line, col, NCOLS) != NCOLS) {
			err_set(e, ERR_CONFIG, "providers line %zu: want %d tab-separated columns",
			        lineno, NCOLS);
			goto out;
		}
		if (strcmp(col[1], "mailbox") != 0 && strcmp(col[1], "gateway") != 0) {
			err_set(e, ERR_CONFIG, "providers line %zu: kind must be mailbox|gateway",
			        lineno);
			goto out;
		}
		if (m->nprov == cap) {
			cap = cap ? cap * 2 : 32;
			m->prov = xrealloc(m->prov, cap * sizeof *m->prov);
		}
		/* names are referenced by the tables: keep them in a stable place */
		m->prov[m->nprov].name = xstrdup(col[0]);
		m->prov[m->nprov].kind = xstrdup(col[1]);
		const char *name = m->prov[m->nprov].name;
		m->nprov++;
		if (add_patterns(m, &m->orgs, col[2], name, lineno, e) < 0 ||
		    add_patterns(m, &m->domains, col[3], name, lineno, e) < 0 ||
		    add_patterns(m, &m->mx, col[4], name, lineno, e) < 0)
			goto out;
	}
	if (m->nprov == 0) {
		err_set(e, ERR_CONFIG, "providers: no providers");
		goto out;
	}
	table_sort(&m->domains);
	table_sort(&m->mx);
	table_sort(&m->orgs);
	*out = m;
	m = NULL;
	rc = 0;
out:
	free(line);
	provider_map_free(m);
	return rc;
}

static struct provider_map *default_map;

const struct provider_map *provider_map_default(void)
{
	if (!default_map) {
		struct err e = {0};
		if (provider_map_load(&default_map, provider_map_embedded,
		                      provider_map_embedded_len, &e) < 0)
			panic("embedded provider map: %s", e.msg);
	}
	return default_map;
}

static const struct entry *find(const struct table *t, const char *key, bool suffix)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct entry *x = &t->e[mid];
		int c = strcmp(x->key, key);
		if (c == 0)
			c = (int)x->suffix - (int)suffix;
		if (c == 0)
			return x;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *lookup_host(const struct provider_map *m, const struct table *t,
                               const char *name)
{
	char low[256];
	size_t n = strlen(name);
	while (n > 0 && name[n - 1] == '.') /* a rooted "host." */
		n--;
	if (n == 0 || n >= sizeof low)
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	const struct entry *x = find(t, low, false);
	if (x)
		return x->provider;
	for (const char *dot = strchr(low, '.'); dot; dot = strchr(dot + 1, '.')) {
		x = find(t, dot + 1, true);
		if (x)
			return x->provider;
	}
	/* "hotmail.*": the first label followed by anything */
	const char *dot = strchr(low, '.');
	if (t == &m->domains && dot) {
		for (size_t i = 0; i < m->label.n; i++) {
			size_t kl = strlen(m->label.e[i].key);
			if ((size_t)(dot - low) + 1 == kl &&
			    strncmp(low, m->label.e[i].key, kl) == 0)
				return m->label.e[i].provider;
		}
	}
	return NULL;
}

const char *provider_for(const struct provider_map *m, const char *recipient_domain,
                         const char *remote_mta_host)
{
	const char *p = NULL;
	if (recipient_domain && *recipient_domain)
		p = lookup_host(m, &m->domains, recipient_domain);
	if (!p && remote_mta_host && *remote_mta_host)
		p = lookup_host(m, &m->mx, remote_mta_host);
	return p;
}

const char *provider_for_org(const struct provider_map *m, const char *org_name)
{
	if (!org_name)
		return NULL;
	for (size_t i = 0; i < m->orgs.n; i++)
		if (strcasecmp(m->orgs.e[i].key, org_name) == 0)
			return m->orgs.e[i].provider;
	return NULL;
}

const char *provider_kind(const struct provider_map *m, const char *provider)
{
	if (!provider)
		return NULL;
	for (size_t i = 0; i < m->nprov; i++)
		if (strcasecmp(m->prov[i].name, provider) == 0)
			return m->prov[i].kind;
	return NULL;
}

size_t provider_map_org_count(const struct provider_map *m)
{
	return m->orgs.n;
}

void provider_map_org_at(const struct provider_map *m, size_t i, const char **org,
                         const char **provider)
{
	*org = i < m->orgs.n ? m->orgs.e[i].key : NULL;
	*provider = i < m->orgs.n ? m->orgs.e[i].provider : NULL;
}
