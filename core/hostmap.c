/*
 * hostmap: see core/hostmap.h. A small array searched linearly: a site has
 * a handful of MTA hosts, and lookups happen once per bounce event.
 */
#include "core/hostmap.h"

#include "core/tsv.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 255
#define ADDR_MAX 46

struct host {
	char *name; /* lower case, no trailing dot */
	char **addr;
	size_t naddr;
};

struct hostmap {
	struct host *h;
	size_t n;
};

struct hostmap *hostmap_new(void)
{
	return xcalloc(1, sizeof(struct hostmap));
}

void hostmap_free(struct hostmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		for (size_t k = 0; k < m->h[i].naddr; k++)
			free(m->h[i].addr[k]);
		free(m->h[i].addr);
		free(m->h[i].name);
	}
	free(m->h);
	free(m);
}

size_t hostmap_count(const struct hostmap *m)
{
	return m ? m->n : 0;
}

int hostmap_family(const char *addr)
{
	unsigned char b[16];
	if (!addr)
		return 0;
	if (inet_pton(AF_INET, addr, b) == 1)
		return 4;
	if (inet_pton(AF_INET6, addr, b) == 1)
		return 6;
	return 0;
}

/* Lower-cased, trimmed, trailing dot dropped; false when not a host name. */
static bool norm_host(const char *s, size_t n, char *out)
{
	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return true;
}

static struct host *find_exact(const struct hostmap *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->h[i].name, name) == 0)
			return &m->h[i];
	return NULL;
}

int hostmap_add(struct hostmap *m, const char *host, const char *addrs, struct err *e)
{
	char name[HOST_MAX + 1];
	if (!host || !norm_host(host, strlen(host), name))
		return err_set(e, ERR_CONFIG, "'%.100s' is not a host name", host ? host : "");
	struct host *h = find_exact(m, name);
	size_t added = 0;
	const char *p = addrs ? addrs : "";
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, ", \t\r\n");
		char a[ADDR_MAX];
		if (n >= sizeof a)
			return err_set(e, ERR_CONFIG, "host %s: '%.60s' is not an IP address", name,
			               p);
		memcpy(a, p, n);
		a[n] = '\0';
		if (!hostmap_family(a))
			return err_set(e, ERR_CONFIG, "host %s: '%s' is not an IP address", name,
			               a);
		if (!h) {
			m->h = xrealloc(m->h, (m->n + 1) * sizeof *m->h);
			h = &m->h[m->n++];
			memset(h, 0, sizeof *h);
			h->name = xstrdup(name);
		}
		h->addr = xrealloc(h->addr, (h->naddr + 1) * sizeof *h->addr);
		h->addr[h->naddr++] = xstrdup(a);
		added++;
		p += n;
	}
	if (added == 0)
		return err_set(e, ERR_CONFIG, "host %s: no IP address given", name);
	return 0;
}

int hostmap_load_tsv(struct hostmap *m, const char *text, size_t len, const char *name,
                     struct err *e)
{
	size_t off = 0, n;
	int line = 0;
	bool seen_data = false;
	const char *s;
	while (tsv_next_line(text, len, &off, &s, &n)) {
		line++;
		size_t lead = 0;
		while (lead < n && isspace((unsigned char)s[lead]))
			lead++;
		if (lead == n || s[lead] == '#')
			continue;
		const char *tab = memchr(s, '\t', n);
		if (!tab)
			return err_set(e, ERR_CONFIG, "%s:%d: expected HOST<TAB>IP", name, line);
		const char *ip = tab + 1;
		size_t iplen = (size_t)(s + n - ip);
		const char *tab2 = memchr(ip, '\t', iplen);
		if (tab2)
			iplen = (size_t)(tab2 - ip);
		char a[ADDR_MAX], host[HOST_MAX + 1];
		while (iplen > 0 && isspace((unsigned char)*ip))
			ip++, iplen--;
		while (iplen > 0 && isspace((unsigned char)ip[iplen - 1]))
			iplen--;
		bool ok = iplen < sizeof a;
		if (ok) {
			memcpy(a, ip, iplen);
			a[iplen] = '\0';
			ok = hostmap_family(a) != 0;
		}
		if (!ok) {
			if (!seen_data) { /* the header line */
				seen_data = true;
				continue;
			}
			return err_set(e, ERR_CONFIG, "%s:%d: '%.*s' is not an IP address", name,
			               line, (int)(iplen < 60 ? iplen : 60), ip);
		}
		seen_data = true;
		if (!norm_host(s, (size_t)(tab - s), host))
			return err_set(e, ERR_CONFIG, "%s:%d: '%.*s' is not a host name", name,
			               line, (int)((size_t)(tab - s) < 60 ? (size_t)(tab - s) : 60),
			               s);
		if (hostmap_add(m, host, a, e) < 0)
			return -1;
	}
	return 0;
}

static const char *pick(const struct host *h, int family)
{
	if (family)
		for (size_t i = 0; i < h->naddr; i++)
			if (hostmap_family(h->addr[i]) == family)
				return h->addr[i];
	return h->naddr ? h->addr[0] : NULL;
}

const char *hostmap_lookup(const struct hostmap *m, const char *host, int family)
{
	char name[HOST_MAX + 1];
	if (!m || !host || !norm_host(host, strlen(host), name))
		return NULL;
	const struct host *h = find_exact(m, name);
	if (h)
		return pick(h, family);
	/* "mail1" against "mail1.example.net" (or the other way round): the
	 * first labels, when exactly one entry has it. */
	size_t fl = strcspn(name, ".");
	const struct host *only = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const char *c = m->h[i].name;
		size_t cl = strcspn(c, ".");
		if (cl == fl && strncmp(c, name, fl) == 0 && (c[cl] == '\0' || name[fl] == '\0')) {
			if (only)
				return NULL;
			only = &m->h[i];
		}
	}
	return only ? pick(only, family) : NULL;
}
