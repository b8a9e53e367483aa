/*
 * services: the known-services table (data/services.tsv, built in; or a
 * file given with --services; plus the user's own rows from the database)
 * and matching a source against it by IP range, forward-confirmed PTR name,
 * passing DKIM d= domain, passing SPF domain and AS number.
 *
 * services_new starts empty; services_add_text adds rows from text in the
 * data/services.tsv format. Rows added later win over earlier ones for the
 * same pattern (so user rows, added last, override the built-in table), and
 * a more specific pattern wins over a less specific one (longest domain
 * suffix, longest IP prefix). Problems in the text come back as
 * "NAME:LINE: problem" in *problems (one string, lines separated by '\n',
 * caller frees) and those lines are skipped; the return value is the number
 * of rows added. Returned service pointers live as long as the table.
 */
#ifndef DS_SENDERS_SERVICES_H
#define DS_SENDERS_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct services;

struct service {
	const char *name;
	const char *type;
};

enum services_kind {
	SERVICES_PTR,
	SERVICES_DKIM,
	SERVICES_SPF,
};

void services_new(struct services **out);
void services_free(struct services *s);
size_t services_add_text(struct services *s, const char *text, size_t len, const char *name,
                         char **problems);
/* The built-in table (data/services.tsv as embedded at build time). */
const char *services_builtin(size_t *len);
size_t services_count(const struct services *s);

/* True when `type` is one of the service types the table allows. */
bool services_type_ok(const char *type);

const struct service *services_match_ip(const struct services *s, const char *ip);
const struct service *services_match_domain(const struct services *s, enum services_kind kind,
                                            const char *domain);
const struct service *services_match_asn(const struct services *s, uint32_t asn);

#endif
