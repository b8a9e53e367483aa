/*
 * smtp_reply: one line out of a multi-line SMTP reply (RFC 5321 4.2.1).
 *
 * Receivers answer in lines that each repeat the reply code and enhanced
 * code ("550-5.7.26 a\r\n550-5.7.26 b\r\n550 5.7.26 c"); logs and DSNs carry
 * them either as lines or joined with spaces by the MTA ("550-5.7.26 a
 * 550-5.7.26 b 550 5.7.26 c"). smtp_reply_join turns both into
 * "550 5.7.26 a b c", the form the classifier and the escalation pattern
 * read, so a reply gives the same text whichever way it arrived.
 *
 * Pure function; the caller owns `out` (reset first, NUL-terminated after).
 */
#ifndef DS_CORE_SMTP_REPLY_H
#define DS_CORE_SMTP_REPLY_H

#include "core/buf.h"

/*
 * Lines (split at CR and LF) are joined with one space, empty ones dropped.
 * The first line is kept from its first non-space byte, with its "550-"
 * made "550 "; a later line whose code and enhanced code are the first
 * line's loses them, and so does each " 550-5.7.26 " or " 550 5.7.26 "
 * inside a line (the first line's codes, after its own). A reply whose
 * first line has no code is only joined.
 */
void smtp_reply_join(const char *reply, struct buf *out);

#endif
