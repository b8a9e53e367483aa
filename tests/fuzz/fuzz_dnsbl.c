/*
 * fuzz_dnsbl: arbitrary blocklist answers through checks/dnsbl.c. Input:
 * the first line is the list's zone, the second the asset, the rest one
 * A-record answer per line. The verdict is listed or unknown; a refusal
 * code among the answers is never a listing; codes and reason are
 * terminated strings; query names are never longer than a DNS name.
 */
#include "checks/dnsbl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 14)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *lines[66];
	size_t n = 0;
	for (char *p = text; n < 66;) {
		lines[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	if (n >= 2) {
		for (int kind = 0; kind < 2; kind++) {
			struct dnsbl_list l;
			dnsbl_describe(lines[0], kind ? DNSBL_DOMAIN : DNSBL_IP, &l);
			char name[512];
			if (dnsbl_query_name(&l, lines[1], name, sizeof name) == 0 &&
			    strlen(name) >= sizeof name)
				abort();
			struct dnsbl_result r;
			dnsbl_read(&l, lines + 2, n - 2, &r);
			if (r.verdict != DNSBL_LISTED && r.verdict != DNSBL_UNKNOWN)
				abort();
			if (memchr(r.codes, '\0', sizeof r.codes) == NULL ||
			    memchr(r.reason, '\0', sizeof r.reason) == NULL)
				abort();
			for (size_t i = 2; i < n; i++)
				if (strncmp(lines[i], "127.255.255.", 12) == 0 &&
				    r.verdict == DNSBL_LISTED)
					abort();
		}
	}
	free(text);
	return 0;
}
