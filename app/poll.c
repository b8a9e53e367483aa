#include "app/poll.h"

#include "db/mailbox_state.h"

#include <string.h>

/* The mailbox's progress in the database; `failed` tells a database error
 * from the source's own when the source gives up. */
struct memory {
	struct db *db;
	int tenant_id;
	const char *name;
	bool failed;
};

static int load(void *ctx, struct source_progress *p, struct err *e)
{
	struct memory *m = ctx;
	struct mailbox_state st;
	if (mailbox_state_get(m->db, m->tenant_id, m->name, &st, e) != 0) {
		m->failed = true;
		return -1;
	}
	memset(p, 0, sizeof *p);
	p->uidvalidity = st.uidvalidity;
	p->last_uid = st.last_uid;
	p->mbox_offset = st.mbox_offset;
	memcpy(p->mbox_first_sha256, st.mbox_first_sha256, sizeof p->mbox_first_sha256);
	return 0;
}

static int save(void *ctx, const struct source_progress *p, struct err *e)
{
	struct memory *m = ctx;
	struct mailbox_state st = {
	    .uidvalidity = p->uidvalidity, .last_uid = p->last_uid, .mbox_offset = p->mbox_offset};
	memcpy(st.mbox_first_sha256, p->mbox_first_sha256, sizeof st.mbox_first_sha256);
	if (mailbox_state_put(m->db, m->tenant_id, m->name, &st, e) != 0) {
		m->failed = true;
		return -1;
	}
	return 0;
}

static int open_source(const struct poll_mailbox *mb, const struct source_memory *mem,
                       struct source **s, struct err *e)
{
	switch (mb->kind) {
	case POLL_IMAP:
		return source_imap_open(s, &mb->box, mem, e);
	case POLL_MAILDIR:
		return source_maildir_open(s, &mb->box, e);
	case POLL_MBOX:
		return source_mbox_open(s, &mb->box, mem, e);
	}
	return err_set(e, ERR_INTERNAL, "unknown mailbox kind");
}

/* Reads the mailbox, the lock held. */
static int read_mailbox(struct db *db, const struct poll_mailbox *mb,
                        const volatile sig_atomic_t *stop, struct poll_result *r)
{
	struct memory mem = {.db = db, .name = mb->box.name};
	if (mailbox_state_tenant(db, mb->opts.tenant_override, &mem.tenant_id, &r->mailbox_err) !=
	    0) {
		if (r->mailbox_err.kind != ERR_RETRY)
			return 0;
		r->fatal = r->mailbox_err;
		return -1;
	}
	struct source_memory sm = {load, save, &mem};
	struct source *s = NULL;
	struct pipeline *pipe = NULL;
	pipeline_new(&pipe, db, &mb->opts);
	int rc = 0;
	if (open_source(mb, &sm, &s, &r->mailbox_err) != 0) {
		rc = 1;
	} else {
		rc = drain(s, pipe, stop, NULL, NULL, &r->c, &r->mailbox_err, &r->fatal);
		r->sc = *source_counts(s);
	}
	r->st = *pipeline_stats(pipe);
	source_close(s);
	pipeline_free(pipe);
	if (rc == 1 && mem.failed) {
		/* The source gave up because its progress could not be kept. */
		r->fatal = r->mailbox_err;
		r->mailbox_err = (struct err){0};
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

int poll_mailbox(struct db *db, const struct poll_mailbox *mb, const volatile sig_atomic_t *stop,
                 struct poll_result *r)
{
	memset(r, 0, sizeof *r);
	const char *key = mb->lock_key ? mb->lock_key : mb->box.name;
	bool got = false;
	if (mailbox_lock_try(db, key, &got, &r->fatal) != 0)
		return -1;
	if (!got) {
		r->locked_out = true;
		return 0;
	}
	int rc = read_mailbox(db, mb, stop, r);
	if (rc == 0) {
		struct err ue = {0};
		if (mailbox_lock_release(db, key, &ue) != 0) {
			r->fatal = ue;
			rc = -1;
		}
	}
	return rc;
}
