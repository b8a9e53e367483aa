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
