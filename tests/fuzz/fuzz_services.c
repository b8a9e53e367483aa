/*
 * fuzz_services: arbitrary bytes as a services table (the user's own file,
 * 'sources load' / --services) through the loader, then lookups of every
 * kind; problems must come back as text, never a crash.
 */
#include "senders/services.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct services *s = NULL;
	services_new(&s);
	char *problems = NULL;
	size_t added = services_add_text(s, (const char *)data, size, "fuzz", &problems);
	if (added > services_count(s))
		abort();
	free(problems);
	services_match_domain(s, SERVICES_PTR, "a.b.example.com");
	services_match_domain(s, SERVICES_DKIM, "example.com");
	services_match_domain(s, SERVICES_SPF, "x");
	services_match_ip(s, "192.0.2.1");
	services_match_ip(s, "2001:db8::1");
	services_match_asn(s, 64500);
	services_free(s);
	return 0;
}
