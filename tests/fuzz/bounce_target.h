/*
 * bounce_target.h: the body shared by the fuzz_bounce_* targets. Arbitrary
 * bytes go through one bounce parser, fed in two chunks split where the
 * first byte says (so every split point is reached), and every event the
 * parser emits is classified with the built-in rules.
 */
#ifndef DMARCSIFT_FUZZ_BOUNCE_TARGET_H
#define DMARCSIFT_FUZZ_BOUNCE_TARGET_H

#include "ingest/bounce.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_bounce_on_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)ctx;
	(void)e;
	struct bounce_verdict v;
	bounce_classify_event(NULL, NULL, ev, &v);
	return 0;
}

static int fuzz_bounce(enum bounce_format fmt, const uint8_t *data, size_t size)
{
	struct bounce_parser *p = NULL;
	struct err e = {0};
	/* a fixed "now" (2026-11-23) so the year of syslog stamps is repeatable */
	if (bounce_parser_new(&p, fmt, 1795435200, fuzz_bounce_on_event, NULL, &e) < 0)
		return 0;
	size_t cut = size ? data[0] % (size + 1) : 0;
	const char *s = (const char *)data;
	if (bounce_parser_feed(p, s, cut, &e) == 0 &&
	    bounce_parser_feed(p, s + cut, size - cut, &e) == 0)
		bounce_parser_finish(p, &e);
	bounce_parser_free(p);
	return 0;
}

#endif
