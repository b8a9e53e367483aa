/*
 * fuzz_bounce_dsn: arbitrary bytes through the dsn bounce parser (see
 * bounce_target.h).
 */
#include "tests/fuzz/bounce_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_bounce(BOUNCE_FMT_DSN, data, size);
}
