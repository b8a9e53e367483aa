#include "sources/mbox.h"

#include "core/buf.h"
#include "core/xalloc.h"
#include "ingest/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RBUF_SIZE 65536
#define LOOKAHEAD 64

struct mbox {
	FILE *f;
	bool own;
	char *name;
	size_t max;
	char *rbuf;
	size_t rpos, rlen;
	bool eof;
	uint64_t pos; /* file offset of rbuf[rpos] */
	struct buf msg;
	struct sha256 *sum;
	char sha[65];
};

/* Makes at least `need` bytes available at rbuf+rpos unless the file ends. */
static int fill(struct mbox *m, size_t need, struct err *e)
{
	if (m->rlen - m->rpos >= need || m->eof)
		return 0;
	memmove(m->rbuf, m->rbuf + m->rpos, m->rlen - m->rpos);
	m->rlen -= m->rpos;
	m->rpos = 0;
	while (m->rlen < need && !m->eof) {
		size_t n = fread(m->rbuf + m->rlen, 1, RBUF_SIZE - m->rlen, m->f);
		if (n == 0) {
			if (ferror(m->f))
				return err_set(e, ERR_INPUT, "%s: read error: %s", m->name,
				               strerror(errno));
			m->eof = true;
		}
		m->rlen += n;
	}
	return 0;
}

static size_t avail(const struct mbox *m)
{
	return m->rlen - m->rpos;
}

static bool starts_with(const struct mbox *m, const char *s)
{
	size_t n = strlen(s);
	return avail(m) >= n && memcmp(m->rbuf + m->rpos, s, n) == 0;
}

/* Consumes `n` buffered bytes: hashed always, kept when `keep`. */
static void take(struct mbox *m, size_t n, bool keep, bool *oversized)
{
	const char *p = m->rbuf + m->rpos;
	sha256_update(m->sum, p, n);
	if (keep && !*oversized && buf_append(&m->msg, p, n) != 0) {
		*oversized = true;
		buf_free(&m->msg);
		buf_init(&m->msg, m->max);
	}
	m->rpos += n;
	m->pos += n;
}

/* Consumes the rest of the current line. Returns 1 when it ended with a
 * newline, 0 when the file ended first, -1 on error. */
static int take_line(struct mbox *m, bool keep, bool *oversized, struct err *e)
{
	for (;;) {
		if (fill(m, 1, e) != 0)
			return -1;
		if (avail(m) == 0)
			return 0;
		const char *p = m->rbuf + m->rpos;
		const char *nl = memchr(p, '\n', avail(m));
		if (nl) {
			take(m, (size_t)(nl - p) + 1, keep, oversized);
			return 1;
		}
		take(m, avail(m), keep, oversized);
	}
}

static void init_common(struct mbox *m, const char *name, size_t max)
{
	m->name = xstrdup(name);
	m->max = max;
	m->rbuf = xmalloc(RBUF_SIZE);
	buf_init(&m->msg, max);
	sha256_new(&m->sum);
}

int mbox_open_stream(struct mbox **out, FILE *f, const char *name, size_t message_max)
{
	struct mbox *m = xcalloc(1, sizeof *m);
	m->f = f;
	init_common(m, name, message_max);
	*out = m;
	return 0;
}

int mbox_open(struct mbox **out, const char *path, struct err *e)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_CONFIG, "cannot open mbox %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_CONFIG, "mbox %s is not a regular file", path);
	}
	/* A shared lock: a delivery agent that locks (fcntl) waits until we are
	 * done, so we never read half a message it is appending. Wait a little
	 * for one that is writing now. */
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	for (int i = 0; fcntl(fd, F_SETLK, &fl) != 0; i++) {
		if (i == 50 || (errno != EAGAIN && errno != EACCES))
			break; /* read anyway: incomplete last lines are left alone */
		usleep(100000);
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return err_set(e, ERR_CONFIG, "cannot open mbox %s: %s", path, strerror(errno));
	}
	struct mbox *m = xcalloc(1, sizeof *m);
	m->f = f;
	m->own = true;
	init_common(m, path, MBOX_MESSAGE_MAX);
	*out = m;
	return 0;
}

void mbox_close(struct mbox *m)
{
	if (!m)
		return;
	if (m->own)
		fclose(m->f);
	free(m->name);
	free(m->rbuf);
	buf_free(&m->msg);
	sha256_free(m->sum);
	free(m);
}

int mbox_seek(struct mbox *m, uint64_t offset, struct err *e)
{
	if (offset > (uint64_t)INT64_MAX || fseeko(m->f, (off_t)offset, SEEK_SET) != 0)
		return err_set(e, ERR_INPUT, "%s: cannot seek to offset %llu: %s", m->name,
		               (unsigned long long)offset, strerror(errno));
	m->rpos = m->rlen = 0;
	m->eof = false;
	clearerr(m->f);
	m->pos = offset;
	if (fill(m, LOOKAHEAD, e) != 0)
		return -1;
	if (avail(m) > 0 && !starts_with(m, "From "))
		return err_set(e, ERR_INPUT, "%s: offset %llu does not start a message", m->name,
		               (unsigned long long)offset);
	return 0;
}

/* mboxrd: ">From ", ">>From "... at a line start lose one '>'. */
static bool escaped_from(const struct mbox *m)
{
	const char *p = m->rbuf + m->rpos;
	size_t n = avail(m), i = 0;
	while (i < n && p[i] == '>')
		i++;
	return i > 0 && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

int mbox_next(struct mbox *m, struct mbox_msg *msg, struct err *e)
{
	bool oversized = false, prev_blank = false;
	memset(msg, 0, sizeof *msg);
	buf_reset(&m->msg);
	sha256_reset(m->sum);
	if (fill(m, LOOKAHEAD, e) != 0)
		return -1;
	if (avail(m) == 0)
		return 0;
	if (!starts_with(m, "From "))
		return err_set(e, ERR_INPUT,
		               "%s: not an mbox: no \"From \" line at offset %llu where a message "
		               "should start",
		               m->name, (unsigned long long)m->pos);
	msg->start = m->pos;
	int r = take_line(m, false, &oversized, e);
	if (r <= 0)
		return r;
	for (;;) {
		if (fill(m, LOOKAHEAD, e) != 0)
			return -1;
		if (avail(m) == 0 || (prev_blank && starts_with(m, "From ")))
			break;
		bool blank = starts_with(m, "\n") || starts_with(m, "\r\n");
		if (escaped_from(m))
			take(m, 1, false, &oversized);
		r = take_line(m, true, &oversized, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0; /* the last line is still being written */
		prev_blank = blank;
	}
	msg->end = m->pos;
	sha256_final(m->sum, m->sha);
	memcpy(msg->sha256, m->sha, sizeof msg->sha256);
	/* The empty line before the next "From " is the mbox's, not the message's. */
	if (m->msg.len >= 2 && memcmp(m->msg.data + m->msg.len - 2, "\n\n", 2) == 0)
		m->msg.len -= 1;
	else if (m->msg.len >= 4 && memcmp(m->msg.data + m->msg.len - 4, "\r\n\r\n", 4) == 0)
		m->msg.len -= 2;
	else if (m->msg.len == 1 && m->msg.data[0] == '\n')
		m->msg.len = 0;
	if (m->msg.data)
		m->msg.data[m->msg.len] = '\0';
	msg->oversized = oversized;
	msg->data = oversized ? NULL : (m->msg.data ? m->msg.data : "");
	msg->len = oversized ? 0 : m->msg.len;
	return 1;
}
