/*
 * mbox: reads an mbox file message by message, never writing it.
 *
 * A message starts at a "From " line at the start of the file or after an
 * empty line (mboxrd/mboxo/mboxcl all write one there); the "From " line is
 * not part of the message, and lines ">From ", ">>From "... lose one '>'
 * (mboxrd un-escaping; an mboxo ">From " in the body comes out as "From ").
 * The empty line that separates messages is dropped. Memory stays bounded:
 * one message at a time, each capped (MBOX_MESSAGE_MAX); a bigger one is
 * skipped over and reported through msg->oversized.
 *
 * Progress is a byte offset: msg->end is where the next message starts, so a
 * caller that stored it can mbox_seek there next time. A last message whose
 * final line has no newline yet (still being written by a delivery agent) is
 * not returned. mbox_open takes a shared fcntl lock (the one mail delivery
 * agents honour) while the file is open. Each message carries the SHA-256 of
 * its raw bytes in the file (from its "From " line to the next one), used to
 * detect a rewritten mbox by the hash of its first message.
 * The caller owns the handle (mbox_close takes NULL); msg->data is valid until
 * the next call. Errors: ERR_INPUT (not an mbox, bad offset), ERR_CONFIG
 * (cannot open).
 */
#ifndef DS_SOURCES_MBOX_H
#define DS_SOURCES_MBOX_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MBOX_MESSAGE_MAX ((size_t)256 << 20)

struct mbox;

struct mbox_msg {
	const char *data; /* the message, un-escaped; NULL when oversized */
	size_t len;
	uint64_t start; /* offset of its "From " line */
	uint64_t end;   /* offset of the next message (or of the end of the file) */
	bool oversized;
	char sha256[65]; /* of the raw bytes start..end */
};

int mbox_open(struct mbox **out, const char *path, struct err *e);
/* Reads from an open stream (not closed by mbox_close); `name` for messages. */
int mbox_open_stream(struct mbox **out, FILE *f, const char *name, size_t message_max);
/* Continues at `offset`, which must be where a message starts (or the end). */
int mbox_seek(struct mbox *m, uint64_t offset, struct err *e);
/* 1 with *msg filled, 0 at the end, -1 on error. */
int mbox_next(struct mbox *m, struct mbox_msg *msg, struct err *e);
void mbox_close(struct mbox *m);

#endif
