/*
 * An IMAP folder as a source: the messages above the last UID dealt with,
 * oldest first; each is moved to the processed or failed folder once it
 * was committed, then its UID is remembered. A new UIDVALIDITY means the
 * folder is read again from the start (known reports come back as
 * duplicates).
 */
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sources/imap.h"
#include "sources/source_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct from_imap {
	struct source base;
	const struct source_mailbox *mb;
	struct source_memory mem;
	struct imap *im;
	struct source_progress st;
	uint64_t uv;
	uint64_t *uids;
	size_t n, i; /* uids[i] is the next (or, in hand, i - 1 is) */
	struct buf msg;
	char name[512];
};

static int remember(struct from_imap *f, uint64_t uid, struct err *e)
{
	f->st.last_uid = uid;
	return f->mem.save(f->mem.ctx, &f->st, e);
}

static int imap_next(struct source *s, struct source_msg *m, struct err *e)
{
	struct from_imap *f = (struct from_imap *)s;
	while (f->i < f->n) {
		uint64_t uid = f->uids[f->i++];
		struct err fe = {0};
		int got = imap_fetch(f->im, f->uv, uid, &f->msg, &fe);
		if (got < 0 && fe.kind != ERR_INPUT) {
			*e = fe;
			return -1;
		}
		if (got < 0) {
			/* This one message cannot be had (too big, refused): leave it
			 * in the folder and go on, rather than stall every run on it. */
			log_warn("mailbox %s: UID %" PRIu64 " skipped and left in place: %s",
			         f->mb->name, uid, fe.msg);
			s->counts.skipped++;
		}
		if (got != 0) {
			if (remember(f, uid, e) != 0)
				return -1;
			continue;
		}
		snprintf(f->name, sizeof f->name, "%s:%s;UIDVALIDITY=%" PRIu64 ";UID=%" PRIu64,
		         f->mb->name, imap_folder(f->im), f->uv, uid);
		m->data = f->msg.data ? f->msg.data : "";
		m->len = f->msg.len;
		m->name = f->name;
		return 1;
	}
	return 0;
}

static int imap_done(struct source *s, enum source_verdict v, struct err *e)
{
	struct from_imap *f = (struct from_imap *)s;
	uint64_t uid = f->uids[f->i - 1];
	const char *to = v == SOURCE_QUARANTINED ? f->mb->failed_folder : f->mb->processed_folder;
	struct err me = {0};
	if (imap_move(f->im, f->uv, uid, to, &me) != 0) {
		if (me.kind == ERR_RETRY) {
			*e = me;
			return -1;
		}
		log_warn("mailbox %s: UID %" PRIu64 " was stored but not moved: %s", f->mb->name,
		         uid, me.msg);
		s->counts.not_moved++;
	} else {
		s->counts.moved++;
	}
	return remember(f, uid, e);
}

static void imap_source_close(struct source *s)
{
	struct from_imap *f = (struct from_imap *)s;
	free(f->uids);
	buf_free(&f->msg);
	imap_close(f->im);
	free(f);
}

static const struct source_ops imap_ops = {imap_next, imap_done, imap_source_close};

int source_imap_open(struct source **out, const struct source_mailbox *mb,
                     const struct source_memory *mem, struct err *e)
{
	struct from_imap *f = xcalloc(1, sizeof *f);
	f->base.ops = &imap_ops;
	f->mb = mb;
	f->mem = *mem;
	buf_init(&f->msg, 0);
	*out = NULL;
	struct imap_opts io = {
	    .url = mb->url,
	    .user = mb->user,
	    .password = mb->password,
	    .bearer = mb->bearer,
	    .ca_file = mb->ca_file,
	    .insecure = mb->insecure,
	    .backoff_ms = mb->backoff_ms,
	    .no_move = mb->no_move,
	};
	if (imap_open(&f->im, &io, e) != 0 || imap_connect(f->im, e) != 0 ||
	    imap_uidvalidity(f->im, &f->uv, e) != 0 || mem->load(mem->ctx, &f->st, e) != 0)
		goto fail;
	if (f->st.uidvalidity != f->uv) {
		if (f->st.uidvalidity)
			log_warn("mailbox %s: UIDVALIDITY changed (%" PRIu64 " -> %" PRIu64
			         "): reading the folder again from the start; known reports "
			         "are recognised as duplicates",
			         mb->name, f->st.uidvalidity, f->uv);
		f->st.uidvalidity = f->uv;
		f->st.last_uid = 0;
	}
	if (imap_ensure_folder(f->im, mb->processed_folder, e) != 0 ||
	    imap_ensure_folder(f->im, mb->failed_folder, e) != 0 ||
	    imap_search(f->im, f->uv, f->st.last_uid + 1, &f->uids, &f->n, e) != 0)
		goto fail;
	/* Remember the UIDVALIDITY even when the folder is empty. */
	if (f->n == 0 && mem->save(mem->ctx, &f->st, e) != 0)
		goto fail;
	*out = &f->base;
	return 0;
fail:
	imap_source_close(&f->base);
	return -1;
}
