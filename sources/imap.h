/*
 * imap: one IMAP(S) folder through libcurl — what the poller needs and no
 * more: the folder's UIDVALIDITY, the UIDs from n on, each message whole,
 * folders created when missing, and a message moved (UID MOVE when the
 * server has MOVE, else UID COPY + \Deleted + UID EXPUNGE).
 *
 * The URL is imaps://HOST[:PORT]/FOLDER (FOLDER defaults to INBOX) or
 * imap://... which is upgraded with STARTTLS (required: credentials never go
 * over plain text). Folder names are written with '/' as the hierarchy
 * separator and translated to the server's delimiter. Every operation reuses
 * one connection; a connection failure or time-out is retried with back-off
 * (1 s, 2 s, 4 s ... `retries` times, default 3), reconnecting as needed.
 * Fetch and search address the folder together with its UIDVALIDITY, so a
 * UIDVALIDITY change during a run is an error, never a wrong message.
 *
 * Errors come back in `e` with stage "imap": ERR_RETRY when the server could
 * not be reached or the connection kept failing (the messages stay where
 * they are), ERR_CONFIG for a refused login ("IMAP login failed for user X
 * at HOST (wrong password?)" — the password is never in any message) or an
 * untrusted certificate, ERR_INPUT when the server refused one command.
 * The caller owns the handle (imap_close takes NULL) and the arrays returned.
 */
#ifndef DS_SOURCES_IMAP_H
#define DS_SOURCES_IMAP_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap;

struct imap_opts {
	const char *url;
	const char *user;
	const char *password; /* or */
	const char *bearer;   /* XOAUTH2 / OAUTHBEARER access token */
	const char *ca_file;  /* NULL: the system's trust store */
	bool insecure;        /* skip certificate and host name checks */
	int retries;          /* connection retries; 0 = the default (3) */
	unsigned backoff_ms;  /* first back-off; 0 = the default (1000) */
	long timeout_s;       /* connect time-out and stall limit; 0 = 30 s */
	bool no_move;         /* act as if the server had no MOVE (tests) */
	size_t message_max;   /* 0 = 256 MiB */
};

int imap_open(struct imap **out, const struct imap_opts *o, struct err *e);
void imap_close(struct imap *im);
/* The configured folder (decoded), e.g. "INBOX". */
const char *imap_folder(const struct imap *im);
/* Logs in and reads CAPABILITY and the hierarchy delimiter. */
int imap_connect(struct imap *im, struct err *e);
bool imap_has_move(const struct imap *im);
int imap_uidvalidity(struct imap *im, uint64_t *uidvalidity, struct err *e);
/* UIDs >= from_uid in the folder, ascending; *uids is the caller's (free()). */
int imap_search(struct imap *im, uint64_t uidvalidity, uint64_t from_uid, uint64_t **uids,
                size_t *n, struct err *e);
/* The whole message into `out` (reset first). Returns 1 when the message is
 * gone (moved away by someone else), 0 ok, -1 error. */
int imap_fetch(struct imap *im, uint64_t uidvalidity, uint64_t uid, struct buf *out, struct err *e);
int imap_ensure_folder(struct imap *im, const char *folder, struct err *e);
int imap_move(struct imap *im, uint64_t uidvalidity, uint64_t uid, const char *folder,
              struct err *e);
/* Creates the folder when needed and APPENDs a message (tests, tools). */
int imap_append(struct imap *im, const char *folder, const void *data, size_t len, struct err *e);

#endif
