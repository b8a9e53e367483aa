#include "ingest/redact.h"

#include "core/xalloc.h"

#include <glib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* local@domain: a dot-atom-ish local part (or a quoted one) before '@' and a
 * domain after it; wide enough for what mail headers hold. */
#define ADDRESS_RE "(\"[^\"]*\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)@([A-Za-z0-9.-]+)"

static gboolean replace(const GMatchInfo *m, GString *out, gpointer unused)
{
	(void)unused;
	gchar *local = g_match_info_fetch(m, 1);
	gchar *domain = g_match_info_fetch(m, 2);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(local, strlen(local), md, &n, EVP_sha256(), NULL) != 1)
		n = 0; /* no digest: the local part is dropped rather than kept */
	g_string_append(out, "sha256:");
	for (unsigned int i = 0; i < n; i++)
		g_string_append_printf(out, "%02x", md[i]);
	g_string_append_c(out, '@');
	g_string_append(out, domain);
	g_free(local);
	g_free(domain);
	return FALSE;
}

char *redact_addresses(const char *text)
{
	if (!text)
		return NULL;
	GRegex *re = g_regex_new(ADDRESS_RE, G_REGEX_OPTIMIZE, 0, NULL);
	gchar *r = g_regex_replace_eval(re, text, -1, 0, 0, replace, NULL, NULL);
	g_regex_unref(re);
	char *out = xstrdup(r ? r : "");
	g_free(r);
	return out;
}
