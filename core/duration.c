/*
 * duration: "400d" -> 34560000. One parser for every span a user writes:
 * the blocklist schedule, the retention window, "dismiss what is older".
 */
#include "core/duration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct unit {
	const char *name;
	long long ms;
};

static const struct unit units[] = {{"ms", 1},         {"", 1000},     {"s", 1000},
                                    {"m", 60000},      {"h", 3600000}, {"d", 86400000},
                                    {"w", 604800000LL}};

/* n of the unit `end` names, in units of `per` milliseconds; -1 when the
 * unit is unknown, finer than `per`, or the result exceeds max. */
static long long scaled(const char *v, long long per, long long max)
{
	if (!v || *v < '0' || *v > '9')
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || n < 1)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].name) != 0)
			continue;
		if (units[i].ms < per)
			return -1;
		long long f = units[i].ms / per;
		return n > max / f ? -1 : n * f;
	}
	return -1;
}

long long duration_parse(const char *v, long long max)
{
	return scaled(v, 1000, max);
}

long long duration_parse_ms(const char *v, long long max_ms)
{
	return scaled(v, 1, max_ms);
}
