/*
 * fuzz_dnsmsg: arbitrary bytes as a DNS response through the TTL walker
 * (senders/dnsmsg.c), for each record type we ask; it must never read
 * outside the message and must reject what it cannot walk.
 */
#include "senders/dnsmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {1, 12, 16, 28};
	/* An exact-size copy, so ASan sees any read past the end. */
	unsigned char *msg = malloc(size ? size : 1);
	memcpy(msg, data, size);
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		uint32_t ttl = 0;
		int found = 0;
		if (dnsmsg_ttl(msg, size, types[i], &ttl, &found) == 0 && ttl > INT32_MAX)
			abort(); /* RFC 2181: such TTLs count as 0 */
	}
	free(msg);
	return 0;
}
