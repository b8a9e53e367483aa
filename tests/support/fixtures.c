#include "fixtures.h"

#include "core/xalloc.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fx_manifest_load(const char *path, struct fx_row **rows)
{
	size_t len = 0, n = 0;
	char *text = slurp(path, &len);
	char *line = text, *next;

	*rows = NULL;
	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		char *t1 = strchr(line, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2 || t2[1] == '\0') {
			fprintf(stderr, "%s: malformed line '%s'\n", path, line);
			abort();
		}
		*t1 = *t2 = '\0';
		*rows = xrealloc(*rows, (n + 1) * sizeof **rows);
		(*rows)[n].file = xstrdup(line);
		(*rows)[n].stage = xstrdup(t1 + 1);
		(*rows)[n].reason = xstrdup(t2 + 1);
		n++;
	}
	free(text);
	return n;
}

void fx_manifest_free(struct fx_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].file);
		free(rows[i].stage);
		free(rows[i].reason);
	}
	free(rows);
}

int fx_unpack_all(const void *data, size_t len, const struct unpack_limits *lim, size_t chunk,
                  struct buf *out, struct err *e)
{
	struct unpack *u = NULL;
	char *tmp = xmalloc(chunk);
	ssize_t n;
	int rc = -1;

	if (unpack_open(&u, data, len, lim, e) != 0)
		goto out;
	while ((n = unpack_read(u, tmp, chunk, e)) > 0)
		if (buf_append(out, tmp, (size_t)n) != 0)
			abort();
	if (n < 0)
		goto out;
	rc = 0;
out:
	unpack_free(u);
	free(tmp);
	return rc;
}
