/*
 * dnsbl: see dnsbl.h. Return codes as the lists document them (Spamhaus
 * "DNSBL return codes" FAQ; DBL "return codes"; SURBL and URIBL "lists and
 * bitmasks" pages), gathered in the project's bounce reference section 3.
 */
#include "checks/dnsbl.h"

#include "core/buf.h"
#include "senders/resolver.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const spamhaus_users[] = {"yahoo", "microsoft", "apple", "comcast",
                                             "cox",   "spectrum",  NULL};
static const char *const barracuda_users[] = {"barracuda", NULL};
static const char *const no_users[] = {NULL};

static const struct dnsbl_list known[] = {
    {"zen.spamhaus.org", DNSBL_IP, "Spamhaus", spamhaus_users},
    {"sbl.spamhaus.org", DNSBL_IP, "Spamhaus", spamhaus_users},
    {"sbl-xbl.spamhaus.org", DNSBL_IP, "Spamhaus", spamhaus_users},
    {"xbl.spamhaus.org", DNSBL_IP, "Spamhaus", spamhaus_users},
    {"pbl.spamhaus.org", DNSBL_IP, "Spamhaus", spamhaus_users},
    {"dbl.spamhaus.org", DNSBL_DOMAIN, "Spamhaus", spamhaus_users},
    {"b.barracudacentral.org", DNSBL_IP, "Barracuda", barracuda_users},
    {"bl.spamcop.net", DNSBL_IP, "SpamCop", no_users},
    {"multi.surbl.org", DNSBL_DOMAIN, "SURBL", no_users},
    {"multi.uribl.com", DNSBL_DOMAIN, "URIBL", no_users},
    {"dnsbl-1.uceprotect.net", DNSBL_IP, "UCEPROTECT", no_users},
    {"bl.score.senderscore.com", DNSBL_IP, "SenderScore", no_users},
};

const struct dnsbl_list *dnsbl_known(const char *zone)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcasecmp(known[i].zone, zone) == 0)
			return &known[i];
	return NULL;
}

void dnsbl_describe(const char *zone, enum dnsbl_kind kind, struct dnsbl_list *out)
{
	const struct dnsbl_list *k = dnsbl_known(zone);
	if (k && k->kind == kind) {
		*out = *k;
		return;
	}
	out->zone = zone;
	out->kind = kind;
	out->family = zone;
	out->used_by = no_users;
}

static bool plausible_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.' || !strchr(d, '.'))
		return false;
	size_t label = 0;
	for (const char *p = d; *p; p++) {
		char c = *p;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int dnsbl_query_name(const struct dnsbl_list *l, const char *asset, char *out, size_t outsz)
{
	if (l->kind == DNSBL_IP)
		return resolver_reverse_name(asset, l->zone, out, outsz);
	if (!plausible_domain(asset))
		return -1;
	int n = snprintf(out, outsz, "%s.%s", asset, l->zone);
	return n < 0 || (size_t)n >= outsz || n > 253 ? -1 : 0;
}

/* One answer's meaning. Returns false for a refusal (why in `reason`). */
static bool spamhaus_ip(uint8_t c, uint8_t d, struct buf *reason)
{
	if (c != 0)
		return false;
	switch (d) {
	case 2:
		buf_puts(reason, "Spamhaus SBL: spam source or spam operation");
		return true;
	case 3:
		buf_puts(reason, "Spamhaus SBL CSS: snowshoe or low-reputation sending");
		return true;
	case 4:
	case 5:
	case 6:
	case 7:
		buf_puts(reason,
		         "Spamhaus XBL: exploited or infected host (clean the host, then delist)");
		return true;
	case 9:
		buf_puts(reason, "Spamhaus DROP: hijacked or rogue netblock");
		return true;
	case 10:
	case 11:
		buf_puts(reason, "Spamhaus PBL: end-user / dynamic range that should not send "
		                 "directly (send through a proper MTA; not a spam listing)");
		return true;
	default:
		buf_printf(reason, "Spamhaus: listed (code 127.0.0.%u)", d);
		return true;
	}
}

static bool spamhaus_dbl(uint8_t c, uint8_t d, struct buf *reason)
{
	if (c != 1)
		return false;
	static const struct {
		uint8_t d;
		const char *what;
	} m[] = {
	    {2, "spam domain"},
	    {4, "phishing domain"},
	    {5, "malware domain"},
	    {6, "botnet C&C domain"},
	    {102, "abused legitimate domain (spam)"},
	    {103, "abused legitimate spammed redirector"},
	    {104, "abused legitimate domain (phishing)"},
	    {105, "abused legitimate domain (malware)"},
	    {106, "abused legitimate domain (botnet C&C)"},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (m[i].d == d) {
			buf_printf(reason, "Spamhaus DBL: %s", m[i].what);
			return true;
		}
	buf_printf(reason, "Spamhaus DBL: listed (code 127.0.1.%u)", d);
	return true;
}

static void bitmask(const char *list, uint8_t d, const char *const names[8], struct buf *reason)
{
	bool any = false;
	buf_printf(reason, "%s:", list);
	for (int bit = 1; bit < 8; bit++)
		if ((d & (1u << bit)) && names[bit]) {
			buf_printf(reason, "%s %s", any ? "," : "", names[bit]);
			any = true;
		}
	if (!any)
		buf_printf(reason, " listed (code 127.0.0.%u)", d);
}

/* Returns 1 listed, 0 refusal/unknown (reason says), for one answer. */
static int read_one(const struct dnsbl_list *l, const char *answer, struct buf *reason)
{
	struct in_addr a;
	if (inet_pton(AF_INET, answer, &a) != 1) {
		buf_printf(reason, "unreadable answer '%.64s'", answer);
		return 0;
	}
	const uint8_t *o = (const uint8_t *)&a.s_addr;
	if (o[0] != 127) {
		buf_printf(reason,
		           "answer %s is outside 127.0.0.0/8: the zone is not answering as a "
		           "blocklist (wildcard DNS, or the list is gone)",
		           answer);
		return 0;
	}
	bool spamhaus = strstr(l->zone, "spamhaus.org") != NULL;
	if (o[1] == 255 && o[2] == 255) {
		buf_printf(reason, "query refused (%s): %s; not a listing", answer,
		           o[3] == 254
		               ? "asked through a public/open resolver, which the list refuses"
		           : o[3] == 255 ? "over the list's free query limit"
		           : o[3] == 252 ? "typo in the list's zone name"
		                         : "the list refused the query");
		return 0;
	}
	if (spamhaus && l->kind == DNSBL_DOMAIN && o[1] == 0 && o[2] == 1 && o[3] == 255) {
		buf_printf(reason, "query refused (%s): an IP address asked of a domain list",
		           answer);
		return 0;
	}
	if (o[1] == 0 && o[2] == 0 && o[3] == 1) {
		buf_printf(reason,
		           "query refused (%s): the list blocks this resolver, or 127.0.0.1 is "
		           "its test/refusal code; not a listing",
		           answer);
		return 0;
	}
	if (spamhaus) {
		bool known_code = l->kind == DNSBL_DOMAIN ? spamhaus_dbl(o[2], o[3], reason)
		                                          : spamhaus_ip(o[2], o[3], reason);
		if (!known_code)
			buf_printf(reason, "Spamhaus: listed (code %s)", answer);
		return 1;
	}
	if (strcmp(l->family, "SURBL") == 0 && o[1] == 0 && o[2] == 0) {
		static const char *const names[8] = {
		    NULL, NULL, NULL, "phishing", "malware", NULL, "abuse (spam)", "cracked site"};
		bitmask("SURBL", o[3], names, reason);
		return 1;
	}
	if (strcmp(l->family, "URIBL") == 0 && o[1] == 0 && o[2] == 0) {
		static const char *const names[8] = {NULL, "black", "grey", "red",
		                                     NULL, NULL,    NULL,   NULL};
		bitmask("URIBL", o[3], names, reason);
		return 1;
	}
	buf_printf(reason, "%s: listed (code %s)", l->family, answer);
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void dnsbl_read(const struct dnsbl_list *l, const char *const *answers, size_t n,
                struct dnsbl_result *out)
{
	memset(out, 0, sizeof *out);
	const char **sorted = NULL;
	if (n) {
		sorted = malloc(n * sizeof *sorted);
		if (!sorted)
			abort();
		memcpy(sorted, answers, n * sizeof *sorted);
		qsort(sorted, n, sizeof *sorted, cmp_str);
	}
	struct buf listed, refused, codes;
	buf_init(&listed, 0);
	buf_init(&refused, 0);
	buf_init(&codes, 0);
	size_t nlisted = 0, nrefused = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		buf_printf(&codes, "%s%.40s", codes.len ? "," : "", sorted[i]);
		struct buf r;
		buf_init(&r, 0);
		if (read_one(l, sorted[i], &r)) {
			buf_printf(&listed, "%s%s", nlisted++ ? "; " : "", r.data ? r.data : "");
		} else {
			buf_printf(&refused, "%s%s", nrefused++ ? "; " : "", r.data ? r.data : "");
		}
		buf_free(&r);
	}
	if (n == 0) {
		buf_puts(&refused, "an empty answer: neither listed nor clear");
		nrefused = 1;
	}
	out->verdict = nrefused ? DNSBL_UNKNOWN : DNSBL_LISTED;
	const struct buf *why = nrefused ? &refused : &listed;
	snprintf(out->codes, sizeof out->codes, "%s", codes.data ? codes.data : "");
	snprintf(out->reason, sizeof out->reason, "%s", why->data ? why->data : "");
	buf_free(&listed);
	buf_free(&refused);
	buf_free(&codes);
	free(sorted);
}
