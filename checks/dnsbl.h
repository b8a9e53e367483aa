/*
 * dnsbl: what a blocklist's DNS answer means. No I/O: the names to ask and
 * the reading of the answers, so both can be tested (and fuzzed) alone.
 *
 * An IP list (DNSBL) is asked for the address reversed under its zone
 * (192.0.2.1 -> 1.2.0.192.zen.spamhaus.org; IPv6 by nibbles), a domain list
 * for the domain under its zone (example.com.dbl.spamhaus.org). NXDOMAIN is
 * "not listed"; A records in 127.0.0.0/8 are return codes, which each list
 * documents (Spamhaus ZEN: .2 SBL, .3 CSS, .4-.7 XBL, .9 DROP, .10/.11 PBL;
 * DBL 127.0.1.x; SURBL/URIBL bit masks). Some answers are refusals, never
 * listings: Spamhaus 127.255.255.252/254/255 (typo in the zone, query
 * through a public/open resolver, over the free limit), DBL 127.0.1.255
 * (IP asked of a domain list), SURBL/URIBL 127.0.0.1 (access blocked /
 * query refused), and any answer outside 127/8 (a wildcard or hijacked
 * zone). Those are DNSBL_UNKNOWN with the reason said.
 */
#ifndef DS_CHECKS_DNSBL_H
#define DS_CHECKS_DNSBL_H

#include <stdbool.h>
#include <stddef.h>

enum dnsbl_kind { DNSBL_IP, DNSBL_DOMAIN };

struct dnsbl_list {
	const char *zone;
	enum dnsbl_kind kind;
	/* The list's name as bounce texts give it (core/bclass listed_on). */
	const char *family;
	/* Providers (data/providers.tsv names) known to reject with it. */
	const char *const *used_by;
};

/* The built-in knowledge of a zone; for a zone we know nothing about, a
 * generic entry (family = the zone, codes read as "listed, code x"). */
const struct dnsbl_list *dnsbl_known(const char *zone);
/* Fills `out` for `zone` (known or generic) of the given kind. */
void dnsbl_describe(const char *zone, enum dnsbl_kind kind, struct dnsbl_list *out);

/* The name to ask: 0, or -1 when the asset is not an address (IP lists) or
 * not a plausible domain name, or the name does not fit. */
int dnsbl_query_name(const struct dnsbl_list *l, const char *asset, char *out, size_t outsz);

enum dnsbl_verdict { DNSBL_LISTED, DNSBL_UNKNOWN };

struct dnsbl_result {
	enum dnsbl_verdict verdict;
	char codes[256];  /* the answers, comma-separated, as received (sorted) */
	char reason[512]; /* what they mean, or why unknown */
};

/* Reads the A-record answers (text addresses) of one query that returned
 * records. Any answer that is a refusal makes the result unknown. */
void dnsbl_read(const struct dnsbl_list *l, const char *const *answers, size_t n,
                struct dnsbl_result *out);

#endif
