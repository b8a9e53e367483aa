/*
 * complaints: what a reader found wrong with an input it still accepted,
 * each deviation named once.
 *
 * A parser that keeps a value outside its schema (a DKIM result 'none' in
 * policy_evaluated, an invalid byte read as Windows-1252, a record skipped
 * for its source address) adds one complaint per deviation. `key` says what
 * makes two complaints the same deviation (field and value, say); only the
 * first occurrence is worded, so a report with the same odd value in 50,000
 * records gets one line. The text is capped: past it, further deviations
 * are counted ("and 12 more"). Memory is bounded by the number of distinct
 * keys remembered (COMPLAINTS_MAX_KEYS; later new keys are counted only).
 * The caller owns the struct (complaints_init / complaints_free).
 */
#ifndef DS_INGEST_COMPLAINTS_H
#define DS_INGEST_COMPLAINTS_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define COMPLAINTS_TEXT_MAX 900
#define COMPLAINTS_MAX_KEYS 4096

struct complaints {
	struct buf text;
	void *seen;       /* set of keys (GHashTable) */
	size_t n;         /* distinct deviations */
	size_t unwritten; /* distinct deviations counted but not worded */
	char *rendered;   /* text with the "and N more" suffix */
};

void complaints_init(struct complaints *c);
void complaints_free(struct complaints *c);
/* Adds a deviation unless one with the same key was added; returns true
 * when it was new. */
bool complaints_add(struct complaints *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool complaints_any(const struct complaints *c);
/* The complaints joined by "; " (with "; and N more" when capped), or "". */
const char *complaints_text(struct complaints *c);

#endif
