/* Fuzz target: any bytes through classification and MIME extraction, each
 * report part through the unpacker (as the ingest pipeline does). */
#include "ingest/mime.h"
#include "ingest/unpack.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int drain(void *ctx, const struct mime_part *p, struct err *e)
{
	struct unpack_limits lim = {.max_bytes = 8u << 20, .max_ratio = 1000, .max_entries = 16};
	struct unpack *u = NULL;
	char buf[4096];
	ssize_t n;

	(void)ctx;
	if (unpack_open(&u, p->data, p->len, &lim, e) != 0)
		return -1;
	while ((n = unpack_read(u, buf, sizeof buf, e)) > 0)
		;
	unpack_free(u);
	return n < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = {0};
	size_t nparts;

	mime_init();
	(void)mime_looks_like_message(data, size);
	(void)mime_classify(data, size);
	(void)mime_extract(data, size, drain, NULL, &nparts, &e);
	return 0;
}
