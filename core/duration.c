/*
 * duration: "400d" -> 34560000. One parser for every span a user writes:
 * the blocklist schedule, the retention window, "dismiss what is older".
 */
#include "core/duration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

long long duration_parse(const char *v, long long max)
{
	if (!v || *v < '0' || *v > '9')
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || n < 1)
		return -1;
	static const struct {
		const char *unit;
		long long seconds;
	} units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].unit) == 0)
			return n > max / units[i].seconds ? -1 : n * units[i].seconds;
	return -1;
}
