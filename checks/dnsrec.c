/*
 * dnsrec: see dnsrec.h. Readers walk the text with a cursor; nothing is
 * copied into fixed arrays without a length check.
 */
#include "checks/dnsrec.h"

#include "core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && is_ws(*s)) {
		s++;
		n--;
	}
	while (n && is_ws(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

int taglist_parse(const char *txt, struct taglist *out, struct buf *why)
{
	memset(out, 0, sizeof *out);
	const char *p = txt;
	while (*p) {
		size_t len = strcspn(p, ";");
		const char *end = p + len;
		const char *q = p;
		while (q < end && is_ws(*q))
			q++;
		if (q == end) { /* empty spec: "a=b;;" or a trailing ";" */
			p = *end ? end + 1 : end;
			continue;
		}
		const char *eq = memchr(q, '=', (size_t)(end - q));
		if (!eq) {
			buf_printf(why, "'%.*s' is not tag=value", (int)(len > 40 ? 40 : len), p);
			goto fail;
		}
		char *name = trim_dup(q, (size_t)(eq - q));
		bool good =
		    name[0] != '\0' && isalpha((unsigned char)name[0]) && strlen(name) <= 31;
		for (char *c = name; *c; c++) {
			if (!(isalnum((unsigned char)*c) || *c == '_'))
				good = false;
			*c = (char)tolower((unsigned char)*c);
		}
		if (!good) {
			buf_printf(why, "'%.40s' is not a tag name", name);
			free(name);
			goto fail;
		}
		if (taglist_get(out, name)) {
			buf_printf(why, "tag %s given twice", name);
			free(name);
			goto fail;
		}
		if (out->n == TAGLIST_MAX) {
			buf_printf(why, "more than %d tags", TAGLIST_MAX);
			free(name);
			goto fail;
		}
		out->v[out->n].name = name;
		out->v[out->n].value = trim_dup(eq + 1, (size_t)(end - eq - 1));
		out->n++;
		p = *end ? end + 1 : end;
	}
	return 0;
fail:
	taglist_free(out);
	return -1;
}

const char *taglist_get(const struct taglist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

void taglist_free(struct taglist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
}

bool dnsrec_is(const char *txt, const char *version)
{
	const char *p = txt;
	while (is_ws(*p))
		p++;
	if (tolower((unsigned char)p[0]) != 'v')
		return false;
	p++;
	while (is_ws(*p))
		p++;
	if (*p != '=')
		return false;
	p++;
	while (is_ws(*p))
		p++;
	size_t n = strlen(version);
	if (strncasecmp(p, version, n) != 0)
		return false;
	return p[n] == '\0' || p[n] == ';' || is_ws(p[n]);
}

/* One problem text appended, "; " between two. */
#define PROBLEM(b, ...)                                                                            \
	do {                                                                                       \
		if ((b)->len)                                                                      \
			buf_puts((b), "; ");                                                       \
		buf_printf((b), __VA_ARGS__);                                                      \
	} while (0)

static bool one_of(const char *v, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (strcasecmp(v, set[i]) == 0)
			return true;
	return false;
}

/* A whole decimal number in [lo, hi]; -1 otherwise. */
static long number(const char *v, long lo, long hi)
{
	if (!*v || !isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	char *end;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	return n;
}

static void copy_lower(char *dst, size_t dstsz, const char *v)
{
	size_t i = 0;
	for (; v[i] && i + 1 < dstsz; i++)
		dst[i] = (char)tolower((unsigned char)v[i]);
	dst[i] = '\0';
}

int dmarcrec_parse(const char *txt, struct dmarcrec *r, struct buf *why)
{
	memset(r, 0, sizeof *r);
	r->pct = -1;
	buf_init(&r->problems, 4096);
	buf_init(&r->unknown, 1024);
	struct taglist tl;
	if (taglist_parse(txt, &tl, why) != 0)
		return -1;
	if (tl.n == 0 || strcmp(tl.v[0].name, "v") != 0 || strcmp(tl.v[0].value, "DMARC1") != 0) {
		buf_puts(why, "the record does not start with v=DMARC1");
		taglist_free(&tl);
		return -1;
	}
	static const char *const policies[] = {"none", "quarantine", "reject", NULL};
	static const char *const align[] = {"r", "s", NULL};
	static const char *const yn[] = {"y", "n", NULL};
	static const char *const ynu[] = {"y", "n", "u", NULL};
	bool p_seen = false;
	for (size_t i = 1; i < tl.n; i++) {
		const char *n = tl.v[i].name, *v = tl.v[i].value;
		if (strcmp(n, "p") == 0 || strcmp(n, "sp") == 0 || strcmp(n, "np") == 0) {
			if (n[0] == 'p')
				p_seen = true;
			if (!one_of(v, policies)) {
				PROBLEM(&r->problems, "%s=%.40s is not none, quarantine or reject",
				        n, v);
				continue;
			}
			char *dst = n[0] == 'p' ? r->p : n[0] == 's' ? r->sp : r->np;
			copy_lower(dst, sizeof r->p, v);
		} else if (strcmp(n, "pct") == 0) {
			long pct = number(v, 0, 100);
			if (pct < 0)
				PROBLEM(&r->problems, "pct=%.40s is not a number from 0 to 100", v);
			else
				r->pct = (int)pct;
		} else if (strcmp(n, "adkim") == 0 || strcmp(n, "aspf") == 0) {
			if (!one_of(v, align))
				PROBLEM(&r->problems, "%s=%.40s is not r or s", n, v);
			else if (n[1] == 'd')
				r->adkim = (char)tolower((unsigned char)v[0]);
			else
				r->aspf = (char)tolower((unsigned char)v[0]);
		} else if (strcmp(n, "t") == 0) {
			if (!one_of(v, yn))
				PROBLEM(&r->problems, "t=%.40s is not y or n", v);
			else
				r->testing = tolower((unsigned char)v[0]) == 'y';
		} else if (strcmp(n, "psd") == 0) {
			if (!one_of(v, ynu))
				PROBLEM(&r->problems, "psd=%.40s is not y, n or u", v);
			else
				r->psd = (char)tolower((unsigned char)v[0]);
		} else if (strcmp(n, "fo") == 0) {
			bool good = *v != '\0';
			for (const char *c = v; *c; c++)
				if (!strchr("01ds: \t", *c))
					good = false;
			if (!good)
				PROBLEM(&r->problems, "fo=%.40s is not a colon list of 0, 1, d, s",
				        v);
		} else if (strcmp(n, "ri") == 0) {
			if (number(v, 0, LONG_MAX) < 0)
				PROBLEM(&r->problems, "ri=%.40s is not a number of seconds", v);
		} else if (strcmp(n, "rf") == 0) {
			if (strcasecmp(v, "afrf") != 0)
				PROBLEM(&r->problems, "rf=%.40s is not afrf", v);
		} else if (strcmp(n, "rua") == 0 || strcmp(n, "ruf") == 0) {
			char **dst = n[2] == 'a' ? &r->rua : &r->ruf;
			*dst = xstrdup(v);
		} else if (strcmp(n, "v") == 0) {
			PROBLEM(&r->problems, "v= given again");
		} else {
			if (r->unknown.len)
				buf_puts(&r->unknown, ", ");
			buf_printf(&r->unknown, "%.40s", n);
		}
	}
	if (!p_seen) {
		/* RFC 9989 reads a record without p= (but with rua) as p=none;
		 * RFC 7489 receivers discard it. */
		PROBLEM(&r->problems, "no p= tag (RFC 7489 receivers ignore the record)");
	}
	taglist_free(&tl);
	return 0;
}

void dmarcrec_free(struct dmarcrec *r)
{
	free(r->rua);
	free(r->ruf);
	buf_free(&r->problems);
	buf_free(&r->unknown);
	r->rua = r->ruf = NULL;
}

static bool host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253 || !strchr(h, '.') || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		return false;
	for (const char *c = h; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == '_'))
			return false;
	return strstr(h, "..") == NULL;
}

size_t dmarc_uri_hosts(const char *list, char ***hosts, struct buf *bad)
{
	*hosts = NULL;
	size_t n = 0;
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *uri = trim_dup(p, len);
		p += len;
		if (*p == ',')
			p++;
		if (!*uri) {
			free(uri);
			continue;
		}
		/* The obsolete "!size" suffix is ignored (RFC 9989). */
		char *bang = strchr(uri, '!');
		if (bang)
			*bang = '\0';
		const char *at = strrchr(uri, '@');
		bool good = strncasecmp(uri, "mailto:", 7) == 0 && at && at > uri + 7;
		char *host = good ? xstrdup(at + 1) : NULL;
		if (host) {
			for (char *c = host; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			good = host_ok(host);
		}
		if (!good) {
			if (bad->len)
				buf_puts(bad, ", ");
			buf_printf(bad, "%.80s", uri);
			free(host);
		} else {
			*hosts = xrealloc(*hosts, (n + 1) * sizeof **hosts);
			(*hosts)[n++] = host;
		}
		free(uri);
	}
	return n;
}

void dnsrec_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Base64 without whitespace (RFC 6376 allows FWS inside p=). */
static int base64_decode(const char *in, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(in);
	char *clean = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ws(in[i]))
			clean[k++] = in[i];
	clean[k] = '\0';
	if (k == 0 || k % 4 != 0) {
		free(clean);
		return -1;
	}
	unsigned char *buf = xmalloc(k / 4 * 3 + 1);
	int len = EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)k);
	if (len < 0) {
		free(clean);
		free(buf);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (clean[k - 1] == '=')
		len--;
	if (clean[k - 2] == '=')
		len--;
	free(clean);
	*out = buf;
	*outlen = (size_t)len;
	return 0;
}

int dkimkey_parse(const char *txt, struct dkimkey *out, struct buf *why)
{
	memset(out, 0, sizeof *out);
	snprintf(out->k, sizeof out->k, "rsa");
	struct taglist tl;
	if (taglist_parse(txt, &tl, why) != 0)
		return -1;
	int rc = -1;
	const char *v = taglist_get(&tl, "v");
	if (v && (strcmp(tl.v[0].name, "v") != 0 || strcmp(v, "DKIM1") != 0)) {
		buf_puts(why, "v= must be first and DKIM1");
		goto out;
	}
	const char *k = taglist_get(&tl, "k");
	if (k) {
		if (strcasecmp(k, "rsa") != 0 && strcasecmp(k, "ed25519") != 0) {
			buf_printf(why, "k=%.20s is not rsa or ed25519", k);
			goto out;
		}
		copy_lower(out->k, sizeof out->k, k);
	}
	const char *t = taglist_get(&tl, "t");
	if (t)
		for (const char *c = t; *c; c++)
			if (*c == 'y')
				out->testing = true;
	const char *p = taglist_get(&tl, "p");
	if (!p) {
		buf_puts(why, "no p= tag (the public key)");
		goto out;
	}
	if (!*p) {
		out->revoked = true;
		rc = 0;
		goto out;
	}
	unsigned char *der = NULL;
	size_t len = 0;
	if (base64_decode(p, &der, &len) != 0) {
		buf_puts(why, "p= is not base64");
		goto out;
	}
	if (strcmp(out->k, "ed25519") == 0) {
		/* RFC 8463: the raw 32-byte public key. */
		if (len != 32)
			buf_printf(why, "an ed25519 key is 32 bytes, p= has %zu", len);
		else {
			out->bits = 256;
			rc = 0;
		}
		free(der);
		goto out;
	}
	const unsigned char *q = der;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &q, (long)len);
	if (!key) {
		/* Some publish the bare RSAPublicKey (PKCS#1) instead. */
		q = der;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	}
	if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		buf_puts(why, "p= is not an RSA public key (SubjectPublicKeyInfo)");
	} else {
		out->bits = EVP_PKEY_bits(key);
		rc = 0;
	}
	EVP_PKEY_free(key);
	free(der);
out:
	taglist_free(&tl);
	return rc;
}

int mtasts_txt_parse(const char *txt, char *id, size_t idsz, struct buf *why)
{
	id[0] = '\0';
	struct taglist tl;
	if (taglist_parse(txt, &tl, why) != 0)
		return -1;
	int rc = -1;
	if (tl.n == 0 || strcmp(tl.v[0].name, "v") != 0 || strcmp(tl.v[0].value, "STSv1") != 0) {
		buf_puts(why, "the record does not start with v=STSv1");
		goto out;
	}
	const char *v = taglist_get(&tl, "id");
	if (!v) {
		buf_puts(why, "no id= tag");
		goto out;
	}
	size_t n = strlen(v);
	bool good = n >= 1 && n <= 32;
	for (const char *c = v; *c; c++)
		if (!isalnum((unsigned char)*c))
			good = false;
	if (!good) {
		buf_printf(why, "id=%.40s is not 1 to 32 letters or digits", v);
		goto out;
	}
	snprintf(id, idsz, "%s", v);
	rc = 0;
out:
	taglist_free(&tl);
	return rc;
}

int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p, struct buf *why)
{
	memset(p, 0, sizeof *p);
	p->max_age = -1;
	bool version = false;
	size_t off = 0, line = 0;
	while (off < len) {
		const char *s = body + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;
		off += n + (nl ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (memchr(s, '\0', n)) {
			buf_printf(why, "line %zu holds a NUL byte", line);
			goto fail;
		}
		const char *colon = memchr(s, ':', n);
		char *key = trim_dup(s, colon ? (size_t)(colon - s) : n);
		if (!colon) {
			bool blank = key[0] == '\0';
			free(key);
			if (blank)
				continue;
			buf_printf(why, "line %zu is not key: value", line);
			goto fail;
		}
		char *val = trim_dup(colon + 1, n - (size_t)(colon - s) - 1);
		if (strcmp(key, "version") == 0) {
			if (strcmp(val, "STSv1") != 0)
				buf_printf(why, "version: %.20s is not STSv1", val);
			version = true;
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(val, "enforce") != 0 && strcmp(val, "testing") != 0 &&
			    strcmp(val, "none") != 0)
				buf_printf(why, "mode: %.20s is not enforce, testing or none", val);
			else
				snprintf(p->mode, sizeof p->mode, "%s", val);
		} else if (strcmp(key, "max_age") == 0) {
			p->max_age = number(val, 0, 31557600);
			if (p->max_age < 0)
				buf_printf(why, "max_age: %.20s is not 0 to 31557600 seconds", val);
		} else if (strcmp(key, "mx") == 0) {
			if (!*val || strlen(val) > 253 || p->nmx >= 64) {
				buf_printf(why, "mx: '%.40s' is not a host name pattern", val);
			} else {
				p->mx = xrealloc(p->mx, (p->nmx + 1) * sizeof *p->mx);
				copy_lower(val, strlen(val) + 1, val);
				p->mx[p->nmx++] = xstrdup(val);
			}
		}
		/* Other keys: RFC 8461 says ignore them. */
		free(key);
		free(val);
		if (why->len)
			goto fail;
	}
	if (!version)
		buf_puts(why, "no version: STSv1 line");
	else if (!p->mode[0])
		buf_puts(why, "no mode: line");
	else if (p->max_age < 0)
		buf_puts(why, "no max_age: line");
	else if (p->nmx == 0 && strcmp(p->mode, "none") != 0)
		buf_puts(why, "no mx: line (needed unless mode is none)");
	if (why->len)
		goto fail;
	return 0;
fail:
	mtasts_policy_free(p);
	return -1;
}

void mtasts_policy_free(struct mtasts_policy *p)
{
	dnsrec_strings_free(p->mx, p->nmx);
	p->mx = NULL;
	p->nmx = 0;
}

bool mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->nmx; i++) {
		const char *m = p->mx[i];
		if (strncmp(m, "*.", 2) == 0) {
			/* One leftmost label: "*.example.com" matches a.example.com
			 * but neither example.com nor a.b.example.com. */
			const char *dot = strchr(host, '.');
			if (dot && dot != host && strcasecmp(dot + 1, m + 2) == 0)
				return true;
		} else if (strcasecmp(m, host) == 0) {
			return true;
		}
	}
	return false;
}

int tlsrptrec_parse(const char *txt, struct buf *why)
{
	struct taglist tl;
	if (taglist_parse(txt, &tl, why) != 0)
		return -1;
	int rc = -1;
	if (tl.n == 0 || strcmp(tl.v[0].name, "v") != 0 || strcmp(tl.v[0].value, "TLSRPTv1") != 0) {
		buf_puts(why, "the record does not start with v=TLSRPTv1");
		goto out;
	}
	const char *rua = taglist_get(&tl, "rua");
	if (!rua || !*rua) {
		buf_puts(why, "no rua= tag (where reports go)");
		goto out;
	}
	int n = 0;
	for (const char *p = rua; *p;) {
		size_t len = strcspn(p, ",");
		char *uri = trim_dup(p, len);
		p += len;
		if (*p == ',')
			p++;
		bool good = (strncasecmp(uri, "mailto:", 7) == 0 && strchr(uri + 7, '@') &&
		             uri[7] != '@') ||
		            (strncasecmp(uri, "https://", 8) == 0 && uri[8] != '\0');
		if (!good) {
			buf_printf(why, "rua '%.60s' is neither mailto: nor https:", uri);
			free(uri);
			goto out;
		}
		free(uri);
		n++;
	}
	if (n == 0) {
		buf_puts(why, "no rua= tag (where reports go)");
		goto out;
	}
	rc = n;
out:
	taglist_free(&tl);
	return rc;
}
