/*
 * tsv.c: see tsv.h.
 */
#include "core/tsv.h"

#include <string.h>

int tsv_split(char *line, char **col, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		col[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			return n;
		if (n == max)
			return max + 1;
		*tab = '\0';
		p = tab + 1;
		while (*p == '\t')
			p++;
	}
}

bool tsv_next_line(const char *text, size_t len, size_t *off, const char **line, size_t *n)
{
	if (*off >= len)
		return false;
	const char *s = text + *off;
	const char *nl = memchr(s, '\n', len - *off);
	size_t k = nl ? (size_t)(nl - s) : len - *off;
	*off += k + (nl ? 1 : 0);
	if (k > 0 && s[k - 1] == '\r')
		k--;
	*line = s;
	*n = k;
	return true;
}
