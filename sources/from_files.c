/*
 * Files, directories and standard input as a source (`dmarcsift ingest`).
 *
 * Directories are walked depth first, each one's entries sorted (runs are
 * reproducible whatever the file system's order), hidden names and the
 * .tsv/.md/.sh files that sit beside fixtures skipped, each directory
 * entered once by device and inode (a symlink to '.' or to a parent would
 * otherwise re-read everything below it, and two such links make the walk
 * exponential), at most 64 levels deep.
 *
 * A file is read with pread, not mapped: a file truncated while mapped
 * turns the next access into SIGBUS, which would end the whole run. A file
 * shorter than fstat said when we reach its end shrank under us: what was
 * read is handed over with `short_read` set, to be kept and quarantined.
 * A bare report file larger than STREAM_ABOVE is handed over as its file
 * descriptor, for the pipeline to stream, so memory stays flat.
 */
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "ingest/mime.h"
#include "sources/source_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STDIN_MAX ((size_t)1 << 30)
/* Inputs read into memory whole (messages, and reports up to STREAM_ABOVE). */
#define FILE_MAX ((size_t)1 << 30)
/* Bare report files larger than this are streamed from the file. */
#define STREAM_ABOVE ((off_t)16 << 20)
#define MAX_DEPTH    64

struct pending {
	char *path;
	int depth;
};

struct from_files {
	struct source base;
	struct pending *stack; /* popped from the end */
	size_t n, cap;
	GHashTable *visited; /* "device:inode" of the directories entered */
	struct buf b;
	int fd;
	char *name;
	char why[160];
};

static void push(struct from_files *f, char *path, int depth)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->stack = xrealloc(f->stack, f->cap * sizeof *f->stack);
	}
	f->stack[f->n++] = (struct pending){path, depth};
}

static bool skipped_in_directory(const char *name)
{
	static const char *const skip_ext[] = {".tsv", ".md", ".sh", NULL};
	if (name[0] == '.')
		return true;
	size_t n = strlen(name);
	for (const char *const *ext = skip_ext; *ext; ext++) {
		size_t m = strlen(*ext);
		if (n >= m && strcmp(name + n - m, *ext) == 0)
			return true;
	}
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Puts the entries of a directory on the stack, the first on top. */
static void enter(struct from_files *f, const char *path, int depth)
{
	DIR *d = opendir(path);
	if (!d) {
		log_warn("%s: cannot open directory: %s", path, strerror(errno));
		f->base.counts.unreadable++;
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (skipped_in_directory(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xasprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	while (n > 0)
		push(f, names[--n], depth + 1);
	free(names);
}

static void unreadable(struct from_files *f)
{
	f->base.counts.unreadable++;
}

/* Reads what is left of fd (from offset 0) into f->b; false after a warning. */
static bool read_whole(struct from_files *f, int fd, off_t size, const char *path)
{
	buf_free(&f->b);
	buf_init(&f->b, FILE_MAX);
	char chunk[65536];
	off_t off = 0;
	if ((uint64_t)size > FILE_MAX) {
		log_warn("%s: larger than %zu bytes, skipped", path, FILE_MAX);
		return false;
	}
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof chunk, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_warn("%s: cannot read: %s", path, strerror(errno));
			return false;
		}
		if (n == 0)
			break;
		if (buf_append(&f->b, chunk, (size_t)n) != 0) {
			log_warn("%s: grew past %zu bytes while read, skipped", path, FILE_MAX);
			return false;
		}
		off += n;
	}
	f->why[0] = '\0';
	if (off < size)
		snprintf(f->why, sizeof f->why,
		         "the file shrank while it was read (%lld bytes when opened, %lld read)",
		         (long long)size, (long long)off);
	return true;
}

/* A regular file: 1 handed over in m, 0 skipped (warned). */
static int take_file(struct from_files *f, const char *path, struct source_msg *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("%s: cannot open: %s", path, strerror(errno));
		unreadable(f);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		log_warn("%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		unreadable(f);
		return 0;
	}
	unsigned char head[4096];
	ssize_t got = 0;
	if (st.st_size > STREAM_ABOVE)
		got = pread(fd, head, sizeof head, 0);
	if (st.st_size > STREAM_ABOVE && got > 0 && !mime_looks_like_message(head, (size_t)got)) {
		/* A large bare report: streamed, so memory does not grow with it. */
		f->fd = fd;
		m->fd = fd;
		return 1;
	}
	bool ok = st.st_size == 0 || read_whole(f, fd, st.st_size, path);
	close(fd);
	if (!ok) {
		unreadable(f);
		return 0;
	}
	if (st.st_size == 0)
		buf_reset(&f->b);
	m->data = f->b.data ? f->b.data : "";
	m->len = f->b.len;
	m->short_read = st.st_size != 0 && f->why[0] ? f->why : NULL;
	return 1;
}

/* Standard input, whole: 1 handed over, 0 refused (warned). */
static int take_stdin(struct from_files *f, struct source_msg *m)
{
	buf_free(&f->b);
	buf_init(&f->b, STDIN_MAX);
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("standard input: %s", strerror(errno));
			unreadable(f);
			return 0;
		}
		if (buf_append(&f->b, chunk, (size_t)n) != 0) {
			log_warn("standard input: larger than %zu bytes, refused", STDIN_MAX);
			unreadable(f);
			return 0;
		}
	}
	m->data = f->b.data ? f->b.data : "";
	m->len = f->b.len;
	return 1;
}

/* One path from the stack: 1 handed over in m, 0 nothing from it. */
static int take(struct from_files *f, const char *path, int depth, struct source_msg *m)
{
	if (strcmp(path, "-") == 0 && depth == 0)
		return take_stdin(f, m);
	if (depth > MAX_DEPTH) {
		log_warn("%s: directories nested too deep, skipped", path);
		unreadable(f);
		return 0;
	}
	struct stat st;
	if (stat(path, &st) != 0) {
		log_warn("%s: %s", path, strerror(errno));
		unreadable(f);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		char *key = xasprintf("%llu:%llu", (unsigned long long)st.st_dev,
		                      (unsigned long long)st.st_ino);
		if (g_hash_table_contains(f->visited, key)) {
			log_info("%s: directory already read (a symlink loop?), skipped", path);
			free(key);
			return 0;
		}
		g_hash_table_add(f->visited, key);
		enter(f, path, depth);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("%s: not a regular file, skipped", path);
		unreadable(f);
		return 0;
	}
	return take_file(f, path, m);
}

static void let_go(struct from_files *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static int files_next(struct source *s, struct source_msg *m, struct err *e)
{
	struct from_files *f = (struct from_files *)s;
	(void)e;
	let_go(f);
	while (f->n > 0) {
		struct pending p = f->stack[--f->n];
		free(f->name);
		f->name = p.path;
		if (take(f, p.path, p.depth, m) == 1) {
			m->name = f->name;
			return 1;
		}
	}
	return 0;
}

static int files_done(struct source *s, enum source_verdict v, struct err *e)
{
	(void)v;
	(void)e;
	let_go((struct from_files *)s);
	return 0;
}

static void files_close(struct source *s)
{
	struct from_files *f = (struct from_files *)s;
	let_go(f);
	while (f->n > 0)
		free(f->stack[--f->n].path);
	free(f->stack);
	free(f->name);
	buf_free(&f->b);
	g_hash_table_destroy(f->visited);
	free(f);
}

static const struct source_ops files_ops = {files_next, files_done, files_close};

int source_files_open(struct source **out, char *const *paths, size_t n)
{
	struct from_files *f = xcalloc(1, sizeof *f);
	f->base.ops = &files_ops;
	/* Standard input may keep a batch waiting for as long as the writer
	 * likes (locks held, nothing durable): not batched. */
	f->base.done_keeps_nothing = true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(paths[i], "-") == 0)
			f->base.done_keeps_nothing = false;
	f->fd = -1;
	f->visited = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	buf_init(&f->b, 0);
	while (n > 0)
		push(f, xstrdup(paths[--n]), 0);
	*out = &f->base;
	return 0;
}
