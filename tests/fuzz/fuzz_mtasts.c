/*
 * fuzz_mtasts: arbitrary bytes as an MTA-STS policy file (fetched over
 * HTTPS: untrusted, may hold NULs) and, up to the first NUL, as the
 * _mta-sts TXT record, through checks/dnsrec.c. A policy read has a mode
 * of the three, a max_age in range, mx patterns unless mode none.
 */
#include "checks/dnsrec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct buf why;
	buf_init(&why, 4096);
	struct mtasts_policy p;
	if (mtasts_policy_parse(text, size, &p, &why) == 0) {
		if (strcmp(p.mode, "enforce") != 0 && strcmp(p.mode, "testing") != 0 &&
		    strcmp(p.mode, "none") != 0)
			abort();
		if (p.max_age < 0 || p.max_age > 31557600)
			abort();
		if (p.nmx == 0 && strcmp(p.mode, "none") != 0)
			abort();
		(void)mtasts_mx_match(&p, "mx1.example.com");
		mtasts_policy_free(&p);
	} else if (why.len == 0) {
		abort();
	}
	char id[40];
	buf_reset(&why);
	if (mtasts_txt_parse(text, id, sizeof id, &why) == 0 && (id[0] == '\0' || strlen(id) > 32))
		abort();
	buf_free(&why);
	free(text);
	return 0;
}
