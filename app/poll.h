/*
 * poll: one mailbox, once — the use case behind `dmarcsift poll`. Takes the
 * mailbox's advisory lock (by what it reads, so two sections or configs
 * naming the same mailbox wait for each other), checks its tenant, opens
 * the source (IMAP, Maildir, mbox) with its progress kept in
 * dmarcsift.mailbox_state, and drains it through a pipeline of its own.
 */
#ifndef DS_APP_POLL_H
#define DS_APP_POLL_H

#include "app/drain.h"
#include "app/pipeline.h"
#include "sources/source.h"

#include <signal.h>
#include <stdbool.h>

struct db;

enum poll_kind { POLL_IMAP, POLL_MAILDIR, POLL_MBOX };

struct poll_mailbox {
	enum poll_kind kind;
	struct source_mailbox box;
	const char *lock_key;      /* what it reads; NULL: box.name */
	struct pipeline_opts opts; /* tenant_override: the mailbox's tenant */
};

struct poll_result {
	bool locked_out; /* another poller holds it: nothing was read */
	struct drain_counts c;
	struct source_counts sc;
	struct pipeline_stats st;
	struct err mailbox_err; /* this mailbox could not be read (the others go on) */
	struct err fatal;       /* the database went away: stop everything */
};

/* 0, or -1 when the run must stop (r->fatal). A mailbox that cannot be
 * read is 0 with r->mailbox_err set. */
int poll_mailbox(struct db *db, const struct poll_mailbox *mb, const volatile sig_atomic_t *stop,
                 struct poll_result *r);

#endif
