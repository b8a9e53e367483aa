/*
 * An mbox file as a source, never written: the messages after the offset
 * remembered last time, if the file still starts with the same first
 * message (else it was rewritten, and is read again from the start).
 */
#include "core/log.h"
#include "sources/mbox.h"
#include "sources/source_int.h"

#include "core/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct from_mbox {
	struct source base;
	const struct source_mailbox *mb;
	struct source_memory mem;
	struct mbox *m;
	struct source_progress st;
	uint64_t end; /* of the message in hand */
	char name[512];
};

/* Where to go on: the stored offset when the mbox still starts with the same
 * first message and is long enough, else 0 (rewritten: read it again). */
static int resume(struct from_mbox *f, struct err *e)
{
	if (f->st.mbox_offset == 0)
		return 0;
	struct stat sb;
	struct mbox_msg first;
	struct err ign = {0};
	bool same = stat(f->mb->path, &sb) == 0 && (uint64_t)sb.st_size >= f->st.mbox_offset &&
	            mbox_next(f->m, &first, &ign) == 1 &&
	            strcmp(first.sha256, f->st.mbox_first_sha256) == 0 &&
	            mbox_seek(f->m, f->st.mbox_offset, &ign) == 0;
	if (!same) {
		log_warn("mailbox %s: the mbox was rewritten since the last run: reading it "
		         "again from the start; known reports are recognised as duplicates",
		         f->mb->name);
		f->st.mbox_offset = 0;
		f->st.mbox_first_sha256[0] = '\0';
		struct err e2 = {0};
		if (mbox_seek(f->m, 0, &e2) != 0)
			return err_set(e, ERR_INPUT, "%s", e2.msg);
	}
	return 0;
}

static int mbox_source_next(struct source *s, struct source_msg *m, struct err *e)
{
	struct from_mbox *f = (struct from_mbox *)s;
	struct mbox_msg msg;
	int rc;
	while ((rc = mbox_next(f->m, &msg, e)) == 1) {
		if (msg.start == 0)
			memcpy(f->st.mbox_first_sha256, msg.sha256, sizeof f->st.mbox_first_sha256);
		if (!msg.oversized) {
			snprintf(f->name, sizeof f->name, "%s:%s@%" PRIu64, f->mb->name,
			         f->mb->path, msg.start);
			f->end = msg.end;
			m->data = msg.data;
			m->len = msg.len;
			m->name = f->name;
			return 1;
		}
		log_warn("mailbox %s: message at offset %" PRIu64
		         " is larger than %zu bytes: skipped",
		         f->mb->name, msg.start, (size_t)MBOX_MESSAGE_MAX);
		s->counts.skipped++;
		f->st.mbox_offset = msg.end;
		if (f->mem.save(f->mem.ctx, &f->st, e) != 0)
			return -1;
	}
	return rc;
}

static int mbox_source_done(struct source *s, enum source_verdict v, struct err *e)
{
	struct from_mbox *f = (struct from_mbox *)s;
	(void)v; /* an mbox is only read: nothing is moved */
	f->st.mbox_offset = f->end;
	return f->mem.save(f->mem.ctx, &f->st, e);
}

static void mbox_source_close(struct source *s)
{
	struct from_mbox *f = (struct from_mbox *)s;
	mbox_close(f->m);
	free(f);
}

static const struct source_ops mbox_ops = {mbox_source_next, mbox_source_done, mbox_source_close};

int source_mbox_open(struct source **out, const struct source_mailbox *mb,
                     const struct source_memory *mem, struct err *e)
{
	struct from_mbox *f = xcalloc(1, sizeof *f);
	f->base.ops = &mbox_ops;
	f->mb = mb;
	f->mem = *mem;
	*out = NULL;
	if (mem->load(mem->ctx, &f->st, e) != 0 || mbox_open(&f->m, mb->path, e) != 0 ||
	    resume(f, e) != 0) {
		mbox_source_close(&f->base);
		return -1;
	}
	*out = &f->base;
	return 0;
}
