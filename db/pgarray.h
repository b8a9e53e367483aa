/*
 * pgarray: a PostgreSQL array literal ('{"a","b",NULL}') built element by
 * element, so a batch of rows travels as a few array parameters of one
 * INSERT ... SELECT FROM unnest($1::type[], ...) instead of one round trip
 * per row. Every element is double-quoted with '"' and '\' escaped, so any
 * text is safe; NULL stays unquoted.
 */
#ifndef DS_DB_PGARRAY_H
#define DS_DB_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

struct pgarray {
	char *s;
	size_t len, cap;
	size_t n;
};

void pgarray_init(struct pgarray *a);
void pgarray_add(struct pgarray *a, const char *value); /* NULL: SQL NULL */
void pgarray_add_int(struct pgarray *a, int64_t v);
void pgarray_add_bool(struct pgarray *a, int v);
/* The literal, valid until the next add or pgarray_free. */
const char *pgarray_text(struct pgarray *a);
void pgarray_reset(struct pgarray *a);
void pgarray_free(struct pgarray *a);

#endif
