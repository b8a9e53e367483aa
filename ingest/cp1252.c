#include "ingest/cp1252.h"

#include <glib.h>
#include <string.h>

struct entry {
	unsigned char len;
	unsigned char bytes[3];
};

static struct entry table[128];

static gpointer build(gpointer unused)
{
	(void)unused;
	for (unsigned i = 0; i < 128; i++) {
		char in = (char)(0x80 + i);
		gsize written = 0;
		gchar *u = g_convert(&in, 1, "UTF-8", "WINDOWS-1252", NULL, &written, NULL);
		if (u && written >= 2 && written <= 3) {
			table[i].len = (unsigned char)written;
			memcpy(table[i].bytes, u, written);
		} else {
			/* Undefined in Windows-1252 (0x81, 0x8D, ...): U+FFFD. */
			static const unsigned char fffd[3] = {0xEF, 0xBF, 0xBD};
			table[i].len = 3;
			memcpy(table[i].bytes, fffd, 3);
		}
		g_free(u);
	}
	return NULL;
}

size_t cp1252_to_utf8(unsigned char b, unsigned char *out)
{
	static GOnce once = G_ONCE_INIT;
	g_once(&once, build, NULL);
	const struct entry *en = &table[b - 0x80];
	memcpy(out, en->bytes, en->len);
	return en->len;
}
