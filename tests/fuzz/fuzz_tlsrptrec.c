/*
 * fuzz_tlsrptrec: arbitrary TLS-RPT DNS record text (_smtp._tls TXT) through
 * checks/dnsrec.c: a record read names at least one mailto:/https: URI; a
 * refusal says why.
 */
#include "checks/dnsrec.h"

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
	struct buf why;
	buf_init(&why, 4096);
	int n = tlsrptrec_parse(text, &why);
	if (n == 0 || (n < 0 && why.len == 0))
		abort();
	struct taglist tl;
	buf_reset(&why);
	if (taglist_parse(text, &tl, &why) == 0) {
		for (size_t i = 0; i < tl.n; i++)
			if (!tl.v[i].name[0] || taglist_get(&tl, tl.v[i].name) == NULL)
				abort();
		taglist_free(&tl);
	}
	buf_free(&why);
	free(text);
	return 0;
}
