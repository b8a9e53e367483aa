/*
 * services: see services.h. Domains go into one sorted array per kind and
 * a name is looked up whole, then by each parent domain, so the most
 * specific pattern is found first with a handful of binary searches. IP
 * ranges are few (hundreds): a linear scan keeping the longest prefix.
 */
#include "senders/services.h"

#include "core/buf.h"
#include "core/tsv.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char services_embedded[];
extern const size_t services_embedded_len;

static const char *const types[] = {
    "esp",       "mailbox_provider", "marketing", "crm", "helpdesk", "security_gateway",
    "forwarder", "mailing_list",     "hosting",   NULL,
};

struct dom {
	char *key;
	size_t seq; /* insertion order: later rows win */
	const struct service *svc;
};

struct range {
	unsigned char addr[16];
	int family;
	int bits;
	size_t seq;
	const struct service *svc;
};

struct asn {
	uint32_t asn;
	size_t seq;
	const struct service *svc;
};

struct svc {
	struct service pub;
	char *name, *type;
};

struct services {
	struct svc **svc;
	size_t nsvc;
	struct dom *dom[3];
	size_t ndom[3];
	struct range *ranges;
	size_t nranges;
	struct asn *asns;
	size_t nasns;
	size_t seq;
};

void services_new(struct services **out)
{
	*out = xcalloc(1, sizeof **out);
}

void services_free(struct services *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsvc; i++) {
		free(s->svc[i]->name);
		free(s->svc[i]->type);
		free(s->svc[i]);
	}
	free(s->svc);
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < s->ndom[k]; i++)
			free(s->dom[k][i].key);
		free(s->dom[k]);
	}
	free(s->ranges);
	free(s->asns);
	free(s);
}

const char *services_builtin(size_t *len)
{
	*len = services_embedded_len;
	return services_embedded;
}

size_t services_count(const struct services *s)
{
	return s->nsvc;
}

bool services_type_ok(const char *type)
{
	for (int i = 0; types[i]; i++)
		if (strcmp(types[i], type) == 0)
			return true;
	return false;
}

static void lower(char *p)
{
	for (; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* A domain pattern: letters, digits, '-', '_' and dots, no empty label. */
static bool domain_ok(const char *d)
{
	if (!*d || *d == '.' || strlen(d) > 253)
		return false;
	for (const char *p = d; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return false;
		if (c == '.' && (p[1] == '.' || p[1] == '\0'))
			return false;
	}
	return true;
}

static int parse_cidr(const char *text, struct range *r)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof addr)
		return -1;
	memcpy(addr, text, n);
	addr[n] = '\0';
	memset(r->addr, 0, sizeof r->addr);
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->family = 6;
	else
		return -1;
	int max = r->family == 4 ? 32 : 128;
	r->bits = max;
	if (slash) {
		char *end;
		errno = 0;
		long b = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || b < 0 || b > max)
			return -1;
		r->bits = (int)b;
	}
	return 0;
}

__attribute__((format(printf, 4, 5))) static void problem(struct buf *b, const char *name, int line,
                                                          const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char head[300];
	int hn = snprintf(head, sizeof head, "%s:%d: ", name, line);
	if (hn > 0)
		buf_append(b, head, (size_t)hn < sizeof head ? (size_t)hn : sizeof head - 1);
	buf_append(b, msg, strlen(msg));
	buf_append(b, "\n", 1);
}

/* Checks every item of a comma list; returns the number of bad ones. */
static int check_list(struct buf *pb, const char *name, int line, const char *col, const char *what,
                      char *list)
{
	if (strcmp(list, "-") == 0)
		return 0;
	int bad = 0;
	char *save = NULL;
	for (char *item = list; item; item = save) {
		char *comma = strchr(item, ',');
		save = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		while (*item == ' ')
			item++;
		struct range r;
		char *endp;
		bool ok;
		if (strcmp(what, "ip") == 0) {
			ok = parse_cidr(item, &r) == 0;
		} else if (strcmp(what, "asn") == 0) {
			errno = 0;
			unsigned long v = strtoul(item, &endp, 10);
			ok = !errno && endp != item && !*endp && v > 0 && v <= UINT32_MAX;
		} else {
			ok = domain_ok(item);
		}
		if (!ok) {
			problem(pb, name, line, "%s '%s' is not valid", col, item);
			bad++;
		}
		if (comma)
			*comma = ',';
	}
	return bad;
}

static void add_items(struct services *s, const struct service *svc, const char *what, int kind,
                      const char *list)
{
	if (strcmp(list, "-") == 0)
		return;
	char *copy = xstrdup(list);
	char *save = NULL;
	for (char *item = copy; item; item = save) {
		char *comma = strchr(item, ',');
		save = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		while (*item == ' ')
			item++;
		size_t seq = s->seq++;
		if (strcmp(what, "ip") == 0) {
			s->ranges = xrealloc(s->ranges, (s->nranges + 1) * sizeof *s->ranges);
			struct range *r = &s->ranges[s->nranges++];
			parse_cidr(item, r);
			r->seq = seq;
			r->svc = svc;
		} else if (strcmp(what, "asn") == 0) {
			s->asns = xrealloc(s->asns, (s->nasns + 1) * sizeof *s->asns);
			s->asns[s->nasns].asn = (uint32_t)strtoul(item, NULL, 10);
			s->asns[s->nasns].seq = seq;
			s->asns[s->nasns++].svc = svc;
		} else {
			s->dom[kind] =
			    xrealloc(s->dom[kind], (s->ndom[kind] + 1) * sizeof **s->dom);
			struct dom *d = &s->dom[kind][s->ndom[kind]++];
			d->key = xstrdup(item);
			lower(d->key);
			d->seq = seq;
			d->svc = svc;
		}
	}
	free(copy);
}

static int cmp_dom(const void *a, const void *b)
{
	const struct dom *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	/* The latest row first, so a lookup finds it. */
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

size_t services_add_text(struct services *s, const char *text, size_t len, const char *name,
                         char **problems)
{
	static const char *const cols[] = {"ptr", "dkim", "spf", "ip", "asn"};
	struct buf pb;
	buf_init(&pb, 1 << 20);
	size_t added = 0;
	int line = 0;
	size_t off = 0, n;
	const char *at;
	while (tsv_next_line(text, len, &off, &at, &n)) {
		char *l = xstrndup(at, n);
		line++;
		if (l[0] == '\0' || l[0] == '#') {
			free(l);
			continue;
		}
		char *col[8];
		int nc = tsv_split(l, col, 7);
		if (nc != 7) {
			problem(&pb, name, line, "expected 7 tab-separated columns, found %d",
			        nc > 7 ? 8 : nc);
			free(l);
			continue;
		}
		int bad = 0;
		if (!*col[0]) {
			problem(&pb, name, line, "the service name is empty");
			bad++;
		}
		if (!services_type_ok(col[1])) {
			problem(&pb, name, line,
			        "type '%s' is not one of esp, mailbox_provider, marketing, crm, "
			        "helpdesk, security_gateway, forwarder, mailing_list, hosting",
			        col[1]);
			bad++;
		}
		for (int c = 0; c < 5; c++)
			bad += check_list(&pb, name, line, cols[c], cols[c], col[2 + c]);
		if (bad) {
			free(l);
			continue;
		}
		struct svc *row = xmalloc(sizeof *row);
		row->name = xstrdup(col[0]);
		row->type = xstrdup(col[1]);
		row->pub.name = row->name;
		row->pub.type = row->type;
		s->svc = xrealloc(s->svc, (s->nsvc + 1) * sizeof(void *)); /* pointers */
		s->svc[s->nsvc++] = row;
		const struct service *svc = &row->pub;
		add_items(s, svc, "ptr", SERVICES_PTR, col[2]);
		add_items(s, svc, "dkim", SERVICES_DKIM, col[3]);
		add_items(s, svc, "spf", SERVICES_SPF, col[4]);
		add_items(s, svc, "ip", 0, col[5]);
		add_items(s, svc, "asn", 0, col[6]);
		added++;
		free(l);
	}
	for (int k = 0; k < 3; k++)
		if (s->ndom[k])
			qsort(s->dom[k], s->ndom[k], sizeof(struct dom), cmp_dom);
	if (problems)
		*problems = pb.len ? xstrndup((const char *)pb.data, pb.len) : NULL;
	buf_free(&pb);
	return added;
}

static const struct dom *find(const struct services *s, int kind, const char *key)
{
	size_t lo = 0, hi = s->ndom[kind];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->dom[kind][mid].key, key);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ndom[kind] && strcmp(s->dom[kind][lo].key, key) == 0)
		return &s->dom[kind][lo];
	return NULL;
}

const struct service *services_match_domain(const struct services *s, enum services_kind kind,
                                            const char *domain)
{
	if (!domain || !*domain)
		return NULL;
	char key[256];
	size_t n = strlen(domain);
	if (n >= sizeof key)
		return NULL;
	memcpy(key, domain, n + 1);
	if (n && key[n - 1] == '.')
		key[n - 1] = '\0';
	lower(key);
	for (const char *p = key; p && *p;) {
		const struct dom *d = find(s, (int)kind, p);
		if (d)
			return d->svc;
		p = strchr(p, '.');
		if (p)
			p++;
	}
	return NULL;
}

static bool in_range(const struct range *r, const unsigned char *a)
{
	int full = r->bits / 8, rest = r->bits % 8;
	if (memcmp(r->addr, a, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (r->addr[full] & mask) == (a[full] & mask);
}

const struct service *services_match_ip(const struct services *s, const char *ip)
{
	unsigned char a[16];
	int family;
	if (inet_pton(AF_INET, ip, a) == 1) {
		family = 4;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		family = 6;
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			memmove(a, a + 12, 4);
			family = 4;
		}
	} else {
		return NULL;
	}
	const struct range *best = NULL;
	for (size_t i = 0; i < s->nranges; i++) {
		const struct range *r = &s->ranges[i];
		if (r->family != family || !in_range(r, a))
			continue;
		if (!best || r->bits > best->bits || (r->bits == best->bits && r->seq > best->seq))
			best = r;
	}
	return best ? best->svc : NULL;
}

const struct service *services_match_asn(const struct services *s, uint32_t asn)
{
	const struct asn *best = NULL;
	for (size_t i = 0; i < s->nasns; i++)
		if (s->asns[i].asn == asn && (!best || s->asns[i].seq > best->seq))
			best = &s->asns[i];
	return best ? best->svc : NULL;
}
