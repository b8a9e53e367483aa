/*
 * source: where inputs come from, behind one interface — an IMAP folder, a
 * Maildir, an mbox file, files and directories, standard input. `ingest`
 * and `poll` drain them through the same loop (app/drain.c):
 *
 *   while (source_next(s, &m) == 1) { pipeline; source_done(s, verdict); }
 *
 * source_next hands over one message (or report file) at a time; it stays
 * valid until the next call. source_done is called once the database
 * committed it: a mailbox files it away (processed or failed folder, by the
 * verdict) and remembers how far it got; files have nothing to do. Nothing
 * is moved or remembered before that, so a crash at any point leaves the
 * message where it was, to be read again (and recognised as a duplicate).
 *
 * Errors: the open functions, source_next and source_done return -1 with e
 * set: this source cannot go on (login refused, server unreachable after
 * retries, a missing Maildir), and the message says why — or the progress
 * store failed, which the caller knows from its own source_memory
 * callbacks. Trouble with one message (unreadable, too big, stored but not
 * moved) is a warning, and counted (struct source_counts); the source goes
 * on.
 */
#ifndef DS_SOURCES_SOURCE_H
#define DS_SOURCES_SOURCE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct source;

struct source_msg {
	const void *data; /* the bytes (NULL when fd >= 0) */
	size_t len;
	int fd;           /* >= 0: a large bare report file, to be read block by block */
	const char *name; /* where it came from, for people and the quarantine */
	/* Not NULL: the bytes are not whole (a file that shrank while it was
	 * read): to be kept and quarantined with this reason, not parsed. */
	const char *short_read;
};

enum source_verdict {
	SOURCE_STORED,      /* ingested, a duplicate, or handed to the bounce store */
	SOURCE_QUARANTINED, /* kept raw for `dmarcsift failures` */
};

struct source_counts {
	uint64_t fetched;    /* messages handed over */
	uint64_t skipped;    /* left in place: unreadable or too big (warned) */
	uint64_t unreadable; /* paths that could not be read (files; warned) */
	uint64_t moved;      /* filed away after the commit */
	uint64_t not_moved;  /* stored, but the move failed (warned) */
};

/* How far a mailbox got, kept between runs (dmarcsift.mailbox_state). */
struct source_progress {
	uint64_t uidvalidity;       /* IMAP: 0 = never seen */
	uint64_t last_uid;          /* IMAP: highest UID dealt with */
	uint64_t mbox_offset;       /* mbox: where the next unread message starts */
	char mbox_first_sha256[65]; /* mbox: hash of the first message, "" = none */
};

/* Where a mailbox keeps its progress: load fills a zeroed struct when
 * nothing was kept; both return 0, or -1 with e set (ERR_RETRY: stop). */
struct source_memory {
	int (*load)(void *ctx, struct source_progress *p, struct err *e);
	int (*save)(void *ctx, const struct source_progress *p, struct err *e);
	void *ctx;
};

/* A mailbox as the configuration file describes it. */
struct source_mailbox {
	const char *name;             /* the [mailbox NAME], for messages */
	const char *url;              /* imap(s)://...; NULL for maildir/mbox */
	const char *path;             /* maildir / mbox path */
	const char *user;             /* IMAP */
	const char *password;         /* IMAP: or */
	const char *bearer;           /* IMAP: XOAUTH2 / OAUTHBEARER access token */
	const char *ca_file;          /* IMAP: NULL, the system's trust store */
	bool insecure;                /* IMAP: skip certificate and host name checks */
	unsigned backoff_ms;          /* IMAP: first retry delay; 0, the default */
	bool no_move;                 /* IMAP: act as if the server had no MOVE */
	const char *processed_folder; /* where stored messages go */
	const char *failed_folder;    /* where quarantined messages go */
	bool folders_configured;      /* Maildir: without, messages are marked seen in cur/ */
};

int source_imap_open(struct source **out, const struct source_mailbox *mb,
                     const struct source_memory *mem, struct err *e);
int source_maildir_open(struct source **out, const struct source_mailbox *mb, struct err *e);
int source_mbox_open(struct source **out, const struct source_mailbox *mb,
                     const struct source_memory *mem, struct err *e);
/* Files and directories (recursively, sorted, hidden and .tsv/.md/.sh
 * names skipped, each directory once), "-" for standard input. Paths that
 * cannot be read are warned about and counted as unreadable. Never fails. */
int source_files_open(struct source **out, char *const *paths, size_t n);

int source_next(struct source *s, struct source_msg *m, struct err *e);
int source_done(struct source *s, enum source_verdict v, struct err *e);
/* Whether source_done files nothing away and remembers nothing (files and
 * directories; not with standard input among them, which may keep a batch
 * waiting): then a message may be done before the transaction that
 * stores it commits, and many can share one (app/drain.c's batches); a
 * crash before that commit leaves them where they were, to be read again.
 * Mailboxes are not: each is filed away only after its own commit. */
bool source_batchable(const struct source *s);
const struct source_counts *source_counts(const struct source *s);
/* Closes the connection or file; NULL is fine. A message handed over and
 * not done stays where it was. */
void source_close(struct source *s);

#endif
