#include "core/memread.h"

#include <string.h>

ssize_t memread(void *ctx, void *buf, size_t n, struct err *e)
{
	struct memread *m = ctx;
	(void)e;
	size_t left = m->len - m->pos;
	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}
