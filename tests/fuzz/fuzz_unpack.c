/* Fuzz target: any bytes through unpack_open/unpack_read with small caps, so
 * bombs stop quickly; reads in odd chunk sizes to exercise the peek path. */
#include "ingest/unpack.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unpack_limits lim = {.max_bytes = 8u << 20, .max_ratio = 1000, .max_entries = 16};
	struct unpack *u = NULL;
	struct err e = {0};
	char buf[1021];

	(void)unpack_sniff(data, size);
	if (unpack_open(&u, data, size, &lim, &e) != 0)
		return 0;
	(void)unpack_entry_name(u);
	while (unpack_read(u, buf, sizeof buf, &e) > 0)
		;
	unpack_free(u);
	return 0;
}
