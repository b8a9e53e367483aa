/*
 * Fuzz target: the mbox splitter (ingest/mbox.c). Splits the input into
 * messages with a small per-message cap (so the oversized path is reached),
 * checks that offsets only grow and stay inside the input, then seeks back
 * to every recorded message start and reads the same message again.
 */
#include "sources/mbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer */
	FILE *f = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!f)
		return 0;
	struct mbox *m = NULL;
	struct mbox_msg msg;
	struct err e = {0};
	uint64_t starts[64];
	char shas[64][65];
	size_t n = 0;
	uint64_t last_end = 0;
	mbox_open_stream(&m, f, "fuzz", 4096);
	while (mbox_next(m, &msg, &e) == 1) {
		if (msg.start < last_end || msg.end <= msg.start || msg.end > size)
			abort();
		if (!msg.oversized && msg.len > 4096)
			abort();
		last_end = msg.end;
		if (n < 64) {
			starts[n] = msg.start;
			memcpy(shas[n], msg.sha256, 65);
			n++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		err_clear(&e);
		if (mbox_seek(m, starts[i], &e) != 0 || mbox_next(m, &msg, &e) != 1 ||
		    strcmp(msg.sha256, shas[i]) != 0)
			abort();
	}
	mbox_close(m);
	fclose(f);
	return 0;
}
