/*
 * fuzz_dkimkey: arbitrary DKIM key record text (a _domainkey TXT record)
 * through checks/dnsrec.c: the tag list, base64, the public key parsed by
 * OpenSSL. A key read is revoked (0 bits) or has a size; k= is one of the
 * two names.
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
	struct dkimkey k;
	struct buf why;
	buf_init(&why, 4096);
	if (dkimkey_parse(text, &k, &why) == 0) {
		if (strcmp(k.k, "rsa") != 0 && strcmp(k.k, "ed25519") != 0)
			abort();
		if (k.revoked ? k.bits != 0 : k.bits <= 0)
			abort();
	} else if (why.len == 0) {
		abort();
	}
	buf_free(&why);
	free(text);
	return 0;
}
