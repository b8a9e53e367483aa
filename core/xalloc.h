/*
 * xalloc: allocation that cannot fail. Out of memory aborts here, in one
 * place, so the rest of the code has no NULL checks after malloc.
 * Callers own what these return and release it with free().
 */
#ifndef DS_CORE_XALLOC_H
#define DS_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
