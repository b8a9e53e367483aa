/*
 * spf: see spf.h.
 */
#include "checks/spf.h"

#include "checks/dnsrec.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Terms a receiver follows at most; the walk stops there (a hostile record
 * cannot make us ask thousands of questions). */
#define WALK_MAX_LOOKUPS 40
#define WALK_MAX_DEPTH   10
#define MX_MAX_HOSTS     10

static const struct {
	const char *name;
	enum spf_mech mech;
	bool arg;  /* takes ":domain-spec" */
	bool need; /* ...which is required */
	bool cidr;
} mechs[] = {
    {"all", SPF_ALL, false, false, false}, {"include", SPF_INCLUDE, true, true, false},
    {"a", SPF_A, true, false, true},       {"mx", SPF_MX, true, false, true},
    {"ptr", SPF_PTR, true, false, false},  {"ip4", SPF_IP4, true, true, true},
    {"ip6", SPF_IP6, true, true, true},    {"exists", SPF_EXISTS, true, true, false},
};

static bool domain_spec_ok(const char *s, bool *macros)
{
	*macros = strchr(s, '%') != NULL;
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (const char *c = s; *c; c++) {
		if (*c == '%') {
			/* %{x...}, %%, %_, %- */
			if (c[1] == '%' || c[1] == '_' || c[1] == '-') {
				c++;
				continue;
			}
			if (c[1] != '{' || !strchr(c, '}'))
				return false;
			c = strchr(c, '}');
			continue;
		}
		if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == '_'))
			return false;
	}
	return *macros || (strchr(s, '.') != NULL && s[0] != '.' && strstr(s, "..") == NULL);
}

/* "/n" or "//n" or "/n//m" into the term's prefixes; -1 when bad. */
static int parse_cidr(const char *s, struct spf_term *t)
{
	while (*s) {
		if (*s != '/')
			return -1;
		bool v6 = s[1] == '/';
		s += v6 ? 2 : 1;
		if (!isdigit((unsigned char)*s))
			return -1;
		long n = 0;
		while (isdigit((unsigned char)*s) && n < 1000)
			n = n * 10 + (*s++ - '0');
		if (t->mech == SPF_IP6)
			v6 = true;
		if (t->mech == SPF_IP4 && v6)
			return -1;
		if (v6 ? n > 128 : n > 32)
			return -1;
		if (v6)
			t->cidr6 = (int)n;
		else
			t->cidr4 = (int)n;
	}
	return 0;
}

static int parse_term(const char *tok, struct spfrec *r, struct buf *why)
{
	const char *p = tok;
	char qual = '+';
	if (*p == '+' || *p == '-' || *p == '~' || *p == '?')
		qual = *p++;
	size_t nl = strcspn(p, ":/=");
	if (p[nl] == '=' && qual == '+' && p == tok) {
		/* A modifier: name=macro-string. */
		if (nl == 0 || !isalpha((unsigned char)p[0])) {
			buf_printf(why, "'%.60s' is not a modifier", tok);
			return -1;
		}
		const char *val = p + nl + 1;
		if (nl == 8 && strncasecmp(p, "redirect", 8) == 0) {
			bool macros;
			if (r->redirect) {
				buf_puts(why, "redirect= given twice");
				return -1;
			}
			if (!domain_spec_ok(val, &macros)) {
				buf_printf(why, "redirect=%.60s is not a domain", val);
				return -1;
			}
			r->redirect = xstrdup(val);
		}
		/* exp= and unknown modifiers are allowed and ignored. */
		return 0;
	}
	const size_t nm = sizeof mechs / sizeof mechs[0];
	size_t k = 0;
	for (; k < nm; k++)
		if (strlen(mechs[k].name) == nl && strncasecmp(p, mechs[k].name, nl) == 0)
			break;
	if (k == nm) {
		buf_printf(why, "'%.60s' is not an SPF mechanism", tok);
		return -1;
	}
	struct spf_term t = {.mech = mechs[k].mech, .qual = qual, .cidr4 = 32, .cidr6 = 128};
	const char *rest = p + nl;
	if (*rest == ':') {
		if (!mechs[k].arg) {
			buf_printf(why, "'%.60s': %s takes no argument", tok, mechs[k].name);
			return -1;
		}
		rest++;
		size_t al = strcspn(rest, "/");
		/* ip6 addresses contain no '/', but domain-specs may not either. */
		t.arg = xstrndup(rest, al);
		rest += al;
	} else if (mechs[k].need) {
		buf_printf(why, "'%.60s': %s needs a value", tok, mechs[k].name);
		return -1;
	}
	if (*rest == '=' || (*rest && !mechs[k].cidr)) {
		buf_printf(why, "'%.60s' is not a valid %s term", tok, mechs[k].name);
		free(t.arg);
		return -1;
	}
	if (*rest && parse_cidr(rest, &t) != 0) {
		buf_printf(why, "'%.60s': bad prefix length", tok);
		free(t.arg);
		return -1;
	}
	unsigned char addr[16];
	if (t.mech == SPF_IP4 && inet_pton(AF_INET, t.arg, addr) != 1) {
		buf_printf(why, "'%.60s': not an IPv4 address", tok);
		free(t.arg);
		return -1;
	}
	if (t.mech == SPF_IP6 && inet_pton(AF_INET6, t.arg, addr) != 1) {
		buf_printf(why, "'%.60s': not an IPv6 address", tok);
		free(t.arg);
		return -1;
	}
	if (t.arg && t.mech != SPF_IP4 && t.mech != SPF_IP6 && !domain_spec_ok(t.arg, &t.macros)) {
		buf_printf(why, "'%.60s': '%.60s' is not a domain", tok, t.arg);
		free(t.arg);
		return -1;
	}
	r->t = xrealloc(r->t, (r->n + 1) * sizeof *r->t);
	r->t[r->n++] = t;
	return 0;
}

int spfrec_parse(const char *txt, struct spfrec *r, struct buf *why)
{
	memset(r, 0, sizeof *r);
	if (strncasecmp(txt, "v=spf1", 6) != 0 || (txt[6] != '\0' && txt[6] != ' ')) {
		buf_puts(why, "the record does not start with v=spf1");
		return -1;
	}
	const char *p = txt + 6;
	while (*p) {
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t len = strcspn(p, " ");
		if (len > 512) {
			buf_puts(why, "a term longer than 512 bytes");
			spfrec_free(r);
			return -1;
		}
		char *tok = xstrndup(p, len);
		int rc = parse_term(tok, r, why);
		free(tok);
		if (rc != 0) {
			spfrec_free(r);
			return -1;
		}
		p += len;
	}
	return 0;
}

void spfrec_free(struct spfrec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->t[i].arg);
	free(r->t);
	free(r->redirect);
	memset(r, 0, sizeof *r);
}

const char *spf_result_name(enum spf_result r)
{
	static const char *const names[] = {"none",     "neutral",   "pass",      "fail",
	                                    "softfail", "temperror", "permerror", "unknown"};
	return (size_t)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

bool spf_ip_in(const char *ip, const char *net, int prefix)
{
	unsigned char a[16], b[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if ((strchr(net, ':') ? AF_INET6 : AF_INET) != fam)
		return false;
	if (inet_pton(fam, ip, a) != 1 || inet_pton(fam, net, b) != 1)
		return false;
	int bits = fam == AF_INET ? 32 : 128;
	if (prefix < 0 || prefix > bits)
		return false;
	int full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((a[full] & mask) != (b[full] & mask))
			return false;
	}
	return true;
}

/* The walk. */
struct spf_node {
	char *domain;
	enum spf_result status; /* SPF_R_NONE: usable; else TEMPERROR / PERMERROR */
	struct spfrec rec;
	struct spf_node **kid; /* per term: the include's record */
	char ***addrs;         /* per term: a / mx addresses */
	size_t *naddrs;
	bool *hit; /* per term: exists found an address */
	struct spf_node *redirect;
};

static void add_list(struct buf *b, const char *sep, const char *s)
{
	if (b->len)
		buf_puts(b, sep);
	buf_printf(b, "%.200s", s);
}

static bool failed(enum resolver_status st)
{
	return st != RESOLVER_OK && st != RESOLVER_NODATA && st != RESOLVER_NXDOMAIN;
}

struct walker {
	struct spf_walk *w;
	spf_lookup_fn lookup;
	void *ctx;
	const char *path[WALK_MAX_DEPTH + 1];
	int depth;
};

static const struct resolver_answer *ask(struct walker *k, const char *name,
                                         enum resolver_type type)
{
	const struct resolver_answer *a = k->lookup(k->ctx, name, type);
	if (failed(a->status)) {
		k->w->temperror = true;
		add_list(&k->w->lookup_failed, ", ", name);
	}
	return a;
}

static void push_addr(struct spf_node *n, size_t i, const char *a)
{
	n->addrs[i] = xrealloc(n->addrs[i], (n->naddrs[i] + 1) * sizeof *n->addrs[i]);
	n->addrs[i][n->naddrs[i]++] = xstrdup(a);
}

/* A and AAAA of host into term i; returns how many (*fail: a look-up
 * failed). */
static size_t host_addrs(struct walker *k, struct spf_node *n, size_t i, const char *host,
                         bool *fail)
{
	size_t before = n->naddrs[i];
	enum resolver_type types[2] = {RESOLVER_A, RESOLVER_AAAA};
	for (int t = 0; t < 2; t++) {
		const struct resolver_answer *a = ask(k, host, types[t]);
		if (failed(a->status))
			*fail = true;
		if (a->status == RESOLVER_OK)
			for (size_t j = 0; j < a->n; j++)
				push_addr(n, i, a->values[j]);
	}
	return n->naddrs[i] - before;
}

static void void_lookup(struct walker *k, const char *name)
{
	k->w->voids++;
	add_list(&k->w->voided, ", ", name);
}

static struct spf_node *walk_node(struct walker *k, const char *domain, const char *txt);

static void walk_terms(struct walker *k, struct spf_node *n)
{
	struct spf_walk *w = k->w;
	size_t nt = n->rec.n;
	n->kid = xcalloc(nt ? nt : 1, sizeof(struct spf_node *));
	n->addrs = xcalloc(nt ? nt : 1, sizeof *n->addrs);
	n->naddrs = xcalloc(nt ? nt : 1, sizeof *n->naddrs);
	n->hit = xcalloc(nt ? nt : 1, sizeof *n->hit);
	bool has_all = false;
	for (size_t i = 0; i < nt; i++) {
		struct spf_term *t = &n->rec.t[i];
		const char *target = t->arg ? t->arg : n->domain;
		switch (t->mech) {
		case SPF_ALL:
			has_all = true;
			if (t->qual == '+')
				w->pass_all = true;
			continue;
		case SPF_IP4:
		case SPF_IP6:
			continue;
		case SPF_PTR:
			w->lookups++;
			w->ptr = true;
			continue;
		default:
			break;
		}
		w->lookups++;
		if (t->macros) {
			w->macros = true;
			continue;
		}
		if (w->lookups > WALK_MAX_LOOKUPS)
			continue;
		if (t->mech == SPF_INCLUDE) {
			n->kid[i] = walk_node(k, target, NULL);
		} else if (t->mech == SPF_A) {
			bool fail = false;
			if (host_addrs(k, n, i, target, &fail) == 0 && !fail)
				void_lookup(k, target);
		} else if (t->mech == SPF_MX) {
			const struct resolver_answer *a = ask(k, target, RESOLVER_MX);
			if (a->status != RESOLVER_OK) {
				if (!failed(a->status))
					void_lookup(k, target);
				continue;
			}
			if (a->n > MX_MAX_HOSTS)
				w->mx_over = true;
			/* The answer may be dropped by the next look-up: copy. */
			size_t nh = a->n < MX_MAX_HOSTS ? a->n : MX_MAX_HOSTS;
			char **hosts = xcalloc(nh ? nh : 1, sizeof *hosts);
			for (size_t j = 0; j < nh; j++)
				hosts[j] = xstrdup(a->values[j]);
			for (size_t j = 0; j < nh; j++) {
				bool fail = false;
				host_addrs(k, n, i, hosts[j], &fail);
			}
			dnsrec_strings_free(hosts, nh);
		} else if (t->mech == SPF_EXISTS) {
			const struct resolver_answer *a = ask(k, target, RESOLVER_A);
			n->hit[i] = a->status == RESOLVER_OK;
			if (a->status == RESOLVER_NODATA || a->status == RESOLVER_NXDOMAIN)
				void_lookup(k, target);
		}
	}
	/* redirect= is ignored when the record has an all (RFC 7208 6.1). */
	if (n->rec.redirect && !has_all) {
		w->lookups++;
		bool macros = strchr(n->rec.redirect, '%') != NULL;
		if (macros)
			w->macros = true;
		else if (w->lookups <= WALK_MAX_LOOKUPS)
			n->redirect = walk_node(k, n->rec.redirect, NULL);
	}
}

static struct spf_node *walk_node(struct walker *k, const char *domain, const char *txt)
{
	struct spf_walk *w = k->w;
	struct spf_node *n = xcalloc(1, sizeof *n);
	n->domain = xstrdup(domain);
	for (int i = 0; i < k->depth; i++)
		if (strcasecmp(k->path[i], domain) == 0) {
			n->status = SPF_R_PERMERROR;
			add_list(&w->errors, "; ", "");
			buf_printf(&w->errors, "%.200s includes itself (a loop)", domain);
			return n;
		}
	if (k->depth >= WALK_MAX_DEPTH) {
		n->status = SPF_R_PERMERROR;
		add_list(&w->errors, "; ", "");
		buf_printf(&w->errors, "includes nested deeper than %d at %.200s", WALK_MAX_DEPTH,
		           domain);
		return n;
	}
	const char *chosen = txt;
	if (!chosen) {
		const struct resolver_answer *a = ask(k, domain, RESOLVER_TXT);
		if (failed(a->status)) {
			n->status = SPF_R_TEMPERROR;
			return n;
		}
		size_t found = 0;
		for (size_t i = 0; a->status == RESOLVER_OK && i < a->n; i++)
			if (dnsrec_is(a->values[i], "spf1")) {
				found++;
				chosen = a->values[i];
			}
		if (found != 1) {
			if (a->status != RESOLVER_OK)
				void_lookup(k, domain);
			n->status = SPF_R_PERMERROR;
			add_list(&w->errors, "; ", "");
			if (found)
				buf_printf(&w->errors, "%.200s has %zu SPF records", domain, found);
			else
				buf_printf(&w->errors, "%.200s has no SPF record", domain);
			return n;
		}
	}
	struct buf why;
	buf_init(&why, 1024);
	/* The text is the lookup cache's: parse it before the next look-up. */
	if (spfrec_parse(chosen, &n->rec, &why) != 0) {
		n->status = SPF_R_PERMERROR;
		if (k->depth > 0) {
			add_list(&w->errors, "; ", "");
			buf_printf(&w->errors, "the record of %.200s: %s", domain, why.data);
		}
		buf_free(&why);
		return n;
	}
	buf_free(&why);
	k->path[k->depth++] = n->domain;
	walk_terms(k, n);
	k->depth--;
	return n;
}

void spf_walk(const char *domain, const char *txt, spf_lookup_fn lookup, void *ctx,
              struct spf_walk *w)
{
	memset(w, 0, sizeof *w);
	buf_init(&w->voided, 4096);
	buf_init(&w->errors, 4096);
	buf_init(&w->lookup_failed, 4096);
	struct walker k = {.w = w, .lookup = lookup, .ctx = ctx};
	w->root = walk_node(&k, domain, txt);
}

static void node_free(struct spf_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; n->kid && i < n->rec.n; i++) {
		node_free(n->kid[i]);
		dnsrec_strings_free(n->addrs[i], n->naddrs[i]);
	}
	free(n->kid);
	free(n->addrs);
	free(n->naddrs);
	free(n->hit);
	node_free(n->redirect);
	spfrec_free(&n->rec);
	free(n->domain);
	free(n);
}

void spf_walk_free(struct spf_walk *w)
{
	node_free(w->root);
	buf_free(&w->voided);
	buf_free(&w->errors);
	buf_free(&w->lookup_failed);
	w->root = NULL;
}

static enum spf_result of_qual(char q)
{
	switch (q) {
	case '-':
		return SPF_R_FAIL;
	case '~':
		return SPF_R_SOFTFAIL;
	case '?':
		return SPF_R_NEUTRAL;
	default:
		return SPF_R_PASS;
	}
}

static enum spf_result eval_node(const struct spf_node *n, const char *ip, int depth)
{
	if (!n || depth > WALK_MAX_DEPTH)
		return SPF_R_PERMERROR;
	if (n->status != SPF_R_NONE)
		return n->status;
	bool unknown = false;
	bool v6 = strchr(ip, ':') != NULL;
	for (size_t i = 0; i < n->rec.n; i++) {
		const struct spf_term *t = &n->rec.t[i];
		switch (t->mech) {
		case SPF_ALL:
			return unknown && t->qual != '+' ? SPF_R_UNKNOWN : of_qual(t->qual);
		case SPF_IP4:
		case SPF_IP6:
			if (spf_ip_in(ip, t->arg, t->mech == SPF_IP4 ? t->cidr4 : t->cidr6))
				return of_qual(t->qual);
			break;
		case SPF_A:
		case SPF_MX:
			if (t->macros) {
				unknown = true;
				break;
			}
			for (size_t j = 0; j < n->naddrs[i]; j++)
				if (spf_ip_in(ip, n->addrs[i][j], v6 ? t->cidr6 : t->cidr4))
					return of_qual(t->qual);
			break;
		case SPF_INCLUDE: {
			if (t->macros || !n->kid[i]) {
				unknown = true;
				break;
			}
			enum spf_result r = eval_node(n->kid[i], ip, depth + 1);
			if (r == SPF_R_PASS)
				return of_qual(t->qual);
			if (r == SPF_R_TEMPERROR || r == SPF_R_PERMERROR)
				return r;
			if (r == SPF_R_UNKNOWN)
				unknown = true;
			break;
		}
		case SPF_EXISTS:
			if (t->macros) {
				unknown = true;
				break;
			}
			if (n->hit[i])
				return of_qual(t->qual);
			break;
		case SPF_PTR:
			unknown = true;
			break;
		}
	}
	if (unknown)
		return SPF_R_UNKNOWN;
	if (n->rec.redirect && strchr(n->rec.redirect, '%'))
		return SPF_R_UNKNOWN;
	if (n->rec.redirect) {
		enum spf_result r = eval_node(n->redirect, ip, depth + 1);
		return r == SPF_R_NONE ? SPF_R_PERMERROR : r;
	}
	return SPF_R_NEUTRAL;
}

enum spf_result spf_eval(const struct spf_walk *w, const char *ip)
{
	return eval_node(w->root, ip, 0);
}
