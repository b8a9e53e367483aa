/*
 * arena: a bump allocator for memory that lives as long as one item (one
 * record of a report): many small strings, freed all at once by
 * arena_reset, which keeps the first block for the next item.
 */
#ifndef DS_CORE_ARENA_H
#define DS_CORE_ARENA_H

#include <stddef.h>

struct ablock;

struct arena {
	struct ablock *head;  /* current block */
	struct ablock *first; /* kept across resets */
};

/* A NUL-terminated copy of s[0..n) that lives until the next reset. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
