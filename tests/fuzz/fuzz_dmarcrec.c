/*
 * fuzz_dmarcrec: arbitrary DMARC record text (a _dmarc TXT record, from
 * DNS: untrusted) through checks/dnsrec.c: the tag list, every tag's
 * value, the rua/ruf URI lists. The policy read is one of the three words
 * or empty; pct stays in 0..100 or -1; problems are terminated strings.
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
	struct dmarcrec r;
	struct buf why;
	buf_init(&why, 4096);
	if (dmarcrec_parse(text, &r, &why) == 0) {
		if (r.p[0] && strcmp(r.p, "none") != 0 && strcmp(r.p, "quarantine") != 0 &&
		    strcmp(r.p, "reject") != 0)
			abort();
		if (r.pct < -1 || r.pct > 100)
			abort();
		if (r.problems.len && strlen(r.problems.data) != r.problems.len)
			abort();
		char **hosts = NULL;
		struct buf bad;
		buf_init(&bad, 4096);
		size_t n = dmarc_uri_hosts(r.rua ? r.rua : text, &hosts, &bad);
		for (size_t i = 0; i < n; i++)
			if (!hosts[i][0] || strlen(hosts[i]) > 253)
				abort();
		dnsrec_strings_free(hosts, n);
		buf_free(&bad);
	}
	dmarcrec_free(&r);
	buf_free(&why);
	(void)dnsrec_is(text, "DMARC1");
	free(text);
	return 0;
}
