/*
 * pgarray: see pgarray.h.
 */
#include "db/pgarray.h"

#include "core/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pgarray_init(struct pgarray *a)
{
	memset(a, 0, sizeof *a);
	pgarray_reset(a);
}

static void put(struct pgarray *a, const char *p, size_t n)
{
	if (a->len + n + 2 > a->cap) {
		a->cap = (a->len + n + 2) * 2;
		a->s = xrealloc(a->s, a->cap);
	}
	memcpy(a->s + a->len, p, n);
	a->len += n;
	a->s[a->len] = '\0';
}

void pgarray_reset(struct pgarray *a)
{
	a->len = 0;
	a->n = 0;
	put(a, "{", 1);
}

void pgarray_add(struct pgarray *a, const char *v)
{
	if (a->n++)
		put(a, ",", 1);
	if (!v) {
		put(a, "NULL", 4);
		return;
	}
	put(a, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			put(a, "\\", 1);
		put(a, p, 1);
	}
	put(a, "\"", 1);
}

void pgarray_add_int(struct pgarray *a, int64_t v)
{
	char b[32];
	snprintf(b, sizeof b, "%" PRId64, v);
	pgarray_add(a, b);
}

void pgarray_add_bool(struct pgarray *a, int v)
{
	pgarray_add(a, v ? "t" : "f");
}

const char *pgarray_text(struct pgarray *a)
{
	put(a, "}", 1);
	/* Leave the closing brace out of the buffer's length: more may follow. */
	a->len--;
	return a->s;
}

void pgarray_free(struct pgarray *a)
{
	free(a->s);
	memset(a, 0, sizeof *a);
}
