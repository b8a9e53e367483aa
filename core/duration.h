/*
 * duration.h: the spans the configuration and the command line take
 * ("90s", "30m", "6h", "400d", "2w"; a bare number is seconds).
 */
#ifndef DMARCSIFT_CORE_DURATION_H
#define DMARCSIFT_CORE_DURATION_H

/* Seconds in V, or -1 when V is not a positive whole number with one of
 * the units s, m, h, d, w (or none), or exceeds MAX seconds. */
long long duration_parse(const char *v, long long max);
/* The same in milliseconds, "ms" allowed too ("500ms", "2s"; bare: seconds). */
long long duration_parse_ms(const char *v, long long max_ms);

#endif
