/*
 * mime_int: the gmime tree of a parsed message (ingest/mime.h), for the
 * readers in ingest/ that walk it themselves (ruf.c), so a message is
 * parsed once for routing. *mbox_line (may be NULL): the bytes began with
 * an mbox "From " line, which mime's parser skips.
 */
#ifndef DS_INGEST_MIME_INT_H
#define DS_INGEST_MIME_INT_H

#include "ingest/mime.h"

#include <gmime/gmime.h>
#include <stdbool.h>

GMimeMessage *mime_msg_gmime(const struct mime_msg *m, bool *mbox_line);

#endif
