#include "sources/maildir.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether a cur/ name carries the seen flag. */
static bool seen(const char *name)
{
	const char *info = strstr(name, ":2,");
	return info && strchr(info + 3, 'S');
}

static int cmp_names(const void *a, const void *b)
{
	/* By base name: new/ and cur/ interleave in delivery order. */
	const char *x = strchr(*(char *const *)a, '/') + 1;
	const char *y = strchr(*(char *const *)b, '/') + 1;
	return strcmp(x, y);
}

int maildir_list(const char *root, char ***names, size_t *n, struct err *e)
{
	static const char *const subs[] = {"new", "cur"};
	char **out = NULL;
	size_t cnt = 0, cap = 0;
	*names = NULL;
	*n = 0;
	for (size_t i = 0; i < 2; i++) {
		char *dir = xasprintf("%s/%s", root, subs[i]);
		DIR *d = opendir(dir);
		if (!d) {
			int err = errno;
			free(dir);
			maildir_list_free(out, cnt);
			return err_set(e, ERR_CONFIG, "%s is not a Maildir (cannot open %s/): %s",
			               root, subs[i], strerror(err));
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (i == 1 && seen(de->d_name))
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 64;
				out = xrealloc(out, cap * sizeof *out);
			}
			out[cnt++] = xasprintf("%s/%s", subs[i], de->d_name);
		}
		closedir(d);
		free(dir);
	}
	if (cnt)
		qsort(out, cnt, sizeof *out, cmp_names);
	*names = out;
	*n = cnt;
	return 0;
}

void maildir_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* "NAME" or "NAME:2,FLAGS" -> "NAME:2,FLAGS+S" with the flags kept sorted. */
static char *seen_name(const char *base)
{
	const char *info = strstr(base, ":2,");
	size_t stem = info ? (size_t)(info - base) : strlen(base);
	char flags[64] = "";
	size_t nf = 0;
	if (info) {
		for (const char *f = info + 3; *f && nf + 2 < sizeof flags; f++)
			if (*f != 'S')
				flags[nf++] = *f;
	}
	flags[nf++] = 'S';
	flags[nf] = '\0';
	/* Flags are kept in ASCII order, as the Maildir spec asks. */
	for (size_t i = 1; i < nf; i++)
		for (size_t j = i; j > 0 && flags[j - 1] > flags[j]; j--) {
			char t = flags[j];
			flags[j] = flags[j - 1];
			flags[j - 1] = t;
		}
	return xasprintf("%.*s:2,%s", (int)stem, base, flags);
}

static int ensure_dir(const char *path, struct err *e)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_INPUT, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

/* ROOT/.a.b for "a/b" (Maildir++ uses '.' as the hierarchy separator). */
static int make_folder(const char *root, const char *folder, char **dir_out, struct err *e)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s/.", root);
	for (const char *p = folder; *p; p++)
		if (*p == '/')
			buf_putc(&b, '.');
		else
			buf_putc(&b, *p);
	char *dir = buf_steal(&b);
	static const char *const subs[] = {"", "/tmp", "/new", "/cur"};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("%s%s", dir, subs[i]);
		int rc = ensure_dir(p, e);
		free(p);
		if (rc != 0) {
			free(dir);
			return -1;
		}
	}
	*dir_out = dir;
	return 0;
}

int maildir_file_away(const char *root, const char *name, const char *folder, struct err *e)
{
	const char *base = strchr(name, '/');
	base = base ? base + 1 : name;
	char *from = xasprintf("%s/%s", root, name);
	char *newbase = seen_name(base);
	char *dir = NULL, *to = NULL;
	int rc = -1;
	if (folder) {
		if (strstr(folder, "..") || folder[0] == '/' || folder[0] == '.') {
			err_set(e, ERR_CONFIG, "folder name '%s' is not usable in a Maildir",
			        folder);
			goto out;
		}
		if (make_folder(root, folder, &dir, e) != 0)
			goto out;
		to = xasprintf("%s/cur/%s", dir, newbase);
	} else {
		if (!is_dir(root)) {
			err_set(e, ERR_CONFIG, "%s is not a Maildir", root);
			goto out;
		}
		to = xasprintf("%s/cur/%s", root, newbase);
	}
	if (rename(from, to) != 0) {
		err_set(e, ERR_INPUT, "cannot move %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(from);
	free(newbase);
	free(dir);
	free(to);
	return rc;
}
