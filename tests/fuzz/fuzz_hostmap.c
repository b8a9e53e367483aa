/*
 * fuzz_hostmap: the --mta-hosts TSV reader on arbitrary bytes, then lookups
 * of every first column it accepted. Checks: no crash, and whatever a
 * lookup returns is an address of a known family.
 */
#include "core/hostmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct hostmap *m = hostmap_new();
	struct err e = {0};
	(void)hostmap_load_tsv(m, (const char *)data, size, "fuzz", &e);
	/* look up each line's first column, as a host name would arrive */
	char name[300];
	size_t off = 0;
	while (off < size) {
		size_t n = 0;
		while (off + n < size && data[off + n] != '\t' && data[off + n] != '\n' && n < 299)
			n++;
		memcpy(name, data + off, n);
		name[n] = '\0';
		for (int fam = 0; fam <= 6; fam += 2) {
			const char *ip = hostmap_lookup(m, name, fam == 2 ? 4 : fam);
			if (ip && !hostmap_family(ip))
				abort();
		}
		const unsigned char *nl = memchr(data + off, '\n', size - off);
		off = nl ? (size_t)(nl - data) + 1 : size;
	}
	hostmap_free(m);
	return 0;
}
