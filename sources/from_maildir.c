/*
 * A Maildir as a source: the messages maildir_list finds to do, oldest
 * first; each is renamed away (maildir_file_away) once it was committed.
 * The progress lives in the file names, nowhere else.
 */
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sources/maildir.h"
#include "sources/source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAILDIR_MSG_MAX ((size_t)256 << 20)

struct from_maildir {
	struct source base;
	const struct source_mailbox *mb;
	char **names;
	size_t n, i; /* names[i] is the next; in hand: names[i - 1] */
	struct buf msg;
	char *name;
};

static int read_file(const char *path, struct buf *b, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_INPUT, "cannot open %s: %s", path, strerror(errno));
	buf_free(b);
	buf_init(b, MAILDIR_MSG_MAX);
	char chunk[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (buf_append(b, chunk, (size_t)n) != 0) {
			rc = err_set(e, ERR_INPUT, "%s is larger than %zu bytes", path,
			             MAILDIR_MSG_MAX);
			break;
		}
	}
	close(fd);
	return rc;
}

static int maildir_next(struct source *s, struct source_msg *m, struct err *e)
{
	struct from_maildir *f = (struct from_maildir *)s;
	(void)e;
	while (f->i < f->n) {
		const char *entry = f->names[f->i++];
		char *path = xasprintf("%s/%s", f->mb->path, entry);
		struct err re = {0};
		int rd = read_file(path, &f->msg, &re);
		free(path);
		if (rd != 0) {
			/* Gone (another reader filed it) or unreadable: leave it be. */
			log_warn("mailbox %s: %s", f->mb->name, re.msg);
			s->counts.skipped++;
			continue;
		}
		free(f->name);
		f->name = xasprintf("%s:%s", f->mb->name, entry);
		m->data = f->msg.data ? f->msg.data : "";
		m->len = f->msg.len;
		m->name = f->name;
		return 1;
	}
	return 0;
}

static int maildir_done(struct source *s, enum source_verdict v, struct err *e)
{
	struct from_maildir *f = (struct from_maildir *)s;
	(void)e;
	const char *folder = NULL;
	if (f->mb->folders_configured)
		folder = v == SOURCE_QUARANTINED ? f->mb->failed_folder : f->mb->processed_folder;
	struct err me = {0};
	if (maildir_file_away(f->mb->path, f->names[f->i - 1], folder, &me) != 0) {
		log_warn("mailbox %s: stored but not moved: %s", f->mb->name, me.msg);
		s->counts.not_moved++;
	} else {
		s->counts.moved++;
	}
	return 0;
}

static void maildir_close(struct source *s)
{
	struct from_maildir *f = (struct from_maildir *)s;
	maildir_list_free(f->names, f->n);
	buf_free(&f->msg);
	free(f->name);
	free(f);
}

static const struct source_ops maildir_ops = {maildir_next, maildir_done, maildir_close};

int source_maildir_open(struct source **out, const struct source_mailbox *mb, struct err *e)
{
	struct from_maildir *f = xcalloc(1, sizeof *f);
	f->base.ops = &maildir_ops;
	f->mb = mb;
	buf_init(&f->msg, 0);
	*out = NULL;
	if (maildir_list(mb->path, &f->names, &f->n, e) != 0) {
		maildir_close(&f->base);
		return -1;
	}
	*out = &f->base;
	return 0;
}
