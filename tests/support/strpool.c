#include "tests/support/strpool.h"

#include "core/xalloc.h"

#include <stdlib.h>

static char **pool;
static size_t npool, cap;

char *strpool_dup(const char *s)
{
	if (!s)
		return NULL;
	if (npool == cap) {
		cap = cap ? 2 * cap : 256;
		pool = xrealloc(pool, cap * sizeof *pool);
	}
	return pool[npool++] = xstrdup(s);
}

void strpool_free(void)
{
	while (npool)
		free(pool[--npool]);
	free(pool);
	pool = NULL;
	cap = 0;
}
