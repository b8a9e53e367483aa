/*
 * tenant_domain: normalisation of domain names (see tenant_domain.h).
 */
#include "db/tenant_domain.h"

#include "core/xalloc.h"

#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Loaded once per process and kept: parsing the list costs milliseconds,
 * and ingest resolves a tenant per report. The program is single-threaded. */
static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;
	if (!ctx)
		ctx = psl_latest(NULL);
	if (!ctx)
		ctx = psl_builtin();
	return ctx;
}

int tenant_domain_normalise(const char *in, char **out, struct err *e)
{
	char *tmp = NULL, *a = NULL;
	*out = NULL;
	size_t n = in ? strlen(in) : 0;
	while (n > 0 && isspace((unsigned char)in[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char)*in)) {
		in++;
		n--;
	}
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "'%s' is not a domain name",
		                 in ? in : "");
	tmp = xstrndup(in, n);
	if (strchr(tmp, '*')) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "'%s': wildcards are not domains (a tenant owning example.com owns its "
		          "subdomains already)",
		          tmp);
		free(tmp);
		return -1;
	}
	/* IDN2_NFC_INPUT normalises U-labels first; IDN2_NONTRANSITIONAL is
	 * IDNA 2008 proper (ß stays ß). Lower-casing comes from the
	 * TR46-free lookup only for U-labels, so ASCII is lowered here. */
	for (char *p = tmp; *p; p++)
		if ((unsigned char)*p < 0x80)
			*p = (char)tolower((unsigned char)*p);
	int rc = idn2_lookup_u8((const uint8_t *)tmp, (uint8_t **)&a,
	                        IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "'%s' is not a domain name: %s", tmp,
		          idn2_strerror(rc));
		free(tmp);
		return -1;
	}
	free(tmp);
	for (const char *p = a; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_') ||
		    (c == '.' && p[1] == '.')) {
			err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "'%s' is not a domain name", a);
			idn2_free(a);
			return -1;
		}
	}
	if (a[0] == '.' || a[0] == '\0') {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "'%s' is not a domain name", a);
		idn2_free(a);
		return -1;
	}
	*out = xstrdup(a);
	idn2_free(a);
	return 0;
}

int tenant_domain_owned_ok(const char *in, char **out, struct err *e)
{
	char *d = NULL;
	*out = NULL;
	if (tenant_domain_normalise(in, &d, e) < 0)
		return -1;
	if (psl_is_public_suffix2(psl(), d, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) ||
	    !strchr(d, '.')) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "%s is a public suffix: nobody owns every domain under it", d);
		free(d);
		return -1;
	}
	*out = d;
	return 0;
}

size_t tenant_domain_candidates(const char *in, char ***out)
{
	struct err e = {0};
	char *d = NULL;
	*out = NULL;
	if (tenant_domain_normalise(in, &d, &e) < 0) {
		/* Not a host name for IDNA (e.g. underscores in odd places): still
		 * compare its plain lower-case form, which is all it can match. */
		size_t n = in ? strlen(in) : 0;
		while (n > 0 && in[n - 1] == '.')
			n--;
		if (n == 0 || n > 253)
			return 0;
		d = xstrndup(in, n);
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	size_t cap = 8, k = 0;
	char **c = xcalloc(cap, sizeof *c);
	for (const char *p = d; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		if (k > 0 && psl_is_public_suffix2(psl(), p, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
			break;
		if (k + 1 == cap) {
			cap *= 2;
			c = xrealloc(c, cap * sizeof *c);
		}
		c[k++] = xstrdup(p);
		if (!strchr(p, '.'))
			break;
	}
	free(d);
	*out = c;
	return k;
}

void tenant_domain_candidates_free(char **c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i]);
	free(c);
}

int tenant_domain_org(const char *domain, char *out, size_t outsz)
{
	const char *org = domain ? psl_registrable_domain(psl(), domain) : NULL;
	const char *v = org ? org : domain ? domain : "";
	size_t n = strlen(v);
	if (n >= outsz)
		return -1;
	memcpy(out, v, n + 1);
	return 0;
}
