/*
 * fuzz_cymru: arbitrary TXT strings through the ASN origin and AS-name
 * readers (senders/cymru.c): the country is empty or two upper-case
 * letters, the AS name fits its buffer and carries no control bytes.
 */
#include "senders/cymru.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *txt = malloc(size + 1);
	memcpy(txt, data, size);
	txt[size] = '\0';
	uint32_t asn;
	char cc[3];
	if (cymru_origin(txt, &asn, cc) == 0) {
		if (asn == 0)
			abort();
		if (cc[0] && !(strlen(cc) == 2 && isupper((unsigned char)cc[0]) &&
		               isupper((unsigned char)cc[1])))
			abort();
	}
	for (size_t sz = 1; sz < 8; sz++) {
		char name[8];
		if (cymru_asname(txt, name, sz) == 0) {
			if (strlen(name) >= sz)
				abort();
			for (const char *p = name; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					abort();
		}
	}
	free(txt);
	return 0;
}
