#include "ingest/complaints.h"

#include "core/xalloc.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void complaints_init(struct complaints *c)
{
	memset(c, 0, sizeof *c);
	buf_init(&c->text, 0);
	c->seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
}

void complaints_free(struct complaints *c)
{
	if (c->seen)
		g_hash_table_destroy(c->seen);
	buf_free(&c->text);
	free(c->rendered);
	memset(c, 0, sizeof *c);
}

bool complaints_add(struct complaints *c, const char *key, const char *fmt, ...)
{
	GHashTable *seen = c->seen;
	if (g_hash_table_contains(seen, key))
		return false;
	/* Past the cap of remembered keys a repeat is counted again: the
	 * count is then an upper bound, the memory stays bounded. */
	if (g_hash_table_size(seen) < COMPLAINTS_MAX_KEYS)
		g_hash_table_add(seen, xstrdup(key));
	c->n++;
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (c->unwritten == 0 && c->text.len + strlen(line) + 2 <= COMPLAINTS_TEXT_MAX) {
		if (c->text.len)
			buf_puts(&c->text, "; ");
		buf_puts(&c->text, line);
	} else {
		c->unwritten++;
	}
	return true;
}

bool complaints_any(const struct complaints *c)
{
	return c->n > 0;
}

const char *complaints_text(struct complaints *c)
{
	if (c->n == 0)
		return "";
	if (c->unwritten == 0)
		return c->text.data;
	free(c->rendered);
	c->rendered = xasprintf("%s; and %zu more", c->text.data, c->unwritten);
	return c->rendered;
}
