/*
 * provider: the provider map, which ties a mailbox provider or security
 * gateway to the org names it reports DMARC as, the recipient domains it
 * hosts and the MX host patterns of its inbound servers.
 *
 * The map is data (data/providers.tsv, embedded at build time; its columns
 * are documented at its top). provider_map_load parses such a text into a
 * map the caller owns and frees with provider_map_free; provider_map_default
 * returns the embedded one, loaded once (a broken embedded map panics).
 * Errors in a map file come back in `e` (ERR_CONFIG, naming the line).
 * Lookups are case-insensitive and return names owned by the map, or NULL.
 * Patterns: "gmail.com" exact, "*.google.com" any host below google.com,
 * "hotmail.*" that label under any suffix.
 */
#ifndef DS_CORE_PROVIDER_H
#define DS_CORE_PROVIDER_H

#include "core/err.h"

#include <stddef.h>

struct provider_map;

int provider_map_load(struct provider_map **out, const char *text, size_t len, struct err *e);
void provider_map_free(struct provider_map *m);
const struct provider_map *provider_map_default(void);

/* The provider receiving for a recipient domain, else the one owning the
 * remote MTA host; either argument may be NULL. */
const char *provider_for(const struct provider_map *m, const char *recipient_domain,
                         const char *remote_mta_host);
/* The provider that reports DMARC aggregate data under `org_name`. */
const char *provider_for_org(const struct provider_map *m, const char *org_name);
/* Every (org name, provider) pair, org names in lower case, for the
 * correlator, which matches them in SQL: i < provider_map_org_count. */
size_t provider_map_org_count(const struct provider_map *m);
void provider_map_org_at(const struct provider_map *m, size_t i, const char **org,
                         const char **provider);
/* "mailbox" or "gateway" for a provider name, NULL when unknown. */
const char *provider_kind(const struct provider_map *m, const char *provider);

#endif
