/*
 * fuzz_bounce_postfix: arbitrary bytes through the postfix bounce parser, fed in two
 * chunks split where the first byte says, every event classified.
 */
#include "ingest/bounce.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)ctx;
	(void)e;
	struct bounce_verdict v;
	bounce_classify_event(NULL, NULL, ev, &v);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_parser *p = NULL;
	struct err e = {0};
	if (bounce_parser_new(&p, BOUNCE_FMT_POSTFIX, 1795435200, on_event, NULL, &e) < 0)
		return 0;
	size_t cut = size ? data[0] % (size + 1) : 0;
	const char *s = (const char *)data;
	if (bounce_parser_feed(p, s, cut, &e) == 0 &&
	    bounce_parser_feed(p, s + cut, size - cut, &e) == 0)
		bounce_parser_finish(p, &e);
	bounce_parser_free(p);
	return 0;
}
