#include "core/arena.h"

#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 16384

struct ablock {
	struct ablock *next;
	size_t used, cap;
	char data[];
};

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (!a->head || a->head->cap - a->head->used < n + 1) {
		size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
		struct ablock *b = xmalloc(sizeof *b + cap);
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
		if (!a->first)
			a->first = b;
	}
	char *p = a->head->data + a->head->used;
	memcpy(p, s, n);
	p[n] = '\0';
	a->head->used += n + 1;
	return p;
}

void arena_reset(struct arena *a)
{
	while (a->head && a->head != a->first) {
		struct ablock *next = a->head->next;
		free(a->head);
		a->head = next;
	}
	if (a->first)
		a->first->used = 0;
}

void arena_free(struct arena *a)
{
	arena_reset(a);
	free(a->first);
	a->head = a->first = NULL;
}
